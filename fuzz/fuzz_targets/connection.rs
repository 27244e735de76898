#![no_main]
//! See `mpconn_fuzz::connection` (fuzz/src/connection.rs) for the input layout and what is checked.

#[global_allocator]
static ALLOCATOR: mpconn_fuzz::memory::Counting = mpconn_fuzz::memory::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| mpconn_fuzz::connection::check(data));
