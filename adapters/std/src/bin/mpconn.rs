//! `mpconn`: a `multiprocessing.connection` listener and client for the command line.
//!
//! Arguments are parsed by hand: two subcommands and a handful of flags do not need a
//! parser crate, and the tool keeps the library's short dependency list.

use std::ffi::OsString;
use std::io::{BufRead, Write};
#[cfg(unix)]
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use mpconn_std::{Address, Client, ClientOptions, Connection, Family, Listener, ListenerOptions};
#[cfg(unix)]
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
#[cfg(unix)]
use signal_hook::iterator::Signals;

const USAGE: &str = "\
mpconn: Python's multiprocessing.connection from the command line

USAGE:
    mpconn listen [ADDRESS] [OPTIONS]
        Bind (default: a fresh Unix socket in a private temporary directory; port 0
        binds any free port), print the bound address as the first line of stdout,
        then serve clients one after another, printing each message received, one
        per line. A failed handshake is reported on stderr and serving goes on.
    mpconn send ADDRESS [MESSAGE...] [OPTIONS]
        Connect, send each MESSAGE and, with --echo, print each reply. Without a
        MESSAGE, each line of stdin is one message (its newline, or CR LF, dropped),
        sent as it is read, until end of input.

    SIGINT, SIGTERM and SIGHUP make `listen` remove its socket file (and the private
    directory of a default address) and exit with status 128 + the signal's number.

ADDRESS:
    host:port, [IPv6]:port, a Unix socket path, or @name (a Linux abstract name)

OPTIONS:
    --echo                  listen: send each message back; send: print each reply
    --pickle                messages travel pickled (CPython's Connection.send /
                            recv): received ones are shown as Python's repr shows
                            them, and MESSAGEs are Python literals: None, True,
                            ints of any size, floats, 'str', b'bytes', tuples,
                            lists, dicts, sets, as in {\"a\": (1, 2), 3: {1, 2}}
                            (from stdin one a line, blank lines skipped)
    --protocol N            pickle protocol to send, 0 to 5: 3 (default, every
                            CPython 3), 2 for Python 2.7
    --authkey-file PATH     read the authkey from PATH (one trailing newline is
                            dropped); otherwise from the environment variable
                            MPCONN_AUTHKEY. No key: no handshake, as in CPython.
    --clients N             listen: exit after serving N clients (those that passed
                            the handshake), removing the socket file
    --timeout SECONDS       listen: handshake timeout (default 20); send: limit on
                            connecting, the handshake and each reply (default none,
                            and 20 for the handshake). More than 0.
    -h, --help              show this help
    -V, --version           show mpconn's version

Messages are shown as text: printable ASCII and UTF-8 as is, a backslash as \\\\,
other bytes as \\xNN. The authkey is never taken from the command line.
";

/// The second line of every usage error (exit status 2).
const TRY_HELP: &str = "try 'mpconn --help'";

/// What went wrong, and the exit code that says so.
enum Failure {
    Usage(String),
    Run(String),
}

type Outcome<T = ()> = Result<T, Failure>;

fn run_error(what: impl std::fmt::Display) -> Failure {
    Failure::Run(what.to_string())
}

#[derive(Debug, Default)]
struct Options {
    echo: bool,
    pickle: bool,
    /// The pickle protocol to send, 0 to 5 (3 when not given).
    protocol: Option<u8>,
    authkey_file: Option<PathBuf>,
    clients: Option<u64>,
    timeout: Option<Duration>,
    positional: Vec<OsString>,
}

fn parse(args: impl Iterator<Item = OsString>) -> Outcome<Options> {
    let mut options = Options::default();
    let mut args = args.peekable();
    let mut only_positional = false;
    while let Some(arg) = args.next() {
        let text = arg.to_str().unwrap_or("");
        if only_positional || !text.starts_with("--") {
            options.positional.push(arg);
            continue;
        }
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| Failure::Usage(format!("{name} needs a value")))
        };
        match text {
            "--" => only_positional = true,
            "--echo" => options.echo = true,
            "--pickle" => options.pickle = true,
            "--protocol" => {
                let n = value("--protocol")?;
                options.protocol = Some(
                    n.to_str()
                        .and_then(|n| n.parse().ok())
                        .filter(|n| *n <= 5)
                        .ok_or_else(|| {
                            Failure::Usage(format!(
                                "--protocol is 0 to 5 (2 for Python 2.7), not {}",
                                n.to_string_lossy()
                            ))
                        })?,
                );
            }
            "--authkey-file" => options.authkey_file = Some(value("--authkey-file")?.into()),
            "--clients" => {
                let n = value("--clients")?;
                options.clients =
                    Some(n.to_str().and_then(|n| n.parse().ok()).ok_or_else(|| {
                        Failure::Usage(format!("--clients: not a count: {}", n.to_string_lossy()))
                    })?);
            }
            "--timeout" => {
                let t = value("--timeout")?;
                let seconds = t
                    .to_str()
                    .and_then(|t| t.parse::<f64>().ok())
                    .and_then(|t| Duration::try_from_secs_f64(t).ok())
                    .ok_or_else(|| {
                        Failure::Usage(format!(
                            "--timeout: not a number of seconds: {}",
                            t.to_string_lossy()
                        ))
                    })?;
                if seconds.is_zero() {
                    return Err(Failure::Usage(
                        "--timeout 0: every handshake would fail at once; give a number of \
                         seconds above 0"
                            .into(),
                    ));
                }
                options.timeout = Some(seconds);
            }
            other => return Err(Failure::Usage(format!("unknown option {other}"))),
        }
    }
    if options.pickle && !cfg!(feature = "pickle") {
        return Err(Failure::Usage(
            "--pickle: this mpconn was built without the 'pickle' feature \
             (cargo install --path adapters/std --features pickle)"
                .into(),
        ));
    }
    Ok(options)
}

/// The key from `--authkey-file` or `MPCONN_AUTHKEY`; never from argv, where every
/// user of the machine could read it.
fn authkey(options: &Options) -> Outcome<Option<Vec<u8>>> {
    if let Some(path) = &options.authkey_file {
        let mut key = std::fs::read(path)
            .map_err(|e| run_error(format!("--authkey-file {}: {e}", path.display())))?;
        if key.ends_with(b"\n") {
            key.pop();
            if key.ends_with(b"\r") {
                key.pop();
            }
        }
        return Ok(Some(key));
    }
    Ok(std::env::var_os("MPCONN_AUTHKEY").map(os_bytes))
}

/// The bytes of an argument or variable: as given on Unix; on Windows its UTF-8 (what
/// `as_encoded_bytes` gives for any valid Unicode).
fn os_bytes(s: OsString) -> Vec<u8> {
    #[cfg(unix)]
    return s.into_vec();
    #[cfg(not(unix))]
    return s.into_encoded_bytes();
}

/// A line of stdin as an argument would be: its bytes on Unix; on Windows its text
/// (invalid UTF-8 replaced).
fn os_string(bytes: Vec<u8>) -> OsString {
    #[cfg(unix)]
    return OsString::from_vec(bytes);
    #[cfg(not(unix))]
    return OsString::from(String::from_utf8_lossy(&bytes).into_owned());
}

fn parse_address(arg: &OsString) -> Outcome<Address> {
    let text = arg.to_str().ok_or_else(|| {
        Failure::Usage(format!("address is not UTF-8: {}", arg.to_string_lossy()))
    })?;
    text.parse()
        .map_err(|e| Failure::Usage(format!("bad address {text:?}: {e}")))
}

/// A message as one line of text: printable ASCII and UTF-8 as is, a backslash
/// doubled, everything else `\xNN`.
fn show_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0; 4];
                    for byte in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{byte:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// How messages are written to the wire and shown: raw bytes, or Python literals and
/// `repr` <-> pickles. Without the `pickle` feature `--pickle` is refused while
/// parsing, so the fields are then unread.
#[cfg_attr(not(feature = "pickle"), allow(dead_code))]
struct Codec {
    pickle: bool,
    protocol: u8,
}

impl Codec {
    fn new(options: &Options) -> Codec {
        Codec {
            pickle: options.pickle,
            protocol: options.protocol.unwrap_or(3),
        }
    }

    fn show(&self, message: &[u8]) -> String {
        #[cfg(feature = "pickle")]
        if self.pickle {
            return literal::show(message);
        }
        show_bytes(message)
    }

    fn encode(&self, arg: &OsString) -> Outcome<Vec<u8>> {
        #[cfg(feature = "pickle")]
        if self.pickle {
            return literal::encode(arg, self.protocol)
                .map_err(|e| Failure::Usage(format!("{}: {e}", arg.to_string_lossy())));
        }
        Ok(os_bytes(arg.clone()))
    }
}

fn print_line(line: &str) -> Outcome {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|e| run_error(format!("writing to stdout: {e}")))
}

fn listen(options: Options) -> Outcome {
    let address = match options.positional.as_slice() {
        [] => None,
        [address] => Some(parse_address(address)?),
        _ => return Err(Failure::Usage("listen takes one ADDRESS at most".into())),
    };
    let key = authkey(&options)?;
    let listener_options = ListenerOptions::new()
        .family(address.as_ref().map_or(DEFAULT_FAMILY, Address::family))
        .authkey(key.as_deref())
        .handshake_timeout(Some(
            options
                .timeout
                .unwrap_or(mpconn_std::DEFAULT_HANDSHAKE_TIMEOUT),
        ));
    // Registered before binding, so that a signal from the moment the socket file
    // exists is already caught (and waits for the thread below). (Windows: a pipe or a
    // TCP port leaves nothing on disk, and Ctrl-C ends the process.)
    #[cfg(unix)]
    let signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| run_error(format!("installing the signal handlers: {e}")))?;
    #[cfg(unix)]
    let default_address = address.is_none();
    let mut listener = Listener::bind_with(address, &listener_options).map_err(run_error)?;
    #[cfg(unix)]
    exit_on_signal(signals, left_on_disk(listener.address(), default_address));
    print_line(&listener.address().to_string())?;
    let codec = Codec::new(&options);
    let mut served = 0;
    while options.clients.is_none_or(|limit| served < limit) {
        let accepted = listener.accept();
        let peer = match listener.last_accepted() {
            Some(Address::Unix(path)) if path.as_os_str().is_empty() => "a client".to_string(),
            Some(address) => format!("client {address}"),
            None => "a client".to_string(),
        };
        match accepted {
            Ok(mut conn) => {
                eprintln!("mpconn: {peer} connected");
                serve(&mut conn, &codec, options.echo, &peer)?;
                served += 1;
            }
            Err(e) if e.is_client_failure() => eprintln!("mpconn: {peer}: {e}"),
            Err(e @ mpconn_std::Error::Accept { .. }) => {
                eprintln!("mpconn: {e}");
                // accept(2) itself failed (out of descriptors?): do not spin while it
                // lasts. A client's failure never gets here: the next one is served
                // at once.
                std::thread::sleep(ACCEPT_ERROR_PAUSE);
            }
            Err(e) => return Err(run_error(e)),
        }
    }
    listener.close();
    Ok(())
}

/// How long `listen` rests after its own `accept(2)` failed.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The family of a listener given no address: CPython's default (`AF_UNIX`, and
/// `AF_PIPE` on Windows).
#[cfg(unix)]
const DEFAULT_FAMILY: Family = Family::Unix;
#[cfg(windows)]
const DEFAULT_FAMILY: Family = Family::Pipe;

/// What a listener leaves on disk while it runs: its socket file, and for a default
/// address the private directory made for it (innermost first).
#[cfg(unix)]
fn left_on_disk(address: &Address, default_address: bool) -> Vec<PathBuf> {
    let Address::Unix(path) = address else {
        return Vec::new(); // TCP and abstract names have no file
    };
    let mut paths = vec![path.clone()];
    if default_address {
        paths.extend(path.parent().map(PathBuf::from));
    }
    paths
}

/// On the first of `signals`, removes `paths` (a file, then directories) and exits
/// with 128 + the signal's number, the status a shell reports for a process killed by
/// it. CPython's `Listener` removes its socket file on SIGINT (`KeyboardInterrupt`
/// unwinds through its `close`); a socket file left behind would make the next bind
/// of that path fail with "address in use".
///
/// The handling is signal-hook's (a self-pipe read by this thread), not code of ours:
/// it is async-signal-safe, and it catches the signals even where they were inherited
/// as ignored, as SIGINT is by a background job of a non-interactive shell. The
/// process exits from this thread while the main thread may be blocked in `accept`
/// or a receive; the kernel closes the sockets.
#[cfg(unix)]
fn exit_on_signal(mut signals: Signals, paths: Vec<PathBuf>) {
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            for path in &paths {
                let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir(path));
            }
            std::process::exit(128 + signal);
        }
    });
}

/// Prints (and echoes) every message of one client until it leaves. The client's
/// errors end that client only; failing to print ends the tool.
fn serve(conn: &mut Connection, codec: &Codec, echo: bool, peer: &str) -> Outcome {
    loop {
        let message = match conn.recv_bytes(None) {
            Ok(message) => message,
            Err(e) if e.is_eof() => {
                eprintln!("mpconn: {peer} closed the connection");
                return Ok(());
            }
            Err(e) => {
                eprintln!("mpconn: {peer}: {e}");
                return Ok(());
            }
        };
        print_line(&codec.show(&message))?;
        if echo {
            if let Err(e) = conn.send_bytes(&message) {
                eprintln!("mpconn: {peer}: sending the echo: {e}");
                return Ok(());
            }
        }
    }
}

fn send(options: Options) -> Outcome {
    let Some((address, messages)) = options.positional.split_first() else {
        return Err(Failure::Usage("send needs an ADDRESS".into()));
    };
    let address = parse_address(address)?;
    let codec = Codec::new(&options);
    let encoded = messages
        .iter()
        .map(|m| codec.encode(m))
        .collect::<Outcome<Vec<_>>>()?;
    let key = authkey(&options)?;
    let client_options = ClientOptions::new()
        .authkey(key.as_deref())
        .timeout(options.timeout);
    let mut conn = Client::connect_with(&address, &client_options).map_err(run_error)?;
    conn.set_timeout(options.timeout).map_err(run_error)?;
    if messages.is_empty() {
        send_stdin(&mut conn, &codec, options.echo)?;
    }
    for message in &encoded {
        send_one(&mut conn, &codec, options.echo, message)?;
    }
    conn.close().map_err(run_error)
}

/// Sends `message` and, with `echo`, prints the reply.
fn send_one(conn: &mut Connection, codec: &Codec, echo: bool, message: &[u8]) -> Outcome {
    conn.send_bytes(message).map_err(run_error)?;
    if echo {
        let reply = conn.recv_bytes(None).map_err(|e| match e {
            mpconn_std::Error::AuthkeyWanted { .. } => run_error(format!(
                "{e}: give its key in MPCONN_AUTHKEY or --authkey-file"
            )),
            e => run_error(e),
        })?;
        print_line(&codec.show(&reply))?;
    }
    Ok(())
}

/// `mpconn send ADDRESS` without MESSAGEs: each line of stdin is one message, sent as
/// soon as it is read (so `--echo` answers a line typed at a terminal), until end of
/// input. Under `--pickle` blank lines are skipped, and a line that is no literal ends
/// the run (status 1); the lines before it were sent.
fn send_stdin(conn: &mut Connection, codec: &Codec, echo: bool) -> Outcome {
    let mut stdin = std::io::stdin().lock();
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let read = stdin
            .read_until(b'\n', &mut line)
            .map_err(|e| run_error(format!("reading stdin: {e}")))?;
        if read == 0 {
            return Ok(());
        }
        if line.ends_with(b"\n") {
            line.pop();
            if line.ends_with(b"\r") {
                line.pop();
            }
        }
        if codec.pickle && line.trim_ascii().is_empty() {
            continue; // no literal is blank: a blank line between literals is no message
        }
        let message = codec
            .encode(&os_string(std::mem::take(&mut line)))
            .map_err(|e| match e {
                Failure::Usage(why) | Failure::Run(why) => {
                    run_error(format!("stdin line {number}: {why}"))
                }
            })?;
        send_one(conn, codec, echo, &message)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let command = args.next();
    let outcome = match command.as_ref().and_then(|c| c.to_str()) {
        Some("listen") => parse(args).and_then(listen),
        Some("send") => parse(args).and_then(send),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") => {
            println!("mpconn {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(Failure::Usage(format!("unknown command {other:?}"))),
        None => Err(Failure::Usage("a command is needed: listen or send".into())),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(why)) => {
            // One line on what was wrong; the help only when asked for.
            eprintln!("mpconn: {why}\n{TRY_HELP}");
            ExitCode::from(2)
        }
        Err(Failure::Run(why)) => {
            eprintln!("mpconn: {why}");
            ExitCode::from(1)
        }
    }
}

/// Python literals on the command line, pickles on the wire, Python's `repr` on
/// stdout: what a user reads and types is what Python has.
#[cfg(feature = "pickle")]
mod literal {
    use std::ffi::OsString;

    use mpconn_std::pickle::{self, Protocol};

    use super::show_bytes;

    /// How many bytes of a received value's repr are shown (then `...`).
    const SHOWN_OF_A_PICKLE: usize = 1 << 20;

    /// How many bytes of a message that is no pickle are shown after the error.
    const SHOWN_OF_A_BAD_PICKLE: usize = 64;

    /// A MESSAGE argument (`{"a": (1, 2), 3: {1, 2}}`) pickled with `protocol`.
    pub fn encode(arg: &OsString, protocol: u8) -> Result<Vec<u8>, String> {
        let text = arg.to_str().ok_or("not UTF-8")?;
        let value = pickle::parse_literal(text).map_err(|e| e.to_string())?;
        let protocol = Protocol::new(protocol).expect("--protocol is checked to be 0 to 5");
        pickle::dumps_with(&value, protocol).map_err(|e| e.to_string())
    }

    /// A received pickle as Python's `repr` shows it, on one line; one that cannot be
    /// unpickled (garbage, or deeper than the default limits) as the error and the
    /// first bytes, so that the listener shows it and carries on.
    pub fn show(message: &[u8]) -> String {
        match pickle::loads(message) {
            // Bounded: a value shares what the pickle shares, and its repr repeats
            // it, so a few hundred bytes can print as 2^60 items.
            Ok(value) => value.repr_bounded(SHOWN_OF_A_PICKLE).0,
            Err(e) => {
                let shown = &message[..message.len().min(SHOWN_OF_A_BAD_PICKLE)];
                let more = match message.len() > shown.len() {
                    true => format!("... ({} bytes)", message.len()),
                    false => String::new(),
                };
                format!("(cannot unpickle: {e}) {}{more}", show_bytes(shown))
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn literals_come_back_as_python_shows_them_at_every_protocol() {
            for text in [
                "None",
                "[1, -2, 2.5, 's', True, None]",
                "{'a': (1, 2), 3: {1, 2}}",
                "(b'x\\x00\\\\', bytearray(b'y'), frozenset({1}))",
                "[12345678901234567890123, -1180591620717411303424, nan, -0.0, -inf]",
            ] {
                for protocol in 0..=5 {
                    let pickle = encode(&OsString::from(text), protocol).unwrap();
                    assert_eq!(show(&pickle), text, "protocol {protocol}");
                }
            }
        }

        #[test]
        fn a_list_nested_100_000_deep_is_an_error_line() {
            let mut pickle = b"\x80\x02".to_vec();
            pickle.extend(std::iter::repeat_n(b']', 100_000));
            pickle.extend(std::iter::repeat_n(b'a', 99_999));
            pickle.push(b'.');
            let shown = show(&pickle);
            assert!(shown.starts_with("(cannot unpickle: "), "{shown}");
            assert!(
                shown.contains("nesting depth exceeds the limit of 1000"),
                "{shown}"
            );
            assert!(shown.ends_with("... (200002 bytes)"), "{shown}");
        }

        #[test]
        fn a_billion_laughs_is_cut_at_1_mib() {
            // 60 levels of a list holding the previous level twice: 2^60 items.
            let pickle = mpconn_test_support::pickles::billion_laughs();
            let shown = show(&pickle);
            assert_eq!(shown.len(), SHOWN_OF_A_PICKLE + 3);
            assert!(shown.starts_with("[[[[[[[["), "{}", &shown[..80]);
            assert!(shown.ends_with("..."));
        }

        #[test]
        fn text_that_is_no_literal_is_refused() {
            assert!(encode(&OsString::from("{'a': }"), 3).is_err());
            assert!(encode(&OsString::from("os.system('x')"), 3).is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_show_as_one_line_of_text() {
        assert_eq!(show_bytes(b"hello"), "hello");
        assert_eq!(show_bytes("h\u{e9}".as_bytes()), "h\u{e9}");
        assert_eq!(show_bytes(b"a\nb\\\xff\x00"), "a\\x0ab\\\\\\xff\\x00");
    }

    #[test]
    fn authkey_is_refused_as_an_argument() {
        let args = ["--authkey", "secret"].map(OsString::from);
        assert!(matches!(parse(args.into_iter()), Err(Failure::Usage(_))));
    }
}
