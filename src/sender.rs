//! The sending half: the outbound queue, and large messages written without a copy
//! (docs/protocol.md section 1).
//!
//! Messages are framed here, never in an adapter: [`Sender::send`] queues one (copied
//! behind its header); [`Sender::send_direct`] hands out the slices to write for one
//! that is too large to copy, and keeps the stream in step whatever happens to the
//! writing. The adapter writes [`Sender::pending_output`] (or the slices) and reports
//! how much went out.

use alloc::vec::Vec;

use crate::error::Error;
use crate::frame::{self, Header, Transport, CONCAT_LIMIT};

/// Whether the stream can still be trusted to sit between two frames after the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteSide {
    InStep,
    /// A [`DirectSend`] is out. Seen by any call on the sender, it was leaked
    /// (`mem::forget`): its drop would have cleared it.
    Direct,
    /// Part of a frame went out and the rest never will.
    OutOfStep,
}

/// The sending half of a connection: the queue of framed messages not yet written.
///
/// A [`Connection`](crate::Connection) sends through one of these (and
/// [`Connection::split`](crate::Connection::split) hands it out), so its send methods
/// are these.
///
/// ```
/// let mut sender = mpconn::Sender::new();
/// sender.send(b"abc").unwrap();
/// assert_eq!(sender.pending_output(), b"\0\0\0\x03abc");
/// sender.consume_output(2); // a partial write keeps its place
/// assert_eq!(sender.pending_output(), b"\0\x03abc");
/// ```
#[derive(Debug)]
pub struct Sender {
    /// Framed messages, whatever the transport: with [`Transport::Messages`] the output
    /// is their payloads, one message at a time.
    out: Vec<u8>,
    /// Bytes of `out` already written (with `Messages`: the start of the frame whose
    /// payload goes out next).
    out_start: usize,
    /// With `Messages`: bytes of that frame's payload already written.
    msg_written: usize,
    step: WriteSide,
    transport: Transport,
}

impl Default for Sender {
    fn default() -> Self {
        Sender::new()
    }
}

impl Sender {
    /// An empty queue.
    pub fn new() -> Sender {
        Sender::with_transport(Transport::Stream)
    }

    /// An empty queue for `transport`. With [`Transport::Messages`],
    /// [`pending_output`](Self::pending_output) is what is left of the next message
    /// alone, without a header: write it as one transport message (an empty one
    /// included), then [`consume_output`](Self::consume_output) it.
    ///
    /// ```
    /// use mpconn::{Sender, Transport};
    /// let mut sender = Sender::with_transport(Transport::Messages);
    /// sender.send(b"").unwrap();
    /// sender.send(b"ab").unwrap();
    /// assert!(sender.wants_write());
    /// assert_eq!(sender.pending_output(), b""); // an empty message is one too
    /// sender.consume_output(0);
    /// assert_eq!(sender.take_output(), b"ab");
    /// assert!(!sender.wants_write());
    /// ```
    pub fn with_transport(transport: Transport) -> Sender {
        Sender {
            out: Vec::new(),
            out_start: 0,
            msg_written: 0,
            step: WriteSide::InStep,
            transport,
        }
    }

    /// The transport it writes to.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Changes the transport before anything is written (the queue holds frames either
    /// way).
    pub(crate) fn set_transport(&mut self, transport: Transport) {
        self.transport = transport;
        self.msg_written = 0;
    }

    /// With `Messages`, the next queued frame's payload, as `(start, end)` in `out`.
    #[inline]
    fn next_message_span(&self) -> Option<(usize, usize)> {
        let queue = &self.out[self.out_start..];
        match frame::parse_header(queue) {
            Ok(Some((header_len, len))) => {
                let start = self.out_start + header_len;
                Some((start, start + len as usize))
            }
            // The queue holds whole frames of our own encoding: nothing else occurs.
            _ => None,
        }
    }

    /// Queues one message, copied behind its header. [`Error::OutOfStep`] once a
    /// message was only partly written ([`DirectSend::abandon`], or a leaked
    /// `DirectSend`): the peer would read garbage.
    #[inline]
    pub fn send(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.check_in_step()?;
        frame::encode(payload, &mut self.out);
        Ok(())
    }

    /// Starts sending one message without copying it when it is large: the returned
    /// [`DirectSend`] hands out, in order, the bytes queued before it, the header and
    /// the payload, for one vectored write after another. A payload up to
    /// [`CONCAT_LIMIT`] is copied behind its header into the queue instead, as CPython
    /// joins them into one write; the guard then hands out the queue.
    ///
    /// Dropped before it is done (a cancelled future, a timeout), the guard copies what
    /// is left of the message into the queue, so a later flush finishes the frame and
    /// the stream stays in step.
    ///
    /// ```
    /// let mut sender = mpconn::Sender::new();
    /// let payload = vec![7; 100_000];
    /// let mut send = sender.send_direct(&payload).unwrap();
    /// let mut wire = Vec::new();
    /// while !send.is_done() {
    ///     let [queued, header, rest] = send.slices();
    ///     // A real loop: n = socket.write_vectored(&[IoSlice::new(queued), ...])?
    ///     let n = (queued.len() + header.len() + rest.len()).min(30_000);
    ///     wire.extend_from_slice(&[queued, header, rest].concat()[..n]);
    ///     send.advance(n);
    /// }
    /// assert_eq!(&wire[..4], b"\0\x01\x86\xa0");
    /// assert_eq!(wire.len(), 4 + 100_000);
    /// ```
    pub fn send_direct<'a>(&'a mut self, payload: &'a [u8]) -> Result<DirectSend<'a>, Error> {
        if payload.len() <= CONCAT_LIMIT {
            self.send(payload)?;
            return Ok(DirectSend::queued(self));
        }
        self.check_in_step()?;
        self.step = WriteSide::Direct;
        let header = Header::new(payload.len() as u64);
        // A message transport frames it itself: the header counts as written.
        let written = match self.transport {
            Transport::Stream => 0,
            Transport::Messages => header.as_bytes().len(),
        };
        Ok(DirectSend {
            header,
            payload,
            written,
            sender: self,
        })
    }

    /// Bytes waiting to be written to the peer, oldest first (none once out of step).
    #[inline]
    pub fn pending_output(&self) -> &[u8] {
        match self.step {
            WriteSide::InStep => self.pending_of_queue(),
            WriteSide::Direct | WriteSide::OutOfStep => &[],
        }
    }

    /// True when there is output to write: [`pending_output`](Self::pending_output) is
    /// not empty, or (with [`Transport::Messages`]) an empty message is next.
    #[inline]
    pub fn wants_write(&self) -> bool {
        self.step == WriteSide::InStep && !self.queue_is_empty()
    }

    /// Marks the first `n` bytes of [`pending_output`](Self::pending_output) as written
    /// (a partial write keeps its place). `n` larger than what is pending is clamped.
    /// With [`Transport::Messages`], the message is done once all of it is written
    /// (`consume_output(0)` for an empty one).
    #[inline]
    pub fn consume_output(&mut self, n: usize) {
        self.notice_leak();
        if self.step != WriteSide::InStep {
            return;
        }
        self.consume_queue(n);
    }

    /// Marks `n` bytes of the queue's output as written, whatever the step.
    #[inline]
    fn consume_queue(&mut self, n: usize) {
        match self.transport {
            Transport::Stream => {
                let n = n.min(self.out.len() - self.out_start);
                self.out_start += n;
            }
            Transport::Messages => {
                let Some((start, end)) = self.next_message_span() else {
                    return;
                };
                self.msg_written = (self.msg_written + n).min(end - start);
                if start + self.msg_written == end {
                    self.out_start = end;
                    self.msg_written = 0;
                }
            }
        }
        if self.out_start == self.out.len() {
            self.out.clear();
            self.out_start = 0;
        }
    }

    /// Takes all bytes waiting to be written (for in-memory transports and tests).
    ///
    /// ```
    /// let mut sender = mpconn::Sender::new();
    /// sender.send(b"").unwrap();
    /// assert_eq!(sender.take_output(), b"\0\0\0\0");
    /// assert!(!sender.wants_write());
    /// ```
    pub fn take_output(&mut self) -> Vec<u8> {
        self.notice_leak();
        let out = self.pending_output().to_vec();
        self.consume_output(out.len());
        out
    }

    /// Takes the next whole message with [`Transport::Messages`] (`None` when nothing is
    /// queued), for in-memory transports and tests; on a stream, what
    /// [`take_output`](Self::take_output) takes.
    ///
    /// ```
    /// use mpconn::{Sender, Transport};
    /// let mut sender = Sender::with_transport(Transport::Messages);
    /// sender.send(b"a").unwrap();
    /// sender.send(b"").unwrap();
    /// assert_eq!(sender.take_message().as_deref(), Some(&b"a"[..]));
    /// assert_eq!(sender.take_message().as_deref(), Some(&b""[..]));
    /// assert_eq!(sender.take_message(), None);
    /// ```
    pub fn take_message(&mut self) -> Option<Vec<u8>> {
        self.notice_leak();
        if !self.wants_write() {
            return None;
        }
        Some(self.take_output())
    }

    /// True once a message was only partly written: nothing more can be sent.
    pub fn is_out_of_step(&self) -> bool {
        self.step != WriteSide::InStep
    }

    /// Appends bytes that are already framed (the handshake's, and messages held
    /// during it).
    pub(crate) fn queue_framed(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    #[inline]
    fn notice_leak(&mut self) {
        if self.step == WriteSide::Direct {
            self.step = WriteSide::OutOfStep;
        }
    }

    #[inline]
    fn check_in_step(&mut self) -> Result<(), Error> {
        self.notice_leak();
        match self.step {
            WriteSide::InStep => Ok(()),
            WriteSide::Direct | WriteSide::OutOfStep => Err(Error::OutOfStep),
        }
    }
}

/// One message on its way out, from [`Sender::send_direct`] (or
/// [`Connection::send_direct`](crate::Connection::send_direct)): write
/// [`slices`](Self::slices) (vectored), report with [`advance`](Self::advance), until
/// [`is_done`](Self::is_done).
///
/// Dropped unfinished, it copies what is left of its message into the queue, so the
/// next flush finishes the frame: that makes an async send cancel safe and lets a
/// blocking one be retried after a timeout. After a hard I/O error,
/// [`abandon`](Self::abandon) it. Leaked with `mem::forget`, it cannot do either: the
/// sender notices at its next call and refuses to send more ([`Error::OutOfStep`]).
///
/// ```
/// let mut sender = mpconn::Sender::new();
/// let payload = vec![1; 20_000];
/// let mut send = sender.send_direct(&payload).unwrap();
/// send.advance(10); // a write cut short, then the future was dropped
/// drop(send);
/// assert_eq!(sender.pending_output().len(), 4 + 20_000 - 10); // the rest, queued
/// ```
#[derive(Debug)]
pub struct DirectSend<'a> {
    sender: &'a mut Sender,
    header: Header,
    payload: &'a [u8],
    /// Bytes of header and payload written so far.
    written: usize,
}

impl<'a> DirectSend<'a> {
    /// A guard for a message already in the queue (or held): only the queue to write.
    pub(crate) fn queued(sender: &'a mut Sender) -> DirectSend<'a> {
        DirectSend {
            sender,
            header: Header::new(0),
            payload: &[],
            written: 4,
        }
    }

    fn frame_len(&self) -> usize {
        self.header.as_bytes().len() + self.payload.len()
    }

    /// The bytes still to write, in order: what was queued before this message, what
    /// is left of its header, what is left of its payload. Some may be empty.
    ///
    /// With [`Transport::Messages`] they are one message: the next one queued before
    /// this (only the first slice), then this message's payload (only the last); write
    /// them as one transport message each time.
    pub fn slices(&self) -> [&[u8]; 3] {
        let header = self.header.as_bytes();
        let in_header = self.written.min(header.len());
        let in_payload = self.written - in_header;
        let header_rest = &header[in_header..];
        let payload_rest = &self.payload[in_payload..];
        if self.sender.transport == Transport::Messages && !self.sender.queue_is_empty() {
            return [self.sender.pending_of_queue(), &[], &[]];
        }
        [self.sender.pending_of_queue(), header_rest, payload_rest]
    }

    /// Marks the first `n` bytes of [`slices`](Self::slices) as written (clamped to
    /// what is left).
    pub fn advance(&mut self, n: usize) {
        let queued = self.sender.pending_of_queue().len();
        if self.sender.transport == Transport::Messages && !self.sender.queue_is_empty() {
            // One queued message at a time (an empty one is done by `advance(0)`).
            self.sender.consume_queue(n);
            return;
        }
        let from_queue = n.min(queued);
        self.sender.consume_queue(from_queue);
        self.written = (self.written + (n - from_queue)).min(self.frame_len());
    }

    /// True when all of it (and everything queued before it) is written.
    pub fn is_done(&self) -> bool {
        self.written == self.frame_len() && self.sender.queue_is_empty()
    }

    /// Bytes of the frame counted as written before anything was: the header, on a
    /// message transport.
    fn written_at_start(&self) -> usize {
        match self.sender.transport {
            Transport::Stream => 0,
            Transport::Messages => self.header.as_bytes().len(),
        }
    }

    /// Gives up after a hard I/O error (the peer is gone, the socket broken): nothing
    /// of the message is queued. If part of its frame went out, the sender is out of
    /// step from now on ([`Error::OutOfStep`]); if none did, it stays usable without
    /// this message.
    ///
    /// ```
    /// let mut sender = mpconn::Sender::new();
    /// let payload = vec![1; 20_000];
    /// let mut send = sender.send_direct(&payload).unwrap();
    /// send.advance(10);
    /// send.abandon();
    /// assert_eq!(sender.send(b"x"), Err(mpconn::Error::OutOfStep));
    /// ```
    pub fn abandon(mut self) {
        let side = if self.written == self.written_at_start() || self.written == self.frame_len() {
            WriteSide::InStep
        } else {
            WriteSide::OutOfStep
        };
        self.written = self.frame_len();
        self.sender.step = side;
    }
}

impl Sender {
    /// The queue's output, whatever the step (a live `DirectSend` writes it first): the
    /// frames, or with `Messages` the rest of the next one's payload.
    #[inline]
    fn pending_of_queue(&self) -> &[u8] {
        match self.transport {
            Transport::Stream => &self.out[self.out_start..],
            Transport::Messages => match self.next_message_span() {
                Some((start, end)) => &self.out[start + self.msg_written..end],
                None => &[],
            },
        }
    }

    /// True while frames are queued (a live `DirectSend` waits for them).
    #[inline]
    fn queue_is_empty(&self) -> bool {
        self.out_start == self.out.len()
    }
}

impl Drop for DirectSend<'_> {
    fn drop(&mut self) {
        if self.sender.step == WriteSide::Direct {
            self.sender.step = WriteSide::InStep;
        }
        if self.sender.transport == Transport::Messages && self.written < self.frame_len() {
            if self.written > self.written_at_start() {
                // Part of the message went out as a message of its own: the rest cannot
                // join it.
                self.sender.step = WriteSide::OutOfStep;
            } else {
                self.sender.out.extend_from_slice(self.header.as_bytes());
                self.sender.out.extend_from_slice(self.payload);
            }
            return;
        }
        // Part of the frame is out only once the queue before it is: what is left goes
        // behind what is still queued, before anything sent later.
        let header = self.header.as_bytes();
        let in_header = self.written.min(header.len());
        let in_payload = self.written - in_header;
        self.sender.out.extend_from_slice(&header[in_header..]);
        self.sender
            .out
            .extend_from_slice(&self.payload[in_payload..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// Writes a send at most `step` bytes a call; returns the bytes written.
    fn write(send: &mut DirectSend<'_>, step: usize, calls: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        for _ in 0..calls {
            if send.is_done() {
                break;
            }
            let all = send.slices().concat();
            let n = all.len().min(step);
            wire.extend_from_slice(&all[..n]);
            send.advance(n);
        }
        wire
    }

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        frame::encode(payload, &mut wire);
        wire
    }

    #[test]
    fn direct_send_writes_the_queue_then_the_frame() {
        let mut sender = Sender::new();
        sender.send(b"first").unwrap();
        let payload: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        let mut send = sender.send_direct(&payload).unwrap();
        let wire = write(&mut send, 7_000, usize::MAX);
        assert!(send.is_done());
        drop(send);
        assert_eq!(wire, [framed(b"first"), framed(&payload)].concat());
        assert!(!sender.wants_write());
        assert!(!sender.is_out_of_step());
    }

    #[test]
    fn small_payloads_are_queued_behind_their_header_even_through_send_direct() {
        let mut sender = Sender::new();
        let payload = vec![3; CONCAT_LIMIT];
        let mut send = sender.send_direct(&payload).unwrap();
        assert_eq!(send.slices()[0], &framed(&payload)[..]);
        assert!(send.slices()[1].is_empty() && send.slices()[2].is_empty());
        let wire = write(&mut send, usize::MAX, 1);
        assert!(send.is_done());
        assert_eq!(wire, framed(&payload));
    }

    #[test]
    fn direct_send_dropped_part_way_queues_the_rest_in_order() {
        let payload = vec![9; 30_000];
        for written in [0, 2, 3, 4, 5, 10, 20_003] {
            let mut sender = Sender::new();
            sender.send(b"ab").unwrap();
            let mut send = sender.send_direct(&payload).unwrap();
            let mut wire = write(&mut send, written, 1);
            drop(send);
            sender.send(b"after").unwrap();
            wire.extend_from_slice(&sender.take_output());
            let expected = [framed(b"ab"), framed(&payload), framed(b"after")].concat();
            assert!(wire == expected, "{written} bytes written before the drop");
        }
    }

    /// A sender after a direct send of 30,000 bytes of which `written` went out, then
    /// `leave` let go of the send.
    fn left_after(written: usize, leave: impl FnOnce(DirectSend<'_>)) -> Sender {
        let payload = vec![9; 30_000];
        let mut sender = Sender::new();
        let mut send = sender.send_direct(&payload).unwrap();
        send.advance(written);
        leave(send);
        sender
    }

    #[test]
    fn a_forgotten_direct_send_puts_the_sender_out_of_step() {
        let payload = vec![9; 30_000];
        let mut sender = left_after(100, |send| core::mem::forget(send));
        assert!(sender.is_out_of_step());
        assert!(!sender.wants_write());
        assert_eq!(sender.send(b"x"), Err(Error::OutOfStep));
        assert!(matches!(
            sender.send_direct(&payload),
            Err(Error::OutOfStep)
        ));
    }

    #[test]
    fn abandoning_before_any_byte_of_the_frame_keeps_the_sender_in_step() {
        let payload = vec![9; 30_000];
        let mut sender = Sender::new();
        sender.send(b"ab").unwrap();
        let mut send = sender.send_direct(&payload).unwrap();
        send.advance(3); // part of the queue only
        send.abandon();
        assert_eq!(sender.pending_output(), &framed(b"ab")[3..]);
        assert_eq!(sender.send(b""), Ok(()));
    }

    #[test]
    fn abandoning_part_way_through_the_frame_puts_the_sender_out_of_step() {
        let mut sender = left_after(5, |send| send.abandon());
        assert!(sender.is_out_of_step());
        assert_eq!(sender.send(b""), Err(Error::OutOfStep));
    }

    #[test]
    fn partial_writes_keep_their_place_and_overlong_ones_are_clamped() {
        let mut sender = Sender::new();
        sender.send(b"abc").unwrap();
        sender.consume_output(2);
        assert_eq!(sender.pending_output(), b"\0\x03abc");
        sender.consume_output(100);
        assert!(!sender.wants_write());
    }
}
