//! Key material never reaches debug output: a tokio listener (whose key lives in its
//! accept task, not in the `Listener`) prints none of it.

const KEY: &[u8] = b"correct horse battery staple";

#[tokio::test]
async fn tokio_listener_does_not_print_the_authkey() {
    let options = mpconn_tokio::ListenerOptions::new().authkey(Some(KEY));
    let listener = mpconn_tokio::Listener::bind_with(None, &options)
        .await
        .expect("bind a default Unix listener");
    let debug = format!("{listener:?}");
    assert!(!debug.contains("correct horse"), "{debug}");
    assert!(!debug.contains(&format!("{KEY:?}")), "{debug}");
}
