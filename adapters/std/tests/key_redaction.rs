//! Key material never reaches debug output: the std options and listener that hold
//! an authkey print only its length.

use mpconn_test_support::assert_redacted;

const KEY: &[u8] = b"correct horse battery staple";

#[test]
fn std_options_and_listener_do_not_print_the_authkey() {
    let options = mpconn_std::ListenerOptions::new().authkey(Some(KEY));
    assert_redacted("mpconn_std::ListenerOptions", format!("{options:?}"), KEY);
    let listener = options.bind(None).expect("bind a default Unix listener");
    assert_redacted("mpconn_std::Listener", format!("{listener:?}"), KEY);
    let client = mpconn_std::ClientOptions::new().authkey(Some(KEY));
    assert_redacted("mpconn_std::ClientOptions", format!("{client:?}"), KEY);
}
