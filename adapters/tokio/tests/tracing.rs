//! With the `tracing` feature, the tokio listener emits one event per accepted
//! connection and per failed handshake, naming the client, with no key material.

use mpconn_test_support::events::Collector;
use mpconn_tokio::{Address, Client, Listener};

const KEY: &[u8] = b"tracing test key";

// A current-thread runtime: the handshake tasks run on the thread the collector is
// installed on.
#[tokio::test(flavor = "current_thread")]
async fn an_accepted_and_a_failed_client_are_one_event_each_with_the_peer_and_no_key() {
    let (collector, _guard) = Collector::installed();
    let mut listener = Listener::bind(Some(Address::tcp("127.0.0.1", 0)), Some(KEY))
        .await
        .unwrap();
    let address = listener.address().clone();

    let to = address.clone();
    let client = tokio::spawn(async move { Client::connect(&to, Some(KEY)).await.map(drop) });
    listener.accept().await.unwrap();
    let served = listener.last_accepted().unwrap().to_string();
    client.await.unwrap().unwrap();

    let to = address.clone();
    let wrong =
        tokio::spawn(async move { Client::connect(&to, Some(b"wrong key")).await.map(drop) });
    let error = listener.accept().await.unwrap_err();
    assert!(error.is_authentication(), "{error}");
    let failed = listener.last_accepted().unwrap().to_string();
    assert!(wrong.await.unwrap().is_err());

    collector.assert_served_and_failed(KEY, &address.to_string(), &served, &failed, &error);
}
