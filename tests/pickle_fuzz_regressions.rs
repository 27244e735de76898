//! The pickle fuzz target's checks (fuzz/src/pickle.rs, included with `#[path]`),
//! replayed on stable over its seeds (fuzz/seeds/pickle: CPython's pickles) and over
//! every input a campaign ever failed on (fuzz/regressions/pickle), as
//! tests/fuzz_regressions.rs does for the other targets.

#[path = "../fuzz/src/memory.rs"]
mod memory;
#[path = "../fuzz/src/pickle.rs"]
mod pickle;

use std::path::Path;

// The memory check measures through this allocator, as under the fuzzer.
#[global_allocator]
static ALLOCATOR: memory::Counting = memory::Counting;

#[test]
fn pickle_seeds_and_past_findings_pass_the_pickle_target_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join("pickle")) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|entry| entry.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let input = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| pickle::check(&input));
            assert!(
                outcome.is_ok(),
                "{} fails the pickle target checks",
                path.display()
            );
            count += 1;
        }
    }
    assert!(count > 100, "only {count} inputs");
}

#[test]
fn python_2_module_names_read_as_python_3_ones_at_every_protocol() {
    // Found by the pickle target (fuzz/regressions/pickle/python2-module-name-in-a-
    // protocol-3-pickle): `__builtin__` kept at protocol 3 came back `builtins` from
    // our protocol 0 re-pickle.
    for bytes in [
        &b"c__builtin__\nset\n."[..],
        b"\x80\x03c__builtin__\nset\n.",
        b"\x80\x04\x8c\x0aexceptions\x8c\x01E\x93.",
    ] {
        let value = mpconn::pickle::loads(bytes).unwrap();
        assert!(
            matches!(&value, mpconn::pickle::Value::Global(g) if g.module == "builtins"),
            "{value}"
        );
    }
}

#[test]
fn a_bytes_and_a_bytearray_made_from_it_stay_two_objects_at_every_protocol() {
    // Found by the pickle target (fuzz/regressions/pickle/bytes-and-a-bytearray-made-
    // from-it): `bytearray(b)` shares `b`'s buffer in our value, and the pickler took
    // the two for one object, so the re-pickle wrote a GET of the bytearray where the
    // bytes belonged. The same holds of a list and the set, frozenset and tuple made
    // from it. What CPython reads from each input is in the comment beside it.
    use mpconn::pickle::{self, Protocol};
    for bytes in [
        // (b'ab', bytearray(b'ab'))
        &b"\x80\x03(C\x02abq\x00cbuiltins\nbytearray\nh\x00\x85Rt."[..],
        // ([1], {1}, frozenset({1}), (1,))
        b"\x80\x03(]q\x00K\x01acbuiltins\nset\nh\x00\x85Rcbuiltins\nfrozenset\nh\x00\x85R\
          cbuiltins\ntuple\nh\x00\x85Rt.",
    ] {
        let value = pickle::loads(bytes).unwrap();
        for protocol in [Protocol::V0, Protocol::V2, Protocol::V3, Protocol::V5] {
            let back = pickle::loads(&pickle::dumps_with(&value, protocol).unwrap()).unwrap();
            assert!(back == value, "{protocol:?}: {value} came back as {back}");
        }
    }
}
