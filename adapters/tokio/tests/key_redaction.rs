//! Key material never reaches debug output: the tokio options that hold an authkey
//! print only its length.

use mpconn_test_support::assert_redacted;

const KEY: &[u8] = b"correct horse battery staple";

#[test]
fn tokio_options_do_not_print_the_authkey() {
    let options = mpconn_tokio::ListenerOptions::new().authkey(Some(KEY));
    assert_redacted("mpconn_tokio::ListenerOptions", format!("{options:?}"), KEY);
    let client = mpconn_tokio::ClientOptions::new().authkey(Some(KEY));
    assert_redacted("mpconn_tokio::ClientOptions", format!("{client:?}"), KEY);
}
