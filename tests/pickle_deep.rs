//! Deep and hostile pickles: a 100,000-deep and a 1,000,000-deep list give a clear
//! error by default, and decode when allowed, then compare, re-pickle and drop, all on
//! a thread with the default 2 MiB stack; memory stays within a constant times the
//! input's length.

#[path = "../fuzz/src/memory.rs"]
mod memory;

use mpconn::pickle::{self, Error, Limit, Limits, Protocol, Value};
use mpconn_test_support::pickles::{nested_lists, set_laughs};

#[global_allocator]
static ALLOCATOR: memory::Counting = memory::Counting;

/// What the decoder may hold at its peak, per input byte: the arena (a node and an
/// id per opcode), the stack, the walk's bookkeeping and the value it builds.
const BYTES_PER_INPUT_BYTE: usize = 192;

/// `depth` nested 1-tuples, `((((),),),)`: one byte a level (`TUPLE1`), the
/// densest nesting a pickle can carry.
fn nested_tuples(depth: usize) -> Vec<u8> {
    let mut bytes = vec![0x80, 4];
    bytes.extend(std::iter::repeat_n(b')', 1));
    bytes.extend(std::iter::repeat_n(0x85, depth - 1)); // TUPLE1 around the last
    bytes.push(b'.');
    bytes
}

/// Runs `f` on a thread with the default 2 MiB stack.
fn on_a_2_mib_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

fn deep_case(depth: usize, make: fn(usize) -> Vec<u8>) {
    on_a_2_mib_stack(move || {
        let bytes = make(depth);
        match pickle::loads(&bytes) {
            Err(Error::LimitExceeded {
                limit: Limit::Depth,
                max: 1000,
                ..
            }) => {}
            other => panic!("{depth} deep: {other:?}"),
        }
        let limits = Limits {
            max_depth: usize::MAX,
            ..Limits::default()
        };
        let watermark = memory::Watermark::set();
        let value = pickle::loads_with(&bytes, &limits).unwrap();
        watermark.assert_at_most(BYTES_PER_INPUT_BYTE * bytes.len(), "decoding");
        if let Some(peak) = watermark.peak() {
            eprintln!(
                "{depth} deep, {} input bytes: peak {peak} bytes ({} per input byte)",
                bytes.len(),
                peak / bytes.len()
            );
        }
        assert_eq!(value, value.clone());
        let again = pickle::dumps_with(&value, Protocol::V4).unwrap();
        let back = pickle::loads_with(&again, &limits).unwrap();
        assert_eq!(back, value);
        let text = value.to_string();
        assert!(text.len() >= 2 * depth);
        drop(back);
        drop(value);
    });
}

#[test]
fn a_100_000_deep_list_is_a_depth_error_by_default_and_decodes_and_drops_when_allowed() {
    deep_case(100_000, nested_lists);
}

#[test]
fn a_1_000_000_deep_list_is_a_depth_error_by_default_and_decodes_and_drops_when_allowed() {
    deep_case(1_000_000, nested_lists);
}

#[test]
fn a_1_000_000_deep_tuple_decodes_and_drops_when_allowed() {
    deep_case(1_000_000, nested_tuples);
}

#[test]
fn memory_follows_the_input_for_wide_and_shared_values_too() {
    on_a_2_mib_stack(|| {
        // A list of 100,000 small dicts, as CPython writes it (protocol 4, memo).
        let item = Value::dict(vec![
            (Value::str("k"), Value::Int(1)),
            (Value::str("v"), Value::str("x")),
        ]);
        let items: Vec<Value> = (0..100_000).map(|_| item.clone()).collect();
        let wide = pickle::dumps_with(&Value::list(items), Protocol::V4).unwrap();
        // a = []; 60 times a = [a, a]: 2^60 paths through 60 lists.
        let mut doubling = b"\x80\x02]".to_vec();
        for i in 0..60u8 {
            doubling.extend_from_slice(&[b'q', i, b'h', i, 0x86]);
        }
        doubling.push(b'.');
        for bytes in [wide, doubling] {
            let watermark = memory::Watermark::set();
            let value = pickle::loads(&bytes).unwrap();
            watermark.assert_at_most(BYTES_PER_INPUT_BYTE * bytes.len() + 4096, "decoding");
            drop(value);
        }
    });
}

#[test]
fn a_billion_laughs_of_set_calls_is_capped() {
    // One 10,000-item list, then set(list) from the memo 1,000 times: 10 million
    // items from 20 kB; CPython would build them all.
    let bytes = set_laughs(10_000, 1000);
    let watermark = memory::Watermark::set();
    assert!(matches!(
        pickle::loads(&bytes),
        Err(Error::LimitExceeded {
            limit: Limit::Copies,
            ..
        })
    ));
    watermark.assert_at_most(BYTES_PER_INPUT_BYTE * bytes.len(), "decoding");
}
