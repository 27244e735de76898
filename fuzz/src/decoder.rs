//! The frame decoder against a naive reference decoder (PROTOCOL.md section 1).
//!
//! Input layout (big-endian), then the byte stream itself:
//!
//! | bytes | field |
//! | --- | --- |
//! | 1 | flags: 1 = a limit from the start, 2 = change the limit before piece `at`, 4 = the new limit is `new` (else none), 8 = an empty `decode` before every piece |
//! | 4 | `limit` |
//! | 4 | `new` |
//! | 1 | `at` |
//! | 1 | `n`, the number of cuts (mod 16) |
//! | 2 n | the cuts: piece lengths, cycled; 0 = the rest |
//! | 1 | only with flag 16: `m`, the number of reads in place (mod 16) |
//! | 4 m | only with flag 16: the reads, cycled: `max` (2 bytes) and `fill` (2 bytes) |
//!
//! Flag 16 delivers input through [`Decoder::payload_space`] and
//! [`Decoder::payload_filled`], as an adapter reading straight into the decoder's
//! buffer does: before each `decode` of a non-empty rest of a piece, the next read asks
//! for room of at most `max` bytes (0: none, so `decode` it is). With room lent, the
//! read copies `min(fill, room, rest)` bytes of the piece into it and reports them; a
//! `fill` larger than the room is first reported as is, which must be
//! [`Error::InvalidState`] and change nothing (the bytes copied in stay lent), and
//! then, if `fill` is odd, the room is abandoned to the next `decode`. Flag 32 asks for room once more after the last
//! piece, so the end of the stream finds room lent out. Flag 64 makes the reads append
//! through [`Decoder::extend_payload`] instead, as the std adapter's `read_to_end` does:
//! `max` 0 declines the call (nothing appended, `decode` next), else it appends
//! `min(fill, limit, rest)` bytes. The limit must have room, and it counts as lent room
//! for the memory bound.
//!
//! The stream is decoded twice: whole, by [`reference`], which reads it the way
//! CPython's `_recv_bytes` does, one field after the other; and piece by piece by
//! [`Decoder`]. Both must find the same frames, the same error or the same unfinished
//! tail, and the decoder must keep its promises on the way: a call without a frame
//! consumes all of its input, a borrowed payload lies in the input, an error is final,
//! and no more than [`GROWTH_STEP`] bytes are allocated beyond the bytes received and
//! the largest room lent.

use mpconn::frame::{Decoder, Extended, Frame, GROWTH_STEP};
use mpconn::Error;

use super::bytes::{pieces, Bytes};
use super::memory::Watermark;

/// How a stream ends, for the reference decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Out of input with this many bytes of an unfinished frame (0: between frames).
    Partial(u64),
    /// The stream is corrupt or over the limit here.
    Error(Error),
}

/// What the reference decoder makes of a whole stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The payloads, in order.
    pub frames: Vec<&'a [u8]>,
    /// What comes after the last of them.
    pub end: End,
}

/// A limit change at stream offset `at` (between two `decode` calls).
#[derive(Debug, Clone, Copy)]
pub struct Change {
    /// Bytes of the stream given to the decoder before the change.
    pub at: usize,
    /// The limit from then on.
    pub max: Option<u64>,
}

/// Reads `stream` one field at a time, as CPython does: a header of 4 bytes, 8 more
/// after `ff ff ff ff`, then the payload. A limit is checked when a header is complete;
/// a frame whose payload is still arriving when the limit changes is checked again
/// against the new one.
pub fn reference(stream: &[u8], limit: Option<u64>, change: Option<Change>) -> Decoded<'_> {
    let mut frames = Vec::new();
    let mut pos = 0;
    let end = loop {
        let start = pos;
        let partial = End::Partial((stream.len() - start) as u64);
        let Some(short) = stream.get(pos..pos + 4) else {
            break partial;
        };
        pos += 4;
        let short = i32::from_be_bytes(short.try_into().unwrap());
        let len = match short {
            -1 => {
                let Some(long) = stream.get(pos..pos + 8) else {
                    break partial;
                };
                pos += 8;
                u64::from_be_bytes(long.try_into().unwrap())
            }
            n if n < 0 => break End::Error(Error::NegativeLength(n)),
            n => n as u64,
        };
        let header_end = pos;
        let in_force = match change {
            Some(change) if header_end > change.at => change.max,
            _ => limit,
        };
        if let Some(max) = in_force.filter(|&max| len > max) {
            break End::Error(Error::MessageTooLong { len, max });
        }
        if let Some(change) = change {
            let arriving = header_end <= change.at && ((change.at - header_end) as u64) < len;
            if let Some(max) = change.max.filter(|&max| arriving && len > max) {
                break End::Error(Error::MessageTooLong { len, max });
            }
        }
        if ((stream.len() - pos) as u64) < len {
            break partial;
        }
        let len = len as usize;
        frames.push(&stream[pos..pos + len]);
        pos += len;
    };
    Decoded { frames, end }
}

/// The decoder fed piece by piece, checked against the reference.
struct Run<'r, 'a> {
    decoder: Decoder,
    expected: core::slice::Iter<'r, &'a [u8]>,
    reference_end: &'r End,
    error: Option<Error>,
    /// The reads in place, `(max, fill)`, cycled; empty: `decode` only.
    reads: &'r [(u16, u16)],
    /// How many reads in place were tried.
    read: usize,
    /// The largest room lent out (or limit given to `extend_payload`).
    largest_room: usize,
    /// Reads append through `extend_payload` rather than fill `payload_space`.
    extend: bool,
}

impl Run<'_, '_> {
    /// The next payload's frame from the reference, which `frame` must equal.
    fn expect(&mut self, frame: &[u8]) {
        let Some(&expected) = self.expected.next() else {
            panic!("a frame the reference does not have: {} bytes", frame.len());
        };
        assert!(frame == expected, "payload differs from the reference");
    }

    /// Delivers the start of `rest` through `payload_space` and `payload_filled`, as the
    /// next read says; returns how many bytes it took (`None`: none, `decode` next).
    fn read_in_place(&mut self, rest: &[u8]) -> Option<usize> {
        let &(max, fill) = self.reads.get(self.read % self.reads.len().max(1))?;
        self.read += 1;
        if self.extend {
            return self.extend_in_place(rest, max, usize::from(fill));
        }
        let buffered = self.decoder.buffered();
        let room = self.decoder.payload_space(usize::from(max))?;
        let size = room.len();
        assert!(size > 0 && size <= usize::from(max).min(GROWTH_STEP));
        assert!(room.iter().all(|&b| b == 0), "lent room is not zeroed");
        self.largest_room = self.largest_room.max(size);
        let fill = usize::from(fill);
        let n = fill.min(size).min(rest.len());
        room[..n].copy_from_slice(&rest[..n]);
        if fill > size {
            let refused = self.decoder.payload_filled(fill).unwrap_err();
            assert!(matches!(refused, Error::InvalidState(_)), "{refused:?}");
            assert!(
                !self.decoder.is_failed(),
                "an over-report failed the decoder"
            );
            assert_eq!(
                self.decoder.buffered(),
                buffered,
                "an over-report changed it"
            );
            if fill % 2 == 1 {
                // Abandon the room: the next `decode` must take it back unread.
                return None;
            }
        }
        // Still lent, with the bytes copied in, whatever was refused above.
        match self.decoder.payload_filled(n) {
            Ok(Some(frame)) => self.expect(&frame),
            Ok(None) => assert_eq!(self.decoder.buffered(), buffered + n as u64),
            Err(error) => panic!("payload_filled({n}) of a room of {size}: {error:?}"),
        }
        (n > 0).then_some(n)
    }

    /// Appends the start of `rest` through `extend_payload`, as the next read says;
    /// returns how many bytes it took (`None`: none, `decode` next).
    fn extend_in_place(&mut self, rest: &[u8], max: u16, fill: usize) -> Option<usize> {
        let buffered = self.decoder.buffered();
        let mut largest = self.largest_room;
        let extended = self.decoder.extend_payload(|buf, limit| {
            assert!(limit > 0 && limit <= 2 * GROWTH_STEP, "limit {limit}");
            assert!(buf.capacity() - buf.len() >= limit, "no room for the limit");
            largest = largest.max(limit);
            if max == 0 {
                return 0;
            }
            let n = fill.min(limit).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            n
        });
        self.largest_room = largest;
        let Extended { filled: n, message } =
            extended.expect("extend_payload of an honest fill")?;
        match message {
            Some(frame) => self.expect(&frame),
            None => assert_eq!(self.decoder.buffered(), buffered + n as u64),
        }
        (n > 0).then_some(n)
    }

    fn feed(&mut self, piece: &[u8]) {
        if let Some(first) = &self.error {
            let again = self.decoder.decode(piece).unwrap_err();
            assert_eq!(
                again.root(),
                first,
                "a failed decoder must repeat its error"
            );
            assert!(matches!(again, Error::Failed(_)));
            return;
        }
        let mut rest = piece;
        loop {
            if !rest.is_empty() {
                if let Some(used) = self.read_in_place(rest) {
                    rest = &rest[used..];
                    if rest.is_empty() {
                        return;
                    }
                    continue;
                }
            }
            match self.decoder.decode(rest) {
                Ok((used, None)) => {
                    assert_eq!(used, rest.len(), "no frame, yet input was left over");
                    return;
                }
                Ok((used, Some(frame))) => {
                    assert!(used > 0 && used <= rest.len(), "frame from {used} bytes");
                    self.expect(&frame);
                    if let Frame::Borrowed(payload) = &frame {
                        // In place: the last `len` bytes of what this call consumed.
                        let consumed = &rest[..used];
                        let tail = &consumed[used - payload.len()..];
                        assert!(core::ptr::eq(tail.as_ptr(), payload.as_ptr()));
                    }
                    drop(frame);
                    rest = &rest[used..];
                    if rest.is_empty() {
                        return;
                    }
                }
                Err(error) => {
                    assert_eq!(
                        self.reference_end,
                        &End::Error(error.clone()),
                        "the decoder failed where the reference did not"
                    );
                    assert!(self.decoder.is_failed());
                    assert!(self.expected.as_slice().is_empty(), "frames were lost");
                    self.error = Some(error);
                    return;
                }
            }
        }
    }
}

/// Runs one fuzz input (layout in the module documentation).
pub fn check(data: &[u8]) {
    let mut input = Bytes::new(data);
    let flags = input.u8();
    let limit = (flags & 1 != 0).then_some(u64::from(input.u32()));
    let new = u64::from(input.u32());
    let change_before = usize::from(input.u8());
    let cut_count = usize::from(input.u8() % 16);
    let cuts: Vec<usize> = (0..cut_count).map(|_| usize::from(input.u16())).collect();
    let read_count = if flags & 16 != 0 {
        usize::from(input.u8() % 16)
    } else {
        0
    };
    let reads: Vec<(u16, u16)> = (0..read_count)
        .map(|_| (input.u16(), input.u16()))
        .collect();
    let stream = input.rest();

    let pieces = pieces(stream, &cuts);
    let change = (flags & 2 != 0).then(|| Change {
        at: pieces.iter().take(change_before).map(|p| p.len()).sum(),
        max: (flags & 4 != 0).then_some(new),
    });
    let decoded = reference(stream, limit, change);

    let mut run = Run {
        decoder: limit.map_or_else(Decoder::new, Decoder::with_max_len),
        expected: decoded.frames.iter(),
        reference_end: &decoded.end,
        error: None,
        reads: &reads,
        read: 0,
        largest_room: 0,
        extend: flags & 64 != 0,
    };
    let watermark = Watermark::set();
    for i in 0..=pieces.len() {
        if let Some(change) = change.filter(|_| i == change_before.min(pieces.len())) {
            run.decoder.set_max_len(change.max);
            assert_eq!(run.decoder.max_len(), change.max);
            run.feed(&[]);
        }
        if flags & 8 != 0 {
            run.feed(&[]);
        }
        if let Some(piece) = pieces.get(i) {
            run.feed(piece);
        }
    }
    if flags & 32 != 0 {
        // Room lent out at the end must not count as received bytes.
        if let Some(room) = run.decoder.payload_space(GROWTH_STEP) {
            run.largest_room = run.largest_room.max(room.len());
        }
    }
    watermark.assert_at_most(
        stream.len() + run.largest_room + GROWTH_STEP + 1024,
        "decoding a stream of bytes",
    );

    assert!(
        run.expected.as_slice().is_empty(),
        "frames were not decoded"
    );
    let mut decoder = run.decoder;
    match (&decoded.end, run.error) {
        (End::Error(expected), Some(error)) => {
            assert_eq!(&error, expected);
            assert_eq!(decoder.eof(), Error::Failed(Box::new(error)));
        }
        (End::Error(expected), None) => panic!("the decoder missed {expected:?}"),
        (End::Partial(_), Some(error)) => unreachable!("checked when it happened: {error:?}"),
        (&End::Partial(held), None) => {
            assert_eq!(decoder.buffered(), held, "bytes of the unfinished frame");
            assert_eq!(decoder.is_idle(), held == 0);
            if held == 0 {
                let refused = decoder.payload_filled(1).unwrap_err();
                assert!(matches!(refused, Error::InvalidState(_)), "{refused:?}");
            }
            let end = decoder.eof();
            if held == 0 {
                assert_eq!(end, Error::Closed);
            } else {
                assert_eq!(end, Error::UnexpectedEof { received: held });
            }
            assert!(decoder.is_failed());
            assert_eq!(decoder.decode(b"\0").unwrap_err().root(), &end);
        }
    }
}
