//! The HMAC digests of the handshake, how they are named on the wire, and how a
//! `{name}` prefix is parsed (docs/protocol.md section 2).
//!
//! The rules here are CPython 3.13's `_get_digest_name_and_payload`,
//! `_create_response` and `_verify_challenge`, to the byte:
//!
//! - a message of exactly 16 or 20 bytes is a legacy one: no prefix, HMAC-MD5;
//! - otherwise it must start with `{`, the closing `}` must be within the first 10
//!   bytes, and the name between them must be one of [`Digest::ALL`];
//! - a MAC always covers the whole challenge message, its `{name}` prefix included
//!   (that is what stops a downgrade).
//!
//! ```
//! use mpconn::digest::{self, Digest};
//!
//! let challenge = b"{sha256}0123456789012345678901234567890123456789";
//! let (name, payload) = digest::split_prefixed(challenge).unwrap();
//! assert_eq!(name, Some(Digest::Sha256));
//! assert_eq!(payload.len(), 40);
//!
//! let mut response = Vec::new();
//! digest::respond(b"key", challenge, &mut response).unwrap();
//! assert!(response.starts_with(b"{sha256}"));
//! assert_eq!(digest::verify(b"key", challenge, &response), Ok(Digest::Sha256));
//! ```

use alloc::vec::Vec;
use core::fmt;

use hmac::{KeyInit, Mac as _, SimpleHmac};
use subtle::ConstantTimeEq;

use crate::error::AuthFailure;

/// Length of a legacy (CPython <= 3.11) challenge message: 20 random bytes, no prefix.
pub const LEGACY_CHALLENGE_LEN: usize = 20;
/// Length of a raw HMAC-MD5, the legacy answer.
pub const MD5_LEN: usize = 16;
/// Random bytes in a modern challenge, after its `{name}` prefix (CPython's
/// `MESSAGE_LENGTH`).
pub const MODERN_NONCE_LEN: usize = 40;
/// The longest digest name (`sha3_256`, `sha3_384`): the closing brace of a prefix must
/// be found before index `MAX_NAME_LEN + 2`.
pub const MAX_NAME_LEN: usize = 8;
/// The longest MAC any supported digest produces (SHA-384).
pub const MAX_MAC_LEN: usize = 48;

/// An HMAC digest a modern CPython peer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digest {
    /// HMAC-MD5: the only digest of CPython <= 3.11, still accepted by newer ones.
    Md5,
    /// HMAC-SHA256: what CPython >= 3.12 asks for.
    Sha256,
    /// HMAC-SHA384.
    Sha384,
    /// HMAC-SHA3-256.
    Sha3_256,
    /// HMAC-SHA3-384.
    Sha3_384,
}

impl Digest {
    /// Every supported digest (CPython's `_ALLOWED_DIGESTS`).
    pub const ALL: [Digest; 5] = [
        Digest::Md5,
        Digest::Sha256,
        Digest::Sha384,
        Digest::Sha3_256,
        Digest::Sha3_384,
    ];

    /// The name used on the wire and by Python's `hmac` module.
    pub fn name(self) -> &'static str {
        match self {
            Digest::Md5 => "md5",
            Digest::Sha256 => "sha256",
            Digest::Sha384 => "sha384",
            Digest::Sha3_256 => "sha3_256",
            Digest::Sha3_384 => "sha3_384",
        }
    }

    /// The digest with this exact wire name (case-sensitive, as in CPython).
    pub fn from_name(name: &[u8]) -> Option<Digest> {
        Digest::ALL
            .into_iter()
            .find(|digest| digest.name().as_bytes() == name)
    }

    /// Length in bytes of this digest's MAC.
    pub fn mac_len(self) -> usize {
        match self {
            Digest::Md5 => 16,
            Digest::Sha256 | Digest::Sha3_256 => 32,
            Digest::Sha384 | Digest::Sha3_384 => 48,
        }
    }

    /// HMAC of `message` under `key` with this digest.
    pub fn mac(self, key: &[u8], message: &[u8]) -> MacBytes {
        match self {
            Digest::Md5 => hmac_with::<md5::Md5>(key, message),
            Digest::Sha256 => hmac_with::<sha2::Sha256>(key, message),
            Digest::Sha384 => hmac_with::<sha2::Sha384>(key, message),
            Digest::Sha3_256 => hmac_with::<sha3::Sha3_256>(key, message),
            Digest::Sha3_384 => hmac_with::<sha3::Sha3_384>(key, message),
        }
    }

    /// Appends this digest's `{name}` prefix to `out`.
    pub fn write_prefix(self, out: &mut Vec<u8>) {
        out.push(b'{');
        out.extend_from_slice(self.name().as_bytes());
        out.push(b'}');
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// `SimpleHmac` rather than `Hmac`: the SHA-3 types do not expose the block-level core
// `Hmac` needs, and the handshake MACs a few dozen bytes, where the difference is noise.
fn hmac_with<D>(key: &[u8], message: &[u8]) -> MacBytes
where
    D: hmac::digest::Digest + hmac::digest::common::BlockSizeUser,
{
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac =
        <SimpleHmac<D> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    let out = mac.finalize().into_bytes();
    let mut bytes = [0; MAX_MAC_LEN];
    bytes[..out.len()].copy_from_slice(&out);
    MacBytes {
        bytes,
        len: out.len() as u8,
    }
}

/// A computed MAC. Compare it with [`MacBytes::ct_eq`], never with `==`.
#[derive(Clone)]
pub struct MacBytes {
    bytes: [u8; MAX_MAC_LEN],
    len: u8,
}

impl MacBytes {
    /// The MAC's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Compares with `other` in constant time (for equal lengths).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.as_bytes().ct_eq(other).into()
    }
}

impl fmt::Debug for MacBytes {
    // A MAC is derived from the key: show its length, not its bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacBytes({} bytes)", self.len)
    }
}

/// Splits a challenge or a response into its digest and payload, as CPython 3.13's
/// `_get_digest_name_and_payload` does.
///
/// `Ok((None, message))` for a legacy message (exactly 16 or 20 bytes, no prefix, MD5);
/// `Ok((Some(digest), payload))` for `{name}payload`.
pub fn split_prefixed(message: &[u8]) -> Result<(Option<Digest>, &[u8]), AuthFailure> {
    if message.len() == MD5_LEN || message.len() == LEGACY_CHALLENGE_LEN {
        return Ok((None, message));
    }
    if message.first() == Some(&b'{') {
        // CPython: message.find(b'}', 1, _MAX_DIGEST_LEN + 2) > 0
        let window = &message[1..message.len().min(MAX_NAME_LEN + 2)];
        if let Some(close) = window.iter().position(|&b| b == b'}') {
            if let Some(digest) = Digest::from_name(&window[..close]) {
                return Ok((Some(digest), &message[close + 2..]));
            }
        }
    }
    Err(AuthFailure::UnsupportedMessage)
}

/// Builds the answer to a challenge `message` (everything after `#CHALLENGE#`) into
/// `out`, as CPython 3.13's `_create_response`: a raw HMAC-MD5 to a legacy message,
/// `{name}` + HMAC-name over the whole message otherwise. Returns the digest used.
pub fn respond(key: &[u8], message: &[u8], out: &mut Vec<u8>) -> Result<Digest, AuthFailure> {
    match split_prefixed(message)?.0 {
        None => {
            out.extend_from_slice(Digest::Md5.mac(key, message).as_bytes());
            Ok(Digest::Md5)
        }
        Some(digest) => {
            digest.write_prefix(out);
            out.extend_from_slice(digest.mac(key, message).as_bytes());
            Ok(digest)
        }
    }
}

/// Checks a peer's `response` to the challenge `message` we delivered, as CPython
/// 3.13's `_verify_challenge`: the peer may answer with any supported digest (an
/// unprefixed 16- or 20-byte response means MD5), the MAC covers our whole message,
/// and the comparison is constant-time. Returns the digest the peer used.
pub fn verify(key: &[u8], message: &[u8], response: &[u8]) -> Result<Digest, AuthFailure> {
    let (digest, mac) = split_prefixed(response)?;
    let digest = digest.unwrap_or(Digest::Md5);
    let expected = digest.mac(key, message);
    if expected.as_bytes().len() != mac.len() {
        return Err(AuthFailure::DigestLengthMismatch {
            digest,
            expected: expected.as_bytes().len(),
            got: mac.len(),
        });
    }
    if expected.ct_eq(mac) {
        Ok(digest)
    } else {
        Err(AuthFailure::WrongDigest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for digest in Digest::ALL {
            assert_eq!(Digest::from_name(digest.name().as_bytes()), Some(digest));
            assert_eq!(digest.mac(b"k", b"m").as_bytes().len(), digest.mac_len());
        }
        assert_eq!(Digest::from_name(b"SHA256"), None);
        assert_eq!(Digest::from_name(b"sha1"), None);
    }

    #[test]
    fn hmac_md5_matches_rfc_2202_case_2() {
        let mac = Digest::Md5.mac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            mac.as_bytes(),
            [
                0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0, 0xb5, 0x03, 0xea, 0xa8, 0x6e, 0x31, 0x0a, 0x5d,
                0xb7, 0x38
            ]
        );
    }

    #[test]
    fn legacy_lengths_win_over_a_prefix() {
        // 20 bytes that happen to look prefixed are still a legacy message.
        let message = b"{sha256}012345678901";
        assert_eq!(split_prefixed(message), Ok((None, &message[..])));
    }

    #[test]
    fn closing_brace_must_be_within_the_first_ten_bytes() {
        assert!(split_prefixed(b"{sha3_384}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx").is_ok());
        // A brace at index 10 is outside CPython's find(b'}', 1, 10) window.
        assert_eq!(
            split_prefixed(b"{sha3_3844}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            Err(AuthFailure::UnsupportedMessage)
        );
        assert_eq!(
            split_prefixed(b"{}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            Err(AuthFailure::UnsupportedMessage)
        );
        assert_eq!(
            split_prefixed(b"{sha"),
            Err(AuthFailure::UnsupportedMessage)
        );
        assert_eq!(split_prefixed(b""), Err(AuthFailure::UnsupportedMessage));
    }

    #[test]
    fn legacy_md5_reply_to_a_prefixed_challenge_is_accepted() {
        let challenge = b"{sha256}abcdefghijabcdefghijabcdefghijabcdefghij";
        let reply = Digest::Md5.mac(b"key", challenge);
        assert_eq!(verify(b"key", challenge, reply.as_bytes()), Ok(Digest::Md5));
    }

    #[test]
    fn twenty_byte_reply_is_a_length_mismatch() {
        let challenge = b"{sha256}abcdefghijabcdefghijabcdefghijabcdefghij";
        assert_eq!(
            verify(b"key", challenge, &[0; 20]),
            Err(AuthFailure::DigestLengthMismatch {
                digest: Digest::Md5,
                expected: 16,
                got: 20
            })
        );
    }

    #[test]
    fn wrong_key_is_a_wrong_digest() {
        let challenge = b"{sha384}abcdefghijabcdefghijabcdefghijabcdefghij";
        let mut reply = Vec::new();
        respond(b"other", challenge, &mut reply).unwrap();
        assert_eq!(
            verify(b"key", challenge, &reply),
            Err(AuthFailure::WrongDigest)
        );
    }
}
