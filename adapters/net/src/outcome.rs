//! What every listener does with a client whose handshake ended: its error names the
//! client, and with the `tracing` feature one event tells a log about it.

use crate::{Address, Result};

/// The address a listener's report about the client at `peer` names: the client's
/// own, or the listener's for a Unix client that did not bind its socket (CPython's
/// clients do not), which has an empty path and nothing to show.
///
/// ```
/// use mpconn_net::{client_name, Address};
/// let listener = Address::unix("/tmp/app.sock");
/// assert_eq!(client_name(&Address::unix(""), &listener), &listener);
/// let tcp = Address::tcp("127.0.0.1", 50000);
/// assert_eq!(client_name(&tcp, &listener), &tcp);
/// ```
pub fn client_name<'a>(peer: &'a Address, listener: &'a Address) -> &'a Address {
    match peer.path() {
        Some(path) if path.as_os_str().is_empty() => listener,
        _ => peer,
    }
}

/// The outcome of the handshake of the client at `peer`, which the listener at
/// `listener` accepted, as every adapter's listener reports it: an error names the
/// client ([`Error::of_client`](crate::Error::of_client): a failed handshake becomes
/// [`Error::Handshake`](crate::Error::Handshake)). A connection without a handshake
/// (no authkey) comes here too, as soon as it is accepted.
///
/// With the `tracing` feature, each outcome is one event (target `mpconn_net::outcome`):
/// `INFO` "accepted a connection" or `WARN` "handshake failed", with the fields `peer`
/// and `listener` (the addresses, as displayed) and, for a failure, `reason` (the
/// error's `Display`). No field holds key material: neither the authkey, nor a
/// challenge, nor a digest is in any error.
///
/// ```
/// use mpconn_net::{handshake_outcome, Address, Error};
///
/// let listener = Address::unix("/tmp/app.sock");
/// let peer = Address::tcp("127.0.0.1", 50000);
/// let failed: Result<(), Error> = Err(mpconn::Error::HandshakeEof.into());
/// let error = handshake_outcome(failed, &peer, &listener).unwrap_err();
/// assert!(matches!(error, Error::Handshake { peer: ref p, .. } if *p == peer));
/// ```
pub fn handshake_outcome<T>(outcome: Result<T>, peer: &Address, listener: &Address) -> Result<T> {
    let outcome = outcome.map_err(|error| error.of_client(client_name(peer, listener)));
    #[cfg(feature = "tracing")]
    match &outcome {
        Ok(_) => tracing::info!(%peer, %listener, "accepted a connection"),
        Err(reason) => tracing::warn!(%peer, %listener, %reason, "handshake failed"),
    }
    outcome
}
