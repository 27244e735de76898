//! Key material never reaches debug output: a mio listener that holds an authkey
//! prints only its length.

mpconn_test_support::listener_redaction_test!(mio_listener_does_not_print_the_authkey, mpconn_mio);
