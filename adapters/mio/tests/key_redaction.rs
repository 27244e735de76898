//! Key material never reaches debug output: the mio options that hold an authkey
//! print only its length.

use mpconn_test_support::assert_redacted;

const KEY: &[u8] = b"correct horse battery staple";

#[test]
fn mio_options_do_not_print_the_authkey() {
    let options = mpconn_mio::ListenerOptions::new().authkey(Some(KEY));
    assert_redacted("mpconn_mio::ListenerOptions", format!("{options:?}"), KEY);
    let client = mpconn_mio::ClientOptions::new().authkey(Some(KEY));
    assert_redacted("mpconn_mio::ClientOptions", format!("{client:?}"), KEY);
}
