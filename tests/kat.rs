//! Known answers: the exact bytes real CPython produced, reproduced by the core.
//!
//! `tests/data/kat.txt` was captured from CPython 2.7, 3.11, 3.12 and 3.13 by
//! `tests/python/capture_kat.py` (its docstring says how to re-run it): whole
//! handshakes run by CPython's own `deliver_challenge` / `answer_challenge` with fixed
//! nonces, recorded frame by frame in both directions, and the frame headers CPython
//! 3.13's `Connection._send_bytes` writes and its `_recv_bytes` reads. Here the core,
//! given the same keys and the same nonces (through [`FixedRng`]), must produce every
//! frame of its side exactly and accept every frame of the other, in either role.

use std::collections::VecDeque;

use mpconn::connection::State;
use mpconn::frame::{Decoder, Frame, Header};
use mpconn::{AuthFailure, Connection, Digest, Error, HandshakeConfig, Role};

const KAT: &str = include_str!("data/kat.txt");

/// One `[kind name]` section of the data file: its `key = value` lines, in order.
struct Section {
    kind: String,
    name: String,
    fields: Vec<(String, String)>,
}

impl Section {
    fn get(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("[{} {}] has no {key}", self.kind, self.name))
    }

    fn hex(&self, key: &str) -> Vec<u8> {
        unhex(self.get(key))
    }
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd-length hex {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn sections() -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for line in KAT.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let (kind, name) = header.split_once(' ').unwrap_or((header, ""));
            sections.push(Section {
                kind: kind.to_string(),
                name: name.to_string(),
                fields: Vec::new(),
            });
            continue;
        }
        let (key, value) = line.split_once('=').expect("key = value");
        sections
            .last_mut()
            .expect("a field before any section")
            .fields
            .push((key.trim().to_string(), value.trim().to_string()));
    }
    sections
}

/// The `handshake` sections whose names satisfy `pick`; never none.
fn handshakes(pick: impl Fn(&str) -> bool) -> Vec<Section> {
    let picked: Vec<Section> = sections()
        .into_iter()
        .filter(|s| s.kind == "handshake" && pick(&s.name))
        .collect();
    assert!(!picked.is_empty(), "no such handshake in the KAT data");
    picked
}

/// Hands out the captured nonce, and nothing else: the core must draw exactly it.
struct FixedRng(VecDeque<u8>);

impl rand_core::TryRng for FixedRng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for byte in dst {
            *byte = self
                .0
                .pop_front()
                .expect("the core asked for more random bytes than CPython's nonce");
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for FixedRng {}

/// What CPython's side ended with, as the core's result for the same side.
fn expected_result(cpython: &str) -> Result<(), Error> {
    match cpython {
        "ok" => Ok(()),
        "AuthenticationError: digest received was wrong" => {
            Err(Error::Authentication(AuthFailure::WrongDigest))
        }
        "AuthenticationError: digest sent was rejected" => {
            Err(Error::Authentication(AuthFailure::DigestRejected))
        }
        other => panic!("no core equivalent written down for CPython's {other:?}"),
    }
}

/// Plays `role` of a captured handshake: the core must write exactly CPython's frames
/// for that role, at the same points, and end as CPython's side did. The peer's frames
/// are fed whole, or one byte at a time.
fn replay(section: &Section, role: Role, byte_at_a_time: bool) {
    let label = format!(
        "[handshake {}] as {role:?}, byte_at_a_time={byte_at_a_time}",
        section.name
    );
    let (side, key, nonce, result) = match role {
        Role::Server => ("server", "server_key", "server_nonce", "server_result"),
        Role::Client => ("client", "client_key", "client_nonce", "client_result"),
    };
    let config = match section.get("digest") {
        "legacy" => HandshakeConfig::default().legacy(true),
        name => HandshakeConfig::default()
            .digest(Digest::from_name(name.as_bytes()).expect("a supported digest")),
    };
    let mut rng = FixedRng(section.hex(nonce).into());
    let key = section.hex(key);
    let mut conn = match role {
        Role::Server => Connection::server(Some(&key), &config, &mut rng),
        Role::Client => Connection::client(Some(&key), &config, &mut rng),
    };
    assert!(rng.0.is_empty(), "{label}: the nonce was not drawn whole");

    let mut expected_output = Vec::new();
    for (key, value) in &section.fields {
        if key != "frame" {
            continue;
        }
        let (from, hex) = value.split_once(' ').expect("frame = side hex");
        let frame = unhex(hex);
        if from == side {
            expected_output.extend_from_slice(&frame);
            continue;
        }
        // Before the peer's next frame, we must have written exactly ours so far.
        assert_eq!(
            conn.take_output(),
            std::mem::take(&mut expected_output),
            "{label}: output before a frame from the peer"
        );
        assert!(
            conn.error().is_none(),
            "{label}: the peer sent a frame after we failed"
        );
        if byte_at_a_time {
            frame.chunks(1).for_each(|byte| conn.feed(byte).unwrap());
        } else {
            conn.feed(&frame).unwrap();
        }
    }
    let outcome = conn.error().map_or(Ok(()), |error| Err(error.clone()));
    assert_eq!(conn.take_output(), expected_output, "{label}: final output");
    assert_eq!(
        outcome,
        expected_result(section.get(result)),
        "{label}: result"
    );
    assert_eq!(
        conn.state(),
        match &outcome {
            Ok(()) => State::Established,
            Err(error) => State::Failed(error),
        },
        "{label}: state once the output is written"
    );
    assert_eq!(
        conn.next_message().map(|message| message.is_none()),
        outcome.map(|()| true),
        "{label}: a handshake frame leaked as a message"
    );
}

fn replay_all(sections: &[Section]) {
    for section in sections {
        for role in [Role::Server, Role::Client] {
            replay(section, role, false);
            replay(section, role, true);
        }
    }
}

#[test]
fn legacy_handshakes_of_cpython_2_7_and_3_11_are_reproduced_in_both_roles() {
    let legacy = handshakes(|name| name.ends_with("-legacy"));
    let versions: Vec<&str> = legacy.iter().map(|s| s.get("python")).collect();
    assert!(
        versions.iter().any(|v| v.starts_with("2.7.")),
        "{versions:?}"
    );
    assert!(
        versions.iter().any(|v| v.starts_with("3.11.")),
        "{versions:?}"
    );
    replay_all(&legacy);
}

#[test]
fn modern_handshakes_for_every_digest_cpython_3_13_requests_are_reproduced() {
    let modern = handshakes(|name| name.starts_with("3.13-"));
    for digest in Digest::ALL {
        assert!(
            modern.iter().any(|s| s.get("digest") == digest.name()),
            "no 3.13 handshake with {digest}"
        );
    }
    replay_all(&handshakes(|name| {
        name.starts_with("3.12-sha256") || Digest::ALL.iter().any(|d| name == format!("3.13-{d}"))
    }));
}

#[test]
fn wrong_key_handshakes_end_with_failure_exactly_as_cpython() {
    let wrong = handshakes(|name| name.ends_with("-wrong-key"));
    assert!(wrong.len() >= 4, "2.7, 3.11, 3.12 and 3.13");
    replay_all(&wrong);
}

#[test]
fn empty_key_is_a_key_and_long_keys_are_hashed_as_in_cpython() {
    replay_all(&handshakes(|name| {
        name.ends_with("-empty-key") || name.ends_with("-long-key")
    }));
}

#[test]
fn frame_headers_are_the_bytes_cpython_writes_and_decode_to_its_lengths() {
    let headers: Vec<Section> = sections()
        .into_iter()
        .filter(|s| s.kind == "header")
        .collect();
    for required in [0, 0x7fff_ffff, 0x8000_0000, u64::MAX] {
        assert!(
            headers.iter().any(|s| s.name == required.to_string()),
            "no captured header for {required}"
        );
    }
    for section in &headers {
        let len: u64 = section.name.parse().expect("a length");
        let bytes = section.hex("bytes");
        let decoded_by_cpython: u64 = section.get("decoded_len").parse().expect("a length");
        assert_eq!(decoded_by_cpython, len, "CPython's own round trip");
        assert_eq!(Header::new(len).as_bytes(), bytes, "encoding {len}");

        // Decoding: the header alone is consumed whole, and the length it declares is
        // what CPython read (seen through the limit check, which reports it).
        if len == 0 {
            let mut decoder = Decoder::with_max_len(0);
            assert_eq!(
                decoder.decode(&bytes),
                Ok((4, Some(Frame::Borrowed(&[][..]))))
            );
        } else {
            assert_eq!(Decoder::new().decode(&bytes), Ok((bytes.len(), None)));
            assert_eq!(
                Decoder::with_max_len(len - 1).decode(&bytes),
                Err(Error::MessageTooLong { len, max: len - 1 })
            );
        }
    }
}

#[test]
fn negative_length_that_cpython_reads_as_empty_is_refused_as_corrupt() {
    let section = sections()
        .into_iter()
        .find(|s| s.kind == "negative_header")
        .expect("a negative_header section");
    let bytes = section.hex("bytes");
    // CPython asks for -2 payload bytes and gets an empty message (docs/protocol.md
    // section 1); no CPython ever sends such a header, and the core refuses it.
    assert_eq!(section.get("cpython_reads_len"), "-2");
    assert_eq!(
        Decoder::new().decode(&bytes),
        Err(Error::NegativeLength(-2))
    );
}
