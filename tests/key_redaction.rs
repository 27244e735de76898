//! Key material never reaches debug output: every options type and listener that
//! holds an authkey prints only its length.

const KEY: &[u8] = b"correct horse battery staple";

fn assert_redacted(what: &str, debug: String) {
    assert!(
        !debug.contains("correct horse"),
        "{what} leaks the authkey in its Debug output: {debug}"
    );
    assert!(
        !debug.contains(&format!("{:?}", KEY)),
        "{what} leaks the authkey bytes in its Debug output: {debug}"
    );
    assert!(
        debug.contains("redacted"),
        "{what} should say the key is redacted: {debug}"
    );
}

#[test]
fn core_authkey_debug_shows_only_its_length() {
    let key = mpconn::AuthKey::new(KEY);
    assert_eq!(
        format!("{key:?}"),
        format!("AuthKey({} bytes, redacted)", KEY.len())
    );
}

#[test]
fn std_options_and_listener_do_not_print_the_authkey() {
    let options = mpconn_std::ListenerOptions::new().authkey(Some(KEY));
    assert_redacted("mpconn_std::ListenerOptions", format!("{options:?}"));
    let listener =
        mpconn_std::Listener::bind_with(None, &options).expect("bind a default Unix listener");
    assert_redacted("mpconn_std::Listener", format!("{listener:?}"));
    let client = mpconn_std::ClientOptions::new().authkey(Some(KEY));
    assert_redacted("mpconn_std::ClientOptions", format!("{client:?}"));
}

#[test]
fn tokio_and_mio_options_do_not_print_the_authkey() {
    let options = mpconn_tokio::ListenerOptions::new().authkey(Some(KEY));
    assert_redacted("mpconn_tokio::ListenerOptions", format!("{options:?}"));
    let client = mpconn_tokio::ClientOptions::new().authkey(Some(KEY));
    assert_redacted("mpconn_tokio::ClientOptions", format!("{client:?}"));
    let options = mpconn_mio::ListenerOptions::new().authkey(Some(KEY));
    assert_redacted("mpconn_mio::ListenerOptions", format!("{options:?}"));
    let client = mpconn_mio::ClientOptions::new().authkey(Some(KEY));
    assert_redacted("mpconn_mio::ClientOptions", format!("{client:?}"));
}
