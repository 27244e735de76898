//! No client can stall the mio `Listener` (driven by the `echo_loop` example) or hang
//! a `Client`, with real sockets on loopback: silent, slowloris and re-opening
//! attackers do not delay an honest CPython client, the pending limit holds clients
//! back without losing them, bursts of simultaneous connects are served whole with the
//! default options, and a keyed client gives up on a keyless listener with a reason.

// Unix only: its attackers (mpconn_test_support::attack) read /proc and use Unix sockets.
#![cfg(unix)]

mod common;
#[allow(dead_code)] // its main() is for `cargo run --example`, not for this test
#[path = "../examples/echo_loop.rs"]
mod echo_loop;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::registered;
use echo_loop::{EchoLoop, Note};
use mpconn_mio::mio::Events;
use mpconn_mio::{Address, Client, ClientOptions, Error, Listener, ListenerOptions};
use mpconn_test_support::attack::{
    assert_burst_served, honest_cpython_client, Attack, Attackers, Overflows,
};
use mpconn_test_support::{attack, python};

const KEY: &str = "stall test key";

/// The echo loop on its own thread until dropped; counts what it saw.
struct Server {
    stop: Arc<AtomicBool>,
    notes: Arc<Mutex<(usize, usize)>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(listener: Listener, handshake_timeout: Duration) -> Server {
        let stop = Arc::new(AtomicBool::new(false));
        let notes = Arc::new(Mutex::new((0, 0)));
        let (flag, counts) = (stop.clone(), notes.clone());
        let thread = std::thread::spawn(move || {
            let mut server = EchoLoop::new(listener, handshake_timeout).unwrap();
            server
                .run_until(
                    Duration::from_millis(20),
                    || flag.load(Ordering::Relaxed),
                    |note| {
                        let mut counts = counts.lock().unwrap();
                        match note {
                            Note::Established(_) => counts.0 += 1,
                            Note::Dropped(..) => counts.1 += 1,
                            _ => {}
                        }
                    },
                )
                .unwrap();
        });
        Server {
            stop,
            notes,
            thread: Some(thread),
        }
    }

    /// Handshakes that succeeded and clients dropped, so far.
    fn counts(&self) -> (usize, usize) {
        *self.notes.lock().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn keyed_listener(options: ListenerOptions) -> Listener {
    Listener::bind_with(
        Some(Address::tcp("127.0.0.1", 0)),
        &options.authkey(Some(KEY.as_bytes())),
    )
    .unwrap()
}

/// An honest CPython client is served at once by a keyed echo loop while `attackers`
/// run against it, and the loop drops them.
fn honest_client_is_served_at_once(attackers: Attackers) {
    let Some(python) = python(3, 13) else { return };
    let timeout = attackers.handshake_timeout();
    let listener = keyed_listener(ListenerOptions::new().handshake_timeout(Some(timeout)));
    let address = listener.address().to_string();
    let server = Server::start(listener, timeout);
    let attack = attackers.assert_honest_client_served(&python, &address, KEY, "mio Listener");
    let (_, dropped) = server.counts();
    attackers.assert_dropped(dropped);
    drop(attack);
    drop(server);
}

mpconn_test_support::honest_client_tests!(honest_client_is_served_at_once);

#[test]
fn at_the_pending_limit_clients_wait_in_the_queue_and_are_served_when_a_place_frees() {
    let Some(python) = python(3, 13) else { return };
    // Two places, both taken by silent clients for 300 ms; the honest client waits in
    // the listen queue, and the loop is told of it again when a place frees (without
    // that, an edge-triggered loop would never accept it).
    let timeout = Duration::from_millis(300);
    let options = ListenerOptions::new()
        .handshake_timeout(Some(timeout))
        .pending_limit(2);
    let listener = keyed_listener(options);
    let address = listener.address().to_string();
    let server = Server::start(listener, timeout);
    let attack = Attack::start(&address, 2, 0, 0, Duration::from_millis(50)).unwrap();
    honest_cpython_client(&python, &address, Some(KEY)).unwrap();
    assert_eq!(server.counts(), (1, 2), "(served, dropped)");
    drop(attack);
}

fn burst_with_default_options(n: usize, overflows: Overflows) {
    let listener = Listener::bind(Some(Address::tcp("127.0.0.1", 0)), None).unwrap();
    let address = listener.address().to_string();
    let server = Server::start(listener, Duration::from_secs(20));
    assert_burst_served("mio Listener", &address, n, overflows);
    drop(server);
}

#[test]
fn a_burst_of_1000_simultaneous_connects_is_served_whole_with_default_options() {
    burst_with_default_options(1000, Overflows::MustNotGrow);
}

#[test]
fn a_burst_of_5000_simultaneous_connects_is_served_whole_with_default_options() {
    // More than the largest queue Linux allows (4096): served whole, overflow or not.
    burst_with_default_options(5000, Overflows::Printed);
}

#[test]
fn keyed_client_against_a_keyless_cpython_listener_fails_within_its_handshake_timeout() {
    let Some(python) = python(3, 13) else { return };
    let (listener, port) = attack::keyless_cpython_listener(&python);
    let (mut poll, mut connection) = registered(
        Client::connect_with(
            &Address::tcp("127.0.0.1", port),
            &ClientOptions::new()
                .authkey(Some(KEY.as_bytes()))
                .handshake_timeout(Some(Duration::from_secs(1))),
        )
        .unwrap(),
    );
    let mut events = Events::with_capacity(8);
    // Bounded: the deadline is 1 s away, and each turn waits until it at most.
    let error = (0..1000)
        .find_map(|_| {
            let wait = connection
                .handshake_deadline()
                .map(|deadline| deadline.saturating_duration_since(Instant::now()));
            poll.poll(&mut events, wait).unwrap();
            connection.recv_bytes(None).err()
        })
        .expect("the client never gave up");
    assert!(matches!(error, Error::NoChallenge { .. }), "{error:?}");
    assert_eq!(error.to_string(), attack::NO_CHALLENGE_IN_1_S);
    drop(connection);
    listener.finish().unwrap();
}

#[test]
fn keyless_client_takes_a_keyed_listeners_challenge_for_no_reply() {
    let listener = keyed_listener(ListenerOptions::new());
    let address = listener.address().clone();
    let server = Server::start(listener, Duration::from_secs(5));
    let (mut poll, mut connection) =
        registered(mpconn_mio::Client::connect(&address, None).unwrap());
    connection.send_bytes(b"hi").unwrap();
    let mut events = Events::with_capacity(8);
    // Bounded: each turn waits 100 ms at most, and the challenge comes at once.
    let outcome = (0..100)
        .find_map(|_| {
            poll.poll(&mut events, Some(Duration::from_millis(100)))
                .unwrap();
            if let Err(error) = connection.flush() {
                return Some(Err(error));
            }
            connection.recv_bytes(None).transpose()
        })
        .expect("no reply and no error");
    let error = outcome.unwrap_err();
    assert!(matches!(error, Error::AuthkeyWanted { .. }), "{error:?}");
    assert!(error.to_string().contains("the listener wants an authkey"));
    drop(server);
}
