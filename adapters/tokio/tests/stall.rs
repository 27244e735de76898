//! No client can stall the tokio `Listener` or hang a `Client`, with real sockets on
//! loopback: silent, slowloris and re-opening attackers do not delay an honest
//! CPython client, bursts of simultaneous connects are served whole with the default
//! options, and a keyed client gives up on a keyless listener with a reason.

use std::time::Duration;

use mpconn_test_support::attack::{assert_burst_served, Attackers, Overflows};
use mpconn_test_support::{attack, python};
use mpconn_tokio::{Address, Client, ClientOptions, Error, Listener, ListenerOptions};
use tokio::task::JoinHandle;

const KEY: &str = "stall test key";

/// Accepts and echoes until `served` clients passed the handshake; returns how many
/// failed meanwhile.
fn echo_server(mut listener: Listener, served: usize) -> JoinHandle<usize> {
    tokio::spawn(async move {
        let (mut ok, mut failed) = (0, 0);
        while ok < served {
            match listener.accept().await {
                Ok(mut conn) => {
                    ok += 1;
                    tokio::spawn(async move {
                        while let Ok(message) = conn.recv_bytes(None).await {
                            if conn.send_bytes(&message).await.is_err() {
                                break;
                            }
                        }
                    });
                }
                Err(Error::ListenerClosed) => panic!("the listener closed"),
                Err(_) => failed += 1,
            }
        }
        failed
    })
}

async fn keyed_listener(handshake_timeout: Duration) -> Listener {
    Listener::bind_with(
        Some(Address::tcp("127.0.0.1", 0)),
        &ListenerOptions::new()
            .authkey(Some(KEY.as_bytes()))
            .handshake_timeout(Some(handshake_timeout)),
    )
    .await
    .unwrap()
}

/// Runs blocking test code (attackers, CPython) beside the runtime's tasks.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// An honest CPython client is served at once by a keyed echo listener while
/// `attackers` run against it, and the listener drops them.
async fn honest_client_is_served_at_once(attackers: Attackers) {
    let Some(python) = python(3, 13) else { return };
    let listener = keyed_listener(attackers.handshake_timeout()).await;
    let address = listener.address().to_string();
    let server = echo_server(listener, 1);
    let attack = blocking(move || {
        attackers.assert_honest_client_served(&python, &address, KEY, "tokio Listener")
    })
    .await;
    attackers.assert_dropped(server.await.unwrap());
    drop(attack);
}

mpconn_test_support::honest_client_tests!(
    async #[tokio::test(flavor = "multi_thread", worker_threads = 2)] honest_client_is_served_at_once
);

async fn burst_with_default_options(n: usize, overflows: Overflows) {
    let listener = Listener::bind(Some(Address::tcp("127.0.0.1", 0)), None)
        .await
        .unwrap();
    let address = listener.address().to_string();
    let server = echo_server(listener, n);
    blocking(move || assert_burst_served("tokio Listener", &address, n, overflows)).await;
    assert_eq!(server.await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_1000_simultaneous_connects_is_served_whole_with_default_options() {
    burst_with_default_options(1000, Overflows::MustNotGrow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_5000_simultaneous_connects_is_served_whole_with_default_options() {
    // More than the largest queue Linux allows (4096): served whole, overflow or not.
    burst_with_default_options(5000, Overflows::Printed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_client_against_a_keyless_cpython_listener_fails_within_its_handshake_timeout() {
    let Some(python) = python(3, 13) else { return };
    let (listener, port) = blocking(move || attack::keyless_cpython_listener(&python)).await;
    let error = Client::connect_with(
        &Address::tcp("127.0.0.1", port),
        &ClientOptions::new()
            .authkey(Some(KEY.as_bytes()))
            .handshake_timeout(Some(Duration::from_secs(1))),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::NoChallenge { .. }), "{error:?}");
    let expected = format!("127.0.0.1:{port}: {}", attack::NO_CHALLENGE_IN_1_S);
    assert_eq!(error.to_string(), expected);
    blocking(move || listener.finish().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_client_takes_a_keyed_listeners_challenge_for_no_reply() {
    let mut listener = keyed_listener(Duration::from_secs(5)).await;
    let address = listener.address().clone();
    let server = tokio::spawn(async move { listener.accept().await.map(|_| ()) });
    let mut conn = mpconn_tokio::Client::connect(&address, None).await.unwrap();
    conn.send_bytes(b"hi").await.unwrap();
    let error = conn.recv_bytes(None).await.unwrap_err();
    assert!(matches!(error, Error::AuthkeyWanted { .. }), "{error:?}");
    assert!(error.to_string().contains("the listener wants an authkey"));
    assert!(server.await.unwrap().unwrap_err().is_authentication());
}

#[tokio::test]
async fn keyless_client_turned_into_a_framed_refuses_a_challenge_as_its_first_message() {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;

    let (ours, mut listener) = tokio::net::UnixStream::pair().unwrap();
    let client = mpconn_tokio::Connection::client(ours, None, &Default::default())
        .await
        .unwrap();
    let mut framed = client.into_framed().unwrap();
    let mut challenge = b"#CHALLENGE#{sha256}".to_vec();
    challenge.extend_from_slice(&[7; 32]);
    let mut wire = (challenge.len() as u32).to_be_bytes().to_vec();
    wire.extend_from_slice(&challenge);
    listener.write_all(&wire).await.unwrap();
    let error = framed.next().await.unwrap().unwrap_err();
    assert!(matches!(error, Error::AuthkeyWanted { .. }), "{error:?}");
}
