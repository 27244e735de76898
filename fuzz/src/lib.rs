//! The checks behind mpconn's fuzz targets, one module a target.
//!
//! Each target in `fuzz_targets/` is one line that hands libFuzzer's input to a
//! `check` function here. The same functions replay the seed corpus and every input a
//! campaign ever crashed on in `tests/fuzz_regressions.rs` (which includes this file
//! with `#[path]`), so a plain `cargo test` keeps the fuzzers' findings fixed without a
//! nightly toolchain. Items are reached through `super::`, never `crate::`, for that
//! reason.
//!
//! A check panics when the core breaks a promise; a typed [`mpconn::Error`] for hostile
//! input is the expected outcome, not a failure.

pub mod bytes;
pub mod connection;
pub mod decoder;
pub mod digest;
pub mod handshake;
pub mod memory;
pub mod messages;
pub mod pickle;
