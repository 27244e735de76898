//! The digest names, the `{name}` prefix parser, and answering and checking a
//! challenge, against a line-by-line transcription of CPython 3.13
//! (`_get_digest_name_and_payload`, `_create_response`, `_verify_challenge`).
//!
//! Input layout: key length `k` (1 byte, mod 64), the key, a cut `c` (1 byte), then
//! data. The data is parsed as a message whole, and also split at `c` into a challenge
//! and a response to it.

use mpconn::digest::{self, Digest};
use mpconn::AuthFailure;

use super::bytes::Bytes;

/// CPython's `_ALLOWED_DIGESTS`.
const ALLOWED: [&[u8]; 5] = [b"md5", b"sha256", b"sha384", b"sha3_256", b"sha3_384"];

/// `_get_digest_name_and_payload`, transcribed: `Some(("", message))` for a legacy
/// message, `Some((name, payload))` for a prefixed one, `None` where CPython raises.
pub fn cpython_split(message: &[u8]) -> Option<(&[u8], &[u8])> {
    // if len(message) in _LEGACY_LENGTHS: return '', message
    if message.len() == 20 || message.len() == 16 {
        return Some((b"", message));
    }
    // message.startswith(b'{') and (curly := message.find(b'}', 1, 8 + 2)) > 0
    if message.starts_with(b"{") {
        let curly = (1..message.len().min(10)).find(|&i| message[i] == b'}');
        if let Some(curly) = curly {
            let name = &message[1..curly];
            if ALLOWED.contains(&name) {
                return Some((name, &message[curly + 1..]));
            }
        }
    }
    None
}

/// `_verify_challenge`, transcribed, with the core's HMACs.
fn cpython_verify(key: &[u8], message: &[u8], response: &[u8]) -> Result<Digest, AuthFailure> {
    let (name, mac) = cpython_split(response).ok_or(AuthFailure::UnsupportedMessage)?;
    let name = if name.is_empty() { b"md5" } else { name };
    let digest = Digest::ALL
        .into_iter()
        .find(|d| d.name().as_bytes() == name)
        .expect("an allowed name");
    let expected = digest.mac(key, message);
    if expected.as_bytes().len() != mac.len() {
        return Err(AuthFailure::DigestLengthMismatch {
            digest,
            expected: expected.as_bytes().len(),
            got: mac.len(),
        });
    }
    if expected.as_bytes() != mac {
        return Err(AuthFailure::WrongDigest);
    }
    Ok(digest)
}

fn check_split(message: &[u8]) {
    let ours = digest::split_prefixed(message);
    match (ours, cpython_split(message)) {
        (Ok((digest, payload)), Some((name, expected))) => {
            assert_eq!(digest.map_or(&b""[..], |d| d.name().as_bytes()), name);
            assert!(core::ptr::eq(payload, expected), "payload is not CPython's");
        }
        (Err(why), None) => assert_eq!(why, AuthFailure::UnsupportedMessage),
        (ours, theirs) => panic!("split: ours {ours:?}, CPython's {theirs:?}"),
    }
}

/// Runs one fuzz input (layout in the module documentation).
pub fn check(data: &[u8]) {
    let mut input = Bytes::new(data);
    let key_len = usize::from(input.u8() % 64);
    let key = input.take(key_len);
    let cut = usize::from(input.u8());
    let data = input.rest();
    let (challenge, response) = data.split_at(cut.min(data.len()));

    for message in [data, challenge, response] {
        check_split(message);
    }
    let head = &data[..data.len().min(digest::MAX_NAME_LEN + 1)];
    assert_eq!(
        Digest::from_name(head).map(Digest::name),
        ALLOWED
            .into_iter()
            .find(|&name| name == head)
            .map(|name| core::str::from_utf8(name).unwrap())
    );

    // _create_response, transcribed, and a round trip through verify.
    let mut answer = Vec::new();
    match (digest::respond(key, data, &mut answer), cpython_split(data)) {
        (Ok(used), Some((name, _))) => {
            let expected = if name.is_empty() {
                Digest::Md5.mac(key, data).as_bytes().to_vec()
            } else {
                let mut prefixed = [b"{", name, b"}"].concat();
                prefixed.extend_from_slice(used.mac(key, data).as_bytes());
                prefixed
            };
            assert_eq!(answer, expected);
            assert_eq!(
                used.name().as_bytes(),
                if name.is_empty() { b"md5" } else { name }
            );
            assert_eq!(digest::verify(key, data, &answer), Ok(used));
            let other_key = [key, b"?"].concat();
            assert_eq!(
                digest::verify(&other_key, data, &answer),
                Err(AuthFailure::WrongDigest)
            );
        }
        (Err(why), None) => {
            assert_eq!(why, AuthFailure::UnsupportedMessage);
            assert!(answer.is_empty(), "a refused challenge was answered");
        }
        (ours, theirs) => panic!("respond: ours {ours:?}, CPython's {theirs:?}"),
    }

    assert_eq!(
        digest::verify(key, challenge, response),
        cpython_verify(key, challenge, response)
    );
}
