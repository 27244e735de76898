//! mpconn-std on Windows, Rust to Rust (run under Wine by .ci/run): `AF_PIPE` named
//! pipes and `AF_INET`, with and without an authkey, right and wrong keys, messages of
//! 0 B to 1 MiB, a silent client that does not stall the listener, `pipe`.
//!
//! There is no CPython for Windows on this machine kind, so `AF_PIPE` interop with
//! CPython is not tested here; instead the tests read and write the pipe raw and check
//! each pipe message against what CPython's `PipeConnection` sends: the message itself,
//! one pipe message per message (the handshake's too), no length header.

#![cfg(windows)]

use std::thread;
use std::time::{Duration, Instant};

use mpconn_net::pipe::{PipeListener, PipeStream, Read};
use mpconn_std::{
    pipe, wait, Address, Client, ClientOptions, Family, Listener, ListenerOptions, DEFAULT_BACKLOG,
};

const KEY: &[u8] = b"windows key";

fn soon() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(20))
}

fn sizes() -> Vec<Vec<u8>> {
    [0, 1, 64 * 1024, 1024 * 1024]
        .iter()
        .map(|&n| (0..n).map(|i| (i % 251) as u8).collect())
        .collect()
}

/// A listener of `family` with `key`, serving in a thread: each client gets every
/// message it sends echoed back, until it leaves. Returns the address.
fn echo_listener(family: Family, key: Option<&'static [u8]>, clients: usize) -> Address {
    let options = ListenerOptions::new()
        .family(family)
        .authkey(key)
        .backlog(DEFAULT_BACKLOG);
    let mut listener = Listener::bind_with(None, &options).unwrap();
    let address = listener.address().clone();
    thread::spawn(move || {
        for _ in 0..clients {
            let Ok(mut conn) = listener.accept() else {
                continue;
            };
            thread::spawn(move || {
                while let Ok(message) = conn.recv_bytes(None) {
                    if conn.send_bytes(&message).is_err() {
                        break;
                    }
                }
            });
        }
    });
    address
}

#[test]
fn both_families_with_and_without_a_key_carry_every_size_both_ways() {
    for (family, key) in [
        (Family::Pipe, Some(KEY)),
        (Family::Pipe, None),
        (Family::Inet, Some(KEY)),
        (Family::Inet, None),
    ] {
        let address = echo_listener(family, key, 1);
        assert_eq!(address.family(), family);
        let mut conn = Client::connect(&address, key).unwrap();
        for message in sizes() {
            conn.send_bytes(&message).unwrap();
            let echoed = conn.recv_bytes(None).unwrap();
            assert!(
                echoed == message,
                "{family}, key {}: {} bytes",
                key.is_some(),
                message.len()
            );
        }
    }
}

#[test]
fn a_wrong_key_fails_both_sides_and_the_listener_serves_the_next_client() {
    for family in [Family::Pipe, Family::Inet] {
        let options = ListenerOptions::new().family(family).authkey(Some(KEY));
        let mut listener = Listener::bind_with(None, &options).unwrap();
        let address = listener.address().clone();
        let clients = thread::spawn(move || {
            let wrong = Client::connect(&address, Some(b"wrong")).unwrap_err();
            let mut right = Client::connect(&address, Some(KEY)).unwrap();
            right.send_bytes(b"after").unwrap();
            wrong
        });
        let refused = listener.accept().unwrap_err();
        assert!(refused.is_authentication(), "{family}: {refused}");
        let mut served = listener.accept().unwrap();
        assert_eq!(served.recv_bytes(None).unwrap(), b"after");
        let wrong = clients.join().unwrap();
        assert!(wrong.is_authentication(), "{family}: {wrong}");
    }
}

#[test]
fn a_silent_client_does_not_stall_the_listener() {
    for family in [Family::Pipe, Family::Inet] {
        let options = ListenerOptions::new()
            .family(family)
            .authkey(Some(KEY))
            .handshake_timeout(Some(Duration::from_secs(30)));
        let mut listener = Listener::bind_with(None, &options).unwrap();
        let address = listener.address().clone();
        // Connects and says nothing (holds the connection open).
        let silent = match &address {
            Address::Pipe(name) => Box::new(PipeStream::connect(name, soon()).unwrap())
                as Box<dyn std::fmt::Debug + Send>,
            other => {
                Box::new(std::net::TcpStream::connect(other.to_socket_addrs().unwrap()[0]).unwrap())
            }
        };
        let start = Instant::now();
        let honest = thread::spawn(move || {
            let mut conn = Client::connect(&address, Some(KEY)).unwrap();
            conn.send_bytes(b"served").unwrap();
        });
        let mut served = listener.accept().unwrap();
        assert_eq!(served.recv_bytes(None).unwrap(), b"served");
        honest.join().unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{family}: the honest client waited {:?} behind the silent one",
            start.elapsed()
        );
        drop(silent);
    }
}

#[test]
fn the_listener_speaks_pipe_messages_as_cpython_pipe_connection_does() {
    // A raw pipe client against our keyed listener: the challenge is one pipe message,
    // `#CHALLENGE#{sha256}` and the nonce, with no header in front.
    let address = echo_listener(Family::Pipe, Some(KEY), 1);
    let raw = PipeStream::connect(address.pipe_name().unwrap(), soon()).unwrap();
    let mut buf = vec![0; 256];
    let Read::Message(n) = raw.read(&mut buf, soon()).unwrap() else {
        panic!("one whole message")
    };
    assert!(
        buf[..n].starts_with(b"#CHALLENGE#{sha256}"),
        "{:?}",
        &buf[..n]
    );
    assert_eq!(n, b"#CHALLENGE#{sha256}".len() + 40);
}

#[test]
fn the_client_writes_one_pipe_message_per_message_without_a_header() {
    let name = Address::fresh_pipe().unwrap();
    let raw = PipeListener::bind(name.pipe_name().unwrap()).unwrap();
    let accepting = thread::spawn(move || raw.accept(soon()).unwrap());
    let mut conn = Client::connect(&name, None).unwrap();
    let server = accepting.join().unwrap();
    conn.send_bytes(b"hello").unwrap();
    conn.send_bytes(b"").unwrap();
    let mut buf = vec![0; 64];
    assert_eq!(server.read(&mut buf, soon()).unwrap(), Read::Message(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(server.read(&mut buf, soon()).unwrap(), Read::Message(0));
    // And what such a peer writes arrives as the message it is.
    server.write_message(b"\0\0\0\x05hello", soon()).unwrap();
    assert_eq!(conn.recv_bytes(None).unwrap(), b"\0\0\0\x05hello");
}

#[test]
fn pipes_carry_messages_both_ways_or_one_way() {
    let (mut a, mut b) = pipe(true).unwrap();
    // A message larger than the pipe's buffer is written while the other end reads.
    let echo = thread::spawn(move || {
        for _ in sizes() {
            let message = b.recv_bytes(None).unwrap();
            b.send_bytes(&message).unwrap();
        }
    });
    for message in sizes() {
        a.send_bytes(&message).unwrap();
        assert_eq!(a.recv_bytes(None).unwrap(), message);
    }
    echo.join().unwrap();
    let (mut reader, mut writer) = pipe(false).unwrap();
    assert!(reader.readable() && !reader.writable());
    assert!(writer.writable() && !writer.readable());
    writer.send_bytes(b"one way").unwrap();
    assert_eq!(reader.recv_bytes(None).unwrap(), b"one way");
    assert!(reader.send_bytes(b"no").is_err());
}

#[test]
fn poll_sees_messages_empty_ones_too_and_times_out_without_one() {
    let (mut a, mut b) = pipe(true).unwrap();
    assert!(!b.poll(Some(Duration::from_millis(50))).unwrap());
    a.send_bytes(b"").unwrap();
    assert!(b.poll(Some(Duration::from_secs(5))).unwrap());
    assert!(b.poll(Some(Duration::ZERO)).unwrap(), "still there");
    assert_eq!(b.recv_bytes(None).unwrap(), b"");
    a.send_bytes(b"x").unwrap();
    assert!(b.poll(None).unwrap());
    assert_eq!(b.recv_bytes(None).unwrap(), b"x");
    drop(a);
    assert!(b.poll(Some(Duration::from_secs(5))).unwrap());
    assert!(b.recv_bytes(None).unwrap_err().is_eof());
}

#[test]
fn a_receive_timeout_on_a_pipe_keeps_the_connection_usable() {
    let (mut a, mut b) = pipe(true).unwrap();
    b.set_timeout(Some(Duration::from_millis(100))).unwrap();
    let error = b.recv_bytes(None).unwrap_err();
    assert!(error.is_timeout(), "{error}");
    a.send_bytes(b"late").unwrap();
    assert_eq!(b.recv_bytes(None).unwrap(), b"late");
}

#[test]
fn a_client_with_a_deadline_gives_up_on_a_missing_pipe() {
    let missing: Address = format!(r"\\.\pipe\mpconn-nobody-{}", std::process::id())
        .parse()
        .unwrap();
    let options = ClientOptions::new().timeout(Some(Duration::from_millis(200)));
    let error = Client::connect_with(&missing, &options).unwrap_err();
    assert!(
        error.to_string().contains(r"\\.\pipe\mpconn-nobody-"),
        "{error}"
    );
}

#[test]
fn wait_watches_named_pipes_and_sockets_together() {
    let (mut pipe_a, pipe_b) = pipe(true).unwrap();
    let address = echo_listener(Family::Inet, None, 1);
    let mut tcp = Client::connect(&address, None).unwrap();
    // Nothing yet: the time runs out.
    let start = Instant::now();
    let none = wait(&[&pipe_b, &tcp], Some(Duration::from_millis(100))).unwrap();
    assert!(none.is_empty(), "{none:?}");
    assert!(start.elapsed() >= Duration::from_millis(90));
    // The socket: its echo arrives while wait blocks.
    tcp.send_bytes(b"echo").unwrap();
    assert_eq!(wait(&[&pipe_b, &tcp], soon_timeout()).unwrap(), vec![1]);
    assert_eq!(tcp.recv_bytes(None).unwrap(), b"echo");
    // The pipe, from another thread while wait blocks; an empty message counts.
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        pipe_a.send_bytes(b"").unwrap();
        pipe_a
    });
    assert_eq!(wait(&[&pipe_b, &tcp], soon_timeout()).unwrap(), vec![0]);
    let _pipe_a = writer.join().unwrap();
    let mut pipe_b = pipe_b;
    assert_eq!(pipe_b.recv_bytes(None).unwrap(), b"");
}

fn soon_timeout() -> Option<Duration> {
    Some(Duration::from_secs(20))
}

#[test]
fn wait_sees_a_pipe_listener_with_a_client_to_accept() {
    let options = ListenerOptions::new()
        .family(Family::Pipe)
        .authkey(Some(KEY));
    let mut listener = Listener::bind_with(None, &options).unwrap();
    assert!(wait(&[&listener], Some(Duration::from_millis(50)))
        .unwrap()
        .is_empty());
    let address = listener.address().clone();
    let client = thread::spawn(move || Client::connect(&address, Some(KEY)).unwrap());
    assert_eq!(wait(&[&listener], soon_timeout()).unwrap(), vec![0]);
    let mut served = listener.accept().unwrap();
    let mut client = client.join().unwrap();
    client.send_bytes(b"hi").unwrap();
    assert_eq!(served.recv_bytes(None).unwrap(), b"hi");
}
