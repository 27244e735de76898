//! What the listener and the client share: the socket addresses of an [`Address`],
//! the handshake's randomness, and retrying a call a signal interrupted.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use mpconn::HandshakeConfig;
use socket2::SockAddr;

use crate::address::Address;

/// A fresh handshake state machine with the OS's randomness for its nonce.
pub(crate) fn core(
    role: mpconn::Role,
    authkey: Option<&[u8]>,
    config: &HandshakeConfig,
) -> mpconn::Connection {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    match role {
        mpconn::Role::Server => mpconn::Connection::server(authkey, config, &mut rng),
        mpconn::Role::Client => mpconn::Connection::client(authkey, config, &mut rng),
    }
}

/// The socket address for an `AF_UNIX` [`Address`]: a path, or a NUL and the name.
pub(crate) fn unix_sockaddr(address: &Address) -> io::Result<SockAddr> {
    match address {
        Address::Unix(path) => SockAddr::unix(path),
        Address::Abstract(name) => {
            // Fail clearly off Linux, where the leading NUL would mean nothing.
            address.to_unix_socket_addr()?;
            let mut bytes = vec![0];
            bytes.extend_from_slice(name);
            SockAddr::unix(PathBuf::from(OsString::from_vec(bytes)))
        }
        Address::Tcp { .. } => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{address} is not an AF_UNIX address"),
        )),
    }
}

/// Tries each address a TCP host resolves to, IPv4 first, and returns the first
/// success or the last failure.
pub(crate) fn each_resolved<T, E: From<io::Error>>(
    address: &Address,
    mut f: impl FnMut(SockAddr) -> Result<T, E>,
) -> Result<T, E> {
    let mut addrs = address.to_socket_addrs()?;
    // CPython's family for (host, port) is AF_INET: IPv4 first, so that a listener on
    // "localhost" is where a CPython client looks for it, even where localhost also
    // resolves to ::1. An IPv6-only host (such as "::1") still works.
    addrs.sort_by_key(|addr| addr.is_ipv6());
    let mut last = None;
    for addr in addrs {
        match f(SockAddr::from(addr)) {
            Ok(done) => return Ok(done),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{address} resolved to no address"),
        )
        .into()
    }))
}

pub(crate) fn retry_interrupted<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
