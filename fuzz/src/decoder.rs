//! The frame decoder against a naive reference decoder (docs/protocol.md section 1).
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
//! Flag 16 drives a [`Receiver`] instead of a bare [`Decoder`], as an adapter does:
//! each piece arrives in reads into whatever [`Receiver::recv_buf`] lends (free room
//! in its buffer, or [`RecvBuf::Payload`], a large payload's own `Vec`), the reads
//! taking `fill` bytes at most (0 counts as 1), cycled. After a read with an even
//! `max` every message is taken; after an odd one they stay buffered until the next
//! even read, a limit change or the end. The lent room must never be empty and a
//! payload `Vec` must have room for its limit. Flag 64, reads before the first piece
//! that take nothing, and flag 32 a `recv_buf` after the last piece that is never
//! reported: neither may change what comes out.
//!
//! The stream is decoded twice: whole, by [`reference`], which reads it the way
//! CPython's `_recv_bytes` does, one field after the other; and piece by piece by
//! [`Decoder`]. Both must find the same frames, the same error or the same unfinished
//! tail, and the decoder must keep its promises on the way: a call without a frame
//! consumes all of its input, a borrowed payload lies in the input (or, through a
//! receiver, in its buffer), an error is final (the same error again), and no more than
//! two [`GROWTH_STEP`]s are allocated beyond the bytes received and the largest buffer
//! the receiver lent.

use mpconn::frame::{Decoder, Frame, GROWTH_STEP};
use mpconn::{BufferPolicy, Error, Receiver, RecvBuf};

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

/// The decoder, or a receiver, fed piece by piece, checked against the reference.
struct Run<'r, 'a> {
    decoder: Decoder,
    /// With flag 16: the receiver driven instead of `decoder`.
    receiver: Option<Receiver>,
    expected: core::slice::Iter<'r, &'a [u8]>,
    reference_end: &'r End,
    error: Option<Error>,
    /// The reads, `(max, fill)`, cycled.
    reads: &'r [(u16, u16)],
    /// How many reads were made.
    read: usize,
    /// The largest buffer the receiver lent from.
    largest_buffer: usize,
}

impl Run<'_, '_> {
    /// The next payload's frame from the reference, which `frame` must equal.
    fn expect(&mut self, frame: &[u8]) {
        let Some(&expected) = self.expected.next() else {
            panic!("a frame the reference does not have: {} bytes", frame.len());
        };
        assert!(frame == expected, "payload differs from the reference");
    }

    fn failed(&mut self, error: Error) {
        assert_eq!(
            self.reference_end,
            &End::Error(error.clone()),
            "the decoder failed where the reference did not"
        );
        assert!(self.expected.as_slice().is_empty(), "frames were lost");
        self.error = Some(error);
    }

    /// Delivers `piece` to the receiver in reads, as the reads say.
    fn receive(&mut self, piece: &[u8]) {
        let mut rest = piece;
        while !rest.is_empty() {
            let (max, fill) = self
                .reads
                .get(self.read % self.reads.len().max(1))
                .copied()
                .unwrap_or((0, u16::MAX));
            self.read += 1;
            let fill = usize::from(fill).max(1);
            let receiver = self.receiver.as_mut().expect("flag 16");
            let n = match receiver.recv_buf() {
                RecvBuf::Buffer(room) => {
                    assert!(!room.is_empty(), "an empty room would read as the end");
                    let n = fill.min(room.len()).min(rest.len());
                    room[..n].copy_from_slice(&rest[..n]);
                    n
                }
                RecvBuf::Payload { buf, limit } => {
                    assert!(limit > 0 && buf.capacity() - buf.len() >= limit, "no room");
                    let n = fill.min(limit).min(rest.len());
                    buf.extend_from_slice(&rest[..n]);
                    n
                }
            };
            self.largest_buffer = self.largest_buffer.max(receiver.buffer_len());
            receiver.received(n).expect("an honest report");
            rest = &rest[n..];
            if max % 2 == 0 {
                self.take_messages();
            }
        }
    }

    /// Takes every message the receiver has.
    fn take_messages(&mut self) {
        if self.error.is_some() {
            return;
        }
        let Some(mut receiver) = self.receiver.take() else {
            return;
        };
        loop {
            let buffered = receiver.buffered_input().as_ptr_range();
            match receiver.next_message() {
                Ok(Some(frame)) => {
                    if let Frame::Borrowed(payload) = &frame {
                        assert!(buffered.contains(&payload.as_ptr()) || payload.is_empty());
                    }
                    self.expect(&frame);
                }
                Ok(None) => break,
                Err(error) => {
                    self.failed(error);
                    break;
                }
            }
        }
        self.receiver = Some(receiver);
    }

    fn feed(&mut self, piece: &[u8]) {
        if self.receiver.is_some() {
            return self.receive(piece);
        }
        if let Some(first) = &self.error {
            let again = self.decoder.decode(piece).unwrap_err();
            assert_eq!(&again, first, "a failed decoder must repeat its error");
            return;
        }
        let mut rest = piece;
        loop {
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
                    assert!(self.decoder.is_failed());
                    self.failed(error);
                    return;
                }
            }
        }
    }

    fn set_max_len(&mut self, max: Option<u64>) {
        match &mut self.receiver {
            Some(_) => {
                // The reference changes the limit at a stream offset: everything before
                // it is decoded under the old one.
                self.take_messages();
                let receiver = self.receiver.as_mut().expect("flag 16");
                receiver.set_max_len(max);
                assert_eq!(receiver.max_len(), max);
            }
            None => {
                self.decoder.set_max_len(max);
                assert_eq!(self.decoder.max_len(), max);
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
        receiver: (flags & 16 != 0).then(|| {
            let mut receiver = Receiver::new();
            receiver.set_max_len(limit);
            receiver
        }),
        expected: decoded.frames.iter(),
        reference_end: &decoded.end,
        error: None,
        reads: &reads,
        read: 0,
        largest_buffer: 0,
    };
    let watermark = Watermark::set();
    if let Some(receiver) = run.receiver.as_mut().filter(|_| flags & 64 != 0) {
        // Reads that bring nothing.
        let _ = receiver.recv_buf();
        receiver.received(0).expect("an empty read");
        let _ = receiver.recv_buf();
    }
    for i in 0..=pieces.len() {
        if let Some(change) = change.filter(|_| i == change_before.min(pieces.len())) {
            run.set_max_len(change.max);
            run.feed(&[]);
        }
        if flags & 8 != 0 {
            run.feed(&[]);
        }
        if let Some(piece) = pieces.get(i) {
            run.feed(piece);
        }
    }
    run.take_messages();
    if let Some(receiver) = run.receiver.as_mut().filter(|_| flags & 32 != 0) {
        // Room lent at the end and never reported holds nothing of the stream.
        let _ = receiver.recv_buf();
        run.largest_buffer = run.largest_buffer.max(receiver.buffer_len());
    }
    watermark.assert_at_most(
        stream.len() + run.largest_buffer + 2 * GROWTH_STEP + 1024,
        "decoding a stream of bytes",
    );
    assert!(
        run.largest_buffer <= BufferPolicy::default().max.max(2 * stream.len()),
        "a buffer of {} for {} bytes",
        run.largest_buffer,
        stream.len()
    );

    assert!(
        run.expected.as_slice().is_empty(),
        "frames were not decoded"
    );
    let end = match run.receiver {
        Some(mut receiver) => {
            receiver.received_eof();
            let end = receiver.next_message().map(|_| ()).unwrap_err();
            assert_eq!(
                receiver.next_message().map(|_| ()),
                Err(end.clone()),
                "again"
            );
            end
        }
        None => {
            if let (&End::Partial(held), None) = (&decoded.end, &run.error) {
                assert_eq!(
                    run.decoder.buffered(),
                    held,
                    "bytes of the unfinished frame"
                );
                assert_eq!(run.decoder.is_idle(), held == 0);
            }
            let end = run.decoder.eof();
            assert!(run.decoder.is_failed());
            assert_eq!(run.decoder.decode(b"\0").unwrap_err(), end, "again");
            end
        }
    };
    match (&decoded.end, run.error) {
        (End::Error(expected), Some(error)) => {
            assert_eq!(&error, expected);
            assert_eq!(end, error);
        }
        (End::Error(expected), None) => panic!("the decoder missed {expected:?}"),
        (End::Partial(_), Some(error)) => unreachable!("checked when it happened: {error:?}"),
        (&End::Partial(0), None) => assert_eq!(end, Error::Closed),
        (&End::Partial(held), None) => {
            assert_eq!(end, Error::UnexpectedEof { received: held });
        }
    }
}
