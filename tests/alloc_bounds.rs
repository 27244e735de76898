//! Memory follows the bytes that arrived, never the lengths a peer claims.
//!
//! A counting `#[global_allocator]` (this test binary only) tracks, per thread, the
//! bytes allocated and not yet freed while a measured closure runs, and the peak of
//! that. The inputs and their splits are built before measuring, so the peak is what
//! the core itself held: for the decoder and both handshake roles it must stay within
//! the bytes given plus [`GROWTH_STEP`] (the decoder's bounded head start for a payload
//! still arriving) plus a small constant.
//!
//! A `realloc` counts as a resize (new size minus old): an allocator that has to move
//! the block holds both for the moment of the copy, which is at most twice the buffer.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::prelude::*;

use mpconn::frame::{encode, Decoder, Header, GROWTH_STEP};
use mpconn::handshake::Handshake;
use mpconn::{BufferPolicy, Connection, Digest, Error, HandshakeConfig, Receiver, RecvBuf, Role};
use mpconn_test_support::{pieces, Counter};

struct Counting;

thread_local! {
    // `const` and without destructors: reading them never allocates, which matters
    // inside an allocator.
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn record(delta: isize) {
    let _ = MEASURING.try_with(|measuring| {
        if measuring.get() {
            let live = LIVE.get() + delta;
            LIVE.set(live);
            PEAK.set(PEAK.get().max(live));
        }
    });
}

// SAFETY: every call is passed unchanged to the system allocator, whose contract is
// the same; the wrapper only counts sizes in thread-locals that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees about `layout`.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            record(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees about `layout`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            record(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (hence from `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        record(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller vouches for
        // `new_size`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            record(new_size as isize - layout.size() as isize);
        }
        new
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Runs `f` and returns the most bytes it held allocated at any moment (on this
/// thread, net of what it freed; freeing older memory does not earn credit).
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LIVE.set(0);
    PEAK.set(0);
    MEASURING.set(true);
    let result = f();
    MEASURING.set(false);
    (result, PEAK.get().max(0) as usize)
}

/// Bookkeeping beyond the payload bytes: headers in flight, a handshake frame and the
/// reply being built, rounding in `Vec` growth.
const SLACK: usize = 1024;

/// Feeds every piece to the decoder, dropping each frame at once (the caller's job).
fn decode_and_drop(decoder: &mut Decoder, input: &[&[u8]]) -> Result<usize, Error> {
    let mut frames = 0;
    for piece in input {
        let mut rest = *piece;
        while !rest.is_empty() {
            let (used, frame) = decoder.decode(rest)?;
            frames += usize::from(frame.is_some());
            rest = &rest[used..];
        }
    }
    Ok(frames)
}

/// Frames of any size up to a few times GROWTH_STEP, and garbage, concatenated.
fn frame_soup() -> impl Strategy<Value = Vec<u8>> {
    let item = prop_oneof![
        4 => (0usize..300).prop_map(|len| {
            let mut wire = Vec::new();
            encode(&vec![0x61; len], &mut wire);
            wire
        }),
        1 => (0usize..4 * GROWTH_STEP).prop_map(|len| {
            let mut wire = Vec::new();
            encode(&vec![0x62; len], &mut wire);
            wire
        }),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ];
    prop::collection::vec(item, 0..6).prop_map(|items| items.concat())
}

fn split_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1usize..64, 1usize..(2 * GROWTH_STEP)], 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn decoder_holds_at_most_the_input_plus_one_growth_step(
        input in prop_oneof![frame_soup(), prop::collection::vec(any::<u8>(), 0..600)],
        max_len in prop::option::of(0u64..(8 * GROWTH_STEP as u64)),
        sizes in split_sizes(),
    ) {
        let input_pieces = pieces(&input, &sizes);
        let mut decoder = max_len.map_or_else(Decoder::new, Decoder::with_max_len);
        let (_, peak) = peak_of(|| decode_and_drop(&mut decoder, &input_pieces));
        prop_assert!(
            peak <= input.len() + GROWTH_STEP + SLACK,
            "peak {} for {} bytes given", peak, input.len()
        );
    }

    #[test]
    fn either_handshake_role_holds_at_most_the_input_plus_a_constant(
        server in any::<bool>(),
        key in prop::collection::vec(any::<u8>(), 0..200),
        digest in prop::sample::select(Digest::ALL.to_vec()),
        legacy in any::<bool>(),
        input in prop_oneof![frame_soup(), prop::collection::vec(any::<u8>(), 0..600)],
        sizes in split_sizes(),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let config = HandshakeConfig::default().digest(digest).legacy(legacy);
        let input_pieces = pieces(&input, &sizes);
        let mut handshake = Handshake::new(role, &key, &config, &mut Counter(7));
        let (_, peak) = peak_of(|| {
            for piece in &input_pieces {
                if handshake.feed(piece).is_err() || handshake.is_done() {
                    break;
                }
            }
            handshake.take_output()
        });
        // The handshake reads frames of at most 256 bytes: its memory does not even
        // grow with the input.
        prop_assert!(peak <= SLACK, "peak {} for {} bytes given", peak, input.len());
    }

    #[test]
    fn a_large_payload_arriving_in_pieces_costs_at_most_one_growth_step_extra(
        len in GROWTH_STEP..(16 * GROWTH_STEP),
        arrived_fraction in 0.0f64..=1.0,
        sizes in split_sizes(),
    ) {
        let mut wire = Vec::new();
        encode(&vec![0x63; len], &mut wire);
        wire.truncate((wire.len() as f64 * arrived_fraction) as usize);
        let input_pieces = pieces(&wire, &sizes);
        let mut decoder = Decoder::new();
        let (_, peak) = peak_of(|| decode_and_drop(&mut decoder, &input_pieces));
        prop_assert!(
            peak <= wire.len() + GROWTH_STEP + SLACK,
            "peak {} for {} of {} bytes", peak, wire.len(), len
        );
    }
}

/// A header claiming a huge payload, then a few real bytes, as a peer could send.
fn hostile(claim: u64) -> Vec<u8> {
    [Header::new(claim).as_bytes(), b"abc"].concat()
}

#[test]
fn header_claiming_u64_max_then_three_bytes_allocates_almost_nothing() {
    let input = hostile(u64::MAX);
    let mut decoder = Decoder::new();
    let (result, peak) = peak_of(|| decoder.decode(&input));
    assert_eq!(result, Ok((input.len(), None)));
    assert!(peak <= 64, "peak {peak} bytes");
}

#[test]
fn header_claiming_i32_max_then_bytes_one_at_a_time_allocates_about_what_arrived() {
    let input = hostile(0x7fff_ffff);
    let mut decoder = Decoder::new();
    let bytes = pieces(&input, &[1]);
    let (frames, peak) = peak_of(|| decode_and_drop(&mut decoder, &bytes));
    assert_eq!(frames, Ok(0));
    // Doubling from what arrived: 3 payload bytes in, a few bytes held.
    assert!(peak <= 64, "peak {peak} bytes");
}

/// A small inbound buffer, so that what the core holds beyond it shows at the byte.
const SMALL: BufferPolicy = BufferPolicy {
    initial: 16,
    max: 64 * 1024,
};

#[test]
fn hostile_headers_cost_a_connection_almost_nothing_before_and_after_the_handshake() {
    for claim in [u64::MAX, 0x7fff_ffff] {
        let input = hostile(claim);
        let mut established = Connection::established().with_buffer_policy(SMALL);
        let (result, peak) = peak_of(|| {
            established.feed(&input).unwrap();
            established.next_message().map(|message| message.is_none())
        });
        assert_eq!(result, Ok(true));
        assert!(
            peak <= SMALL.initial + 64,
            "established, claim {claim:#x}: peak {peak} bytes"
        );
        // Then the rest read onto the payload's Vec: memory follows what arrived.
        let (_, peak) = peak_of(|| {
            let RecvBuf::Payload { buf, limit } = established.recv_buf() else {
                panic!("inside a payload of {claim} bytes with nothing buffered")
            };
            (buf.capacity(), limit)
        });
        assert!(
            peak <= 3 + 2 * GROWTH_STEP,
            "established, claim {claim:#x}: a payload read reserves {peak} bytes"
        );

        // During the handshake every frame is limited to 256 bytes: refused at once.
        let mut client =
            Connection::client(Some(b"k"), &HandshakeConfig::default(), &mut Counter(0))
                .with_buffer_policy(SMALL);
        let (result, peak) = peak_of(|| {
            client.feed(&input).unwrap();
            client.error().cloned()
        });
        assert_eq!(
            result,
            Some(Error::MessageTooLong {
                len: claim,
                max: 256
            })
        );
        assert!(
            peak <= SMALL.initial + 64,
            "handshaking, claim {claim:#x}: peak {peak} bytes"
        );
    }
}

#[test]
fn a_connection_holds_the_bytes_fed_plus_a_constant_until_messages_are_taken() {
    // The worst case for feed(): empty messages, 4 bytes on the wire each, none taken
    // until the end. The buffer holds them undecoded, so no more than the bytes that
    // carried them, doubled at most once.
    let count = 4096;
    let mut input = Vec::new();
    for _ in 0..count {
        encode(b"", &mut input);
    }
    let mut conn = Connection::established();
    let (result, peak) = peak_of(|| conn.feed(&input));
    assert_eq!(result, Ok(()));
    assert!(
        peak <= input.len() + GROWTH_STEP + SLACK,
        "peak {peak} for {count} empty messages ({} bytes given)",
        input.len()
    );
    // Taking them allocates nothing: each is borrowed from the buffer.
    let (taken, peak) = peak_of(|| {
        let mut taken = 0;
        while conn.next_message().unwrap().is_some() {
            taken += 1;
        }
        taken
    });
    assert_eq!((taken, peak), (count, 0));
}

#[test]
fn small_messages_cost_no_allocation_each_once_the_buffer_is_there() {
    let mut input = Vec::new();
    for i in 0..100u8 {
        encode(&[i; 30], &mut input);
    }
    let mut receiver = Receiver::new();
    receiver.feed(b"").unwrap();
    let _ = receiver.recv_buf(); // the buffer, allocated once
    let (count, peak) = peak_of(|| {
        let mut count = 0;
        // Reads of ten whole frames each: every message lies wholly in the buffer.
        for piece in input.chunks(10 * 34) {
            receiver.feed(piece).unwrap();
            while receiver.next_message().unwrap().is_some() {
                count += 1;
            }
        }
        count
    });
    assert_eq!((count, peak), (100, 0));
}
