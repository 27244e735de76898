//! The pickle corpus (tests/data/pickles, captured by tests/python/capture_pickles.py
//! from every CPython pyenv has): every file decodes, and what we pickle back from
//! it is, for the CPython that wrote it, the same object of the same type.

use std::path::{Path, PathBuf};

use mpconn::pickle::{self, Protocol, Value};
use mpconn_test_support as support;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pickles")
}

/// `(file name, protocol, bytes)` of every file captured by CPython `version`.
fn files(version: &str) -> Vec<(String, Protocol, Vec<u8>)> {
    let dir = corpus().join(version);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            // <case>.<protocol>.pickle
            let protocol = name.rsplit('.').nth(1).and_then(|p| p.parse().ok());
            let protocol = Protocol::new(protocol.expect("a protocol in the file name")).unwrap();
            (name, protocol, std::fs::read(&path).unwrap())
        })
        .collect()
}

fn label((major, minor): (u32, u32)) -> String {
    format!("{major}.{minor}")
}

#[test]
fn every_file_of_every_cpython_decodes() {
    let mut count = 0;
    for version in support::VERSIONS {
        for (name, _, bytes) in files(&label(version)) {
            let value =
                pickle::loads(&bytes).unwrap_or_else(|e| panic!("{}/{name}: {e}", label(version)));
            // And re-pickles at every protocol, and reads back the same.
            for protocol in [Protocol::V0, Protocol::V2, Protocol::V3, Protocol::V5] {
                let again = pickle::dumps_with(&value, protocol).unwrap();
                assert_eq!(
                    pickle::loads(&again).unwrap(),
                    value,
                    "{name} at {protocol:?}"
                );
            }
            count += 1;
        }
    }
    assert!(count > 1000, "only {count} files");
}

#[test]
fn the_corpus_has_the_objects_the_issue_names() {
    let get = |name: &str| pickle::loads(&std::fs::read(corpus().join(name)).unwrap()).unwrap();
    let dt = get("3.13/datetimes.2.pickle");
    let items = dt.as_items().unwrap();
    assert_eq!(
        items[0].to_string(),
        "datetime.datetime(2020, 1, 2, 3, 4, 5, 6)"
    );
    assert_eq!(
        items[1].as_date().map(|d| (d.year, d.month, d.day)),
        Some((2024, 2, 29))
    );
    assert!(items[3].as_timedelta().is_some());
    let nt = get("2.7/namedtuple.2.pickle");
    let (class, fields) = nt.as_items().unwrap()[0].as_namedtuple().unwrap();
    assert_eq!(
        (class.name.as_str(), fields),
        ("Point", &[Value::Int(1), Value::Int(2)][..])
    );
    assert_eq!(
        get("3.6/uuid.0.pickle").as_items().unwrap()[0].as_uuid(),
        Some(5)
    );
    assert_eq!(
        get("3.13/ordered_dict.1.pickle")
            .as_ordered_dict()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        get("3.12/decimals.4.pickle").as_items().unwrap()[0].as_decimal(),
        Some("1.5")
    );
    let ex = get("3.9/exceptions.3.pickle");
    assert_eq!(
        ex.as_items().unwrap()[0].as_exception().map(|(n, _)| n),
        Some("ValueError")
    );
    let en = get("3.13/enums.5.pickle");
    assert_eq!(
        en.as_items().unwrap()[0]
            .as_enum()
            .map(|(c, v)| (c.name.as_str(), v)),
        Some(("Color", &Value::Int(1)))
    );
    assert_eq!(get("3.13/recursive_list.0.pickle").to_string(), "[[...]]");
    assert_eq!(
        get("3.13/dict_order.2.pickle").to_string(),
        "{'z': 1, 'a': 2, 'm': 3}"
    );
}

// It runs CPython: not in the Windows build, which runs under Wine without one.
#[cfg(unix)]
#[test]
fn each_cpython_loads_our_repickles_as_the_same_objects() {
    let scratch = std::env::temp_dir().join(format!("mpconn-pickle-corpus-{}", std::process::id()));
    for python in support::pythons() {
        let version = label(python.version);
        let ours = scratch.join(&version);
        std::fs::create_dir_all(&ours).unwrap();
        let files = files(&version);
        for (name, protocol, bytes) in &files {
            let value = pickle::loads(bytes).unwrap();
            std::fs::write(
                ours.join(name),
                pickle::dumps_with(&value, *protocol).unwrap(),
            )
            .unwrap();
        }
        let child = python
            .script("check_pickles.py")
            .arg(corpus().join(&version))
            .arg(&ours)
            .spawn()
            .expect("start the checker");
        let (stdout, stderr, ok) =
            support::Reaped(Some(child)).finish(std::time::Duration::from_secs(300));
        assert!(
            ok && stdout.contains(&format!("{} passed, 0 failed", files.len())),
            "{}: {stdout}{stderr}",
            python.label()
        );
        eprintln!("{}: {}", python.label(), stdout.trim());
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
