//! One side of the handshake against an arbitrary peer (docs/protocol.md section 2).
//!
//! The side under test talks to a genuine peer (a second [`Handshake`]) through a
//! channel the fuzzer controls: it forwards the peer's bytes in pieces, flips bits in
//! them, or injects bytes of its own. Input layout:
//!
//! | bytes | field |
//! | --- | --- |
//! | 1 | our config: digest `b & 7` (0 sha256, 1 sha384, 2 sha3_256, 3 sha3_384, 4 md5, then again), 8 = legacy, 16 = refuse MD5 |
//! | 1 | the peer's config, the same bits; 32 = the peer holds a different key |
//! | 1 | key length `k` (mod 64) |
//! | k | the key |
//! | ... | operations: an opcode byte, then its operands |
//!
//! | opcode mod 4 | operation |
//! | --- | --- |
//! | 0 | forward `n` (next byte, 0 = all) bytes of the peer's output to us |
//! | 1 | inject `n` (next byte) literal bytes, which follow |
//! | 2 | flip bit `opcode >> 2 & 7` of byte `b % len` (next byte) of the peer's pending output |
//! | 3 | hand all our output to the peer |
//!
//! Checked: a feed takes all of its input until the handshake is done, and what it
//! leaves is exactly what follows the last handshake frame; an error is final and
//! repeated; `#FAILURE#` goes out exactly when a delivered challenge was answered
//! wrongly; nothing we send is malformed; we never finish without having received a
//! MAC of our own challenge under our own key; an untouched channel finishes exactly
//! when the two configurations are compatible; and memory stays within a small bound.

use mpconn::digest::Digest;
use mpconn::handshake::{self, Handshake, HandshakeConfig, Role, State};
use mpconn::{AuthFailure, Error};
// Seeded from the input: an input replays with the same nonces.
use mpconn_test_support::SplitMix;

use super::bytes::Bytes;
use super::decoder::{reference, End};
use super::memory::Watermark;

/// A handshake configuration from one control byte.
pub fn config(byte: u8) -> HandshakeConfig {
    HandshakeConfig::default()
        .digest(Digest::ALL[(1 + usize::from(byte & 7)) % Digest::ALL.len()])
        .legacy(byte & 8 != 0)
        .refuse_md5(byte & 16 != 0)
}

/// The digest a deliverer with this config asks for (a legacy challenge means MD5).
fn asked(deliverer: &HandshakeConfig) -> Digest {
    if deliverer.is_legacy() {
        Digest::Md5
    } else {
        deliverer.requested_digest()
    }
}

/// How one challenge (delivered by `deliverer`, answered by `answerer`) ends between
/// honest sides: `None` when it succeeds, else the errors of each side (`None` for a
/// side that is left waiting).
pub type Failure = (Option<Error>, Option<Error>);

/// Predicts one challenge between honest sides, in the core's order of checks: the
/// answerer refuses an MD5 challenge before answering; the deliverer checks the MAC,
/// then refuses a correct MD5 one (refusing MD5 is mpconn's option, not CPython's).
pub fn predict_challenge(
    deliverer: &HandshakeConfig,
    answerer: &HandshakeConfig,
    same_key: bool,
) -> Option<Failure> {
    let auth = |why| Some(Error::Authentication(why));
    let md5 = asked(deliverer) == Digest::Md5;
    if md5 && answerer.refuses_md5() {
        Some((None, auth(AuthFailure::Md5Refused)))
    } else if !same_key {
        Some((
            auth(AuthFailure::WrongDigest),
            auth(AuthFailure::DigestRejected),
        ))
    } else if md5 && deliverer.refuses_md5() {
        Some((
            auth(AuthFailure::Md5Refused),
            auth(AuthFailure::DigestRejected),
        ))
    } else {
        None
    }
}

/// A frame that proves `key` for our `challenge`: a raw HMAC-MD5, or `{name}` and the
/// HMAC under that name (docs/protocol.md section 2), computed independently of the parser.
fn proves_key(key: &[u8], challenge: &[u8], frame: &[u8]) -> bool {
    if frame == Digest::Md5.mac(key, challenge).as_bytes() {
        return true;
    }
    Digest::ALL.into_iter().any(|digest| {
        let mut answer = Vec::new();
        digest.write_prefix(&mut answer);
        answer.extend_from_slice(digest.mac(key, challenge).as_bytes());
        frame == answer
    })
}

struct Subject {
    handshake: Handshake,
    key: Vec<u8>,
    /// Everything given to us and taken as handshake bytes.
    received: Vec<u8>,
    /// Everything we produced.
    sent: Vec<u8>,
    /// What we produced that the peer has not been handed yet.
    unsent: Vec<u8>,
    error: Option<Error>,
}

impl Subject {
    fn feed(&mut self, input: &[u8]) {
        let before = self.handshake.state().clone();
        let result = self.handshake.feed(input);
        let output = self.handshake.take_output();
        match (&before, result) {
            (State::Failed(first), result) => {
                if input.is_empty() {
                    return;
                }
                let again = result.unwrap_err();
                assert_eq!(&again, first, "a failed handshake changed its error");
                assert!(output.is_empty());
            }
            (State::Done, result) => {
                assert_eq!(result, Ok(0), "a finished handshake takes nothing");
                assert!(output.is_empty());
            }
            (_, Ok(used)) => {
                assert!(used <= input.len());
                if !self.handshake.is_done() {
                    assert_eq!(used, input.len(), "a running handshake left input");
                }
                self.received.extend_from_slice(&input[..used]);
                if self.handshake.is_done() {
                    // What it took ends with its last frame: the rest are messages.
                    let decoded = reference(&self.received, None, None);
                    assert_eq!(decoded.end, End::Partial(0), "took part of a message");
                }
                self.check_output(&output, None);
            }
            (_, Err(error)) => {
                assert_eq!(self.handshake.state(), &State::Failed(error.clone()));
                self.received.extend_from_slice(input);
                self.check_output(&output, Some(&error));
                self.error = Some(error);
            }
        }
        self.sent.extend_from_slice(&output);
        self.unsent.extend_from_slice(&output);
    }

    fn check_output(&self, output: &[u8], error: Option<&Error>) {
        let decoded = reference(output, Some(handshake::MAX_FRAME_LEN), None);
        assert_eq!(decoded.end, End::Partial(0), "malformed handshake output");
        let failure = decoded.frames.last() == Some(&handshake::FAILURE);
        assert!(
            !decoded.frames[..decoded.frames.len().saturating_sub(1)].contains(&handshake::FAILURE)
        );
        use AuthFailure::*;
        match error {
            Some(Error::Authentication(WrongDigest | DigestLengthMismatch { .. })) => {
                assert!(failure, "a wrong answer must be told #FAILURE#");
            }
            Some(Error::Authentication(UnsupportedMessage | Md5Refused)) => {}
            _ => assert!(!failure, "#FAILURE# without a wrong answer"),
        }
    }
}

/// Runs one fuzz input (layout in the module documentation) with us in `role`.
pub fn check(role: Role, data: &[u8]) {
    let mut input = Bytes::new(data);
    let ours = input.u8();
    let theirs = input.u8();
    let key_len = usize::from(input.u8() % 64);
    let key = input.take(key_len).to_vec();
    let (our_config, their_config) = (config(ours), config(theirs));
    let same_key = theirs & 32 == 0;
    let their_key = if same_key {
        key.clone()
    } else {
        [&key[..], b"+"].concat()
    };

    let watermark = Watermark::set();
    let mut rng = SplitMix::new(u64::from(ours) << 8 | u64::from(theirs));
    let mut us = Subject {
        handshake: Handshake::new(role, &key, &our_config, &mut rng),
        key,
        received: Vec::new(),
        sent: Vec::new(),
        unsent: Vec::new(),
        error: None,
    };
    let peer_role = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let mut peer = Handshake::new(peer_role, &their_key, &their_config, &mut rng);
    let initial = us.handshake.take_output();
    us.check_output(&initial, None);
    us.sent.extend_from_slice(&initial);
    us.unsent = initial;
    let mut to_us = peer.take_output();
    let mut tampered = false;

    while !input.is_empty() {
        let opcode = input.u8();
        match opcode % 4 {
            0 => {
                let n = match input.u8() {
                    0 => to_us.len(),
                    n => usize::from(n).min(to_us.len()),
                };
                let piece: Vec<u8> = to_us.drain(..n).collect();
                us.feed(&piece);
            }
            1 => {
                let n = usize::from(input.u8());
                let literal = input.take(n);
                tampered |= !literal.is_empty();
                us.feed(literal);
            }
            2 => {
                let at = usize::from(input.u8());
                if !to_us.is_empty() {
                    let len = to_us.len();
                    to_us[at % len] ^= 1 << (opcode >> 2 & 7);
                    tampered = true;
                }
            }
            _ => {
                let ours = core::mem::take(&mut us.unsent);
                if !ours.is_empty() && !matches!(peer.state(), State::Failed(_) | State::Done) {
                    // The genuine peer may fail: that is for our side to notice.
                    let _ = peer.feed(&ours);
                    to_us.extend_from_slice(&peer.take_output());
                }
            }
        }
    }

    if !tampered {
        // An honest channel from here on: move everything until both sides are quiet.
        loop {
            if !to_us.is_empty() {
                let piece = core::mem::take(&mut to_us);
                us.feed(&piece);
            }
            let ours = core::mem::take(&mut us.unsent);
            if !ours.is_empty() && !matches!(peer.state(), State::Failed(_) | State::Done) {
                let _ = peer.feed(&ours);
                to_us.extend_from_slice(&peer.take_output());
            }
            if to_us.is_empty() {
                break;
            }
        }
        let (server, client) = match role {
            Role::Server => (&our_config, &their_config),
            Role::Client => (&their_config, &our_config),
        };
        let failure = predict_challenge(server, client, same_key).or_else(|| {
            predict_challenge(client, server, same_key).map(|(client, server)| (server, client))
        });
        let honest_success = failure.is_none();
        let ours_expected = match (role, failure) {
            (_, None) => None,
            (Role::Server, Some((server, _))) => server,
            (Role::Client, Some((_, client))) => client,
        };
        match ours_expected {
            None if honest_success => assert!(us.handshake.is_done(), "honest handshake"),
            None => assert!(us.error.is_none() && !us.handshake.is_done(), "should wait"),
            Some(expected) => assert_eq!(us.error.as_ref(), Some(&expected)),
        }
    }

    if us.handshake.is_done() {
        assert!(same_key, "finished against a peer with another key");
        let frames = reference(&us.received, None, None).frames;
        assert!(
            frames
                .iter()
                .any(|frame| proves_key(&us.key, us.handshake.challenge(), frame)),
            "finished without a MAC of our challenge"
        );
    } else {
        let end = us.handshake.eof();
        match &us.error {
            Some(first) => assert_eq!(end, Err(first.clone())),
            None => assert_eq!(end, Err(Error::HandshakeEof)),
        }
        assert_eq!(us.handshake.eof(), end, "the same error again");
    }
    // Everything here, the harness's copies included, grows with the input; a length
    // claimed by a header must not count.
    watermark.assert_at_most(data.len() * 8 + 32 * 1024, "a handshake");
}
