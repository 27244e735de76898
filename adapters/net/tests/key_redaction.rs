//! Key material never reaches debug output: the shared options that hold an authkey
//! print only its length (each adapter tests its own listener the same way).

use mpconn_test_support::assert_redacted;

const KEY: &[u8] = b"correct horse battery staple";

#[test]
fn listener_and_client_options_do_not_print_the_authkey() {
    let options = mpconn_net::ListenerOptions::new().authkey(Some(KEY));
    assert_redacted("ListenerOptions", format!("{options:?}"), KEY);
    let client = mpconn_net::ClientOptions::new().authkey(Some(KEY));
    assert_redacted("ClientOptions", format!("{client:?}"), KEY);
}
