//! kill -9 of a writer process at random moments: the writer (this test binary, re-run as a
//! child) commits puts and reports each acknowledgement over a pipe; the parent kills it with
//! SIGKILL, reopens the store and checks that every acknowledged put is there, and that the
//! store holds a prefix of the writer's puts (nothing invented, nothing reordered).
//!
//! `LQFT_KILL_CYCLES` sets the number of cycles (default 200; 500 when run by hand).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, xorshift};
use lqft::store::log::Durability;
use lqft::store::{Store, StoreOptions};

const CHILD_ENV: &str = "LQFT_KILL_CHILD_DIR";

fn options(checkpoint_bytes: u64) -> StoreOptions {
    StoreOptions {
        segment_bytes: 64 << 10,
        checkpoint_bytes,
        ..StoreOptions::default()
    }
}

fn value(i: u64) -> Vec<u8> {
    format!("value-{i}-{}", "x".repeat((i % 50) as usize)).into_bytes()
}

/// The child: commits puts 0, 1, 2, ... from where the store is, acknowledging each on stdout.
#[test]
fn kill_child_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mode: u64 = std::env::var("LQFT_KILL_MODE").unwrap().parse().unwrap();
    let durability = if mode.is_multiple_of(2) {
        Durability::Sync
    } else {
        Durability::Group
    };
    let store = Store::open(
        &dir,
        options(if mode.is_multiple_of(3) {
            30_000
        } else {
            64 << 20
        }),
    )
    .unwrap();
    let mut next = store.len();
    let mut out = std::io::stdout().lock();
    loop {
        store
            .put_with(&next.to_be_bytes(), &value(next), durability)
            .unwrap();
        writeln!(out, "ack {next}").unwrap();
        out.flush().unwrap();
        next += 1;
        if next.is_multiple_of(97) {
            store.checkpoint().unwrap();
        }
    }
}

#[test]
fn killed_writers_lose_no_acknowledged_put() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let cycles: u64 = std::env::var("LQFT_KILL_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(200);
    let dir = TempDir::new("store-kill");
    let exe = std::env::current_exe().unwrap();
    let mut rng = 0xdead_beef_u64;
    let mut acked_total = 0;
    for cycle in 0..cycles {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "kill_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &dir.0)
            .env("LQFT_KILL_MODE", cycle.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ack ") {
                    let _ = tx.send(n.parse::<u64>().unwrap());
                }
            }
        });
        // Kill after a random number of acknowledgements or a random time, whichever first.
        let want = 1 + xorshift(&mut rng) % 300;
        let deadline = Instant::now() + Duration::from_millis(5 + xorshift(&mut rng) % 200);
        let mut last_ack = None;
        let mut seen = 0;
        while seen < want && Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(n) => {
                    last_ack = Some(n);
                    seen += 1;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(_) => break,
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        // Acks read after the kill were sent before it: they count too.
        while let Ok(n) = rx.try_recv() {
            last_ack = Some(n);
        }
        let store = Store::open(&dir.0, options(64 << 20))
            .unwrap_or_else(|e| panic!("cycle {cycle}: reopen failed: {e}"));
        let len = store.len();
        if let Some(n) = last_ack {
            assert!(
                len > n,
                "cycle {cycle}: put {n} acknowledged but the store has {len}"
            );
            acked_total += 1;
        }
        let view = store.view();
        for (i, entry) in view.try_iter().enumerate() {
            let (key, got) = entry.unwrap();
            assert_eq!(key, (i as u64).to_be_bytes(), "cycle {cycle}: not a prefix");
            assert_eq!(got, value(i as u64), "cycle {cycle}: wrong value");
        }
    }
    eprintln!("{cycles} kill -9 cycles, {acked_total} with acknowledged puts");
}
