#![no_main]
//! See `mpconn_fuzz::digest` (fuzz/src/digest.rs) for the input layout and what is checked.

#[global_allocator]
static ALLOCATOR: mpconn_fuzz::memory::Counting = mpconn_fuzz::memory::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| mpconn_fuzz::digest::check(data));
