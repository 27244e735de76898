//! Shared by the std adapter's integration tests: the CPython helpers of
//! `mpconn-test-support`, and an accept that cannot hang.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mpconn_std::{wait, Connection, Listener};
pub use mpconn_test_support::{
    check, pattern, python, pythons, script_path as script, Failures, Peer, Program, Python,
    Reaped, LIMIT,
};

/// Accepts within [`LIMIT`], so a peer that died cannot hang the test.
pub fn accept(listener: &mut Listener) -> mpconn_std::Result<Connection> {
    if wait(&[&*listener], Some(LIMIT))?.is_empty() {
        return Err(mpconn_std::Error::Timeout {
            during: mpconn_std::During::Accept,
            address: Some(listener.address().clone()),
        });
    }
    listener.accept()
}

/// Builds the `mpconn` tool (with `--pickle` support) once, and returns its path. It
/// is a binary of `mpconn-std`, which cargo does not build for integration tests of
/// the library: this runs `cargo build` for it, into the same target directory.
pub fn mpconn() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        // Cargo tells its test processes where it is; the test binary lives in
        // <target>/<profile>/deps, the tool goes to <target>/<profile>.
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet", "-p", "mpconn-std", "--bin", "mpconn"])
            .args(["--features", "pickle"]);
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>/deps/<test>");
        build.env("CARGO_TARGET_DIR", profile_dir.parent().expect("<target>"));
        if let Err(why) = Peer::start("cargo build mpconn".into(), build).finish() {
            panic!("building the mpconn tool failed: {why}");
        }
        profile_dir.join("mpconn")
    })
}

/// `mpconn args...` with the key in the environment (or none), output captured.
pub fn start(args: &[&str], key: Option<&str>) -> Peer {
    let mut command = Command::new(mpconn());
    command.args(args).env_remove("MPCONN_AUTHKEY");
    if let Some(key) = key {
        command.env("MPCONN_AUTHKEY", key);
    }
    Peer::start(format!("mpconn {}", args.join(" ")), command)
}
