//! Key material never reaches debug output: a tokio listener that holds an authkey
//! prints only its length.

use mpconn_test_support::assert_redacted;

const KEY: &[u8] = b"correct horse battery staple";

#[tokio::test]
async fn tokio_listener_does_not_print_the_authkey() {
    let options = mpconn_tokio::ListenerOptions::new().authkey(Some(KEY));
    let listener = mpconn_tokio::Listener::bind_with(None, &options)
        .await
        .expect("bind a default Unix listener");
    assert_redacted("mpconn_tokio::Listener", format!("{listener:?}"), KEY);
}
