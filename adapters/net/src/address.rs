//! Where a listener listens and a client connects: a TCP host and port, a Unix socket
//! path, or a Linux abstract socket name (docs/protocol.md section 3).
//!
//! [`Address`] holds no socket and no adapter type, so every adapter (blocking, `mio`,
//! `tokio`) can share it. It converts to the standard library's socket addresses, and
//! it has a plain spelling for command lines and configuration files:
//!
//! | spelling | address | CPython |
//! | --- | --- | --- |
//! | `localhost:6000`, `127.0.0.1:0`, `[::1]:6000` | [`Address::Tcp`] | `('localhost', 6000)` |
//! | `/tmp/app.sock`, `app.sock`, `./a:1` | [`Address::Unix`] | `'/tmp/app.sock'` |
//! | `@app`, `\0app` | [`Address::Abstract`] (Linux) | `'\0app'` |
//! | `\\.\pipe\app` | [`Address::Pipe`] (Windows; refused elsewhere) | `r'\\.\pipe\app'` |
//!
//! A spelling is TCP when it ends in `:` and a port number and has no `/` in it;
//! anything else that is not abstract or a pipe is a path (write `./a:1` for a file
//! named `a:1`). As in CPython, a spelling that starts with two backslashes is a
//! Windows named pipe (`AF_PIPE`).
//!
//! ```
//! use mpconn_net::{Address, Family};
//!
//! let tcp: Address = "localhost:6000".parse().unwrap();
//! assert_eq!(tcp, Address::tcp("localhost", 6000));
//! assert_eq!(tcp.family(), Family::Inet);
//! assert_eq!(tcp.to_string(), "localhost:6000");
//!
//! let path: Address = "/tmp/app.sock".parse().unwrap();
//! assert_eq!(path.family(), Family::Unix);
//!
//! let name: Address = "@app".parse().unwrap();
//! assert_eq!(name, Address::abstract_name("app"));
//! assert_eq!(name.to_string(), "@app");
//!
//! // AF_PIPE exists on Windows only, as in CPython.
//! assert_eq!(r"\\.\pipe\app".parse::<Address>().is_ok(), cfg!(windows));
//! ```

#[cfg(unix)]
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
#[cfg(unix)]
use std::os::unix::ffi::OsStringExt;
#[cfg(unix)]
use std::os::unix::fs::DirBuilderExt;
#[cfg(unix)]
use std::os::unix::net::SocketAddr as UnixSocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The address families of `multiprocessing.connection`, by CPython's names.
///
/// ```
/// use mpconn_net::{Address, Family};
/// assert_eq!(Address::unix("/tmp/s").family(), Family::Unix);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// `AF_INET`: a `(host, port)` pair. The host may also resolve to IPv6 here.
    Inet,
    /// `AF_UNIX`: a socket path or (Linux) an abstract name. Not on Windows, where
    /// CPython has no `AF_UNIX` listener either.
    Unix,
    /// `AF_PIPE`: a Windows named pipe, `\\.\pipe\name` (Windows only).
    Pipe,
}

impl Family {
    /// CPython's name for the family: `"AF_INET"`, `"AF_UNIX"` or `"AF_PIPE"`.
    ///
    /// ```
    /// assert_eq!(mpconn_net::Family::Inet.name(), "AF_INET");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Family::Inet => "AF_INET",
            Family::Unix => "AF_UNIX",
            Family::Pipe => "AF_PIPE",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A listener's or a client's address (CPython's `address` argument).
///
/// The family follows from the variant, as CPython infers it from the address: a
/// `(host, port)` pair is `AF_INET`, anything else `AF_UNIX`. See the
/// [module documentation](self) for the plain spelling that [`FromStr`] and
/// [`Display`](fmt::Display) use.
///
/// ```
/// use mpconn_net::Address;
/// let address: Address = "[::1]:6000".parse().unwrap();
/// assert_eq!(address, Address::Tcp { host: "::1".into(), port: 6000 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A TCP host and port. The host is kept as given (`"localhost"` stays a name) and
    /// resolved when binding or connecting. Port 0 binds to a free port.
    Tcp {
        /// A host name or an IP address, without brackets.
        host: String,
        /// The port; 0 when binding means "any free port".
        port: u16,
    },
    /// A Unix socket file. A listener creates it and removes it when closed.
    Unix(PathBuf),
    /// A Linux abstract socket name: CPython's `'\0name'`, without the leading NUL. No
    /// file exists for it, so there is nothing to remove.
    Abstract(Vec<u8>),
    /// A Windows named pipe (`AF_PIPE`), the whole name: `\\.\pipe\app`. Only a
    /// Windows build reads one from a spelling; elsewhere binding or connecting to one
    /// fails as unsupported.
    Pipe(String),
}

/// Why a spelling is not an address, or an address cannot be used here.
///
/// ```
/// use mpconn_net::{Address, AddressError};
/// assert_eq!("".parse::<Address>(), Err(AddressError::Empty));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// The empty string names nothing.
    Empty,
    /// `host:port` with a port that is not a number from 0 to 65535.
    BadPort(String),
    /// `[v6 address]:port` with something wrong around the brackets.
    BadBrackets(String),
    /// A `\\`-prefixed name is a Windows named pipe (`AF_PIPE`), which only Windows
    /// has.
    NamedPipe(String),
    /// An abstract name with a broken `\x` escape in its spelling.
    BadEscape(String),
    /// Abstract socket names exist only on Linux (and Android).
    AbstractUnsupported,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::Empty => f.write_str("empty address"),
            AddressError::BadPort(s) => {
                write!(f, "bad port in {s:?}: expected a number from 0 to 65535")
            }
            AddressError::BadBrackets(s) => {
                write!(f, "bad address {s:?}: expected [IPv6 address]:port")
            }
            AddressError::NamedPipe(s) => write!(
                f,
                "{s:?} is a Windows named pipe address (AF_PIPE), which is not supported on this system"
            ),
            AddressError::BadEscape(s) => write!(
                f,
                "bad escape in abstract socket name {s:?}: expected \\\\ or \\x and two hex digits"
            ),
            AddressError::AbstractUnsupported => {
                f.write_str("abstract socket names are supported on Linux only")
            }
        }
    }
}

impl std::error::Error for AddressError {}

impl From<AddressError> for io::Error {
    fn from(error: AddressError) -> io::Error {
        let kind = match error {
            AddressError::NamedPipe(_) | AddressError::AbstractUnsupported => {
                io::ErrorKind::Unsupported
            }
            _ => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, error)
    }
}

impl Address {
    /// A TCP address; the host is kept as given and resolved on use.
    ///
    /// ```
    /// assert_eq!(mpconn_net::Address::tcp("localhost", 80).to_string(), "localhost:80");
    /// ```
    pub fn tcp(host: impl Into<String>, port: u16) -> Address {
        Address::Tcp {
            host: host.into(),
            port,
        }
    }

    /// A Unix socket path.
    ///
    /// ```
    /// let address = mpconn_net::Address::unix("/tmp/app.sock");
    /// assert_eq!(address.path().unwrap().to_str(), Some("/tmp/app.sock"));
    /// ```
    pub fn unix(path: impl Into<PathBuf>) -> Address {
        Address::Unix(path.into())
    }

    /// A Linux abstract socket name, without the leading NUL byte CPython writes.
    ///
    /// ```
    /// assert_eq!(mpconn_net::Address::abstract_name("app").to_string(), "@app");
    /// ```
    pub fn abstract_name(name: impl AsRef<[u8]>) -> Address {
        Address::Abstract(name.as_ref().to_vec())
    }

    /// CPython's default TCP address, `('localhost', 0)`: any free port on loopback.
    ///
    /// ```
    /// let address = mpconn_net::Address::localhost_any_port();
    /// assert_eq!(address.to_string(), "localhost:0");
    /// ```
    pub fn localhost_any_port() -> Address {
        Address::tcp("localhost", 0)
    }

    /// CPython's `arbitrary_address('AF_UNIX')`: a fresh `listener-XXXXXXXX` path in a
    /// new private (0700) temporary directory, which this call creates. The socket does
    /// not exist yet. Whoever binds it owns the directory: a
    /// `Listener` bound without an address removes both on close.
    ///
    /// ```
    /// let address = mpconn_net::Address::fresh_unix().unwrap();
    /// let path = match &address {
    ///     mpconn_net::Address::Unix(path) => path.clone(),
    ///     _ => unreachable!(),
    /// };
    /// assert!(path.file_name().unwrap().to_str().unwrap().starts_with("listener-"));
    /// std::fs::remove_dir(path.parent().unwrap()).unwrap();
    /// ```
    pub fn fresh_unix() -> io::Result<Address> {
        if cfg!(windows) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "AF_UNIX listeners are not supported on Windows: use AF_PIPE or AF_INET",
            ));
        }
        let dir = private_temp_dir()?;
        Ok(Address::Unix(
            dir.join(format!("listener-{}", random_name()?)),
        ))
    }

    /// CPython's `arbitrary_address('AF_PIPE')`: a fresh `\\.\pipe\pyc-<pid>-<n>-<random>`
    /// name, unique in this process (the counter) and across processes (the pid, and
    /// eight random characters). On Windows the default address of a listener.
    ///
    /// ```
    /// let address = mpconn_net::Address::fresh_pipe().unwrap();
    /// let name = address.to_string();
    /// assert!(name.starts_with(&format!(r"\\.\pipe\pyc-{}-", std::process::id())), "{name}");
    /// assert_ne!(mpconn_net::Address::fresh_pipe().unwrap(), address);
    /// ```
    pub fn fresh_pipe() -> io::Result<Address> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Address::Pipe(format!(
            r"\\.\pipe\pyc-{}-{}-{}",
            std::process::id(),
            n,
            random_name()?
        )))
    }

    /// The family, as CPython's `address_type` infers it.
    ///
    /// ```
    /// use mpconn_net::{Address, Family};
    /// assert_eq!(Address::abstract_name("a").family(), Family::Unix);
    /// ```
    pub fn family(&self) -> Family {
        match self {
            Address::Tcp { .. } => Family::Inet,
            Address::Unix(_) | Address::Abstract(_) => Family::Unix,
            Address::Pipe(_) => Family::Pipe,
        }
    }

    /// The path of the socket file, for an address that has one (not TCP, not abstract).
    ///
    /// ```
    /// assert!(mpconn_net::Address::abstract_name("a").path().is_none());
    /// ```
    pub fn path(&self) -> Option<&Path> {
        match self {
            Address::Unix(path) => Some(path),
            _ => None,
        }
    }

    /// Resolves a TCP address to socket addresses (a host name may give several).
    /// `Unsupported` for the Unix family. This uses the system resolver as given:
    /// [`resolve`](crate::resolve) puts IPv4 first, as binding and connecting do.
    ///
    /// ```
    /// let addrs = mpconn_net::Address::tcp("127.0.0.1", 5).to_socket_addrs()?;
    /// assert_eq!(addrs, ["127.0.0.1:5".parse().unwrap()]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        match self {
            Address::Tcp { host, port } => {
                let found: Vec<SocketAddr> = (host.as_str(), *port).to_socket_addrs()?.collect();
                if found.is_empty() {
                    Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("host {host:?} resolved to no address"),
                    ))
                } else {
                    Ok(found)
                }
            }
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{self} is an {} address, not a TCP one", self.family()),
            )),
        }
    }

    /// The standard library's Unix socket address for a path or an abstract name.
    /// `Unsupported` for TCP, and for abstract names off Linux.
    ///
    /// ```
    /// let addr = mpconn_net::Address::unix("/tmp/s").to_unix_socket_addr()?;
    /// assert!(addr.as_pathname().is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(unix)]
    pub fn to_unix_socket_addr(&self) -> io::Result<UnixSocketAddr> {
        match self {
            Address::Unix(path) => UnixSocketAddr::from_pathname(path),
            Address::Abstract(name) => abstract_socket_addr(name),
            Address::Tcp { .. } | Address::Pipe(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{self} is an {} address, not an AF_UNIX one", self.family()),
            )),
        }
    }

    /// The name of a named pipe (`AF_PIPE`), for an address that is one.
    ///
    /// ```
    /// assert!(mpconn_net::Address::tcp("h", 1).pipe_name().is_none());
    /// ```
    pub fn pipe_name(&self) -> Option<&str> {
        match self {
            Address::Pipe(name) => Some(name),
            _ => None,
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_socket_addr(name: &[u8]) -> io::Result<UnixSocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    UnixSocketAddr::from_abstract_name(name)
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn abstract_socket_addr(_name: &[u8]) -> io::Result<UnixSocketAddr> {
    Err(AddressError::AbstractUnsupported.into())
}

/// Creates `mpconn-XXXXXXXX` in the system temporary directory, readable by its owner
/// only (CPython's `tempfile.mkdtemp`, which `arbitrary_address` relies on).
fn private_temp_dir() -> io::Result<PathBuf> {
    let base = std::env::temp_dir();
    loop {
        let dir = base.join(format!("mpconn-{}", random_name()?));
        #[cfg_attr(not(unix), allow(unused_mut))]
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        builder.mode(0o700);
        match builder.create(&dir) {
            Ok(()) => return Ok(dir),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

/// Eight characters from CPython's `tempfile` alphabet, from the OS's randomness.
fn random_name() -> io::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(io::Error::from)?;
    // 256 % 37 != 0 gives a slight bias, harmless for a name that is only unique.
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "{host}:{port}"),
            Address::Unix(path) => {
                let shown = path.to_string_lossy();
                // Keep the spelling a path when read back: `a:1` would read as TCP, an
                // `@` or `\0` start as abstract, `\\` as a named pipe.
                if !shown.is_empty() && path.is_relative() && reads_as_other(&shown) {
                    write!(f, "./{shown}")
                } else {
                    f.write_str(&shown)
                }
            }
            Address::Abstract(name) => {
                f.write_str("@")?;
                for &byte in name {
                    match byte {
                        b'\\' => f.write_str("\\\\")?,
                        b' '..=b'~' => write!(f, "{}", char::from(byte))?,
                        _ => write!(f, "\\x{byte:02x}")?,
                    }
                }
                Ok(())
            }
            Address::Pipe(name) => f.write_str(name),
        }
    }
}

fn reads_as_other(spelling: &str) -> bool {
    !matches!(spelling.parse::<Address>(), Ok(Address::Unix(_)))
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Address, AddressError> {
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if let Some(name) = s.strip_prefix('@') {
            return parse_abstract(name, s);
        }
        if let Some(name) = s.strip_prefix('\0').or_else(|| s.strip_prefix("\\0")) {
            return parse_abstract(name, s);
        }
        if s.starts_with("\\\\") {
            return if cfg!(windows) {
                Ok(Address::Pipe(s.to_string()))
            } else {
                Err(AddressError::NamedPipe(s.to_string()))
            };
        }
        if let Some(rest) = s.strip_prefix('[') {
            let bad = || AddressError::BadBrackets(s.to_string());
            let (host, port) = rest.split_once("]:").ok_or_else(bad)?;
            if host.is_empty() {
                return Err(bad());
            }
            return Ok(Address::tcp(host, parse_port(port, s)?));
        }
        if !s.contains('/') {
            if let Some((host, port)) = s.rsplit_once(':') {
                let numeric = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
                if numeric && !host.is_empty() && !host.contains(':') {
                    return Ok(Address::tcp(host, parse_port(port, s)?));
                }
            }
        }
        Ok(Address::Unix(PathBuf::from(s)))
    }
}

fn parse_port(port: &str, whole: &str) -> Result<u16, AddressError> {
    port.parse()
        .map_err(|_| AddressError::BadPort(whole.to_string()))
}

/// Reads the bytes of an abstract name, undoing the `\\` and `\xNN` escapes that
/// [`Display`](fmt::Display) writes for bytes that are not printable ASCII.
fn parse_abstract(name: &str, whole: &str) -> Result<Address, AddressError> {
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        return Err(AddressError::AbstractUnsupported);
    }
    let bad = || AddressError::BadEscape(whole.to_string());
    let mut bytes = Vec::with_capacity(name.len());
    let mut rest = name.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        if byte != b'\\' {
            bytes.push(byte);
            continue;
        }
        match rest {
            [b'\\', tail @ ..] => {
                bytes.push(b'\\');
                rest = tail;
            }
            [b'x', hi, lo, tail @ ..] => {
                let hex = [*hi, *lo];
                let hex = std::str::from_utf8(&hex).map_err(|_| bad())?;
                bytes.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                rest = tail;
            }
            _ => return Err(bad()),
        }
    }
    Ok(Address::Abstract(bytes))
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Address {
        Address::tcp(addr.ip().to_string(), addr.port())
    }
}

/// A peer or a bound socket as the OS reports it. An unnamed socket (a client that
/// did not bind) gives an empty path, as CPython's `last_accepted` gives `''`.
#[cfg(unix)]
impl From<&UnixSocketAddr> for Address {
    fn from(addr: &UnixSocketAddr) -> Address {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(name) = addr.as_abstract_name() {
            return Address::Abstract(name.to_vec());
        }
        match addr.as_pathname() {
            Some(path) => Address::Unix(path.to_path_buf()),
            None => Address::Unix(PathBuf::from(OsString::from_vec(Vec::new()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Address {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn host_port_is_tcp_with_the_host_kept_as_given() {
        assert_eq!(parse("localhost:6000"), Address::tcp("localhost", 6000));
        assert_eq!(parse("127.0.0.1:0"), Address::tcp("127.0.0.1", 0));
        assert_eq!(parse("[::1]:80"), Address::tcp("::1", 80));
        assert_eq!(parse("[::1]:80").family(), Family::Inet);
    }

    #[test]
    fn paths_and_path_like_spellings_are_unix() {
        for s in ["/tmp/x.sock", "x.sock", "./a:1", "dir/a:1", "a:b", "::1"] {
            assert_eq!(parse(s), Address::unix(s), "{s}");
            assert_eq!(parse(s).family(), Family::Unix);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn both_abstract_spellings_give_the_same_name() {
        assert_eq!(parse("@app"), Address::abstract_name("app"));
        assert_eq!(parse("\0app"), Address::abstract_name("app"));
        assert_eq!(parse("\\0app"), Address::abstract_name("app"));
        assert_eq!(parse("@app").family(), Family::Unix);
    }

    #[cfg(not(windows))]
    #[test]
    fn named_pipes_are_refused_with_a_clear_error() {
        let error = r"\\.\pipe\app".parse::<Address>().unwrap_err();
        assert!(matches!(error, AddressError::NamedPipe(_)));
        assert!(error.to_string().contains("AF_PIPE"));
        assert_eq!(io::Error::from(error).kind(), io::ErrorKind::Unsupported);
    }

    #[test]
    fn bad_spellings_are_errors() {
        assert_eq!("".parse::<Address>(), Err(AddressError::Empty));
        assert!(matches!(
            "host:70000".parse::<Address>(),
            Err(AddressError::BadPort(_))
        ));
        assert!(matches!(
            "[::1]80".parse::<Address>(),
            Err(AddressError::BadBrackets(_))
        ));
        let bad_escape = "@a\\q".parse::<Address>();
        if cfg!(target_os = "linux") {
            assert!(matches!(bad_escape, Err(AddressError::BadEscape(_))));
        } else {
            assert_eq!(bad_escape, Err(AddressError::AbstractUnsupported));
        }
    }

    #[test]
    fn display_reads_back_as_the_same_address() {
        let cases = [
            Address::tcp("localhost", 1),
            Address::tcp("::1", 65535),
            Address::unix("/tmp/a b"),
            Address::unix("./a:1"),
            #[cfg(target_os = "linux")]
            Address::abstract_name(b"\x00odd\\name\xff "),
        ];
        for address in cases {
            assert_eq!(parse(&address.to_string()), address, "{address}");
        }
    }

    #[test]
    fn relative_paths_that_would_read_as_another_kind_display_with_dot_slash() {
        for s in ["a:1", "@not-abstract", "\\\\not-a-pipe"] {
            let shown = Address::unix(s).to_string();
            assert_eq!(shown, format!("./{s}"));
            assert_eq!(parse(&shown).family(), Family::Unix);
            assert!(parse(&shown).path().is_some());
        }
    }

    #[cfg(windows)]
    #[test]
    fn named_pipes_are_af_pipe_and_read_back_as_written() {
        let address = parse(r"\\.\pipe\app");
        assert_eq!(address, Address::Pipe(r"\\.\pipe\app".into()));
        assert_eq!(address.family(), Family::Pipe);
        assert_eq!(parse(&address.to_string()), address);
        assert!(Address::fresh_unix().is_err());
    }

    #[cfg(unix)]
    #[test]
    fn fresh_unix_address_is_in_a_private_directory() {
        use std::os::unix::fs::PermissionsExt;
        let address = Address::fresh_unix().unwrap();
        let path = address.path().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("listener-") && name.len() == "listener-".len() + 8);
        let dir = path.parent().unwrap();
        let mode = std::fs::metadata(dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(!path.exists());
        std::fs::remove_dir(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn converts_to_std_socket_addresses() {
        let tcp = Address::tcp("127.0.0.1", 5).to_socket_addrs().unwrap();
        assert_eq!(tcp, vec!["127.0.0.1:5".parse().unwrap()]);
        let unix = Address::unix("/tmp/s").to_unix_socket_addr().unwrap();
        assert_eq!(Address::from(&unix), Address::unix("/tmp/s"));
        assert!(Address::tcp("h", 1).to_unix_socket_addr().is_err());
        assert!(Address::unix("/x").to_socket_addrs().is_err());
        #[cfg(target_os = "linux")]
        {
            let name = Address::abstract_name("n").to_unix_socket_addr().unwrap();
            assert_eq!(Address::from(&name), Address::abstract_name("n"));
        }
    }
}
