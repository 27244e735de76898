//! The unpickler on arbitrary bytes, and the pickler on whatever they decode to.
//!
//! Input: the pickle itself. Checked:
//! - `loads` returns a value or an error: no panic, no abort, and at most
//!   [`BYTES_PER_INPUT_BYTE`] bytes live per input byte (plus a small constant) at its
//!   peak, whatever lengths the input claims;
//! - a value that decodes pickles again at protocols 0, 2, 3 and 5, and that loads
//!   back as the same value. The pickler may refuse only with `Unpicklable` (a shape
//!   a hand-made pickle can build and no protocol can carry, such as a cycle through
//!   tuples alone).

use mpconn::pickle::{self, Error, Limits, Protocol};

use super::memory::Watermark;

/// The most the decoder may hold at its peak, per input byte (see
/// tests/pickle_deep.rs for what it measures on deep values).
pub const BYTES_PER_INPUT_BYTE: usize = 192;

/// Runs the checks on one input; panics on a broken promise.
pub fn check(data: &[u8]) {
    let watermark = Watermark::set();
    let decoded = pickle::loads(data);
    watermark.assert_at_most(BYTES_PER_INPUT_BYTE * data.len() + 4096, "unpickling");
    let Ok(value) = decoded else { return };
    // The re-pickle may hold more items than the input made (a set(...) call the
    // input made from a memo'd list is written out whole): only depth is kept.
    let relaxed = Limits {
        max_items: usize::MAX,
        max_memo: usize::MAX,
        ..Limits::default()
    };
    for protocol in [Protocol::V0, Protocol::V2, Protocol::V3, Protocol::V5] {
        match pickle::dumps_with(&value, protocol) {
            Ok(bytes) => {
                let back = pickle::loads_with(&bytes, &relaxed).unwrap_or_else(|e| {
                    panic!("our {protocol:?} pickle of {value} does not load: {e}")
                });
                assert!(back == value, "{protocol:?}: {value} came back as {back}");
            }
            Err(Error::Unpicklable { .. }) => {}
            Err(e) => panic!("{protocol:?}: {value} does not pickle: {e}"),
        }
    }
}
