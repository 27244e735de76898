//! The length-prefixed framing of every message (docs/protocol.md section 1).
//!
//! A frame is a header and the payload, nothing else:
//!
//! | payload length n          | header                                              |
//! |---------------------------|-----------------------------------------------------|
//! | `0 ..= 0x7fff_ffff`       | n as a big-endian `i32` (CPython `struct.pack("!i")`) |
//! | above `0x7fff_ffff`       | `ff ff ff ff` (i32 -1), then n as a big-endian `u64`  |
//!
//! [`Header`] encodes, [`Decoder`] decodes incrementally from pieces of any size.
//!
//! ```
//! use mpconn::frame::{encode, Decoder, Frame};
//!
//! let mut wire = Vec::new();
//! encode(b"spam", &mut wire);
//! assert_eq!(wire, b"\x00\x00\x00\x04spam");
//!
//! let mut decoder = Decoder::new();
//! let (used, frame) = decoder.decode(&wire).unwrap();
//! assert_eq!(used, wire.len());
//! // The whole frame was in the input: the payload is borrowed, not copied.
//! assert!(matches!(frame, Some(Frame::Borrowed(b"spam"))));
//! ```

use alloc::vec::Vec;
use core::ops::Deref;

use crate::error::Error;

/// The largest payload that takes the short 4-byte header.
pub const MAX_SHORT_LEN: u64 = 0x7fff_ffff;

/// Up to this payload size CPython writes header and payload in one `write` (to avoid
/// Nagle delays); above it, two. On a byte stream both look the same; adapters use this
/// to decide between copying a payload behind its header and a vectored write.
pub const CONCAT_LIMIT: usize = 16384;

/// The 4-byte marker that announces a 64-bit length (i32 -1).
pub const LONG_MARKER: [u8; 4] = [0xff; 4];

/// Once a payload buffer holds this much, it grows by at most this much beyond the
/// bytes in hand: a peer's declared length is a claim, and memory follows the bytes that
/// actually arrived (docs/protocol.md section 1), never the claim.
pub const GROWTH_STEP: usize = 64 * 1024;

/// What carries the frames: a byte stream, or a transport that keeps message boundaries.
///
/// CPython frames every message with a length header on sockets and on Unix pipes
/// ([`Stream`](Transport::Stream)). On Windows, `PipeConnection` runs over message-mode
/// named pipes and writes no header at all: one pipe message is one message, in the
/// handshake too, and the pipe says where each ends
/// ([`Messages`](Transport::Messages); docs/protocol.md section 1).
///
/// With `Messages` the adapter reports where each incoming message ends
/// ([`Receiver::received_message_end`](crate::Receiver::received_message_end)) and
/// writes each [`pending_output`](crate::Sender::pending_output) as one message of its
/// own; everything else, the limits, the errors and the handshake, is the same.
///
/// ```
/// use mpconn::{Receiver, Sender, Transport};
///
/// let mut sender = Sender::with_transport(Transport::Messages);
/// sender.send(b"spam").unwrap();
/// assert_eq!(sender.pending_output(), b"spam"); // no header: the pipe frames it
///
/// let mut receiver = Receiver::new().with_transport(Transport::Messages);
/// receiver.feed_message(b"spam").unwrap();
/// assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"spam"[..]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// A byte stream (TCP, Unix sockets, Unix pipes): each frame is a header and its
    /// payload.
    #[default]
    Stream,
    /// A message transport (Windows message-mode named pipes): each frame is one
    /// transport message, without a header.
    Messages,
}

/// An encoded frame header: 4 bytes, or 12 above [`MAX_SHORT_LEN`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Header {
    bytes: [u8; 12],
    len: u8,
}

impl Header {
    /// The header for a payload of `payload_len` bytes.
    ///
    /// ```
    /// use mpconn::frame::Header;
    /// assert_eq!(Header::new(1).as_bytes(), b"\x00\x00\x00\x01");
    /// assert_eq!(
    ///     Header::new(0x8000_0000).as_bytes(),
    ///     b"\xff\xff\xff\xff\x00\x00\x00\x00\x80\x00\x00\x00"
    /// );
    /// ```
    #[inline]
    pub fn new(payload_len: u64) -> Header {
        let mut bytes = [0; 12];
        if payload_len <= MAX_SHORT_LEN {
            bytes[..4].copy_from_slice(&(payload_len as u32).to_be_bytes());
            Header { bytes, len: 4 }
        } else {
            bytes[..4].copy_from_slice(&LONG_MARKER);
            bytes[4..].copy_from_slice(&payload_len.to_be_bytes());
            Header { bytes, len: 12 }
        }
    }

    /// The header's bytes, as they go on the wire.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for Header {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl core::fmt::Debug for Header {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Header({:02x?})", self.as_bytes())
    }
}

/// Appends one whole frame (header and payload) to `out`.
#[inline]
pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    if payload.len() as u64 <= MAX_SHORT_LEN {
        // The common case, spelled out: one reserve and a 4-byte store for the header.
        out.reserve(4 + payload.len());
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    } else {
        let header = Header::new(payload.len() as u64);
        out.reserve(header.as_bytes().len() + payload.len());
        out.extend_from_slice(header.as_bytes());
    }
    out.extend_from_slice(payload);
}

/// Reads a complete header from the start of `bytes`: `Ok(None)` when more bytes are
/// needed, else the header's length and the payload length it declares.
#[inline]
pub(crate) fn parse_header(bytes: &[u8]) -> Result<Option<(usize, u64)>, Error> {
    let Some(first) = bytes.first_chunk::<4>() else {
        return Ok(None);
    };
    match i32::from_be_bytes(*first) {
        -1 => match bytes.get(4..12) {
            Some(long) => {
                let mut be = [0; 8];
                be.copy_from_slice(long);
                Ok(Some((12, u64::from_be_bytes(be))))
            }
            None => Ok(None),
        },
        n if n < 0 => Err(Error::NegativeLength(n)),
        n => Ok(Some((4, n as u64))),
    }
}

/// Makes room in a payload buffer for `size` more bytes, never for more than the
/// `missing` ones: what arrived (or one read can fill), plus a head start of at most
/// [`GROWTH_STEP`] for what may follow. Memory follows the bytes that arrived, never
/// the declared length (docs/protocol.md section 1).
fn reserve_payload(buf: &mut Vec<u8>, size: usize, missing: usize) {
    if buf.capacity() - buf.len() < size {
        let head_start = buf.len().min(GROWTH_STEP);
        buf.reserve_exact((size + head_start).min(missing));
    }
}

fn check_len(max_len: Option<u64>, len: u64) -> Result<(), Error> {
    match max_len {
        Some(max) if len > max => Err(Error::MessageTooLong { len, max }),
        _ => Ok(()),
    }
}

/// A decoded payload: borrowed from the caller's input when the whole frame was in one
/// call's input, owned when it had to be gathered across calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// The payload, in place in the input given to [`Decoder::decode`].
    Borrowed(&'a [u8]),
    /// The payload, gathered from several inputs.
    Owned(Vec<u8>),
}

impl Frame<'_> {
    /// The payload as an owned vector (copying only a borrowed one).
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            Frame::Borrowed(bytes) => bytes.to_vec(),
            Frame::Owned(bytes) => bytes,
        }
    }
}

impl Deref for Frame<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Frame::Borrowed(bytes) => bytes,
            Frame::Owned(bytes) => bytes,
        }
    }
}

impl AsRef<[u8]> for Frame<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

#[derive(Debug)]
enum State {
    /// Between frames or part-way through a header: `have` bytes of it in `buf`.
    Header { buf: [u8; 12], have: u8 },
    /// A header of `header_len` bytes said `len`; `buf` holds the payload received so
    /// far. The header's length is kept, not recomputed from `len`: a peer may send the
    /// 12-byte form for a short length, which CPython also reads.
    Payload {
        len: u64,
        header_len: u8,
        buf: Vec<u8>,
    },
    /// Out of step after this error; no more input is taken.
    Failed(Error),
}

const IDLE: State = State::Header {
    buf: [0; 12],
    have: 0,
};

/// An incremental frame decoder: feed it input in pieces of any size.
///
/// It enforces an optional maximum payload length as soon as a header is complete,
/// before taking any payload byte (CPython's `recv_bytes(maxlength)`), and it grows its
/// buffer only as payload bytes arrive, so a header claiming 2^64 - 1 bytes costs
/// nothing. After any error it is finished: the stream is out of step.
///
/// ```
/// use mpconn::frame::Decoder;
///
/// let mut decoder = Decoder::new();
/// // The input may stop anywhere, even inside the header.
/// assert_eq!(decoder.decode(b"\x00\x00").unwrap(), (2, None));
/// assert_eq!(decoder.decode(b"\x00\x02h").unwrap(), (3, None));
/// let (used, frame) = decoder.decode(b"iEXTRA").unwrap();
/// assert_eq!((used, frame.unwrap().into_vec()), (1, b"hi".to_vec()));
/// ```
#[derive(Debug)]
pub struct Decoder {
    state: State,
    max_len: Option<u64>,
    first: FirstFrame,
}

/// What the decoder checks of the next frame it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FirstFrame {
    /// The stream of a client without an authkey, before its first frame: a frame that
    /// starts with `#CHALLENGE#` is a keyed listener's challenge (docs/protocol.md
    /// section 2), not a reply, and fails the decoder with [`Error::AuthkeyWanted`].
    RefuseChallenge,
    /// Every frame is a message.
    Unchecked,
}

/// The start of a challenge frame's payload (docs/protocol.md section 2).
const CHALLENGE_PREFIX: &[u8] = b"#CHALLENGE#";

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with no length limit.
    pub fn new() -> Decoder {
        Decoder {
            state: IDLE,
            max_len: None,
            first: FirstFrame::Unchecked,
        }
    }

    /// A decoder that refuses payloads longer than `max_len` bytes.
    pub fn with_max_len(max_len: u64) -> Decoder {
        Decoder {
            max_len: Some(max_len),
            ..Decoder::new()
        }
    }

    /// The same decoder, for the stream of a client without an authkey: if the first
    /// frame it completes starts with `#CHALLENGE#`, it fails with
    /// [`Error::AuthkeyWanted`] rather than hand the challenge out as a message. A
    /// keyed listener speaks first with its challenge (docs/protocol.md section 2), so that
    /// first frame means the listener wants a key this client does not have; later
    /// frames are messages, whatever they hold.
    ///
    /// ```
    /// use mpconn::{frame::Decoder, Error};
    ///
    /// let mut decoder = Decoder::new().refusing_a_challenge();
    /// let challenge = b"\0\0\0\x23#CHALLENGE#{sha256}0123456789abcdef";
    /// assert_eq!(decoder.decode(challenge).unwrap_err(), Error::AuthkeyWanted);
    ///
    /// let mut decoder = Decoder::new().refusing_a_challenge();
    /// assert!(decoder.decode(b"\0\0\0\x02hi").unwrap().1.is_some());
    /// assert!(!decoder.refuses_a_challenge()); // only the first frame is checked
    /// ```
    pub fn refusing_a_challenge(mut self) -> Decoder {
        self.first = FirstFrame::RefuseChallenge;
        self
    }

    /// True until the first frame of a decoder made
    /// [`refusing_a_challenge`](Self::refusing_a_challenge) is complete: an adapter
    /// that hands the stream to another decoder hands this on with it.
    pub fn refuses_a_challenge(&self) -> bool {
        self.first == FirstFrame::RefuseChallenge
    }

    /// Sets the limit for frames from now on (`None`: no limit). The limit is also
    /// checked against a frame whose payload is still arriving, so lowering it below
    /// that frame's length fails the decoder.
    pub fn set_max_len(&mut self, max_len: Option<u64>) {
        self.max_len = max_len;
    }

    /// The limit in force.
    pub fn max_len(&self) -> Option<u64> {
        self.max_len
    }

    /// True between frames: nothing of a next frame has arrived yet.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Header { have: 0, .. })
    }

    /// True after an error: the decoder takes no more input.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed(_))
    }

    /// Bytes of the current, unfinished frame held so far (header and payload).
    pub fn buffered(&self) -> u64 {
        match &self.state {
            State::Header { have, .. } => u64::from(*have),
            State::Payload {
                header_len, buf, ..
            } => u64::from(*header_len) + buf.len() as u64,
            State::Failed(_) => 0,
        }
    }

    /// Decodes at most one frame from the start of `input`.
    ///
    /// Returns how many bytes of `input` were consumed and the frame, if one was
    /// completed; bytes after that frame are not consumed, so call again with the rest.
    /// Without a frame, all of `input` was consumed (partial input is normal, not an
    /// error).
    #[inline]
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Frame<'a>>), Error> {
        let result = match self.step(input) {
            Ok((used, Some(frame))) if self.first == FirstFrame::RefuseChallenge => {
                self.first = FirstFrame::Unchecked;
                if frame.starts_with(CHALLENGE_PREFIX) {
                    Err(Error::AuthkeyWanted)
                } else {
                    Ok((used, Some(frame)))
                }
            }
            other => other,
        };
        match result {
            Ok(done) => Ok(done),
            Err(error) => {
                self.state = State::Failed(error.clone());
                Err(error)
            }
        }
    }

    #[inline]
    fn step<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Frame<'a>>), Error> {
        let mut pos = 0;
        if let State::Header { buf, have } = &mut self.state {
            let (header_len, len) = if *have == 0 {
                match parse_header(input)? {
                    Some(parsed) => parsed,
                    None => {
                        // Fewer than 12 bytes, all of them header.
                        buf[..input.len()].copy_from_slice(input);
                        *have = input.len() as u8;
                        return Ok((input.len(), None));
                    }
                }
            } else {
                loop {
                    if let Some(parsed) = parse_header(&buf[..usize::from(*have)])? {
                        break parsed;
                    }
                    let Some(&byte) = input.get(pos) else {
                        return Ok((pos, None));
                    };
                    buf[usize::from(*have)] = byte;
                    *have += 1;
                    pos += 1;
                }
            };
            if *have == 0 {
                pos = header_len;
            }
            check_len(self.max_len, len)?;
            let rest = &input[pos..];
            if (rest.len() as u64) >= len {
                // The whole payload is in the caller's buffer: hand it out in place.
                let len = len as usize;
                self.state = IDLE;
                return Ok((pos + len, Some(Frame::Borrowed(&rest[..len]))));
            }
            self.state = State::Payload {
                len,
                header_len: header_len as u8,
                buf: Vec::new(),
            };
        }
        match &mut self.state {
            State::Payload { len, buf, .. } => {
                let len = *len;
                check_len(self.max_len, len)?;
                let missing = len - buf.len() as u64;
                let rest = &input[pos..];
                if buf.is_empty() && rest.len() as u64 >= missing {
                    // The header ended one input early and this input holds the whole
                    // payload: hand it out in place rather than gather a copy.
                    let len = len as usize;
                    self.state = IDLE;
                    return Ok((pos + len, Some(Frame::Borrowed(&rest[..len]))));
                }
                let missing = usize::try_from(missing).unwrap_or(usize::MAX);
                let take = rest.len().min(missing);
                reserve_payload(buf, take, missing);
                buf.extend_from_slice(&input[pos..pos + take]);
                pos += take;
                if buf.len() as u64 == len {
                    let payload = core::mem::take(buf);
                    self.state = IDLE;
                    Ok((pos, Some(Frame::Owned(payload))))
                } else {
                    Ok((pos, None))
                }
            }
            State::Failed(first) => Err(first.clone()),
            State::Header { .. } => unreachable!("a header state always returns above"),
        }
    }

    /// The buffer of the payload now arriving and the most bytes that may be appended
    /// to it, for a reader that fills spare capacity straight from the stream: `None`
    /// unless the decoder is inside a payload that misses at least `min` bytes and the
    /// limit in force lets it through. The capacity is reserved here, by the growth rule
    /// of [`reserve_payload`]: memory follows the bytes that arrived.
    pub(crate) fn payload_tail(&mut self, min: usize) -> Option<(&mut Vec<u8>, usize)> {
        let max_len = self.max_len;
        let State::Payload { len, buf, .. } = &mut self.state else {
            return None;
        };
        if check_len(max_len, *len).is_err() {
            return None;
        }
        let have = buf.len();
        let missing = usize::try_from(*len - have as u64).unwrap_or(usize::MAX);
        if missing < min.max(1) {
            return None;
        }
        reserve_payload(buf, missing.min(GROWTH_STEP), missing);
        let limit = (buf.capacity() - have).min(missing);
        Some((buf, limit))
    }

    /// The length of the payload buffer, inside a payload.
    /// True when [`decode`](Self::decode) of `input` would not ask for more: it would
    /// return a frame or an error. Nothing is changed, so an adapter can loop on reads
    /// until this holds and then take a frame that borrows from its buffer (a loop that
    /// returns the borrowed frame itself is refused by today's borrow checker).
    #[inline]
    pub(crate) fn completes(&self, input: &[u8]) -> bool {
        match &self.state {
            State::Failed(_) => true,
            State::Payload { len, buf, .. } => {
                check_len(self.max_len, *len).is_err()
                    || input.len() as u64 >= *len - buf.len() as u64
            }
            State::Header { have: 0, .. } => match parse_header(input) {
                Err(_) => true,
                Ok(None) => false,
                Ok(Some((header_len, len))) => {
                    check_len(self.max_len, len).is_err()
                        || (input.len() - header_len) as u64 >= len
                }
            },
            State::Header { buf, have } => {
                let have = usize::from(*have);
                let mut header = [0; 12];
                header[..have].copy_from_slice(&buf[..have]);
                let more = input.len().min(12 - have);
                header[have..have + more].copy_from_slice(&input[..more]);
                match parse_header(&header[..have + more]) {
                    Err(_) => true,
                    Ok(None) => false,
                    Ok(Some((header_len, len))) => {
                        let rest = input.len() - (header_len - have);
                        check_len(self.max_len, len).is_err() || rest as u64 >= len
                    }
                }
            }
        }
    }

    pub(crate) fn payload_len(&self) -> Option<usize> {
        match &self.state {
            State::Payload { buf, .. } => Some(buf.len()),
            _ => None,
        }
    }

    /// Finishes the decoder with `error`, unless it already failed.
    pub(crate) fn fail(&mut self, error: Error) {
        if !self.is_failed() {
            self.state = State::Failed(error);
        }
    }

    /// The error the decoder failed with, if it did.
    ///
    /// ```
    /// use mpconn::{frame::Decoder, Error};
    /// let mut decoder = Decoder::with_max_len(1);
    /// assert!(decoder.decode(b"\0\0\0\x02").is_err());
    /// assert_eq!(decoder.error(), Some(&Error::MessageTooLong { len: 2, max: 1 }));
    /// ```
    pub fn error(&self) -> Option<&Error> {
        match &self.state {
            State::Failed(first) => Some(first),
            _ => None,
        }
    }

    /// Tells the decoder the input has ended, and returns the error that describes the
    /// end: [`Error::Closed`] between frames, [`Error::UnexpectedEof`] inside one. The
    /// decoder is finished afterwards.
    pub fn eof(&mut self) -> Error {
        let error = match &self.state {
            State::Header { have: 0, .. } => Error::Closed,
            State::Failed(first) => first.clone(),
            _ => Error::UnexpectedEof {
                received: self.buffered(),
            },
        };
        self.state = State::Failed(error.clone());
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn decode_all(decoder: &mut Decoder, mut input: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
        let mut frames = Vec::new();
        while !input.is_empty() {
            let (used, frame) = decoder.decode(input)?;
            if let Some(frame) = frame {
                frames.push(frame.into_vec());
            }
            input = &input[used..];
        }
        Ok(frames)
    }

    #[test]
    fn headers_match_cpython_struct_pack() {
        assert_eq!(Header::new(0).as_bytes(), [0, 0, 0, 0]);
        assert_eq!(
            Header::new(0x7fff_ffff).as_bytes(),
            [0x7f, 0xff, 0xff, 0xff]
        );
        assert_eq!(
            Header::new(0x8000_0000).as_bytes(),
            [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0]
        );
        assert_eq!(Header::new(u64::MAX).as_bytes(), [0xff; 12]);
    }

    #[test]
    fn long_header_declares_its_length_before_any_payload() {
        let mut decoder = Decoder::with_max_len(0x8000_0000);
        let header = Header::new(u64::MAX);
        assert_eq!(
            decoder.decode(header.as_bytes()),
            Err(Error::MessageTooLong {
                len: u64::MAX,
                max: 0x8000_0000
            })
        );
    }

    #[test]
    fn zero_length_message_round_trips() {
        let mut wire = Vec::new();
        encode(b"", &mut wire);
        let mut decoder = Decoder::new();
        assert_eq!(
            decode_all(&mut decoder, &wire).unwrap(),
            vec![Vec::<u8>::new()]
        );
        assert!(decoder.is_idle());
    }

    #[test]
    fn byte_at_a_time_gives_the_same_frames() {
        let mut wire = Vec::new();
        for payload in [&b""[..], b"a", &[7; 300]] {
            encode(payload, &mut wire);
        }
        let whole = decode_all(&mut Decoder::new(), &wire).unwrap();
        let mut decoder = Decoder::new();
        let mut split = Vec::new();
        for byte in wire.chunks(1) {
            split.extend(decode_all(&mut decoder, byte).unwrap());
        }
        assert_eq!(whole, split);
        assert_eq!(whole.len(), 3);
    }

    #[test]
    fn negative_length_other_than_minus_one_is_rejected() {
        let mut decoder = Decoder::new();
        assert_eq!(
            decoder.decode(&(-2i32).to_be_bytes()),
            Err(Error::NegativeLength(-2))
        );
        assert!(decoder.is_failed());
        assert_eq!(decoder.decode(b"\0\0\0\0"), Err(Error::NegativeLength(-2)));
    }

    #[test]
    fn limit_is_enforced_before_payload_is_buffered() {
        let mut decoder = Decoder::with_max_len(3);
        assert_eq!(
            decoder.decode(b"\0\0\0\x04"),
            Err(Error::MessageTooLong { len: 4, max: 3 })
        );
    }

    #[test]
    fn huge_declared_length_allocates_nothing_up_front() {
        let mut decoder = Decoder::new();
        let header = Header::new(u64::MAX);
        assert_eq!(decoder.decode(header.as_bytes()).unwrap(), (12, None));
        assert_eq!(decoder.decode(b"abc").unwrap(), (3, None));
        match &decoder.state {
            State::Payload { buf, .. } => assert!(buf.capacity() <= 3 + GROWTH_STEP),
            other => panic!("unexpected state {other:?}"),
        }
    }

    #[test]
    fn eof_after_a_long_header_for_a_short_length_counts_all_twelve_header_bytes() {
        // ff ff ff ff + u64 5: legal (CPython reads it), though CPython never sends it.
        let mut decoder = Decoder::new();
        let mut wire = LONG_MARKER.to_vec();
        wire.extend_from_slice(&5u64.to_be_bytes());
        wire.extend_from_slice(b"ab");
        assert_eq!(decoder.decode(&wire).unwrap(), (14, None));
        assert_eq!(decoder.buffered(), 14);
        assert_eq!(decoder.eof(), Error::UnexpectedEof { received: 14 });
    }

    #[test]
    fn payload_arriving_whole_after_its_header_is_borrowed() {
        let mut decoder = Decoder::new();
        assert_eq!(decoder.decode(b"\0\0\0\x03").unwrap(), (4, None));
        let (used, frame) = decoder.decode(b"abcNEXT").unwrap();
        assert_eq!(used, 3);
        assert_eq!(frame, Some(Frame::Borrowed(b"abc")));
        assert!(decoder.is_idle());
    }

    #[test]
    fn eof_between_frames_is_closed_and_inside_is_unexpected() {
        let mut decoder = Decoder::new();
        assert_eq!(decoder.eof(), Error::Closed);
        let mut decoder = Decoder::new();
        decoder.decode(b"\0\0\0\x05ab").unwrap();
        assert_eq!(decoder.eof(), Error::UnexpectedEof { received: 6 });
        let mut decoder = Decoder::new();
        decoder.decode(b"\0\0").unwrap();
        assert_eq!(decoder.eof(), Error::UnexpectedEof { received: 2 });
    }
}
