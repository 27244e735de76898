//! Key material never reaches debug output: a std listener that holds an authkey
//! prints only its length.

use mpconn_test_support::assert_redacted;

const KEY: &[u8] = b"correct horse battery staple";

#[test]
fn std_listener_does_not_print_the_authkey() {
    let options = mpconn_std::ListenerOptions::new().authkey(Some(KEY));
    let listener =
        mpconn_std::Listener::bind_with(None, &options).expect("bind a default Unix listener");
    assert_redacted("mpconn_std::Listener", format!("{listener:?}"), KEY);
}
