//! Windows named pipes (`AF_PIPE`) as CPython's `PipeConnection` uses them, Rust to Rust
//! (run under Wine here: there is no CPython for Windows on this machine kind, so the
//! format is pinned by checking each pipe message's bytes against what CPython's
//! `_send_bytes` writes: the message itself, one pipe message, no header).

#![cfg(windows)]

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use mpconn_net::pipe::{self, PipeListener, PipeStream, Read};
use mpconn_net::{bind, connect, Address, ClientOptions, Family, ListenerOptions, Listening};

/// Long enough for any honest step here; a hang fails instead of blocking forever.
fn soon() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(20))
}

fn fresh_name() -> String {
    Address::fresh_pipe()
        .unwrap()
        .pipe_name()
        .unwrap()
        .to_string()
}

/// Reads one whole message as CPython's `_recv_bytes` does: a first read of 128 bytes,
/// then, on `ERROR_MORE_DATA`, what `PeekNamedPipe` says is left.
fn recv_message(pipe: &PipeStream) -> io::Result<Option<Vec<u8>>> {
    let mut message = vec![0; 128];
    match pipe.read(&mut message, soon())? {
        Read::Message(n) => {
            message.truncate(n);
            Ok(Some(message))
        }
        Read::More(n) => {
            assert_eq!(n, 128);
            let left = pipe.remaining_in_message()? as usize;
            assert!(left > 0);
            message.resize(n + left, 0);
            match pipe.read(&mut message[n..], soon())? {
                Read::Message(m) => assert_eq!(m, left),
                other => panic!("the rest of the message: {other:?}"),
            }
            Ok(Some(message))
        }
        Read::Eof => Ok(None),
    }
}

fn connected_pair() -> (PipeStream, PipeStream) {
    let name = fresh_name();
    let listener = PipeListener::bind(&name).unwrap();
    let accepting = thread::spawn(move || listener.accept(soon()));
    let client = PipeStream::connect(&name, soon()).unwrap();
    (accepting.join().unwrap().unwrap(), client)
}

#[test]
fn messages_of_every_size_cross_whole_each_way_as_one_pipe_message_each() {
    let (server, client) = connected_pair();
    let sizes = [0, 1, 127, 128, 129, 8192, 64 * 1024, 1024 * 1024];
    let messages: Vec<Vec<u8>> = sizes
        .iter()
        .map(|&n| (0..n).map(|i| (i % 251) as u8).collect())
        .collect();
    let sent = messages.clone();
    let writer = thread::spawn(move || {
        for message in &sent {
            client.write_message(message, soon()).unwrap();
        }
        client
    });
    for message in &messages {
        // What CPython writes for send_bytes(message) on a PipeConnection: the bytes
        // themselves, as one message.
        assert_eq!(recv_message(&server).unwrap().as_ref(), Some(message));
    }
    let client = writer.join().unwrap();
    // And back the other way.
    let writer = thread::spawn(move || {
        for message in &messages {
            server.write_message(message, soon()).unwrap();
        }
        messages
    });
    let mut got = Vec::new();
    for _ in sizes {
        got.push(recv_message(&client).unwrap().unwrap());
    }
    assert_eq!(got, writer.join().unwrap());
}

#[test]
fn the_end_of_the_pipe_is_eof_after_the_messages_before_it() {
    let (server, client) = connected_pair();
    client.write_message(b"last words", soon()).unwrap();
    drop(client);
    assert_eq!(
        recv_message(&server).unwrap().as_deref(),
        Some(&b"last words"[..])
    );
    assert_eq!(recv_message(&server).unwrap(), None);
}

#[test]
fn a_read_that_times_out_loses_nothing() {
    let (server, client) = connected_pair();
    let mut buf = [0; 16];
    let start = Instant::now();
    let error = server
        .read(&mut buf, Some(Instant::now() + Duration::from_millis(100)))
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    assert!(start.elapsed() >= Duration::from_millis(90));
    client.write_message(b"after", soon()).unwrap();
    assert_eq!(
        recv_message(&server).unwrap().as_deref(),
        Some(&b"after"[..])
    );
}

#[test]
fn accept_times_out_and_the_pipe_stays_ready_for_the_next_client() {
    let name = fresh_name();
    let listener = PipeListener::bind(&name).unwrap();
    let error = listener
        .accept(Some(Instant::now() + Duration::from_millis(100)))
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    let client = PipeStream::connect(&name, soon()).unwrap();
    let server = listener.accept(soon()).unwrap();
    client.write_message(b"hi", soon()).unwrap();
    assert_eq!(recv_message(&server).unwrap().as_deref(), Some(&b"hi"[..]));
}

#[test]
fn clients_that_connect_before_accept_are_each_served_in_turn() {
    let name = fresh_name();
    let listener = PipeListener::bind(&name).unwrap();
    // Both connect while nobody accepts: the first to the ready instance, the second
    // to the spare one the first accept makes (or it waits for one, as CPython's does).
    let first = PipeStream::connect(&name, soon()).unwrap();
    let second = thread::spawn({
        let name = name.clone();
        move || PipeStream::connect(&name, soon()).unwrap()
    });
    let a = listener.accept(soon()).unwrap();
    let b = listener.accept(soon()).unwrap();
    let second = second.join().unwrap();
    first.write_message(b"1", soon()).unwrap();
    second.write_message(b"2", soon()).unwrap();
    let mut got = [
        recv_message(&a).unwrap().unwrap(),
        recv_message(&b).unwrap().unwrap(),
    ];
    got.sort();
    assert_eq!(got, [b"1".to_vec(), b"2".to_vec()]);
}

#[test]
fn a_name_in_use_does_not_bind_and_a_missing_one_does_not_connect() {
    let name = fresh_name();
    let _listener = PipeListener::bind(&name).unwrap();
    // Windows refuses a second first instance (FILE_FLAG_FIRST_PIPE_INSTANCE, access
    // denied), so a name in use fails to bind as in CPython; Wine 8.0 lets it through
    // (the runner, .ci/wine/runner, says when it runs the tests).
    if std::env::var_os("MPCONN_UNDER_WINE").is_none() {
        assert!(PipeListener::bind(&name).is_err(), "first instance twice");
    }
    let missing = fresh_name();
    let error = PipeStream::connect(&missing, soon()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
}

#[test]
fn bind_and_connect_take_pipe_addresses_and_the_default_family_is_af_pipe() {
    let bound = bind(None, &ListenerOptions::new()).unwrap();
    assert_eq!(bound.address.family(), Family::Pipe);
    let Listening::Pipe(listener) = bound.listener else {
        panic!("a pipe listener")
    };
    let address = bound.address.clone();
    let accepting = thread::spawn(move || listener.accept(soon()));
    let stream = connect(&address, &ClientOptions::new(), soon()).unwrap();
    let server = accepting.join().unwrap().unwrap();
    let mpconn_net::Connected::Pipe(client) = stream else {
        panic!("a pipe stream")
    };
    client.write_message(b"x", soon()).unwrap();
    assert_eq!(recv_message(&server).unwrap().as_deref(), Some(&b"x"[..]));
    let error = connect(
        &format!(r"\\.\pipe\mpconn-missing-{}", std::process::id())
            .parse()
            .unwrap(),
        &ClientOptions::new(),
        soon(),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains(r"\\.\pipe\mpconn-missing-"),
        "{error}"
    );
}

#[test]
fn a_pair_is_connected_both_ways() {
    let (a, b) = pipe::pair().unwrap();
    a.write_message(b"ping", soon()).unwrap();
    assert_eq!(recv_message(&b).unwrap().as_deref(), Some(&b"ping"[..]));
    b.write_message(b"", soon()).unwrap();
    assert_eq!(recv_message(&a).unwrap().as_deref(), Some(&b""[..]));
}

/// The polled pipes (`PolledPipe`, `PolledListener`), what the tokio and mio adapters
/// run `AF_PIPE` on: against the blocking ones, with a waker that must be woken for each
/// wait (a missing wake-up fails, it does not spin), and with polls given up part-way,
/// which must lose nothing.
mod polled {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Poll, Wake, Waker};
    use std::thread;
    use std::time::{Duration, Instant};

    use mpconn::Transport;
    use mpconn_net::pipe::{PipeListener, PipeStream, PolledListener, PolledPipe, Read};

    use super::{fresh_name, soon};

    /// Unparks the polling thread and counts its wake-ups.
    struct Unpark {
        thread: thread::Thread,
        woken: AtomicUsize,
    }

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref()
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.woken.fetch_add(1, Ordering::SeqCst);
            self.thread.unpark();
        }
    }

    /// Polls `poll` until it is ready, parking between polls: a pending poll that is never
    /// woken fails the test after 20 s. Returns the value and the wake-ups it took.
    fn block_on<T>(mut poll: impl FnMut(&Waker) -> Poll<T>) -> (T, usize) {
        let unpark = Arc::new(Unpark {
            thread: thread::current(),
            woken: AtomicUsize::new(0),
        });
        let waker = Waker::from(unpark.clone());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let before = unpark.woken.load(Ordering::SeqCst);
            if let Poll::Ready(value) = poll(&waker) {
                return (value, unpark.woken.load(Ordering::SeqCst));
            }
            while unpark.woken.load(Ordering::SeqCst) == before {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(!left.is_zero(), "a pending pipe operation was never woken");
                thread::park_timeout(left);
            }
        }
    }

    fn core() -> mpconn::Connection {
        mpconn::Connection::established().with_transport(Transport::Messages)
    }

    /// The next message from a polled pipe, through the core.
    fn recv(pipe: &PolledPipe, core: &mut mpconn::Connection) -> Option<Vec<u8>> {
        loop {
            match core.next_message() {
                Ok(Some(message)) => return Some(message.into_vec()),
                Ok(None) => {}
                Err(mpconn::Error::Closed) => return None,
                Err(error) => panic!("{error}"),
            }
            block_on(|waker| pipe.poll_read_into(waker, core))
                .0
                .unwrap();
        }
    }

    fn polled_pair() -> (PolledPipe, PolledPipe) {
        let name = fresh_name();
        let listener = PolledListener::bind(&name).unwrap();
        assert!(listener.poll_accept(Waker::noop()).is_pending());
        let client = thread::spawn(move || PolledPipe::connect(&name, soon()).unwrap());
        let (server, _) = block_on(|waker| listener.poll_accept(waker));
        (server.unwrap(), client.join().unwrap())
    }

    fn sized(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    const SIZES: [usize; 8] = [0, 1, 127, 8191, 8192, 64 * 1024, 64 * 1024 + 1, 1024 * 1024];

    #[test]
    fn a_polled_pipe_reads_every_size_from_a_blocking_one_as_one_message_each() {
        let name = fresh_name();
        let listener = PipeListener::bind(&name).unwrap();
        let writer = thread::spawn(move || {
            let server = listener.accept(soon()).unwrap();
            for n in SIZES {
                server.write_message(&sized(n), soon()).unwrap();
            }
            // Held until the reader has all: the end comes after the messages.
            server
        });
        let client = PolledPipe::connect(&name, soon()).unwrap();
        let mut core = core();
        for n in SIZES {
            assert_eq!(recv(&client, &mut core), Some(sized(n)), "{n} bytes");
        }
        drop(writer.join().unwrap());
        assert_eq!(recv(&client, &mut core), None);
    }

    #[test]
    fn two_polled_pipes_carry_every_size_both_ways_at_once() {
        let (server, client) = polled_pair();
        let (server, client) = (Arc::new(server), Arc::new(client));
        // Each end writes in one thread and reads in another: one read and one write under
        // way at once on each pipe.
        let writers: Vec<_> = [server.clone(), client.clone()]
            .into_iter()
            .map(|pipe| {
                thread::spawn(move || {
                    for n in SIZES {
                        let message = sized(n);
                        block_on(|waker| pipe.poll_write_message(waker, &message))
                            .0
                            .unwrap();
                    }
                })
            })
            .collect();
        let readers: Vec<_> = [server, client]
            .into_iter()
            .map(|pipe| {
                thread::spawn(move || {
                    let mut core = core();
                    SIZES.map(|_| recv(&pipe, &mut core).unwrap())
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        for reader in readers {
            let got = reader.join().unwrap();
            for (n, message) in SIZES.iter().zip(got) {
                assert_eq!(message, sized(*n), "{n} bytes");
            }
        }
    }

    #[test]
    fn a_blocking_reader_sees_each_polled_write_as_exactly_its_bytes() {
        let name = fresh_name();
        let listener = PipeListener::bind(&name).unwrap();
        let accepting = thread::spawn(move || listener.accept(soon()).unwrap());
        let client = PolledPipe::connect(&name, soon()).unwrap();
        let server: PipeStream = accepting.join().unwrap();
        let writer = thread::spawn(move || {
            for n in SIZES {
                let message = sized(n);
                block_on(|waker| client.poll_write_message(waker, &message))
                    .0
                    .unwrap();
            }
            client
        });
        for n in SIZES {
            // A buffer of exactly the message's size, whole in one read: one pipe message,
            // the payload alone, as CPython's PipeConnection writes it.
            let mut buf = vec![0; n];
            assert_eq!(server.read(&mut buf, soon()).unwrap(), Read::Message(n));
            assert_eq!(buf, sized(n));
        }
        drop(writer.join().unwrap());
        assert_eq!(server.read(&mut [0; 4], soon()).unwrap(), Read::Eof);
    }

    #[test]
    fn a_pending_read_waits_for_a_wake_up_and_a_read_given_up_loses_nothing() {
        let (server, client) = polled_pair();
        let mut core = core();
        // Started and left: nothing has come yet.
        assert!(server.poll_read_into(Waker::noop(), &mut core).is_pending());
        assert!(server.poll_read_into(Waker::noop(), &mut core).is_pending());
        let message = sized(300_000);
        let sent = message.clone();
        let writer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            block_on(|waker| client.poll_write_message(waker, &sent))
                .0
                .unwrap();
            client
        });
        // The read started above is the one that gets the message's first part.
        let (read, woken) = block_on(|waker| server.poll_read_into(waker, &mut core));
        read.unwrap();
        assert!(woken >= 1, "the read's end woke the waker");
        assert_eq!(recv(&server, &mut core), Some(message));
        drop(writer.join().unwrap());
    }

    #[test]
    fn a_write_in_flight_is_waited_for_not_repeated_and_another_message_is_refused() {
        let (server, client) = polled_pair();
        // Larger than the pipe's buffers: it stays in flight until read.
        let big = sized(512 * 1024);
        assert!(client.poll_write_message(Waker::noop(), &big).is_pending());
        let other = sized(3);
        let refused = match client.poll_write_message(Waker::noop(), &other) {
            Poll::Ready(Err(error)) => error.to_string(),
            other => panic!("{other:?}"),
        };
        assert!(
            refused.contains("524288-byte pipe message is still being written"),
            "{refused}"
        );
        let reader = thread::spawn(move || {
            let mut core = core();
            let first = recv(&server, &mut core);
            let second = recv(&server, &mut core);
            (first, second)
        });
        block_on(|waker| client.poll_write_message(waker, &big))
            .0
            .unwrap();
        block_on(|waker| client.poll_write_message(waker, &other))
            .0
            .unwrap();
        let (first, second) = reader.join().unwrap();
        assert_eq!(first, Some(big), "written once, whole");
        assert_eq!(second, Some(other));
    }

    #[test]
    fn the_listener_serves_clients_that_came_before_it_polled_and_dropping_pipes_in_flight_is_clean(
    ) {
        let name = fresh_name();
        let listener = PolledListener::bind(&name).unwrap();
        // A client on the instance bind made, before any poll; the poll that accepts it
        // makes a spare, which the next client takes before the next poll.
        let first = PolledPipe::connect(&name, soon()).unwrap();
        let a = block_on(|waker| listener.poll_accept(waker)).0.unwrap();
        let second = PolledPipe::connect(&name, soon()).unwrap();
        let b = block_on(|waker| listener.poll_accept(waker)).0.unwrap();
        // Each server end talks to one client, whichever.
        let mut cores = (core(), core());
        block_on(|waker| first.poll_write_message(waker, b"first"))
            .0
            .unwrap();
        block_on(|waker| second.poll_write_message(waker, b"second"))
            .0
            .unwrap();
        let mut got = vec![
            recv(&a, &mut cores.0).unwrap(),
            recv(&b, &mut cores.1).unwrap(),
        ];
        got.sort();
        assert_eq!(got, [b"first".to_vec(), b"second".to_vec()]);
        // A read and a large write in flight, then everything dropped: no hang, no crash.
        assert!(a.poll_read_into(Waker::noop(), &mut cores.0).is_pending());
        assert!(second
            .poll_write_message(Waker::noop(), &sized(1024 * 1024))
            .is_pending());
        assert!(listener.poll_accept(Waker::noop()).is_pending());
        drop((a, b, first, second, listener));
        // The name is free again.
        PolledListener::bind(&name).unwrap();
    }

    #[test]
    fn polled_pipes_and_listeners_move_between_threads() {
        fn is<T: Send + Sync>() {}
        is::<PolledPipe>();
        is::<PolledListener>();
        let (server, client) = polled_pair();
        let moved = thread::spawn(move || {
            block_on(|waker| client.poll_write_message(waker, b"moved"))
                .0
                .unwrap();
            client
        });
        assert_eq!(recv(&server, &mut core()), Some(b"moved".to_vec()));
        drop(moved.join().unwrap());
    }
}
