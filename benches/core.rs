//! Criterion micro-benchmarks of the sans-IO core: what the protocol itself costs in
//! CPU, with no socket in the way.
//!
//! - `encode/*`, `decode/*`: framing of 64 B, 4 KiB and 1 MiB payloads, as bytes per
//!   second. Decoding is measured both ways a loop meets it: the whole frame in one
//!   input (the payload is borrowed) and the frame arriving in 64 KiB reads (the
//!   payload is gathered into an owned buffer), and through `Connection::feed`, which
//!   copies every message into its inbox.
//! - `handshake/*`: one full authenticated handshake, both roles in memory, per digest
//!   (and the legacy 3.11-style challenge). The random source is a cheap deterministic
//!   one, so this is the protocol's cost alone; the adapters add the OS's randomness.
//!
//! Run: `cargo bench -p mpconn-benches --bench core` (add a filter such as `-- decode` to pick).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mpconn::frame::{self, Decoder};
use mpconn::{Connection, Digest, HandshakeConfig};
// Deterministic nonces: a benchmark of the protocol, not of the OS's generator.
use mpconn_test_support::SplitMix;

const SIZES: [(&str, usize); 3] = [("64B", 64), ("4KiB", 4096), ("1MiB", 1 << 20)];

/// A read size typical of an adapter's receive buffer.
const READ_CHUNK: usize = 64 * 1024;

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (name, size) in SIZES {
        let payload = vec![0x5a; size];
        let mut out = Vec::with_capacity(size + 12);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                out.clear();
                frame::encode(black_box(&payload), &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, size) in SIZES {
        let mut wire = Vec::new();
        frame::encode(&vec![0x5a; size], &mut wire);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("whole", name), |b| {
            let mut decoder = Decoder::new();
            b.iter(|| {
                let (used, frame) = decoder.decode(black_box(&wire)).unwrap();
                assert_eq!(used, wire.len());
                black_box(frame.unwrap().len())
            })
        });
        // What a simple loop pays: Connection::feed copies each message into its inbox.
        group.bench_function(BenchmarkId::new("connection_feed", name), |b| {
            let mut connection = Connection::established();
            b.iter(|| {
                connection.feed(black_box(&wire)).unwrap();
                black_box(
                    connection
                        .next_message()
                        .unwrap()
                        .map(|message| message.len()),
                )
            })
        });
        if size > READ_CHUNK {
            group.bench_function(BenchmarkId::new("in_64KiB_reads", name), |b| {
                let mut decoder = Decoder::new();
                b.iter(|| {
                    let mut got = None;
                    for chunk in wire.chunks(READ_CHUNK) {
                        let (used, frame) = decoder.decode(black_box(chunk)).unwrap();
                        assert_eq!(used, chunk.len());
                        if let Some(frame) = frame {
                            got = Some(frame.into_vec());
                        }
                    }
                    black_box(got.unwrap().len())
                })
            });
        }
    }
    group.finish();
}

/// Runs one handshake to completion between a server and a client in memory.
fn handshake_once(config: &HandshakeConfig, rng: &mut SplitMix) {
    let key = b"benchmark authkey";
    let mut server = Connection::server(Some(key), config, rng);
    let mut client = Connection::client(Some(key), config, rng);
    while server.wants_write() || client.wants_write() {
        client.feed(&server.take_output()).unwrap();
        server.feed(&client.take_output()).unwrap();
    }
    assert!(server.is_established() && client.is_established());
}

fn handshake(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake");
    let mut configs: Vec<(String, HandshakeConfig)> = Digest::ALL
        .iter()
        .map(|&d| (d.name().to_string(), HandshakeConfig::default().digest(d)))
        .collect();
    configs.push((
        "legacy_md5".to_string(),
        HandshakeConfig::default().legacy(true),
    ));
    for (name, config) in configs {
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            let mut rng = SplitMix::new(1);
            b.iter(|| handshake_once(black_box(&config), &mut rng))
        });
    }
    group.finish();
}

criterion_group!(benches, encode, decode, handshake);
criterion_main!(benches);
