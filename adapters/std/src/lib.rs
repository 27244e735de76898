//! Blocking std adapter for mpconn (under construction).
#![warn(missing_docs)]

pub mod address;

pub use address::{Address, AddressError, Family};
