//! The authentication handshake as an explicit state machine (docs/protocol.md section 2).
//!
//! Both sides prove they hold the same authkey with an HMAC challenge-response, once
//! in each direction. The server delivers a challenge, then answers one; the client
//! answers, then delivers. Every message is one frame of at most 256 bytes.
//!
//! ```text
//! server (deliver, then answer)                    client (answer, then deliver)
//!  ServerAwaitingResponse  --#CHALLENGE#nonce-->   ClientAwaitingChallenge
//!                          <------- MAC --------
//!  ServerAwaitingChallenge --#WELCOME#--------->   ClientAwaitingVerdict
//!                          <--#CHALLENGE#nonce--   ClientAwaitingResponse
//!  ServerAwaitingVerdict   -------- MAC ------->
//!  Done                    <--#WELCOME#---------   Done
//! ```
//!
//! With [`HandshakeConfig::pipeline`], a client sends its challenge right behind its
//! MAC instead of after the `#WELCOME#` (it waits in
//! [`State::ClientAwaitingPipelinedVerdict`] instead of `ClientAwaitingVerdict`), and a
//! server that reads the two together sends its `#WELCOME#` and its MAC together: one
//! round trip less, the same bytes.
//!
//! A deliverer that rejects the answer sends `#FAILURE#` and fails, as CPython does;
//! an answerer that cannot answer (not a challenge, too short, unknown digest) fails
//! without sending anything, as CPython does.
//!
//! ```
//! use mpconn::handshake::{Handshake, HandshakeConfig, Role};
//! # struct Counter(u8);
//! # impl rand_core::TryRng for Counter {
//! #     type Error = core::convert::Infallible;
//! #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.0 as u32) }
//! #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(self.0 as u64) }
//! #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> {
//! #         for b in d { self.0 = self.0.wrapping_add(1); *b = self.0 } Ok(())
//! #     }
//! # }
//! # impl rand_core::TryCryptoRng for Counter {}
//! # let mut rng = Counter(0);
//! let config = HandshakeConfig::default();
//! let mut server = Handshake::new(Role::Server, b"key", &config, &mut rng);
//! let mut client = Handshake::new(Role::Client, b"key", &config, &mut rng);
//! while !(server.is_done() && client.is_done()) {
//!     client.feed(&server.take_output()).unwrap();
//!     server.feed(&client.take_output()).unwrap();
//! }
//! ```

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use crate::digest::{self, Digest, LEGACY_CHALLENGE_LEN, MODERN_NONCE_LEN};
use crate::error::{AuthFailure, Error};
use crate::frame::{self, Decoder};

/// Starts a challenge frame.
pub const CHALLENGE: &[u8] = b"#CHALLENGE#";
/// The verdict for a correct answer.
pub const WELCOME: &[u8] = b"#WELCOME#";
/// The verdict for a wrong answer.
pub const FAILURE: &[u8] = b"#FAILURE#";
/// Every frame read during the handshake is limited to this many bytes
/// (CPython's `recv_bytes(256)`).
pub const MAX_FRAME_LEN: u64 = 256;

/// An authkey, held so that it never shows up in debug output or logs.
///
/// `Debug` prints only its length. Adapters keep their options' keys in this type so
/// that deriving `Debug` on an options struct cannot leak key material.
///
/// ```
/// use mpconn::AuthKey;
/// let key = AuthKey::new(b"secret");
/// assert_eq!(key.as_bytes(), b"secret");
/// assert_eq!(format!("{key:?}"), "AuthKey(6 bytes, redacted)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey(Vec<u8>);

impl AuthKey {
    /// Copies `key`. An empty key is a key like any other: the handshake still runs.
    pub fn new(key: &[u8]) -> AuthKey {
        AuthKey(key.to_vec())
    }

    /// The key's bytes, for the handshake.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for AuthKey {
    fn from(key: &[u8]) -> AuthKey {
        AuthKey::new(key)
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthKey({} bytes, redacted)", self.0.len())
    }
}

/// Which side of the handshake this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The listening side: delivers a challenge first, then answers one.
    Server,
    /// The connecting side: answers a challenge first, then delivers one.
    Client,
}

/// Options for the handshake. The default is what CPython 3.12+ does.
///
/// ```
/// use mpconn::{Digest, HandshakeConfig};
/// let strict = HandshakeConfig::default().digest(Digest::Sha384).refuse_md5(true);
/// let like_python_3_11 = HandshakeConfig::default().legacy(true);
/// # let _ = (strict, like_python_3_11);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeConfig {
    digest: Digest,
    legacy: bool,
    refuse_md5: bool,
    pipeline: bool,
}

impl Default for HandshakeConfig {
    fn default() -> Self {
        HandshakeConfig {
            digest: Digest::Sha256,
            legacy: false,
            refuse_md5: false,
            pipeline: false,
        }
    }
}

impl HandshakeConfig {
    crate::__setters! {
        /// The digest this side asks for when it delivers a modern challenge
        /// (default: SHA-256, as CPython).
        digest: Digest;

        /// Deliver CPython-3.11-style challenges: 20 random bytes, no prefix, HMAC-MD5
        /// (default: off). Every CPython answers those; only needed for peers that parse
        /// the challenge strictly.
        legacy: bool;

        /// Refuse HMAC-MD5 in either direction: a legacy challenge is not answered, and a
        /// raw or `{md5}` answer to our challenge is rejected (default: off, because every
        /// CPython up to 3.11 speaks only MD5).
        refuse_md5: bool;

        /// As a client, deliver our challenge right behind our answer to the server's,
        /// without waiting for its `#WELCOME#` (default: off, CPython's order).
        ///
        /// The bytes on the wire are the same, only sooner: a client's handshake takes two
        /// round trips instead of three. Every CPython server (2.7, 3.x) reads the
        /// handshake frame by frame, so our challenge waits in its socket until it asks for
        /// it. If the server rejects our answer, it closes with our challenge unread: on
        /// Linux the client still reads `#FAILURE#` first (then the socket reports a reset).
        /// A server ignores this option.
        ///
        /// ```
        /// use mpconn::HandshakeConfig;
        /// let faster_client = HandshakeConfig::default().pipeline(true);
        /// # let _ = faster_client;
        /// ```
        pipeline: bool;
    }

    /// Whether a client delivers its challenge together with its answer.
    pub fn is_pipelined(&self) -> bool {
        self.pipeline
    }

    /// The digest asked for in delivered challenges.
    pub fn requested_digest(&self) -> Digest {
        self.digest
    }

    /// Whether challenges are delivered in the legacy format.
    pub fn is_legacy(&self) -> bool {
        self.legacy
    }

    /// Whether MD5 is refused.
    pub fn refuses_md5(&self) -> bool {
        self.refuse_md5
    }

    fn allow(&self, digest: Digest) -> Result<Digest, AuthFailure> {
        if self.refuse_md5 && digest == Digest::Md5 {
            Err(AuthFailure::Md5Refused)
        } else {
            Ok(digest)
        }
    }
}

/// Where a handshake stands. Each state says what this side waits for and what follows
/// it, whatever the role and options: the transitions are a `match` on it alone.
///
/// ```
/// use mpconn::handshake::{Handshake, HandshakeConfig, Role, State};
/// # struct Counter(u8);
/// # impl rand_core::TryRng for Counter {
/// #     type Error = core::convert::Infallible;
/// #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.0 as u32) }
/// #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(self.0 as u64) }
/// #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> {
/// #         for b in d { self.0 = self.0.wrapping_add(1); *b = self.0 } Ok(())
/// #     }
/// # }
/// # impl rand_core::TryCryptoRng for Counter {}
/// let config = HandshakeConfig::default();
/// let server = Handshake::new(Role::Server, b"key", &config, &mut Counter(0));
/// assert_eq!(server.state(), &State::ServerAwaitingResponse);
/// let client = Handshake::new(Role::Client, b"key", &config, &mut Counter(0));
/// assert_eq!(client.state(), &State::ClientAwaitingChallenge);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Server, first: our challenge is out; we wait for the client's MAC of it, then
    /// for its challenge.
    ServerAwaitingResponse,
    /// Server, second: we welcomed the client and wait for its `#CHALLENGE#`.
    ServerAwaitingChallenge,
    /// Server, last: we sent our MAC of the client's challenge and wait for `#WELCOME#`.
    ServerAwaitingVerdict,
    /// Client, first: we wait for the server's `#CHALLENGE#`.
    ClientAwaitingChallenge,
    /// Client, second: we sent our MAC and wait for `#WELCOME#`; our challenge goes
    /// out after it.
    ClientAwaitingVerdict,
    /// Client, second, pipelined ([`HandshakeConfig::pipeline`]): we sent our MAC and
    /// our challenge together, and wait for `#WELCOME#`, then for the server's MAC.
    ClientAwaitingPipelinedVerdict,
    /// Client, last: our challenge is out; we wait for the server's MAC of it.
    ClientAwaitingResponse,
    /// Both sides proved the key. Bytes after the last handshake frame are messages.
    Done,
    /// The handshake failed with this error; it takes no more input.
    Failed(Error),
}

/// One side of the authentication handshake.
///
/// Feed it what the peer sent ([`feed`](Self::feed)), send what it produces
/// ([`take_output`](Self::take_output), also after a failure: that is how `#FAILURE#`
/// reaches the peer), until [`is_done`](Self::is_done).
pub struct Handshake {
    role: Role,
    config: HandshakeConfig,
    key: Vec<u8>,
    /// The challenge message we deliver (after `#CHALLENGE#`).
    challenge: Vec<u8>,
    state: State,
    decoder: Decoder,
    out: Vec<u8>,
}

impl fmt::Debug for Handshake {
    // The key stays out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handshake")
            .field("role", &self.role)
            .field("config", &self.config)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// Starts a handshake. The nonce of the challenge this side will deliver is drawn
    /// from `rng` now; a server's challenge is ready in the output at once.
    pub fn new<R: CryptoRng + ?Sized>(
        role: Role,
        key: &[u8],
        config: &HandshakeConfig,
        rng: &mut R,
    ) -> Handshake {
        let challenge = if config.legacy {
            let mut nonce = alloc::vec![0; LEGACY_CHALLENGE_LEN];
            rng.fill_bytes(&mut nonce);
            nonce
        } else {
            let mut message = Vec::with_capacity(digest::MAX_NAME_LEN + 2 + MODERN_NONCE_LEN);
            config.digest.write_prefix(&mut message);
            let start = message.len();
            message.resize(start + MODERN_NONCE_LEN, 0);
            rng.fill_bytes(&mut message[start..]);
            message
        };
        let mut handshake = Handshake {
            role,
            config: config.clone(),
            key: key.to_vec(),
            challenge,
            state: State::ClientAwaitingChallenge,
            decoder: Decoder::with_max_len(MAX_FRAME_LEN),
            out: Vec::new(),
        };
        if role == Role::Server {
            handshake.write_challenge();
            handshake.state = State::ServerAwaitingResponse;
        }
        handshake
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Where the handshake stands.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// True once both sides have proved the key.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The challenge message this side delivers (after `#CHALLENGE#`): the nonce, with
    /// its `{name}` prefix in modern mode.
    pub fn challenge(&self) -> &[u8] {
        &self.challenge
    }

    /// Bytes waiting to be sent to the peer.
    pub fn pending_output(&self) -> &[u8] {
        &self.out
    }

    /// Takes the bytes waiting to be sent to the peer.
    pub fn take_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    /// Feeds bytes received from the peer and returns how many belong to the
    /// handshake. Once it is done, the bytes after its last frame are not consumed:
    /// they are the peer's first messages, for the caller to hand on (a finished
    /// handshake takes 0 bytes of any input).
    ///
    /// On an error the handshake has failed, and every later call returns that error
    /// again; send [`pending_output`](Self::pending_output) before closing (it may hold
    /// `#FAILURE#`).
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, Error> {
        let mut used = 0;
        loop {
            match &self.state {
                State::Failed(first) => return Err(first.clone()),
                State::Done => break,
                _ if used == input.len() => break,
                _ => {}
            }
            let (n, frame) = match self.decoder.decode(&input[used..]) {
                Ok(decoded) => decoded,
                Err(error) => return Err(self.fail(error)),
            };
            used += n;
            if let Some(frame) = frame {
                if let Err(error) = self.on_frame(&frame) {
                    return Err(self.fail(error));
                }
            }
        }
        Ok(used)
    }

    /// Tells the handshake the peer closed the stream. A running handshake fails with
    /// [`Error::HandshakeEof`]; a failed one returns its error again; a finished one is
    /// not concerned (`Ok`): the end of the stream is the messages' business.
    pub fn eof(&mut self) -> Result<(), Error> {
        match &self.state {
            State::Done => Ok(()),
            State::Failed(first) => Err(first.clone()),
            _ => Err(self.fail(Error::HandshakeEof)),
        }
    }

    fn fail(&mut self, error: Error) -> Error {
        self.state = State::Failed(error.clone());
        error
    }

    /// Queues `#CHALLENGE#` + our challenge message.
    fn write_challenge(&mut self) {
        let header = frame::Header::new((CHALLENGE.len() + self.challenge.len()) as u64);
        self.out.extend_from_slice(header.as_bytes());
        self.out.extend_from_slice(CHALLENGE);
        self.out.extend_from_slice(&self.challenge);
    }

    fn on_frame(&mut self, frame: &[u8]) -> Result<(), Error> {
        self.state = match self.state {
            State::ServerAwaitingResponse => {
                self.verify_response(frame)?;
                State::ServerAwaitingChallenge
            }
            State::ClientAwaitingResponse => {
                self.verify_response(frame)?;
                State::Done
            }
            State::ServerAwaitingChallenge => {
                self.answer_challenge(frame)?;
                State::ServerAwaitingVerdict
            }
            State::ClientAwaitingChallenge => {
                self.answer_challenge(frame)?;
                if self.config.pipeline {
                    // Our challenge goes out now; the verdict is read before its answer.
                    self.write_challenge();
                    State::ClientAwaitingPipelinedVerdict
                } else {
                    State::ClientAwaitingVerdict
                }
            }
            State::ServerAwaitingVerdict => {
                check_verdict(frame)?;
                State::Done
            }
            State::ClientAwaitingVerdict => {
                check_verdict(frame)?;
                self.write_challenge();
                State::ClientAwaitingResponse
            }
            State::ClientAwaitingPipelinedVerdict => {
                check_verdict(frame)?;
                State::ClientAwaitingResponse
            }
            State::Done | State::Failed(_) => {
                unreachable!("feed stops before a finished handshake sees a frame")
            }
        };
        Ok(())
    }

    /// Checks the peer's MAC of our challenge and queues the verdict: `#WELCOME#`, or
    /// `#FAILURE#` and the reason.
    fn verify_response(&mut self, frame: &[u8]) -> Result<(), Error> {
        let verdict = digest::verify(&self.key, &self.challenge, frame)
            .and_then(|used| self.config.allow(used));
        match verdict {
            Ok(_) => {
                frame::encode(WELCOME, &mut self.out);
                Ok(())
            }
            Err(why) => {
                frame::encode(FAILURE, &mut self.out);
                Err(why.into())
            }
        }
    }

    /// Queues our MAC of the peer's challenge; a challenge we cannot answer fails
    /// without a word, as in CPython.
    fn answer_challenge(&mut self, frame: &[u8]) -> Result<(), Error> {
        let message = frame
            .strip_prefix(CHALLENGE)
            .ok_or(AuthFailure::NotAChallenge)?;
        if message.len() < LEGACY_CHALLENGE_LEN {
            return Err(AuthFailure::ChallengeTooShort { len: message.len() }.into());
        }
        let (asked, _) = digest::split_prefixed(message)?;
        self.config.allow(asked.unwrap_or(Digest::Md5))?;
        let mut reply = Vec::with_capacity(digest::MAX_NAME_LEN + 2 + digest::MAX_MAC_LEN);
        digest::respond(&self.key, message, &mut reply)?;
        frame::encode(&reply, &mut self.out);
        Ok(())
    }
}

/// Anything but exactly `#WELCOME#` is a rejection.
fn check_verdict(frame: &[u8]) -> Result<(), Error> {
    if frame == WELCOME {
        Ok(())
    } else {
        Err(AuthFailure::DigestRejected.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;
    use crate::test_rng::Counter;

    /// `Handshake::new` with the config by value, as most tests build it in place.
    fn handshake(role: Role, key: &[u8], config: HandshakeConfig, rng: &mut Counter) -> Handshake {
        Handshake::new(role, key, &config, rng)
    }

    /// A server and a client with the default config and these keys, their nonces
    /// from one `Counter(0)` (the server's first).
    fn default_pair(server_key: &[u8], client_key: &[u8]) -> (Handshake, Handshake) {
        let (config, mut rng) = (HandshakeConfig::default(), Counter(0));
        let server = Handshake::new(Role::Server, server_key, &config, &mut rng);
        (
            server,
            Handshake::new(Role::Client, client_key, &config, &mut rng),
        )
    }

    fn run(
        server: &mut Handshake,
        client: &mut Handshake,
    ) -> (Result<(), Error>, Result<(), Error>) {
        let (mut s, mut c) = (Ok(()), Ok(()));
        for _ in 0..8 {
            let to_client = server.take_output();
            if c.is_ok() && !to_client.is_empty() {
                c = client.feed(&to_client).map(drop);
            }
            let to_server = client.take_output();
            if s.is_ok() && !to_server.is_empty() {
                s = server.feed(&to_server).map(drop);
            }
        }
        (s, c)
    }

    #[test]
    fn same_key_completes_both_roles() {
        for legacy in [false, true] {
            for digest in Digest::ALL {
                let config = HandshakeConfig::default().digest(digest).legacy(legacy);
                let mut rng = Counter(0);
                let mut server = Handshake::new(Role::Server, b"k", &config, &mut rng);
                let mut client = Handshake::new(Role::Client, b"k", &config, &mut rng);
                assert_eq!(run(&mut server, &mut client), (Ok(()), Ok(())));
                assert!(server.is_done() && client.is_done());
            }
        }
    }

    #[test]
    fn wrong_key_fails_server_with_wrong_digest_and_client_with_rejection() {
        let (mut server, mut client) = default_pair(b"right", b"wrong");
        let (s, c) = run(&mut server, &mut client);
        assert_eq!(s, Err(Error::Authentication(AuthFailure::WrongDigest)));
        assert_eq!(c, Err(Error::Authentication(AuthFailure::DigestRejected)));
    }

    #[test]
    fn modern_challenge_is_prefixed_and_forty_bytes_of_nonce() {
        let mut server = handshake(
            Role::Server,
            b"k",
            HandshakeConfig::default(),
            &mut Counter(0),
        );
        let out = server.take_output();
        let (_, frame) = Decoder::new().decode(&out).unwrap();
        let Some(Frame::Borrowed(frame)) = frame else {
            panic!("one whole frame expected")
        };
        assert_eq!(&frame[..CHALLENGE.len() + 8], b"#CHALLENGE#{sha256}");
        assert_eq!(frame.len(), CHALLENGE.len() + 8 + MODERN_NONCE_LEN);
    }

    #[test]
    fn refuse_md5_rejects_a_legacy_challenge_without_answering() {
        let mut rng = Counter(0);
        let mut server = handshake(
            Role::Server,
            b"k",
            HandshakeConfig::default().legacy(true),
            &mut rng,
        );
        let mut client = handshake(
            Role::Client,
            b"k",
            HandshakeConfig::default().refuse_md5(true),
            &mut rng,
        );
        let err = client.feed(&server.take_output()).unwrap_err();
        assert_eq!(err, Error::Authentication(AuthFailure::Md5Refused));
        assert!(client.pending_output().is_empty());
    }

    #[test]
    fn bytes_after_the_last_frame_are_left_for_the_caller() {
        let (mut server, mut client) = default_pair(b"k", b"k");
        client.feed(&server.take_output()).unwrap();
        server.feed(&client.take_output()).unwrap();
        client.feed(&server.take_output()).unwrap();
        server.feed(&client.take_output()).unwrap();
        let mut last = server.take_output();
        let welcome_len = last.len();
        frame::encode(b"first message", &mut last);
        assert_eq!(client.feed(&last), Ok(welcome_len));
        assert!(client.is_done());
        assert_eq!(client.feed(b"x"), Ok(0));
        assert_eq!(client.eof(), Ok(()));
    }

    #[test]
    fn oversized_handshake_frame_is_refused() {
        let mut client = handshake(
            Role::Client,
            b"k",
            HandshakeConfig::default(),
            &mut Counter(0),
        );
        let err = client.feed(frame::Header::new(257).as_bytes()).unwrap_err();
        assert_eq!(err, Error::MessageTooLong { len: 257, max: 256 });
        assert!(matches!(client.state(), State::Failed(_)));
    }

    /// Splits a handshake's output into its frames' payloads.
    fn frames(mut wire: &[u8]) -> Vec<Vec<u8>> {
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        while !wire.is_empty() {
            let (used, frame) = decoder.decode(wire).unwrap();
            out.extend(frame.map(Frame::into_vec));
            wire = &wire[used..];
        }
        out
    }

    #[test]
    fn pipelined_client_sends_its_challenge_right_behind_its_answer() {
        for server_legacy in [false, true] {
            let mut rng = Counter(0);
            let server_config = HandshakeConfig::default().legacy(server_legacy);
            let client_config = HandshakeConfig::default().pipeline(true);
            let mut server = Handshake::new(Role::Server, b"k", &server_config, &mut rng);
            let mut client = Handshake::new(Role::Client, b"k", &client_config, &mut rng);
            client.feed(&server.take_output()).unwrap();
            let flight = client.take_output();
            let parts = frames(&flight);
            assert_eq!(parts.len(), 2, "answer and challenge in one flight");
            assert!(!parts[0].starts_with(CHALLENGE));
            assert_eq!(parts[1], [CHALLENGE, client.challenge()].concat());
            assert_eq!(client.state(), &State::ClientAwaitingPipelinedVerdict);
            // A server given both at once answers both at once.
            server.feed(&flight).unwrap();
            let reply = server.take_output();
            let parts = frames(&reply);
            assert_eq!(parts.len(), 2, "welcome and answer in one flight");
            assert_eq!(parts[0], WELCOME);
            client.feed(&reply).unwrap();
            assert!(client.is_done());
            server.feed(&client.take_output()).unwrap();
            assert!(server.is_done());
        }
    }

    #[test]
    fn pipelined_client_completes_with_a_server_reading_frame_by_frame_and_byte_by_byte() {
        for chunk in [1, 1000] {
            for digest in Digest::ALL {
                let mut rng = Counter(3);
                let config = HandshakeConfig::default().digest(digest);
                let mut server = Handshake::new(Role::Server, b"k", &config, &mut rng);
                let mut client =
                    Handshake::new(Role::Client, b"k", &config.clone().pipeline(true), &mut rng);
                let (mut s, mut c) = (Ok(()), Ok(()));
                for _ in 0..8 {
                    for piece in server.take_output().chunks(chunk) {
                        c = c.and_then(|()| client.feed(piece).map(drop));
                    }
                    for piece in client.take_output().chunks(chunk) {
                        s = s.and_then(|()| server.feed(piece).map(drop));
                    }
                }
                assert_eq!((s, c), (Ok(()), Ok(())), "{digest:?}, chunks of {chunk}");
                assert!(server.is_done() && client.is_done());
            }
        }
    }

    #[test]
    fn pipelined_client_with_a_wrong_key_is_rejected_and_its_challenge_is_never_answered() {
        let mut rng = Counter(0);
        let mut server = handshake(Role::Server, b"right", HandshakeConfig::default(), &mut rng);
        let config = HandshakeConfig::default().pipeline(true);
        let mut client = Handshake::new(Role::Client, b"wrong", &config, &mut rng);
        client.feed(&server.take_output()).unwrap();
        let err = server.feed(&client.take_output()).unwrap_err();
        assert_eq!(err, Error::Authentication(AuthFailure::WrongDigest));
        assert_eq!(frames(&server.take_output()), [FAILURE.to_vec()]);
        let mut failure = Vec::new();
        frame::encode(FAILURE, &mut failure);
        assert_eq!(
            client.feed(&failure),
            Err(Error::Authentication(AuthFailure::DigestRejected))
        );
    }

    #[test]
    fn pipeline_changes_nothing_for_a_server() {
        let mut rng = Counter(0);
        let plain = Handshake::new(Role::Server, b"k", &HandshakeConfig::default(), &mut rng);
        let mut rng = Counter(0);
        let config = HandshakeConfig::default().pipeline(true);
        let pipelined = Handshake::new(Role::Server, b"k", &config, &mut rng);
        assert_eq!(plain.pending_output(), pipelined.pending_output());
        assert_eq!(pipelined.state(), &State::ServerAwaitingResponse);
    }
}
