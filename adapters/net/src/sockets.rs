//! The two-variant socket enums every adapter declares for its runtime's types (a TCP
//! and a Unix stream, a TCP and a Unix listener), written once as macros. Off Unix the
//! Unix variant is left out, and a declared `Pipe` variant (a Windows named pipe) is
//! there on Windows only.

/// Declares an enum of a TCP and a Unix socket, `Tcp(..)` and `Unix(..)`, with `From`
/// for each and `AsFd` / `AsRawFd` that pass through: what every adapter's `Stream`
/// and listener types are, over its runtime's socket types. Methods that pass through
/// to either socket are written with [`each_socket!`](crate::each_socket).
///
/// ```
/// use std::net::TcpStream;
/// use std::os::unix::net::UnixStream;
///
/// mpconn_net::socket_enum! {
///     /// A connected socket of either family.
///     #[derive(Debug)]
///     pub enum Stream {
///         Tcp(TcpStream),
///         Unix(UnixStream),
///     }
/// }
///
/// let (a, _b) = UnixStream::pair()?;
/// let stream = Stream::from(a);
/// assert!(matches!(stream, Stream::Unix(_)));
/// # Ok::<(), std::io::Error>(())
/// ```
#[macro_export]
macro_rules! socket_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            Tcp($tcp:ty),
            Unix($unix:ty)
            $(, Pipe($pipe:ty))? $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            /// `AF_INET` / `AF_INET6`.
            Tcp($tcp),
            /// `AF_UNIX`, a path or a Linux abstract name.
            #[cfg(unix)]
            Unix($unix),
            $(
                /// `AF_PIPE`, a Windows named pipe.
                #[cfg(windows)]
                Pipe($pipe),
            )?
        }

        impl ::core::convert::From<$tcp> for $name {
            fn from(socket: $tcp) -> Self {
                $name::Tcp(socket)
            }
        }

        #[cfg(unix)]
        impl ::core::convert::From<$unix> for $name {
            fn from(socket: $unix) -> Self {
                $name::Unix(socket)
            }
        }

        $(
            #[cfg(windows)]
            impl ::core::convert::From<$pipe> for $name {
                fn from(pipe: $pipe) -> Self {
                    $name::Pipe(pipe)
                }
            }

            impl $name {
                /// True for `AF_PIPE`, a Windows named pipe, which frames the messages
                /// itself (its core runs on `mpconn::Transport::Messages`); always false
                /// off Windows.
                #[allow(dead_code)]
                $vis fn is_pipe(&self) -> bool {
                    #[cfg(windows)]
                    {
                        // (The pipe's type, named for the macro's repetition.)
                        let pipe: ::core::option::Option<&$pipe> = match self {
                            $name::Pipe(pipe) => Some(pipe),
                            _ => None,
                        };
                        if pipe.is_some() {
                            return true;
                        }
                    }
                    false
                }
            }
        )?

        #[cfg(unix)]
        impl ::std::os::fd::AsFd for $name {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                $crate::each_socket!(self, socket => ::std::os::fd::AsFd::as_fd(socket))
            }
        }

        #[cfg(unix)]
        impl ::std::os::fd::AsRawFd for $name {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                $crate::each_socket!(self, socket => ::std::os::fd::AsRawFd::as_raw_fd(socket))
            }
        }
    };
}

/// Runs the same expression on whichever socket a [`socket_enum!`](crate::socket_enum)
/// value holds, inside one of its `impl` blocks: `each_socket!(self, s => s.write(buf))`.
/// An enum with a `Pipe` variant names what a pipe does after the sockets' expression:
/// `each_socket!(self, s => s.write(buf), pipe p => p.write_message(buf, None))`.
///
/// ```
/// use std::io::{self, Write};
/// use std::net::TcpStream;
/// use std::os::unix::net::UnixStream;
///
/// mpconn_net::socket_enum! {
///     pub enum Stream {
///         Tcp(TcpStream),
///         Unix(UnixStream),
///     }
/// }
///
/// impl Stream {
///     fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
///         mpconn_net::each_socket!(self, socket => socket.write_all(bytes))
///     }
/// }
///
/// let (a, _b) = UnixStream::pair()?;
/// Stream::Unix(a).send(b"hello")?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[macro_export]
macro_rules! each_socket {
    ($value:expr, $socket:ident => $body:expr) => {
        match $value {
            Self::Tcp($socket) => $body,
            #[cfg(unix)]
            Self::Unix($socket) => $body,
        }
    };
    ($value:expr, $socket:ident => $body:expr, pipe $pipe:ident => $pipe_body:expr) => {
        match $value {
            Self::Tcp($socket) => $body,
            #[cfg(unix)]
            Self::Unix($socket) => $body,
            #[cfg(windows)]
            Self::Pipe($pipe) => $pipe_body,
        }
    };
}
