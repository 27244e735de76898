//! The framing as a `tokio_util::codec` codec, for people who already have a stream.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use mpconn::frame::{self, Frame, Header};
use tokio_util::codec::{Decoder, Encoder};

use crate::Error;

/// The `multiprocessing.connection` framing (docs/protocol.md section 1) as a
/// [`tokio_util::codec`] [`Decoder`] and [`Encoder`], so that
/// `Framed<TcpStream, FrameCodec>` or `Framed<UnixStream, FrameCodec>` exchanges whole
/// messages with a CPython `Connection`.
///
/// Decoding is done by the core's [`mpconn::frame::Decoder`]; this type only moves bytes
/// between it and the `BytesMut` that `Framed` reads into. A payload that arrived whole
/// in one read is handed out without a copy; a longer one is gathered by the core, which
/// grows its buffer only as bytes arrive (a header may claim 2^64 - 1 bytes). The core's
/// decoder is the only state: every byte given to [`Decoder::decode`] is consumed.
///
/// The codec does no handshake. With an authkey, authenticate with
/// [`Connection::server`](crate::Connection::server) or
/// [`Connection::client`](crate::Connection::client) first and turn the connection into a
/// `Framed` with [`Connection::into_framed`](crate::Connection::into_framed).
///
/// ```
/// use bytes::BytesMut;
/// use mpconn_tokio::FrameCodec;
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = FrameCodec::new();
/// let mut wire = BytesMut::new();
/// codec.encode(&b"spam"[..], &mut wire).unwrap();
/// assert_eq!(&wire[..], b"\x00\x00\x00\x04spam");
///
/// let mut half = wire.split_to(6);
/// assert_eq!(codec.decode(&mut half).unwrap(), None); // partial input is normal
/// assert_eq!(codec.decode(&mut wire).unwrap().as_deref(), Some(&b"spam"[..]));
/// ```
///
/// With a stream (any `AsyncRead + AsyncWrite`):
///
/// ```no_run
/// # async fn demo() -> Result<(), mpconn_tokio::Error> {
/// use futures_util::{SinkExt, StreamExt};
/// use mpconn_tokio::FrameCodec;
/// use tokio_util::codec::Framed;
///
/// let stream = tokio::net::TcpStream::connect("127.0.0.1:6000").await?;
/// let mut framed = Framed::new(stream, FrameCodec::new());
/// framed.send(&b"hello"[..]).await?;
/// let reply = framed.next().await.transpose()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct FrameCodec {
    decoder: frame::Decoder,
}

impl FrameCodec {
    /// A codec with no limit on the length of incoming messages.
    pub fn new() -> FrameCodec {
        FrameCodec::default()
    }

    /// A codec that refuses incoming messages longer than `max_len` bytes (CPython's
    /// `recv_bytes(maxlength)`). The limit is checked as soon as a header is complete,
    /// before any payload is taken; a message over it fails the stream for good
    /// ([`mpconn::Error::MessageTooLong`]), because its payload is still on the wire.
    pub fn with_max_len(max_len: u64) -> FrameCodec {
        FrameCodec {
            decoder: frame::Decoder::with_max_len(max_len),
        }
    }

    /// The same codec for the stream of a client without an authkey: a first frame
    /// that starts with `#CHALLENGE#` is [`Error::AuthkeyWanted`], not a message (see
    /// [`mpconn::frame::Decoder::refusing_a_challenge`]).
    /// [`Connection::into_framed`](crate::Connection::into_framed) hands this check on
    /// when the first message is still to come.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use mpconn_tokio::{Error, FrameCodec};
    /// use tokio_util::codec::Decoder;
    ///
    /// let mut codec = FrameCodec::new().refusing_a_challenge();
    /// let mut wire = BytesMut::from(&b"\0\0\0\x23#CHALLENGE#{sha256}0123456789abcdef"[..]);
    /// assert!(matches!(codec.decode(&mut wire), Err(Error::AuthkeyWanted { .. })));
    /// ```
    pub fn refusing_a_challenge(self) -> FrameCodec {
        FrameCodec {
            decoder: self.decoder.refusing_a_challenge(),
        }
    }

    /// Sets the limit for incoming messages from the next frame on (`None`: no limit).
    pub fn set_max_len(&mut self, max_len: Option<u64>) {
        self.decoder.set_max_len(max_len);
    }

    /// The limit in force.
    pub fn max_len(&self) -> Option<u64> {
        self.decoder.max_len()
    }

    /// True when part of a message has been decoded and the rest is awaited.
    pub fn is_mid_message(&self) -> bool {
        !self.decoder.is_idle() && !self.decoder.is_failed()
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        let (used, frame) = self.decoder.decode(src)?;
        let message = match frame {
            None => None,
            // A payload always ends its frame: it is the last `len` bytes of what the
            // decoder used, so it can be cut out of `src` without copying.
            Some(Frame::Borrowed(payload)) => Some(payload.len()),
            Some(Frame::Owned(payload)) => {
                src.advance(used);
                return Ok(Some(Bytes::from(payload)));
            }
        };
        let mut taken = src.split_to(used);
        Ok(message.map(|len| {
            taken.advance(used - len);
            taken.freeze()
        }))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        if let Some(message) = self.decode(src)? {
            return Ok(Some(message));
        }
        if self.decoder.is_idle() {
            Ok(None)
        } else {
            // Inside a frame: CPython's "got end of file during message".
            Err(self.decoder.eof().into())
        }
    }
}

/// Encodes borrowed payloads: `framed.send(&message[..])`. One item type only, so that
/// `Framed`'s `flush` and `close` need no type annotations.
impl Encoder<&[u8]> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
        let header = Header::new(payload.len() as u64);
        dst.reserve(header.as_bytes().len() + payload.len());
        dst.put_slice(header.as_bytes());
        dst.put_slice(payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(payloads: &[&[u8]]) -> BytesMut {
        let mut codec = FrameCodec::new();
        let mut out = BytesMut::new();
        for payload in payloads {
            codec.encode(*payload, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn pipelined_frames_come_out_one_per_call_and_leave_the_rest() {
        let mut src = wire(&[b"one", b"", b"three"]);
        let mut codec = FrameCodec::new();
        assert_eq!(
            codec.decode(&mut src).unwrap().as_deref(),
            Some(&b"one"[..])
        );
        assert_eq!(codec.decode(&mut src).unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(
            codec.decode(&mut src).unwrap().as_deref(),
            Some(&b"three"[..])
        );
        assert!(src.is_empty());
        assert_eq!(codec.decode(&mut src).unwrap(), None);
    }

    #[test]
    fn byte_at_a_time_input_gives_the_same_messages() {
        let whole = wire(&[b"", b"ab", &[9; 70_000]]);
        let mut codec = FrameCodec::new();
        let mut messages = Vec::new();
        for byte in whole.iter() {
            let mut src = BytesMut::from(&[*byte][..]);
            if let Some(message) = codec.decode(&mut src).unwrap() {
                messages.push(message.to_vec());
            }
            assert!(
                src.is_empty(),
                "the core keeps partial frames, not the BytesMut"
            );
        }
        assert_eq!(messages, vec![Vec::new(), b"ab".to_vec(), vec![9; 70_000]]);
    }

    #[test]
    fn end_of_stream_inside_a_frame_is_unexpected_eof() {
        let mut codec = FrameCodec::new();
        let mut src = BytesMut::from(&b"\x00\x00\x00\x05ab"[..]);
        assert_eq!(codec.decode(&mut src).unwrap(), None);
        match codec.decode_eof(&mut src) {
            Err(Error::Protocol(mpconn::Error::UnexpectedEof { received: 6 })) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn end_of_stream_between_frames_is_a_clean_end() {
        let mut codec = FrameCodec::new();
        let mut src = wire(&[b"last"]);
        assert_eq!(
            codec.decode_eof(&mut src).unwrap().as_deref(),
            Some(&b"last"[..])
        );
        assert_eq!(codec.decode_eof(&mut src).unwrap(), None);
    }

    #[test]
    fn message_over_the_limit_is_refused_before_its_payload() {
        let mut codec = FrameCodec::with_max_len(3);
        let mut src = wire(&[b"four"]);
        match codec.decode(&mut src) {
            Err(Error::Protocol(mpconn::Error::MessageTooLong { len: 4, max: 3 })) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn long_payloads_are_encoded_with_the_header_cpython_reads() {
        let out = wire(&[&[0; 16385]]);
        assert_eq!(&out[..4], &[0, 0, 0x40, 0x01]);
        assert_eq!(out.len(), 4 + 16385);
    }
}
