//! Shared by the std adapter's integration tests: the CPython helpers of
//! `mpconn-test-support`, and an accept that cannot hang.
#![allow(dead_code, unused_imports)]

use mpconn_std::{wait, Connection, Listener};
pub use mpconn_test_support::{
    check, pattern, python, pythons, script_path as script, Failures, Peer, Program, Python,
    Reaped, LIMIT,
};

/// Accepts within [`LIMIT`], so a peer that died cannot hang the test.
pub fn accept(listener: &mut Listener) -> mpconn_std::Result<Connection> {
    if wait(&[&*listener], Some(LIMIT))?.is_empty() {
        return Err(mpconn_std::Error::Timeout {
            during: mpconn_std::During::Accept,
            address: Some(listener.address().clone()),
        });
    }
    listener.accept()
}
