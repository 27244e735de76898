//! `mpconn`: a `multiprocessing.connection` listener and client for the command line.
//!
//! Arguments are parsed by hand: two subcommands and a handful of flags do not need a
//! parser crate, and the tool keeps the library's short dependency list.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use mpconn_std::{Address, Client, ClientOptions, Connection, Family, Listener, ListenerOptions};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

const USAGE: &str = "\
mpconn: Python's multiprocessing.connection from the command line

USAGE:
    mpconn listen [ADDRESS] [OPTIONS]
        Bind (default: a fresh Unix socket in a private temporary directory; port 0
        binds any free port), print the bound address as the first line of stdout,
        then serve clients one after another, printing each message received, one
        per line. A failed handshake is reported on stderr and serving goes on.
    mpconn send ADDRESS MESSAGE... [OPTIONS]
        Connect, send each MESSAGE and, with --echo, print each reply.

    SIGINT, SIGTERM and SIGHUP make `listen` remove its socket file (and the private
    directory of a default address) and exit with status 128 + the signal's number.

ADDRESS:
    host:port, [IPv6]:port, a Unix socket path, or @name (a Linux abstract name)

OPTIONS:
    --echo                  listen: send each message back; send: print each reply
    --pickle                messages are given and shown as JSON and travel pickled
                            (CPython's Connection.send / recv); bytes show as
                            {\"$bytes\": \"...\"}
    --protocol N            pickle protocol to send: 3 (default) or 2 (Python 2.7)
    --authkey-file PATH     read the authkey from PATH (one trailing newline is
                            dropped); otherwise from the environment variable
                            MPCONN_AUTHKEY. No key: no handshake, as in CPython.
    --clients N             listen: exit after serving N clients (those that passed
                            the handshake), removing the socket file
    --timeout SECONDS       listen: handshake timeout (default 20); send: limit on
                            connecting, the handshake and each reply (default none,
                            and 20 for the handshake). More than 0.
    -h, --help              show this help

Messages are shown as text: printable ASCII and UTF-8 as is, a backslash as \\\\,
other bytes as \\xNN. The authkey is never taken from the command line.
";

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
    protocol_v2: bool,
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
                options.protocol_v2 = match value("--protocol")?.to_str() {
                    Some("2") => true,
                    Some("3") => false,
                    _ => return Err(Failure::Usage("--protocol is 2 or 3".into())),
                }
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
    Ok(std::env::var_os("MPCONN_AUTHKEY").map(OsString::into_vec))
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

/// How messages are written to the wire and shown: raw bytes, or JSON <-> pickle.
/// Without the `pickle` feature `--pickle` is refused while parsing, so both fields
/// are then always false and unread.
#[cfg_attr(not(feature = "pickle"), allow(dead_code))]
struct Codec {
    pickle: bool,
    protocol_v2: bool,
}

impl Codec {
    fn show(&self, message: &[u8]) -> String {
        #[cfg(feature = "pickle")]
        if self.pickle {
            return match json::pickle_to_json(message) {
                Ok(text) => text,
                Err(e) => format!("(not a pickle: {e}) {}", show_bytes(message)),
            };
        }
        show_bytes(message)
    }

    fn encode(&self, arg: &OsString) -> Outcome<Vec<u8>> {
        #[cfg(feature = "pickle")]
        if self.pickle {
            return json::json_to_pickle(arg.as_bytes(), self.protocol_v2)
                .map_err(|e| Failure::Usage(format!("{}: {e}", arg.to_string_lossy())));
        }
        Ok(arg.as_bytes().to_vec())
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
        .family(address.as_ref().map_or(Family::Unix, Address::family))
        .authkey(key.as_deref())
        .handshake_timeout(Some(
            options
                .timeout
                .unwrap_or(mpconn_std::DEFAULT_HANDSHAKE_TIMEOUT),
        ));
    // Registered before binding, so that a signal from the moment the socket file
    // exists is already caught (and waits for the thread below).
    let signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| run_error(format!("installing the signal handlers: {e}")))?;
    let default_address = address.is_none();
    let mut listener = Listener::bind_with(address, &listener_options).map_err(run_error)?;
    exit_on_signal(signals, left_on_disk(listener.address(), default_address));
    print_line(&listener.address().to_string())?;
    let codec = Codec {
        pickle: options.pickle,
        protocol_v2: options.protocol_v2,
    };
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

/// What a listener leaves on disk while it runs: its socket file, and for a default
/// address the private directory made for it (innermost first).
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
    let codec = Codec {
        pickle: options.pickle,
        protocol_v2: options.protocol_v2,
    };
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
    for message in &encoded {
        conn.send_bytes(message).map_err(run_error)?;
        if options.echo {
            let reply = conn.recv_bytes(None).map_err(|e| match e {
                mpconn_std::Error::AuthkeyWanted { .. } => run_error(format!(
                    "{e}: give its key in MPCONN_AUTHKEY or --authkey-file"
                )),
                e => run_error(e),
            })?;
            print_line(&codec.show(&reply))?;
        }
    }
    conn.close().map_err(run_error)
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
        Some(other) => Err(Failure::Usage(format!("unknown command {other:?}"))),
        None => Err(Failure::Usage("a command is needed: listen or send".into())),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(why)) => {
            eprintln!("mpconn: {why}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Run(why)) => {
            eprintln!("mpconn: {why}");
            ExitCode::from(1)
        }
    }
}

/// JSON on the command line, pickles on the wire.
#[cfg(feature = "pickle")]
mod json {
    use std::collections::BTreeMap;
    use std::fmt::Write;

    use mpconn_std::serde_pickle::{self, DeOptions, HashableValue, SerOptions, Value};
    use serde_json::Value as Json;

    use super::show_bytes;

    /// The key that marks bytes in JSON: `{"$bytes": "raw\\x00"}`.
    const BYTES_KEY: &str = "$bytes";

    pub fn json_to_pickle(text: &[u8], protocol_v2: bool) -> Result<Vec<u8>, String> {
        let json: Json = serde_json::from_slice(text).map_err(|e| format!("not JSON: {e}"))?;
        let options = if protocol_v2 {
            SerOptions::new().proto_v2()
        } else {
            SerOptions::new()
        };
        serde_pickle::value_to_vec(&to_value(json)?, options).map_err(|e| e.to_string())
    }

    fn to_value(json: Json) -> Result<Value, String> {
        Ok(match json {
            Json::Null => Value::None,
            Json::Bool(b) => Value::Bool(b),
            Json::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Value::I64(i),
                (None, Some(f)) if !n.is_u64() => Value::F64(f),
                _ => return Err(format!("integer {n} is out of the 64-bit range")),
            },
            Json::String(s) => Value::String(s),
            Json::Array(items) => {
                Value::List(items.into_iter().map(to_value).collect::<Result<_, _>>()?)
            }
            Json::Object(map) => {
                if let (1, Some(Json::String(escaped))) = (map.len(), map.get(BYTES_KEY)) {
                    return unescape(escaped).map(Value::Bytes);
                }
                let mut dict = BTreeMap::new();
                for (key, value) in map {
                    dict.insert(HashableValue::String(key), to_value(value)?);
                }
                Value::Dict(dict)
            }
        })
    }

    /// Reads back what [`show_bytes`] writes.
    fn unescape(text: &str) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('\\') {
            out.extend_from_slice(&rest.as_bytes()[..i]);
            rest = &rest[i + 1..];
            if let Some(tail) = rest.strip_prefix('\\') {
                out.push(b'\\');
                rest = tail;
            } else if let Some(hex) = rest.strip_prefix('x').and_then(|r| r.get(..2)) {
                let byte = u8::from_str_radix(hex, 16)
                    .map_err(|_| format!("bad \\x escape in {text:?}"))?;
                out.push(byte);
                rest = &rest[3..];
            } else {
                return Err(format!("bad escape in {text:?}: use \\\\ or \\xNN"));
            }
        }
        out.extend_from_slice(rest.as_bytes());
        Ok(out)
    }

    pub fn pickle_to_json(message: &[u8]) -> Result<String, String> {
        let value =
            serde_pickle::value_from_slice(message, DeOptions::new()).map_err(|e| e.to_string())?;
        let mut out = String::new();
        write_json(&value, &mut out);
        Ok(out)
    }

    fn write_str(s: &str, out: &mut String) {
        out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
    }

    fn write_seq<'a>(items: impl Iterator<Item = &'a Value>, out: &mut String) {
        out.push('[');
        for (i, item) in items.enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write_json(item, out);
        }
        out.push(']');
    }

    /// JSON as Python's `json.dumps` writes it: tuples and sets become arrays, keys
    /// that are not strings become their JSON text, NaN and infinities stay bare.
    fn write_json(value: &Value, out: &mut String) {
        match value {
            Value::None => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::I64(i) => write!(out, "{i}").expect("writing to a String"),
            Value::Int(i) => write!(out, "{i}").expect("writing to a String"),
            Value::F64(f) if f.is_nan() => out.push_str("NaN"),
            Value::F64(f) if f.is_infinite() => {
                out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" })
            }
            Value::F64(f) => {
                out.push_str(&serde_json::to_string(f).expect("a finite float serializes"))
            }
            Value::String(s) => write_str(s, out),
            Value::Bytes(b) => {
                out.push_str("{\"$bytes\": ");
                write_str(&show_bytes(b), out);
                out.push('}');
            }
            Value::List(items) | Value::Tuple(items) => write_seq(items.iter(), out),
            Value::Set(items) | Value::FrozenSet(items) => {
                let items: Vec<Value> = items
                    .iter()
                    .cloned()
                    .map(HashableValue::into_value)
                    .collect();
                write_seq(items.iter(), out)
            }
            Value::Dict(map) => {
                out.push('{');
                for (i, (key, value)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match key {
                        HashableValue::String(s) => write_str(s, out),
                        other => {
                            let mut text = String::new();
                            write_json(&other.clone().into_value(), &mut text);
                            write_str(&text, out);
                        }
                    }
                    out.push_str(": ");
                    write_json(value, out);
                }
                out.push('}');
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn json_round_trips_through_a_pickle() {
            for text in [
                r#"null"#,
                r#"[1, -2, 2.5, "s", true, null]"#,
                r#"{"a": [1, {"b": {"$bytes": "x\\x00\\\\"}}]}"#,
            ] {
                for v2 in [false, true] {
                    let pickle = json_to_pickle(text.as_bytes(), v2).unwrap();
                    assert_eq!(pickle_to_json(&pickle).unwrap(), text);
                }
            }
        }

        #[test]
        fn integers_beyond_64_bits_are_refused() {
            assert!(json_to_pickle(b"18446744073709551615", false).is_err());
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
