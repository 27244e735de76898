#![no_main]
//! Our server side of the handshake against a peer the fuzzer controls; see
//! `mpconn_fuzz::handshake` (fuzz/src/handshake.rs) for the input layout and checks.

use mpconn::Role;

#[global_allocator]
static ALLOCATOR: mpconn_fuzz::memory::Counting = mpconn_fuzz::memory::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| mpconn_fuzz::handshake::check(Role::Server, data));
