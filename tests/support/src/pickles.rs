//! Hostile pickles that several crates' tests feed to the codec: each is a few hundred
//! bytes or kilobytes that would expand to far more if nothing capped them.

/// A "billion laughs" pickle (protocol 2): 60 levels of a list holding the level
/// below twice, by memo (`BINGET`), over an empty list: 2^60 lists in a few hundred
/// bytes.
pub fn billion_laughs() -> Vec<u8> {
    let mut pickle = b"\x80\x02]q\x00".to_vec();
    for level in 1..=60u8 {
        pickle.extend([
            b']',
            b'(',
            b'h',
            level - 1,
            b'h',
            level - 1,
            b'e',
            b'q',
            level,
        ]);
    }
    pickle.push(b'.');
    pickle
}

/// A protocol 2 pickle of one list of `items` `None`s (memo 0), then `set(list)` built
/// from the memo `sets` times, each popped: `items * sets` set members from a pickle of
/// about `items + 20 * sets` bytes.
pub fn set_laughs(items: usize, sets: usize) -> Vec<u8> {
    let mut bytes = b"\x80\x02]\x94(".to_vec();
    bytes.extend(std::iter::repeat_n(b'N', items));
    bytes.push(b'e');
    for _ in 0..sets {
        bytes.extend_from_slice(b"c__builtin__\nset\nh\x00\x85R0");
    }
    bytes.push(b'.');
    bytes
}

/// `depth` nested lists as CPython 3 writes `[[[...]]]` at protocol 2, without memo:
/// `]` `depth` times, then `APPEND` `depth - 1` times.
pub fn nested_lists(depth: usize) -> Vec<u8> {
    let mut bytes = vec![0x80, 2];
    bytes.extend(std::iter::repeat_n(b']', depth));
    bytes.extend(std::iter::repeat_n(b'a', depth - 1));
    bytes.push(b'.');
    bytes
}
