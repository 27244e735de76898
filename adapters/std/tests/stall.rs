//! No client can stall the blocking `Listener` or hang a `Client`, with real sockets on
//! loopback: silent, slowloris and re-opening attackers do not delay an honest
//! CPython client, a burst of simultaneous connects is served whole with the default
//! options, and a client finds out that its listener and it disagree about the key.

mod common;

use std::thread::JoinHandle;
use std::time::Duration;

use mpconn_std::{Address, Client, ClientOptions, Error, Listener, ListenerOptions};
use mpconn_test_support::attack::{assert_burst_served, Attackers, Overflows};
use mpconn_test_support::{attack, python};

const KEY: &str = "stall test key";

/// Serves clients until `served` of them passed the handshake, each echoed on its own
/// thread; returns how many failed meanwhile (only clients' failures are allowed).
fn echo_server(mut listener: Listener, served: usize) -> JoinHandle<usize> {
    std::thread::spawn(move || {
        let (mut ok, mut failed) = (0, 0);
        while ok < served {
            match listener.accept() {
                Ok(mut conn) => {
                    ok += 1;
                    std::thread::spawn(move || {
                        while let Ok(message) = conn.recv_bytes(None) {
                            if conn.send_bytes(&message).is_err() {
                                break;
                            }
                        }
                    });
                }
                Err(e) if e.is_client_failure() => failed += 1,
                Err(e) => panic!("the listener itself failed: {e}"),
            }
        }
        failed
    })
}

fn keyed_listener(handshake_timeout: Duration) -> Listener {
    Listener::bind_with(
        Some(Address::tcp("127.0.0.1", 0)),
        &ListenerOptions::new()
            .authkey(Some(KEY.as_bytes()))
            .handshake_timeout(Some(handshake_timeout)),
    )
    .unwrap()
}

/// An honest CPython client is served at once by a keyed echo listener while
/// `attackers` run against it, and the listener drops them.
fn honest_client_is_served_at_once(attackers: Attackers) {
    let Some(python) = python(3, 13) else { return };
    let listener = keyed_listener(attackers.handshake_timeout());
    let address = listener.address().to_string();
    let server = echo_server(listener, 1);
    let attack = attackers.assert_honest_client_served(&python, &address, KEY, "std Listener");
    attackers.assert_dropped(server.join().unwrap());
    drop(attack);
}

mpconn_test_support::honest_client_tests!(honest_client_is_served_at_once);

#[test]
fn a_burst_of_1000_simultaneous_connects_is_served_whole_with_default_options() {
    let listener = Listener::bind(Some(Address::tcp("127.0.0.1", 0)), None).unwrap();
    let address = listener.address().to_string();
    let server = echo_server(listener, 1000);
    assert_burst_served("std Listener", &address, 1000, Overflows::MustNotGrow);
    assert_eq!(server.join().unwrap(), 0);
}

#[test]
fn keyed_client_against_a_keyless_cpython_listener_fails_within_its_handshake_timeout() {
    let Some(python) = python(3, 13) else { return };
    let (listener, port) = attack::keyless_cpython_listener(&python);
    let error = Client::connect_with(
        &Address::tcp("127.0.0.1", port),
        &ClientOptions::new()
            .authkey(Some(KEY.as_bytes()))
            .handshake_timeout(Some(Duration::from_secs(1))),
    )
    .unwrap_err();
    assert!(matches!(error, Error::NoChallenge { .. }), "{error:?}");
    let expected = format!("127.0.0.1:{port}: {}", attack::NO_CHALLENGE_IN_1_S);
    assert_eq!(error.to_string(), expected);
    listener.finish().unwrap();
}

#[test]
fn keyless_client_takes_a_keyed_listeners_challenge_for_no_reply() {
    let mut listener = keyed_listener(Duration::from_secs(5));
    let address = listener.address().clone();
    let server = std::thread::spawn(move || listener.accept().map(|_| ()));
    let mut conn = mpconn_std::Client::connect(&address, None).unwrap();
    conn.send_bytes(b"hi").unwrap();
    let error = conn.recv_bytes(None).unwrap_err();
    assert!(matches!(error, Error::AuthkeyWanted { .. }), "{error:?}");
    assert!(error.to_string().contains("the listener wants an authkey"));
    assert!(server.join().unwrap().unwrap_err().is_authentication());
}

#[test]
fn wait_sees_a_handshake_left_under_way_by_the_last_accept() {
    let mut listener = keyed_listener(Duration::from_secs(20));
    let address = listener.address().clone();
    // A client that says nothing for now: accepted first, it is under way when the
    // honest client after it is returned.
    let mut slow = std::net::TcpStream::connect(address.to_string()).unwrap();
    let honest = std::thread::spawn(move || {
        mpconn_std::Client::connect(&address, Some(KEY.as_bytes())).map(|_| ())
    });
    listener.accept().unwrap();
    honest.join().unwrap().unwrap();
    // Now it answers (wrongly): only its descriptor, not the listening socket's, sees
    // it, and the listener must be ready for its accept.
    std::io::Write::write_all(&mut slow, &[0, 0, 0, 1, 0]).unwrap();
    let ready = mpconn_std::wait(&[&listener], Some(Duration::from_secs(10))).unwrap();
    assert_eq!(
        ready,
        [0],
        "wait did not see the handshake under way move on"
    );
    assert!(listener.accept().unwrap_err().is_authentication());
}
