//! Helpers shared by the integration tests (`mod common;` in a test file).
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A fresh directory under the system temp dir, removed with its contents on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory whose name holds `tag`, the process id and a counter.
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lqft-test-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// `name` inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names in the directory, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Runs `f` on another thread and returns its result, failing the test if it takes longer
/// than `limit` (for calls that must not block; a blocked thread is abandoned).
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the call did not return within {limit:?}"))
}

/// The permission bits of `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A small, fast, deterministic pseudo-random generator (xorshift64); `state` must not be 0.
pub fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A counter's value as stored: 8 bytes, little-endian.
pub fn counter(value: u64) -> [u8; 8] {
    value.to_le_bytes()
}

/// The counter stored in `bytes` (8 bytes, little-endian).
pub fn read_counter(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("a counter is 8 bytes"))
}

impl TempDir {
    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.0
    }
}

/// Runs the `lqft` command built with the tests in `dir`, with `args`.
pub fn run_lqft(args: &[&str], dir: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_lqft"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// The crash images a power-loss test builds at a sync point holding `unsynced` unsynced (or
/// uncertain) operations: all dropped, all kept, each prefix kept, and `randoms` random ones
/// (dropped, kept, torn and reordered per operation) seeded from `seed`.
pub fn crash_hows(unsynced: usize, randoms: u64, seed: u64) -> Vec<lqft::store::sim::Crash> {
    use lqft::store::sim::Crash;
    let mut hows = vec![Crash::DropAll, Crash::KeepAll];
    hows.extend((1..unsynced).map(Crash::KeepPrefix));
    hows.extend((0..randoms).map(|r| Crash::Random(seed.wrapping_mul(1_000_003) + r)));
    hows
}

/// The entries of an owned walk as owned pairs (the first failed load ends it as an error).
pub fn pairs<C: FromIterator<(Vec<u8>, Vec<u8>)>>(walk: lqft::TryEntries) -> lqft::Result<C> {
    walk.map(|entry| entry.map(|entry| (entry.key().to_vec(), entry.value().to_vec())))
        .collect()
}

/// A store's or map's entries, as owned pairs in key order.
pub type Entries = std::collections::BTreeMap<Vec<u8>, Vec<u8>>;

/// The entries of `tree` (a failed load panics).
pub fn entries(tree: &lqft::Tree) -> Entries {
    tree.try_iter()
        .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<lqft::Result<_>>()
        .unwrap()
}

/// Everything a reopen (or a backup) must keep of a map: registry (metadata and contents),
/// current snapshot, retention, pending count, next id and the live entries.
#[derive(Debug, PartialEq, Clone)]
pub struct State {
    pub snapshots: Vec<(lqft::SnapshotMeta, Entries)>,
    pub current: Option<u64>,
    pub retention: Option<usize>,
    pub pending: u64,
    pub next_id: u64,
    pub live: Entries,
}

/// `map`'s [`State`].
pub fn state(map: &lqft::Map) -> State {
    State {
        snapshots: map
            .snapshots()
            .iter()
            .map(|s| (s.meta().clone(), entries(s.tree())))
            .collect(),
        current: map.current_snapshot().map(|s| s.id()),
        retention: map.retention(),
        pending: map.pending_mutations(),
        next_id: map.next_snapshot_id(),
        live: pairs(map.try_iter()).unwrap(),
    }
}
