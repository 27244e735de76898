#![no_main]
//! See `mpconn_fuzz::pickle` (fuzz/src/pickle.rs) for what is checked.

#[global_allocator]
static ALLOCATOR: mpconn_fuzz::memory::Counting = mpconn_fuzz::memory::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| mpconn_fuzz::pickle::check(data));
