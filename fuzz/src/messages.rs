//! The message transport (`Transport::Messages`, Windows message-mode named pipes)
//! driven by an `arbitrary` script, against a model, for both a bare [`Receiver`] and a
//! keyed [`Connection`] of either role.
//!
//! A script feeds bytes of the message now arriving in reads of any size (into the
//! buffer or a payload's own `Vec`), announces what is left of it (right or wrong),
//! ends it, changes the length limit, takes messages, and ends the pipe. Checked:
//! - no panic, and memory within a bound of the limit and the reads, whatever the
//!   peer sends (a message's length is not known until it ends);
//! - the messages that come out are the ones the model ended, whole and in order,
//!   until an error; the error is one the model allows (over the limit, the end of the
//!   pipe, out of step after a misuse the core reported) and is final;
//! - `has_message()` says exactly whether `next_message()` has something to say;
//! - a keyed connection on arbitrary messages ends established or with a typed error,
//!   and while it handshakes never holds more than its buffer policy's largest buffer.

use arbitrary::{Arbitrary, Unstructured};
use mpconn::{Connection, Error, HandshakeConfig, Receiver, RecvBuf, Transport};
// Seeded from the input: an input replays with the same nonces.
use mpconn_test_support::SplitMix;

use super::memory::Watermark;


/// One step of the script.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// Bytes of the message now arriving, in reads of at most `max` (0 counts as 1)
    /// bytes, `len % 2^17` of them, each `fill`.
    Read { len: u32, fill: u8, max: u16 },
    /// `message_remaining(left)` (`exact`: what the next `End` will truly have).
    Remaining { left: u32, exact: bool },
    /// `received_message_end()`, after the bytes an `exact` announcement said.
    End,
    /// `set_max_len`.
    SetMaxLen(Option<u16>),
    /// Take every message ready.
    Take,
    /// `received_eof()`.
    Eof,
}

/// A whole input.
#[derive(Arbitrary, Debug)]
pub struct Script {
    /// 0: a bare receiver; 1: a keyed server; 2: a keyed client.
    role: u8,
    seed: u64,
    ops: Vec<Op>,
}

/// Bytes a script may read in all, to stay inside libFuzzer's limits.
const BUDGET: usize = 2 << 20;

/// The most memory the receiver may hold at its peak beyond what the model holds:
/// its buffer policy's largest buffer twice over, a read, and the payload growth step
/// (a message's length is not known until its end).
const SLACK: usize = 4 * 65536 + (1 << 17) + 2 * mpconn::frame::GROWTH_STEP;

/// A message as runs of one byte value: the model holds next to nothing, so the memory
/// measured is the receiver's.
type Runs = Vec<(u8, usize)>;

fn runs_len(runs: &Runs) -> usize {
    runs.iter().map(|&(_, n)| n).sum()
}

fn push_run(runs: &mut Runs, fill: u8, n: usize) {
    match runs.last_mut() {
        Some((last, count)) if *last == fill => *count += n,
        _ => runs.push((fill, n)),
    }
}

fn same(bytes: &[u8], runs: &Runs) -> bool {
    let mut rest = bytes;
    for &(fill, n) in runs {
        if rest.len() < n || rest[..n].iter().any(|&b| b != fill) {
            return false;
        }
        rest = &rest[n..];
    }
    rest.is_empty()
}

struct Model {
    /// Messages ended and not taken, in order.
    ended: std::collections::VecDeque<Runs>,
    /// The message now arriving.
    open: Runs,
    /// What an announcement said the open message has in all, and whether the script
    /// reads that much before its end.
    announced: Option<(u64, bool)>,
    /// The open message came out already: its announced bytes were all in (a message
    /// whose length is known is whole once its bytes are, before its end).
    open_taken: bool,
    max_len: Option<u64>,
    /// A limit was set at some point (a message refused then is refused later too).
    limited: bool,
    /// The core reported a misuse, or one was made after a failure had stopped it
    /// looking: from then on `OutOfStep` is allowed.
    misused: bool,
    eof: bool,
}

impl Model {
    /// A misuse expected: reported, unless the receiver had stopped reading already.
    fn misuse(&mut self, reported: bool, receiver: &Receiver) {
        assert!(
            reported || receiver.has_message() || receiver.error().is_some(),
            "a misuse not reported"
        );
        self.misused = true;
    }
}

/// The longest read a script makes.
const READ_MAX: usize = 1 << 17;

/// Runs the checks on one input; panics on a broken promise.
pub fn check(data: &[u8]) {
    let Ok(script) = Script::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    match script.role % 3 {
        0 => run_receiver(&script.ops),
        role => run_connection(role == 1, script.seed, &script.ops),
    }
}

fn run_receiver(ops: &[Op]) {
    let mut receiver = Receiver::new().with_transport(Transport::Messages);
    let mut model = Model {
        ended: Default::default(),
        open: Vec::new(),
        announced: None,
        open_taken: false,
        max_len: None,
        limited: false,
        misused: false,
        eof: false,
    };
    let mut budget = BUDGET;
    let mut failed: Option<Error> = None;
    for op in ops {
        let watermark = Watermark::set();
        match *op {
            Op::Read { len, fill, max } => {
                let len = (len as usize % READ_MAX).min(budget);
                budget -= len;
                read(&mut receiver, &mut model, len, fill, usize::from(max).max(1));
            }
            Op::Remaining { left, exact } => {
                let left = u64::from(left % READ_MAX as u32);
                let total = runs_len(&model.open) as u64 + left;
                let result = receiver.message_remaining(left);
                if model.eof {
                    assert!(result.is_err(), "an announcement after the end of the pipe");
                    continue;
                }
                match model.announced {
                    Some((known, _)) if known != total => model.misuse(result.is_err(), &receiver),
                    Some(_) => assert!(result.is_ok(), "{result:?}"),
                    None => {
                        assert!(result.is_ok(), "{result:?}");
                        model.announced = Some((total, exact));
                    }
                }
            }
            Op::End => {
                if let Some((total, true)) = model.announced {
                    // An adapter reads until the pipe says the message is done.
                    let missing = (total as usize).saturating_sub(runs_len(&model.open));
                    let missing = missing.min(budget);
                    budget -= missing;
                    read(&mut receiver, &mut model, missing, 0x5a, READ_MAX);
                }
                let result = receiver.received_message_end();
                if model.eof {
                    assert!(result.is_err(), "an end after the end of the pipe");
                    continue;
                }
                match model.announced {
                    Some((total, _)) if total != runs_len(&model.open) as u64 => {
                        model.misuse(result.is_err(), &receiver)
                    }
                    _ => assert!(result.is_ok(), "{result:?}"),
                }
                let message = std::mem::take(&mut model.open);
                if !std::mem::take(&mut model.open_taken) {
                    model.ended.push_back(message);
                }
                model.announced = None;
            }
            Op::SetMaxLen(max) => {
                model.max_len = max.map(u64::from);
                model.limited |= max.is_some();
                receiver.set_max_len(model.max_len);
            }
            Op::Take => take(&mut receiver, &mut model, &mut failed),
            Op::Eof => {
                receiver.received_eof();
                model.eof = true;
            }
        }
        // What the receiver may hold: the messages not taken, and of the one arriving
        // no more than the limit lets through.
        let open = runs_len(&model.open);
        let open = match model.max_len {
            Some(max) if model.announced.is_none() => open.min(max as usize + READ_MAX),
            _ => open,
        };
        let held = model.ended.iter().map(runs_len).sum::<usize>() + open;
        watermark.assert_at_most(3 * held + SLACK, "the message receiver");
    }
    receiver.received_eof();
    model.eof = true;
    take(&mut receiver, &mut model, &mut failed);
    assert!(failed.is_some(), "the end of the pipe is reported");
}

/// `len` bytes of `fill` into the receiver, reads of at most `max`.
fn read(receiver: &mut Receiver, model: &mut Model, len: usize, fill: u8, max: usize) {
    let mut left = len;
    while left > 0 && !model.eof {
        let n = match receiver.recv_buf() {
            RecvBuf::Buffer(room) => {
                assert!(!room.is_empty(), "an empty room lent");
                let n = room.len().min(left).min(max);
                room[..n].fill(fill);
                n
            }
            RecvBuf::Payload { buf, limit } => {
                assert!(limit > 0, "a payload room of 0");
                let n = limit.min(left).min(max);
                buf.extend(std::iter::repeat_n(fill, n));
                n
            }
        };
        let result = receiver.received(n);
        push_run(&mut model.open, fill, n);
        left -= n;
        match model.announced {
            Some((total, _)) if runs_len(&model.open) as u64 > total => {
                // More than announced: the announcement can no longer hold.
                model.misuse(result.is_err(), receiver);
                return;
            }
            _ => assert!(result.is_ok(), "{result:?}"),
        }
    }
}

/// Takes every message ready, checking each against the model.
fn take(receiver: &mut Receiver, model: &mut Model, failed: &mut Option<Error>) {
    loop {
        let ready = receiver.has_message();
        let next = receiver.next_message();
        assert_eq!(ready, !matches!(next, Ok(None)), "has_message before {next:?}");
        match next {
            Ok(None) => return,
            Ok(Some(frame)) => {
                assert!(failed.is_none(), "a message after {failed:?}");
                if let Some(expected) = model.ended.pop_front() {
                    assert!(same(&frame, &expected), "a message changed on the way");
                    continue;
                }
                // Only the open message, whole by its announced length, may be next.
                let whole = matches!(model.announced,
                    Some((total, _)) if total == runs_len(&model.open) as u64);
                assert!(whole && !model.open_taken, "a message the model does not have");
                assert!(same(&frame, &model.open), "a message changed on the way");
                model.open_taken = true;
            }
            Err(error) => {
                if let Some(first) = failed {
                    assert_eq!(&error, first, "an error is final");
                    return;
                }
                match &error {
                    Error::MessageTooLong { len, max } => {
                        assert!(len > max);
                        assert!(model.limited, "over a limit never set");
                    }
                    Error::OutOfStep => assert!(model.misused, "out of step without a misuse"),
                    Error::Closed => assert!(model.eof && model.ended.is_empty()),
                    Error::UnexpectedEof { .. } => assert!(model.eof),
                    other => panic!("an error the message transport cannot make: {other:?}"),
                }
                *failed = Some(error);
                return;
            }
        }
    }
}

/// A keyed connection of one role over arbitrary messages: whatever they hold, it ends
/// established or failed with a typed error, and holds nothing near a big message.
fn run_connection(server: bool, seed: u64, ops: &[Op]) {
    let mut rng = SplitMix::new(seed);
    let config = HandshakeConfig::default();
    let connection = if server {
        Connection::server(Some(b"key"), &config, &mut rng)
    } else {
        Connection::client(Some(b"key"), &config, &mut rng)
    };
    let mut connection = connection.with_transport(Transport::Messages);
    let mut budget = BUDGET;
    for op in ops {
        match *op {
            Op::Read { len, fill, max } => {
                // Reads as an adapter makes them, into what `recv_buf` lends.
                let len = (len as usize % READ_MAX).min(budget);
                budget -= len;
                let mut left = len;
                while left > 0 {
                    let n = match connection.recv_buf() {
                        RecvBuf::Buffer(room) => {
                            let n = room.len().min(left).min(usize::from(max).max(1));
                            room[..n].fill(fill);
                            n
                        }
                        RecvBuf::Payload { buf, limit } => {
                            let n = limit.min(left).min(usize::from(max).max(1));
                            buf.extend(std::iter::repeat_n(fill, n));
                            n
                        }
                    };
                    if connection.received(n).is_err() {
                        break;
                    }
                    left -= n;
                }
            }
            Op::Remaining { left, .. } => {
                let _ = connection.message_remaining(u64::from(left % (1 << 17)));
            }
            Op::End => {
                let _ = connection.received_message_end();
            }
            Op::SetMaxLen(max) => connection.set_max_len(max.map(u64::from)),
            Op::Take => while connection.take_message().is_some() {},
            Op::Eof => connection.received_eof(),
        }
        if connection.is_handshaking() {
            // No more than the buffer policy's largest buffer, whatever is sent.
            assert!(
                connection.receiver().buffer_len() <= connection.buffer_policy().max,
                "a handshake holds {} bytes",
                connection.receiver().buffer_len()
            );
        }
        if let Some(error) = connection.error() {
            let again = connection.error().cloned();
            assert_eq!(Some(error.clone()), again);
        }
    }
    connection.received_eof();
    while connection.take_message().is_some() {}
    assert!(
        connection.is_established() || connection.error().is_some(),
        "neither established nor failed at the end of the pipe"
    );
}
