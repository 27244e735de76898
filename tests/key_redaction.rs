//! Key material never reaches debug output: the core's key type prints only its
//! length (each adapter tests its own options and listener the same way).

const KEY: &[u8] = b"correct horse battery staple";

#[test]
fn core_authkey_debug_shows_only_its_length() {
    let key = mpconn::AuthKey::new(KEY);
    assert_eq!(
        format!("{key:?}"),
        format!("AuthKey({} bytes, redacted)", KEY.len())
    );
}
