//! Shared by the tests and benchmarks of every mpconn crate, so that no crate keeps its
//! own copy: finding the real CPython interpreters ([`mod@python`]), running them as peers
//! whose output is read line by line ([`peer`]), and deterministic random number
//! generators for the handshake's nonces ([`rng`]), [`pieces`] for feeding input the
//! way reads of any size would deliver it, attackers, bursts of clients and the
//! kernel's listen-queue counter for the stall tests ([`attack`]), hostile pickles
//! ([`pickles`]), and a collector of tracing events ([`events`]).
//!
//! It depends on no mpconn crate, so the core's own unit tests can use it too.

pub mod async_peer;
// The attacks are on Unix listeners and read /proc: Unix only (the core's tests, which
// run under Wine too, use the rest).
#[cfg(unix)]
pub mod attack;
pub mod events;
pub mod peer;
pub mod pickles;
pub mod python;
// One copy of the deterministic RNGs: the core's, which its own unit tests use too.
#[path = "../../../src/test_rng.rs"]
pub mod rng;

pub use peer::{assert_redacted, check, pattern, Failures, Peer, Program, LIMIT};
pub use python::{python, pythons, pythons_of, script_path, Python, Reaped, VERSIONS};
pub use rng::{Counter, SplitMix};

/// Cuts `input` into pieces whose lengths cycle through `sizes` (each at least 1): the
/// input as reads of those sizes would deliver it, for tests that check a result does
/// not depend on how the input was split.
pub fn pieces<'a>(input: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.clamp(1, rest.len()));
        out.push(piece);
        rest = tail;
    }
    out
}
