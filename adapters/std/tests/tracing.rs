//! With the `tracing` feature, the std listener emits one event per accepted connection
//! and per failed handshake, naming the client, with no key material.

use mpconn_std::{Address, Client, Listener};
use mpconn_test_support::events::Collector;

const KEY: &[u8] = b"tracing test key";

#[test]
fn an_accepted_and_a_failed_client_are_one_event_each_with_the_peer_and_no_key() {
    let (collector, _guard) = Collector::installed();
    let mut listener = Listener::bind(Some(Address::tcp("127.0.0.1", 0)), Some(KEY)).unwrap();
    let address = listener.address().clone();

    let to = address.clone();
    let client = std::thread::spawn(move || Client::connect(&to, Some(KEY)).map(drop));
    listener.accept().unwrap();
    let served = listener.last_accepted().unwrap().to_string();
    client.join().unwrap().unwrap();

    let to = address.clone();
    let wrong = std::thread::spawn(move || Client::connect(&to, Some(b"wrong key")).map(drop));
    let error = listener.accept().unwrap_err();
    assert!(error.is_authentication(), "{error}");
    let failed = listener.last_accepted().unwrap().to_string();
    assert!(wrong.join().unwrap().is_err());

    collector.assert_served_and_failed(KEY, &address.to_string(), &served, &failed, &error);
}
