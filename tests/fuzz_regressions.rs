//! What the fuzz campaigns found, kept fixed on stable and without cargo-fuzz.
//!
//! The fuzz targets' own checks (fuzz/src, included below with `#[path]`) replay every
//! seed in `fuzz/seeds/<target>/` and every input a campaign ever failed on, kept in
//! `fuzz/regressions/<target>/`; each bug found also has a test of its own here that
//! states the behaviour. The connection target's checks need `arbitrary`, which the
//! root package does not depend on, so they are not replayed here.

#[path = "../fuzz/src/bytes.rs"]
mod bytes;
#[path = "../fuzz/src/decoder.rs"]
mod decoder;
#[path = "../fuzz/src/digest.rs"]
mod digest;
#[path = "../fuzz/src/handshake.rs"]
mod handshake;
#[path = "../fuzz/src/memory.rs"]
mod memory;

use std::path::Path;

use mpconn::frame::{Decoder, Header, LONG_MARKER};
use mpconn::{Connection, Error, Role};

// The memory checks of the targets measure through this allocator, as under the fuzzer.
#[global_allocator]
static ALLOCATOR: memory::Counting = memory::Counting;

/// Runs `check` on every file of `fuzz/seeds/<target>` and `fuzz/regressions/<target>`;
/// returns how many there were.
fn replay(target: &str, check: impl Fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|entry| entry.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let input = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&input)));
            assert!(
                outcome.is_ok(),
                "{} fails the {target} checks",
                path.display()
            );
            count += 1;
        }
    }
    count
}

#[test]
fn decoder_seeds_and_past_findings_pass_the_decoder_target_checks() {
    assert!(replay("decoder", decoder::check) > 0);
}

/// The handshake targets, one a role: the same checks from the other side.
fn replay_handshake(target: &str, role: Role) -> usize {
    replay(target, |data| handshake::check(role, data))
}

#[test]
fn server_handshake_seeds_and_past_findings_pass_the_handshake_target_checks() {
    assert!(replay_handshake("handshake_server", Role::Server) > 0);
}

#[test]
fn client_handshake_seeds_and_past_findings_pass_the_handshake_target_checks() {
    assert!(replay_handshake("handshake_client", Role::Client) > 0);
}

#[test]
fn digest_seeds_and_past_findings_pass_the_digest_target_checks() {
    assert!(replay("digest", digest::check) > 0);
}

/// A frame with the 12-byte header for a length under 2^31: CPython never sends one,
/// but reads it, and so do we.
fn long_header_frame(len: u64) -> Vec<u8> {
    let mut wire = LONG_MARKER.to_vec();
    wire.extend_from_slice(&len.to_be_bytes());
    wire
}

#[test]
fn eof_inside_a_long_header_frame_of_short_length_counts_all_twelve_header_bytes() {
    // Found by the decoder target (fuzz/regressions/decoder/long-header-short-length-
    // eof-count): 8 bytes were missing from `received`, the header's length having been
    // recomputed from the declared length.
    let mut wire = long_header_frame(5);
    wire.extend_from_slice(b"abc");
    let mut connection = Connection::established();
    connection.feed(&wire).unwrap();
    connection.received_eof();
    assert_eq!(
        connection.next_message(),
        Err(Error::UnexpectedEof { received: 15 })
    );

    let mut decoder = Decoder::new();
    decoder.decode(&wire[..7]).unwrap();
    decoder.decode(&wire[7..]).unwrap();
    assert_eq!(decoder.buffered(), 15);
}

#[test]
fn long_header_frame_of_short_length_decodes_like_the_short_header_one() {
    let mut long = long_header_frame(5);
    long.extend_from_slice(b"hello");
    let mut short = Header::new(5).as_bytes().to_vec();
    short.extend_from_slice(b"hello");
    for wire in [long, short] {
        let mut connection = Connection::established();
        connection.feed(&wire).unwrap();
        connection.received_eof();
        let message = connection.next_message().unwrap().map(|m| m.into_vec());
        assert_eq!(message.as_deref(), Some(&b"hello"[..]));
        assert_eq!(connection.next_message(), Err(Error::Closed));
    }
}
