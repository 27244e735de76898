//! The std, tokio and mio adapters behave alike where mpconn-net decides: every TCP
//! stream has `TCP_NODELAY`, every resolved address is tried, errors name the address,
//! and a full Unix backlog is met with the same policy. Each of these drifted apart
//! while every adapter had its own copy.
//!
//! Unix only while the adapters build only there (issue 13 ports them to Windows).
#![cfg(unix)]

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mpconn_net::{Address, ClientOptions, During, Error, ListenerOptions};

/// Long enough for any honest step here; a hang fails instead of blocking forever.
const LIMIT: Duration = Duration::from_secs(20);

fn nodelay(socket: &impl AsFd) -> bool {
    socket2::SockRef::from(socket).tcp_nodelay().unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn loopback_any_port() -> Address {
    Address::tcp("127.0.0.1", 0)
}

#[test]
fn std_tcp_streams_have_nodelay_on_both_ends() {
    let options = ListenerOptions::new();
    let mut listener =
        mpconn_std::Listener::bind_with(Some(loopback_any_port()), &options).unwrap();
    let address = listener.address().clone();
    let client = std::thread::spawn(move || mpconn_std::Client::connect(&address, None));
    let accepted = listener.accept().unwrap();
    let connected = client.join().unwrap().unwrap();
    assert!(nodelay(&accepted), "accepted end");
    assert!(nodelay(&connected), "connecting end");
}

#[test]
fn tokio_tcp_streams_have_nodelay_on_both_ends() {
    runtime().block_on(async {
        let mut listener = mpconn_tokio::Listener::bind(Some(loopback_any_port()), None)
            .await
            .unwrap();
        let connected = mpconn_tokio::Client::connect(listener.address(), None)
            .await
            .unwrap();
        let accepted = tokio::time::timeout(LIMIT, listener.accept())
            .await
            .unwrap()
            .unwrap();
        assert!(nodelay(accepted.get_ref()), "accepted end");
        assert!(nodelay(connected.get_ref()), "connecting end");
    });
}

#[test]
fn mio_tcp_streams_have_nodelay_on_both_ends() {
    let mut listener = mpconn_mio::Listener::bind(Some(loopback_any_port()), None).unwrap();
    let connected = mpconn_mio::Client::connect(listener.address(), None).unwrap();
    let started = Instant::now();
    let accepted = loop {
        if let Some(accepted) = listener.accept().unwrap() {
            break accepted;
        }
        assert!(started.elapsed() < LIMIT, "nothing to accept");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(nodelay(accepted.get_ref()), "accepted end");
    assert!(nodelay(connected.get_ref()), "connecting end");
}

/// A listening socket, and client options whose resolver gives, for any host, first a
/// loopback port nothing listens on (connecting there is refused), then the listener.
/// The resolver records the host it was asked for.
fn refused_first(host_asked: Arc<Mutex<Vec<String>>>) -> (TcpListener, ClientOptions) {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap();
    let options = ClientOptions::new().timeout(Some(LIMIT)).resolver(
        move |host: &str, _port| -> io::Result<Vec<SocketAddr>> {
            host_asked.lock().unwrap().push(host.to_string());
            Ok(vec![closed, open])
        },
    );
    (listener, options)
}

/// Where a client connected to, seen from the listener's side.
fn peer_of_next_client(listener: &TcpListener) -> SocketAddr {
    listener.accept().unwrap().1
}

#[test]
fn std_tries_the_second_resolved_address_when_the_first_refuses() {
    let asked = Arc::default();
    let (listener, options) = refused_first(Arc::clone(&asked));
    let conn = mpconn_std::Client::connect_with(&Address::tcp("two.example", 1), &options).unwrap();
    let local = socket2::SockRef::from(&conn)
        .local_addr()
        .unwrap()
        .as_socket()
        .unwrap();
    assert_eq!(peer_of_next_client(&listener), local);
    assert_eq!(*asked.lock().unwrap(), ["two.example"]);
}

#[test]
fn tokio_tries_the_second_resolved_address_when_the_first_refuses() {
    let asked = Arc::default();
    let (listener, options) = refused_first(Arc::clone(&asked));
    let conn = runtime()
        .block_on(mpconn_tokio::Client::connect_with(
            &Address::tcp("two.example", 1),
            &options,
        ))
        .unwrap();
    let local = socket2::SockRef::from(conn.get_ref()).local_addr().unwrap();
    assert_eq!(peer_of_next_client(&listener), local.as_socket().unwrap());
    assert_eq!(*asked.lock().unwrap(), ["two.example"]);
}

#[test]
fn mio_tries_the_second_resolved_address_when_the_first_refuses() {
    let asked = Arc::default();
    let (listener, options) = refused_first(Arc::clone(&asked));
    let conn = mpconn_mio::Client::connect_with(&Address::tcp("two.example", 1), &options).unwrap();
    let local = socket2::SockRef::from(conn.get_ref()).local_addr().unwrap();
    assert_eq!(peer_of_next_client(&listener), local.as_socket().unwrap());
    assert_eq!(*asked.lock().unwrap(), ["two.example"]);
}

fn missing_socket() -> Address {
    Address::unix(format!(
        "/tmp/mpconn-drift-missing-{}.sock",
        std::process::id()
    ))
}

/// A TCP port that is taken, and the listener that holds it.
fn taken_port() -> (TcpListener, Address) {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = Address::from(holder.local_addr().unwrap());
    (holder, address)
}

fn assert_names_the_address(error: Error, start: &str, kind: io::ErrorKind) {
    let message = error.to_string();
    assert!(
        message.starts_with(start),
        "{message:?} should start with {start:?}"
    );
    assert!(!message.contains("I/O error"), "{message:?}");
    assert_eq!(io::Error::from(error).kind(), kind, "{message}");
}

/// An adapter's errors name the address they concern: `connect` to a Unix socket that
/// does not exist, `bind` to a TCP port another socket holds.
fn assert_errors_name_the_address(
    connect: impl FnOnce(&Address) -> Error,
    bind: impl FnOnce(Address) -> Error,
) {
    let (_holder, taken) = taken_port();
    let (connect, bind) = (connect(&missing_socket()), bind(taken.clone()));
    let start = format!("connect to {}: ", missing_socket());
    assert_names_the_address(connect, &start, io::ErrorKind::NotFound);
    let start = format!("bind to {taken}: ");
    assert_names_the_address(bind, &start, io::ErrorKind::AddrInUse);
}

#[test]
fn std_errors_name_the_address() {
    assert_errors_name_the_address(
        |missing| mpconn_std::Client::connect(missing, None).unwrap_err(),
        |taken| mpconn_std::Listener::bind(Some(taken), None).unwrap_err(),
    );
}

#[test]
fn tokio_errors_name_the_address() {
    let runtime = runtime();
    assert_errors_name_the_address(
        |missing| {
            let connect = mpconn_tokio::Client::connect(missing, None);
            runtime.block_on(connect).unwrap_err()
        },
        |taken| {
            let bind = mpconn_tokio::Listener::bind(Some(taken), None);
            runtime.block_on(bind).unwrap_err()
        },
    );
}

#[test]
fn mio_errors_name_the_address() {
    assert_errors_name_the_address(
        |missing| mpconn_mio::Client::connect(missing, None).unwrap_err(),
        |taken| mpconn_mio::Listener::bind(Some(taken), None).unwrap_err(),
    );
}

/// A Unix listener with backlog 1 that does not accept, its queue filled by hand: the
/// next non-blocking connect would be refused with `EAGAIN`.
fn full_backlog() -> (mpconn_std::Listener, Vec<socket2::Socket>) {
    let options = ListenerOptions::new().backlog(1);
    let listener = mpconn_std::Listener::bind_with(None, &options).unwrap();
    let addr = socket2::SockAddr::unix(listener.address().path().unwrap()).unwrap();
    let mut queued = Vec::new();
    loop {
        let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None);
        let socket = socket.unwrap();
        socket.set_nonblocking(true).unwrap();
        match socket.connect(&addr) {
            Ok(()) => queued.push(socket),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (listener, queued),
            Err(e) => panic!("filling the backlog: {e}"),
        }
    }
}

/// What a client met at a full backlog: the error's shape, kind and message.
fn outcome(error: Error) -> (String, io::ErrorKind, String) {
    let shape = match &error {
        Error::Timeout {
            during: During::Connect,
            address: Some(_),
        } => "Timeout { during: Connect, address }".to_string(),
        other => format!("{other:?}"),
    };
    let message = error.to_string();
    (shape, io::Error::from(error).kind(), message)
}

#[test]
fn a_full_unix_backlog_times_out_alike_in_every_adapter() {
    let (listener, _queued) = full_backlog();
    let address = listener.address().clone();
    let options = ClientOptions::new().timeout(Some(Duration::from_millis(200)));
    let started = Instant::now();
    let std = mpconn_std::Client::connect_with(&address, &options).unwrap_err();
    let tokio = runtime()
        .block_on(mpconn_tokio::Client::connect_with(&address, &options))
        .unwrap_err();
    let mio = mpconn_mio::Client::connect_with(&address, &options).unwrap_err();
    // Each waited its timeout out rather than failing at once.
    assert!(started.elapsed() >= Duration::from_millis(600));
    let expected = (
        "Timeout { during: Connect, address }".to_string(),
        io::ErrorKind::TimedOut,
        format!("timed out connecting to {address}"),
    );
    assert_eq!(outcome(std), expected, "std");
    assert_eq!(outcome(tokio), expected, "tokio");
    assert_eq!(outcome(mio), expected, "mio");
}

/// Accepts (and closes) every queued connection after `after`, making room.
fn drain_later(mut listener: mpconn_std::Listener, queued: usize, after: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        for _ in 0..=queued {
            drop(listener.accept());
        }
    });
}

#[test]
fn a_full_unix_backlog_is_waited_out_in_every_adapter() {
    let without_timeout = ClientOptions::new();
    for adapter in ["std", "tokio", "mio"] {
        let (listener, queued) = full_backlog();
        let address = listener.address().clone();
        drain_later(listener, queued.len(), Duration::from_millis(100));
        let connected = match adapter {
            "std" => mpconn_std::Client::connect_with(&address, &without_timeout).map(drop),
            "tokio" => runtime()
                .block_on(mpconn_tokio::Client::connect_with(
                    &address,
                    &without_timeout,
                ))
                .map(drop),
            _ => mpconn_mio::Client::connect_with(&address, &without_timeout).map(drop),
        };
        connected.unwrap_or_else(|e| panic!("{adapter}: {e}"));
    }
}
