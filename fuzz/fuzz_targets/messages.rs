#![no_main]
//! See `mpconn_fuzz::messages` (fuzz/src/messages.rs) for the script and what is checked.

#[global_allocator]
static ALLOCATOR: mpconn_fuzz::memory::Counting = mpconn_fuzz::memory::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| mpconn_fuzz::messages::check(data));
