//! The pickle codec against serde-pickle and against CPython's own `pickle`, on about
//! 1 MiB of a list of small dicts (`{'id': i, 'name': 'item-i', 'score': i / 2,
//! 'tags': ['a', 'b']}`), every figure measured in the same run.
//!
//!     cargo bench -p mpconn-benches --bench pickle
//!
//! Criterion measures each Rust row; then a table gives the best per-call time of
//! each row over `MPCONN_BENCH_SECS` (default 0.5) seconds, next to CPython 3.13's
//! `pickle.loads` / `pickle.dumps` of the same bytes (`benches/pickle_cpython.py`),
//! in MB/s of pickle (10^6 bytes).
//!
//! Rows: `value` decodes to / encodes from the dynamic value (`mpconn::pickle::Value`,
//! `serde_pickle::Value`); `typed` goes through serde to and from `Vec<Item>`. The
//! input is our protocol 4 pickle of the list, memo and all (what CPython 3.8+ sends
//! through multiprocessing); pickling writes protocol 3, serde-pickle's.

use std::hint::black_box;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use serde::{Deserialize, Serialize};

use mpconn::pickle::{self, Protocol, Value};
use mpconn_test_support as support;

#[derive(Serialize, Deserialize)]
struct Item {
    id: i64,
    name: String,
    score: f64,
    tags: Vec<String>,
}

/// The workload, as a value (keys and tags shared, as CPython's would be) and as
/// typed items.
fn workload() -> (Value, Vec<Item>) {
    let [id, name, score, tags, a, b] = ["id", "name", "score", "tags", "a", "b"].map(Value::str);
    let mut values = Vec::new();
    let mut items = Vec::new();
    for i in 0..25_000i64 {
        let item_name = format!("item-{i}");
        values.push(Value::dict(vec![
            (id.clone(), Value::Int(i)),
            (name.clone(), Value::str(&item_name)),
            (score.clone(), Value::Float(i as f64 / 2.0)),
            (tags.clone(), Value::list(vec![a.clone(), b.clone()])),
        ]));
        items.push(Item {
            id: i,
            name: item_name,
            score: i as f64 / 2.0,
            tags: vec!["a".into(), "b".into()],
        });
    }
    (Value::list(values), items)
}

fn best(secs: f64, mut f: impl FnMut()) -> Duration {
    f();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut best = Duration::MAX;
    let mut runs = 0;
    while Instant::now() < deadline || runs < 5 {
        let start = Instant::now();
        f();
        best = best.min(start.elapsed());
        runs += 1;
    }
    best
}

/// One benchmarked operation; its result is black-boxed and dropped in the timing.
type Op<'a> = Box<dyn Fn() + 'a>;

/// A criterion group: its name, the bytes each operation handles, and the operations.
type Group<'a> = (&'static str, usize, [(&'static str, Op<'a>); 4]);

fn op<'a, T, E: std::fmt::Debug>(f: impl Fn() -> Result<T, E> + 'a) -> Op<'a> {
    Box::new(move || drop(black_box(f().unwrap())))
}

fn cpython(bytes: &[u8], secs: f64) -> Option<(Duration, Duration)> {
    let python = support::python(3, 13)?;
    let dir = std::env::temp_dir().join(format!("mpconn-pickle-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let file = dir.join("workload.pickle");
    std::fs::write(&file, bytes).ok()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("pickle_cpython.py");
    let child = Command::new(&python.path)
        .arg(&script)
        .arg(&file)
        .arg("--secs")
        .arg(secs.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let (stdout, stderr, ok) = support::Reaped(Some(child)).finish(Duration::from_secs(120));
    let _ = std::fs::remove_dir_all(&dir);
    if !ok {
        eprintln!("CPython baseline failed: {stderr}");
        return None;
    }
    let figure = |name: &str| -> Option<Duration> {
        let line = stdout.lines().find(|l| l.starts_with(name))?;
        Some(Duration::from_secs_f64(
            line.split_whitespace().nth(1)?.parse().ok()?,
        ))
    };
    Some((figure("unpickle ")?, figure("pickle ")?))
}

fn main() {
    let (value, items) = workload();
    let input = pickle::dumps_with(&value, Protocol::V4).unwrap();
    let sp_value = serde_pickle::value_from_slice(&input, serde_pickle::DeOptions::new()).unwrap();
    let ours_p3 = pickle::dumps_with(&value, Protocol::V3).unwrap();
    assert_eq!(pickle::loads(&input).unwrap(), value);

    // Each operation once: criterion measures it, then the table below times it again.
    let (de, ser) = (serde_pickle::DeOptions::new, serde_pickle::SerOptions::new);
    let groups: [Group; 2] = [
        (
            "unpickle",
            input.len(),
            [
                ("mpconn/value", op(|| pickle::loads(black_box(&input)))),
                (
                    "serde-pickle/value",
                    op(|| serde_pickle::value_from_slice(black_box(&input), de())),
                ),
                (
                    "mpconn/typed",
                    op(|| pickle::from_slice::<Vec<Item>>(black_box(&input))),
                ),
                (
                    "serde-pickle/typed",
                    op(|| serde_pickle::from_slice::<Vec<Item>>(black_box(&input), de())),
                ),
            ],
        ),
        (
            "pickle",
            ours_p3.len(),
            [
                ("mpconn/value", op(|| pickle::dumps(black_box(&value)))),
                (
                    "serde-pickle/value",
                    op(|| serde_pickle::value_to_vec(black_box(&sp_value), ser())),
                ),
                ("mpconn/typed", op(|| pickle::to_vec(black_box(&items)))),
                (
                    "serde-pickle/typed",
                    op(|| serde_pickle::to_vec(black_box(&items), ser())),
                ),
            ],
        ),
    ];

    let mut c = Criterion::default().configure_from_args();
    for (group_name, bytes, ops) in &groups {
        let mut group = c.benchmark_group(*group_name);
        group.throughput(Throughput::Bytes(*bytes as u64));
        for (name, op) in ops {
            group.bench_function(*name, |b| b.iter(op));
        }
        group.finish();
    }
    c.final_summary();

    // One table, every row timed again here (best per call) next to CPython's.
    let secs: f64 = std::env::var("MPCONN_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.5);
    let mb = |bytes: usize, t: Duration| bytes as f64 / 1e6 / t.as_secs_f64();
    let mut rows: Vec<(String, usize, Duration)> = Vec::new();
    for (group, bytes, ops) in &groups {
        for (name, op) in ops {
            let row = format!("{group} {}", name.replace('/', " "));
            rows.push((row, *bytes, best(secs, op)));
        }
    }
    println!(
        "\npickle workload: {} dicts, {} bytes at protocol 4 ({} at 3)",
        items.len(),
        input.len(),
        ours_p3.len()
    );
    println!("{:<34} {:>10} {:>10}", "row", "ms/call", "MB/s");
    for (name, bytes, t) in &rows {
        println!(
            "{name:<34} {:>10.3} {:>10.1}",
            t.as_secs_f64() * 1e3,
            mb(*bytes, *t)
        );
    }
    match cpython(&input, secs) {
        Some((loads, dumps)) => {
            println!(
                "{:<34} {:>10.3} {:>10.1}",
                "unpickle CPython 3.13 pickle.loads",
                loads.as_secs_f64() * 1e3,
                mb(input.len(), loads)
            );
            println!(
                "{:<34} {:>10.3} {:>10.1}",
                "pickle CPython 3.13 pickle.dumps",
                dumps.as_secs_f64() * 1e3,
                mb(ours_p3.len(), dumps)
            );
        }
        None => println!("(CPython 3.13 not found: no CPython rows)"),
    }
}
