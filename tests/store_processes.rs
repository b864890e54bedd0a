//! A store shared between processes (this test binary, re-run as children): a second writer in
//! another process is refused at once with `Error::Locked` (C status `LQFT_ERR_LOCKED`), and
//! four read-only processes that refresh in a loop while the writer commits and checkpoints
//! always see a committed state.
//!
//! The readers' invariant: the writer's commit `c` puts the value `c` under each of the keys
//! `k0`..`k9` in one batch, so every committed state has ten equal values. A reader that saw a
//! state no commit left (half a batch, a manifest from one checkpoint with the WAL of another)
//! would find them unequal; a reader that went back in time would see the value shrink.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TempDir;
use lqft::ffi::{LQFT_ERR_LOCKED, status_of};
use lqft::store::log::Durability;
use lqft::store::{Store, StoreOptions};
use lqft::{Batch, Error};

const ROLE_ENV: &str = "LQFT_PROCESS_ROLE";
const DIR_ENV: &str = "LQFT_PROCESS_DIR";
const READERS: usize = 4;

fn options(read_only: bool) -> StoreOptions {
    StoreOptions {
        read_only,
        durability: Durability::Group,
        // Small, so that several checkpoints (and WAL retirements) happen while readers read.
        checkpoint_bytes: 16 << 10,
        segment_bytes: 8 << 10,
        ..StoreOptions::default()
    }
}

fn spawn(test: &str, role: &str, dir: &TempDir) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE_ENV, role)
        .env(DIR_ENV, &dir.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// What a child printed after `prefix` on each line holding it (the test harness may print
/// the test's name before it on the same line).
fn lines(child: std::process::Child, prefix: &str) -> Vec<String> {
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "child failed: {:?}", output.status);
    BufReader::new(&output.stdout[..])
        .lines()
        .map_while(|l| l.ok())
        .filter_map(|l| Some(l[l.find(prefix)? + prefix.len()..].to_owned()))
        .collect()
}

fn role() -> Option<(String, std::path::PathBuf)> {
    Some((
        std::env::var(ROLE_ENV).ok()?,
        std::env::var_os(DIR_ENV)?.into(),
    ))
}

/// The child side: a second writer, or a reader.
#[test]
fn process_child() {
    let Some((role, dir)) = role() else {
        return;
    };
    match role.as_str() {
        "second-writer" => {
            let start = Instant::now();
            let result = Store::open(&dir, options(false));
            let took = start.elapsed();
            let error = result.err().expect("a second writer opened the store");
            assert!(matches!(error, Error::Locked { .. }), "{error}");
            println!(
                "@result status {} after {} ms: {error}",
                status_of(&error),
                took.as_millis()
            );
        }
        "reader" => {
            let store = Store::open(&dir, options(true)).unwrap();
            let (mut reads, mut newest, mut changes) = (0u64, 0u64, 0u64);
            let stop = dir.join("stop");
            while !stop.exists() {
                store.refresh().unwrap();
                let values: Vec<u64> = (0..10)
                    .map(|k| {
                        let got = store.get(format!("k{k}").as_bytes()).unwrap();
                        let got = got.unwrap_or_else(|| panic!("k{k} missing after a refresh"));
                        u64::from_be_bytes(got.try_into().unwrap())
                    })
                    .collect();
                let value = values[0];
                assert!(
                    values.iter().all(|v| *v == value),
                    "read {reads}: not a committed state: {values:?}"
                );
                assert!(
                    value >= newest,
                    "read {reads}: went back from {newest} to {value}"
                );
                changes += u64::from(value > newest);
                newest = value;
                reads += 1;
            }
            println!("@result {reads} {changes} {newest}");
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn a_second_writer_in_another_process_is_refused_at_once() {
    if role().is_some() {
        return;
    }
    let dir = TempDir::new("proc-lock");
    let writer = Store::open(&dir.0, options(false)).unwrap();
    writer.put(b"a", b"1").unwrap();
    let child = spawn("process_child", "second-writer", &dir);
    let result = lines(child, "@result ");
    assert_eq!(result.len(), 1, "{result:?}");
    let words: Vec<&str> = result[0].split(' ').collect();
    assert_eq!(words[1].parse::<i32>().unwrap(), LQFT_ERR_LOCKED);
    let millis: u64 = words[3].parse().unwrap();
    assert!(millis < 2_000, "the refusal took {millis} ms");
    eprintln!("second writer: {}", result[0]);
    // The writer is unaffected.
    writer.put(b"b", b"2").unwrap();
    assert_eq!(writer.len(), 2);
}

#[test]
fn read_only_processes_see_only_committed_states_while_the_writer_commits_and_checkpoints() {
    if role().is_some() {
        return;
    }
    let dir = TempDir::new("proc-readers");
    let writer = Store::open(&dir.0, options(false)).unwrap();
    let commit = |c: u64| {
        let mut batch = Batch::new();
        for k in 0..10 {
            batch
                .put(format!("k{k}").as_bytes(), &c.to_be_bytes())
                .unwrap();
        }
        writer.map().try_write_batch(&batch).unwrap();
    };
    commit(0);
    let readers: Vec<_> = (0..READERS)
        .map(|_| spawn("process_child", "reader", &dir))
        .collect();
    let start = Instant::now();
    let mut c = 1;
    // Commit until the readers have had time to read many states, with several checkpoints.
    while start.elapsed() < Duration::from_secs(3) || writer.counters().checkpoints < 4 {
        commit(c);
        c += 1;
        if c.is_multiple_of(500) {
            writer.checkpoint().unwrap();
        }
    }
    let checkpoints = writer.counters().checkpoints;
    std::fs::write(dir.path("stop"), b"").unwrap();
    let mut total_reads = 0;
    for (n, reader) in readers.into_iter().enumerate() {
        let result = lines(reader, "@result ");
        let numbers: Vec<u64> = result[0].split(' ').map(|w| w.parse().unwrap()).collect();
        let (reads, changes, newest) = (numbers[0], numbers[1], numbers[2]);
        eprintln!("reader {n}: {reads} reads, {changes} newer states seen, newest commit {newest}");
        assert!(reads >= 20, "reader {n} read only {reads} times");
        assert!(changes >= 2, "reader {n} saw only {changes} newer states");
        assert!(newest < c);
        total_reads += reads;
    }
    eprintln!(
        "{READERS} readers: {total_reads} committed states read while {c} commits and \
         {checkpoints} checkpoints ran"
    );
    assert!(checkpoints >= 4);
}
