//! Two [`Connection`]s, a server and a client, driven by an `arbitrary` sequence of
//! operations and checked against a simple model: what one side sends, the other
//! receives, whole and in order; the handshake ends the way the two configurations and
//! keys say it must; errors are the ones the model allows, and final.
//!
//! The channel between the two is a pair of byte queues ("wires") the script moves
//! bytes through in pieces of its choosing, by both output APIs (`pending_output` /
//! `consume_output` and `take_output`), large messages through `send_direct` guards
//! written part-way and dropped, and input by `feed` or by single adapter-style reads
//! into `recv_buf` (the buffer or a payload's own `Vec`) committed with `received`. An
//! `Inject` operation puts foreign bytes on a wire; from then on that direction is
//! hostile and only robustness is checked (typed, final errors; no panic; progress).
//! Whatever the script, a failed handshake is reported by `state()` only once its
//! output is written, and a later error is the first one again.

use arbitrary::{Arbitrary, Unstructured};
use mpconn::connection::State;
use mpconn::{Connection, Error, HandshakeConfig, RecvBuf};
// Seeded from the input: an input replays with the same nonces.
use mpconn_test_support::SplitMix;

use super::handshake::{config, predict_challenge};

/// Which connection.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The accepting side (`Connection::server`).
    Server,
    /// The connecting side (`Connection::client`).
    Client,
}

/// The authkeys.
#[derive(Arbitrary, Debug)]
pub enum Keys {
    /// No handshake (a `Pipe`).
    None,
    /// Both hold this key.
    Same(Vec<u8>),
    /// The server holds the first, the client the second (made to differ).
    Different(Vec<u8>, Vec<u8>),
}

/// One step of the script.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// `send(payload)`.
    Send { by: Side, payload: Vec<u8> },
    /// `send_direct` of `len % 2^18` bytes of `fill` (big messages from a small
    /// input), `fill` KiB of its slices written to the wire, then the guard dropped: the
    /// rest must go out, in order, with the queue.
    SendLarge { by: Side, len: u32, fill: u8 },
    /// Write up to `max` bytes (0 = all) of `pending_output()` to the wire, then
    /// `consume_output` them: a partial write.
    Write { by: Side, max: u16 },
    /// `take_output()` onto the wire.
    TakeOutput { by: Side },
    /// `feed` up to `max` bytes (0 = all) of the wire to `to`, `chunk` at a time.
    Feed { to: Side, max: u16, chunk: u16 },
    /// One read of up to `max` bytes (0 = as many as lent) of the wire to `to` into
    /// `recv_buf()`, committed with `received`.
    Read { to: Side, max: u16 },
    /// One `next_message()`.
    NextMessage { at: Side },
    /// `set_max_len(max)`.
    SetMaxLen { at: Side, max: Option<u16> },
    /// Foreign bytes on the wire to `to`.
    Inject { to: Side, bytes: Vec<u8> },
}

/// A whole fuzz input.
#[derive(Arbitrary, Debug)]
pub struct Script {
    server_config: u8,
    client_config: u8,
    keys: Keys,
    ops: Vec<Op>,
}

/// Bytes of `SendLarge` payloads a script may queue in all, to stay well inside
/// libFuzzer's memory limit with the model's copies.
const LARGE_BUDGET: usize = 4 << 20;

struct End {
    connection: Connection,
    /// Messages this side queued (what the other side must receive).
    sent: Vec<Vec<u8>>,
    /// Messages this side took, in order.
    received: Vec<Vec<u8>>,
    /// Bytes this side wrote that the other side has not read yet.
    wire: Vec<u8>,
    /// Foreign bytes were put on the wire to this side.
    hostile: bool,
    /// The first error reading returned.
    read_error: Option<Error>,
    max_len: Option<u64>,
}

impl End {
    fn new(connection: Connection) -> End {
        End {
            connection,
            sent: Vec::new(),
            received: Vec::new(),
            wire: Vec::new(),
            hostile: false,
            read_error: None,
            max_len: None,
        }
    }
}

struct Pair {
    server: End,
    client: End,
    large: usize,
}

impl Pair {
    /// (this side, the other side)
    fn sides(&mut self, side: Side) -> (&mut End, &mut End) {
        match side {
            Side::Server => (&mut self.server, &mut self.client),
            Side::Client => (&mut self.client, &mut self.server),
        }
    }

    fn send(&mut self, by: Side, payload: Vec<u8>) {
        let (us, _) = self.sides(by);
        let failed = handshake_error(&us.connection).cloned();
        match (us.connection.send(&payload), failed) {
            (Ok(()), None) => us.sent.push(payload),
            (Err(again), Some(first)) => assert_eq!(again, first),
            (result, failed) => panic!("send gave {result:?} with handshake error {failed:?}"),
        }
    }

    /// Sends through a `send_direct` guard, writes `written` bytes of its slices, drops it.
    fn send_direct(&mut self, by: Side, payload: Vec<u8>, written: usize) {
        let (us, _) = self.sides(by);
        let failed = handshake_error(&us.connection).cloned();
        let mut send = match (us.connection.send_direct(&payload), failed) {
            (Ok(send), None) => send,
            (Err(again), Some(first)) => return assert_eq!(again, first),
            (result, failed) => panic!(
                "send_direct gave {:?} with handshake error {failed:?}",
                result.map(drop)
            ),
        };
        let mut left = written;
        while left > 0 && !send.is_done() {
            let [queued, header, rest] = send.slices();
            let n = left.min(queued.len() + header.len() + rest.len());
            let mut taken = 0;
            for slice in [queued, header, rest] {
                let k = slice.len().min(n - taken);
                us.wire.extend_from_slice(&slice[..k]);
                taken += k;
            }
            send.advance(n);
            left -= n;
        }
        drop(send);
        assert!(!us.connection.sender().is_out_of_step(), "a dropped guard");
        us.sent.push(payload);
    }

    fn write(&mut self, by: Side, max: usize) {
        let (us, _) = self.sides(by);
        let pending = us.connection.pending_output();
        let n = if max == 0 {
            pending.len()
        } else {
            max.min(pending.len())
        };
        us.wire.extend_from_slice(&pending[..n]);
        let left = pending.len() - n;
        us.connection.consume_output(n);
        assert_eq!(us.connection.pending_output().len(), left);
        assert_eq!(us.connection.wants_write(), left > 0);
    }

    fn take_output(&mut self, by: Side) {
        let (us, _) = self.sides(by);
        let output = us.connection.take_output();
        us.wire.extend_from_slice(&output);
        assert!(!us.connection.wants_write());
    }

    /// Checks an error from reading at `to`, against the model.
    fn read_failed(&mut self, to: Side, error: Error) {
        let (us, _) = self.sides(to);
        if let Some(first) = &us.read_error {
            assert_eq!(&error, first, "a failed read changed its error");
            return;
        }
        assert_eq!(us.connection.error(), Some(&error), "error() has it too");
        if handshake_error(&us.connection).is_some() {
            // A handshake error, given by state() once its output is written.
        } else if !us.hostile {
            // An honest stream fails only on the limit in force. Which message it failed
            // on is checked at the end, when the messages before it have been taken.
            match (&error, us.max_len) {
                (Error::MessageTooLong { max, .. }, Some(limit)) => assert_eq!(*max, limit),
                _ => panic!("an honest stream failed with {error:?}"),
            }
        }
        us.read_error = Some(error);
    }

    fn receive(&mut self, at: Side, message: Vec<u8>) {
        let (us, them) = self.sides(at);
        if !us.hostile {
            let index = us.received.len();
            assert!(
                them.sent.get(index) == Some(&message),
                "message {index} is not the one sent"
            );
        }
        us.received.push(message);
    }

    fn feed(&mut self, to: Side, max: usize, chunk: usize) {
        let (us, them) = self.sides(to);
        let n = if max == 0 {
            them.wire.len()
        } else {
            max.min(them.wire.len())
        };
        let bytes: Vec<u8> = them.wire.drain(..n).collect();
        let chunk = if chunk == 0 {
            bytes.len().max(1)
        } else {
            chunk
        };
        for piece in bytes.chunks(chunk) {
            us.connection.feed(piece).expect("feed is no misuse");
            check_state(&us.connection);
        }
    }

    /// One read, as an adapter makes it, of at most `max` bytes of the wire.
    fn read(&mut self, to: Side, max: usize) {
        let (us, them) = self.sides(to);
        let available = them.wire.len();
        let n = match us.connection.recv_buf() {
            RecvBuf::Buffer(room) => {
                assert!(!room.is_empty(), "an empty room would read as the end");
                let n = room.len().min(available);
                let n = if max == 0 { n } else { n.min(max) };
                room[..n].copy_from_slice(&them.wire[..n]);
                n
            }
            RecvBuf::Payload { buf, limit } => {
                assert!(limit > 0 && buf.capacity() - buf.len() >= limit, "no room");
                let n = limit.min(available);
                let n = if max == 0 { n } else { n.min(max) };
                buf.extend_from_slice(&them.wire[..n]);
                n
            }
        };
        them.wire.drain(..n);
        us.connection.received(n).expect("an honest report");
        check_state(&us.connection);
    }

    fn next_message(&mut self, at: Side) {
        let (us, _) = self.sides(at);
        match us.connection.next_message().map(|m| m.map(|m| m.into_vec())) {
            Ok(Some(message)) => self.receive(at, message),
            Ok(None) => {}
            Err(error) => self.read_failed(at, error),
        }
    }

    fn drain(&mut self, at: Side) {
        loop {
            let (us, _) = self.sides(at);
            match us.connection.next_message().map(|m| m.map(|m| m.into_vec())) {
                Ok(Some(message)) => self.receive(at, message),
                Ok(None) => return,
                Err(error) => return self.read_failed(at, error),
            }
        }
    }

    /// Moves every byte both ways and takes every message, until nothing moves.
    fn settle(&mut self) {
        loop {
            for side in [Side::Server, Side::Client] {
                self.take_output(side);
            }
            if self.server.wire.is_empty() && self.client.wire.is_empty() {
                break;
            }
            for side in [Side::Server, Side::Client] {
                let (us, them) = self.sides(side);
                if us.read_error.is_some() {
                    them.wire.clear();
                } else {
                    self.feed(side, 0, 0);
                }
            }
        }
        for side in [Side::Server, Side::Client] {
            self.drain(side);
        }
    }
}

/// What the model expects of one side once everything has moved.
#[derive(Debug, PartialEq)]
enum Outcome {
    Established,
    Waiting,
    Failed(Error),
}

/// The outcome for (server, client) of an honest handshake.
fn predict(server: &HandshakeConfig, client: &HandshakeConfig, keys: &Keys) -> (Outcome, Outcome) {
    let same_key = match keys {
        Keys::None => return (Outcome::Established, Outcome::Established),
        Keys::Same(_) => true,
        Keys::Different(..) => false,
    };
    let outcome = |error: Option<Error>| error.map_or(Outcome::Waiting, Outcome::Failed);
    if let Some((server, client)) = predict_challenge(server, client, same_key) {
        (outcome(server), outcome(client))
    } else if let Some((client, server)) = predict_challenge(client, server, same_key) {
        (outcome(server), outcome(client))
    } else {
        (Outcome::Established, Outcome::Established)
    }
}

fn outcome(end: &End) -> Outcome {
    check_state(&end.connection);
    match end.connection.state() {
        State::Failed(error) => Outcome::Failed(error.clone()),
        State::Established => Outcome::Established,
        State::Handshaking => Outcome::Waiting,
    }
}

/// The handshake's error, once it failed (even with `#FAILURE#` still to write).
fn handshake_error(connection: &Connection) -> Option<&Error> {
    match connection.is_handshaking() || connection.is_established() {
        true => None,
        false => connection.error(),
    }
}

/// `state()` agrees with the rest: failed exactly when the handshake failed and its
/// output is written.
fn check_state(connection: &Connection) {
    match (connection.state(), handshake_error(connection)) {
        (State::Failed(error), Some(first)) => {
            assert_eq!(error, first);
            assert!(!connection.wants_write(), "failed before its output was written");
        }
        (State::Handshaking, Some(_)) => {
            assert!(connection.wants_write(), "a failure not reported once drained");
        }
        (State::Handshaking, None) => assert!(connection.is_handshaking()),
        (State::Established, None) => assert!(connection.is_established()),
        (state, error) => panic!("state {state:?} with handshake error {error:?}"),
    }
}

/// Runs one fuzz input: an `arbitrary` [`Script`].
pub fn check(data: &[u8]) {
    let Ok(script) = Script::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let server_config = config(script.server_config);
    let client_config = config(script.client_config);
    let (server_key, client_key) = match &script.keys {
        Keys::None => (None, None),
        Keys::Same(key) => (Some(key.clone()), Some(key.clone())),
        Keys::Different(a, b) => {
            // HMAC pads a short key with zeros, so `k` and `k\0` are the same key (in
            // CPython too): keys that differ only so are made to differ for real.
            let trimmed =
                |key: &[u8]| key.len() - key.iter().rev().take_while(|&&b| b == 0).count();
            let b = if a[..trimmed(a)] == b[..trimmed(b)] {
                [&b[..], b"!"].concat()
            } else {
                b.clone()
            };
            (Some(a.clone()), Some(b))
        }
    };
    let mut rng = SplitMix::new(u64::from(script.server_config) << 8 | 1);
    let server = Connection::server(server_key.as_deref(), &server_config, &mut rng);
    let client = Connection::client(client_key.as_deref(), &client_config, &mut rng);
    let mut pair = Pair {
        server: End::new(server),
        client: End::new(client),
        large: 0,
    };

    for op in script.ops {
        match op {
            Op::Send { by, payload } => pair.send(by, payload),
            Op::SendLarge { by, len, fill } => {
                let len = len as usize % (1 << 18);
                if pair.large + len <= LARGE_BUDGET {
                    pair.large += len;
                    pair.send_direct(by, vec![fill; len], usize::from(fill) * 1024);
                }
            }
            Op::Write { by, max } => pair.write(by, usize::from(max)),
            Op::TakeOutput { by } => pair.take_output(by),
            Op::Feed { to, max, chunk } => pair.feed(to, usize::from(max), usize::from(chunk)),
            Op::Read { to, max } => pair.read(to, usize::from(max)),
            Op::NextMessage { at } => pair.next_message(at),
            Op::SetMaxLen { at, max } => {
                let (us, _) = pair.sides(at);
                us.max_len = max.map(u64::from);
                us.connection.set_max_len(us.max_len);
            }
            Op::Inject { to, bytes } => {
                let (us, them) = pair.sides(to);
                us.hostile |= !bytes.is_empty();
                them.wire.extend_from_slice(&bytes);
            }
        }
    }
    pair.settle();

    let hostile = pair.server.hostile || pair.client.hostile;
    if !hostile {
        let expected = predict(&server_config, &client_config, &script.keys);
        assert_eq!(
            (outcome(&pair.server), outcome(&pair.client)),
            expected,
            "handshake outcome"
        );
    }
    for side in [Side::Server, Side::Client] {
        let (us, them) = pair.sides(side);
        if us.hostile {
            continue;
        }
        if handshake_error(&them.connection).is_some() {
            assert!(
                us.received.is_empty(),
                "messages of a failed handshake arrived"
            );
        }
        match &us.read_error {
            Some(Error::MessageTooLong { len, .. }) => {
                let next = them.sent.get(us.received.len());
                assert_eq!(next.map(|m| m.len() as u64), Some(*len), "refused message");
            }
            Some(_) => {}
            None if us.connection.is_established() && them.connection.is_established() => {
                assert_eq!(us.received.len(), them.sent.len(), "messages were lost");
            }
            None => {}
        }
    }

    for side in [Side::Server, Side::Client] {
        let (us, _) = pair.sides(side);
        let was_handshaking = us.connection.is_handshaking();
        let expected = match (handshake_error(&us.connection), &us.read_error) {
            (Some(first), _) => first.clone(),
            (None, Some(first)) => first.clone(),
            (None, None) if was_handshaking => Error::HandshakeEof,
            (None, None) if us.hostile => continue,
            (None, None) => Error::Closed,
        };
        us.connection.received_eof();
        let end = us.connection.next_message().map(|m| m.map(|m| m.into_vec()));
        assert_eq!(end, Err(expected.clone()), "end of stream");
        let again = us.connection.next_message().map(|m| m.map(|m| m.into_vec()));
        assert_eq!(again, Err(expected), "the same error again");
        if was_handshaking {
            assert!(matches!(us.connection.state(), State::Failed(Error::HandshakeEof)));
        }
    }
}
