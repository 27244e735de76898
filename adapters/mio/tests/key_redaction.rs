//! Key material never reaches debug output: a mio listener that holds an authkey
//! prints only its length.

use mpconn_test_support::assert_redacted;

const KEY: &[u8] = b"correct horse battery staple";

#[test]
fn mio_listener_does_not_print_the_authkey() {
    let options = mpconn_mio::ListenerOptions::new().authkey(Some(KEY));
    let listener =
        mpconn_mio::Listener::bind_with(None, &options).expect("bind a default Unix listener");
    assert_redacted("mpconn_mio::Listener", format!("{listener:?}"), KEY);
}
