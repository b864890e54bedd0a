//! An in-memory [`FileSystem`] for tests: power loss and I/O faults on demand.
//!
//! # Model
//!
//! Every file (inode) has durable bytes and a list of operations (writes and length changes)
//! not known to be on the disk; reads see the durable bytes with every operation applied, as a
//! page cache would. [`FsFile::sync_data`] makes a file's operations durable. Every directory has durable
//! entries and a list of unsynced entry changes (create, publish, remove), made durable by
//! [`FileSystem::sync_dir`]; syncing a file does not make its name durable.
//!
//! A **crash image** ([`SimFs::crash`]) is what the disk could hold after power loss now: each
//! directory keeps its durable entries plus a prefix of its unsynced changes (file systems journal
//! a directory's metadata in order), and each file keeps its durable bytes plus any subset of its
//! unsynced operations — dropped, torn or applied out of order. A torn write lands in part: a
//! prefix of it, some of its chunks, only the size change (old bytes where it overwrote, zeros
//! where it extended), or with a stretch of garbage where it extended the file (an overwritten
//! sector holds its old or its new bytes, never garbage).
//!
//! A failed `fdatasync` leaves the file's unsynced operations **uncertain**: each may or may not
//! have reached the disk, and no later sync settles them (Linux marks the pages clean after a
//! failed writeback, which is what makes retrying an fsync unsafe). Reads still see them, and
//! crash images keep, drop or tear each of them like an unsynced operation, even after later
//! operations became durable; only writing the bytes again makes them durable.
//!
//! **Sync points**: with [`SimFs::record_sync_points`] on, the state is captured just before every
//! `sync_data` and `sync_dir` takes effect, tagged with the caller's current [`SimFs::set_mark`];
//! a crash test recovers crash images of each capture and checks them against what had been
//! acknowledged by that mark.
//!
//! **Faults**: [`SimFs::fail_call`] makes the n-th call (counted from [`SimFs::calls`]) fail with
//! an errno, once or for every later call; a failed write applies nothing.
//! [`SimFs::fail_write_partly`] makes a failed write leave a prefix of its bytes written
//! (unsynced, as a short `pwrite` before the error does).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::sync::Arc;

use parking_lot::Mutex;

use super::fs::{FileSystem, FsFile, FsLock, OpenMode, parent};

type InodeId = u64;

#[derive(Clone, Debug)]
enum FileOp {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
}

impl FileOp {
    fn apply(&self, data: &mut Vec<u8>) {
        match self {
            FileOp::Write { offset, bytes } => write_into(data, *offset, bytes),
            FileOp::SetLen(len) => data.resize(to_usize(*len), 0),
        }
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).expect("simulated files fit in memory")
}

fn write_into(data: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let start = to_usize(offset);
    let end = start + bytes.len();
    if data.len() < end {
        data.resize(end, 0);
    }
    data[start..end].copy_from_slice(bytes);
}

/// Whether an operation after a file's durable bytes is on the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Not synced yet: a crash keeps, drops or tears it.
    Unsynced,
    /// A sync covering it failed: a crash keeps, drops or tears it, whatever syncs follow.
    Uncertain,
    /// Synced after an uncertain operation (which keeps it from joining the durable bytes).
    Synced,
}

#[derive(Clone, Debug, Default)]
struct Inode {
    /// Bytes on the disk for sure.
    durable: Vec<u8>,
    /// Operations after `durable`, in order; the first is never `Synced`.
    ops: Vec<(FileOp, Fate)>,
    /// `durable` with every operation applied: what reads see.
    current: Vec<u8>,
}

impl Inode {
    /// Operations a crash may keep, drop or tear.
    fn unsettled(&self) -> usize {
        self.ops.iter().filter(|(_, f)| *f != Fate::Synced).count()
    }

    /// A successful `fdatasync`: unsynced operations become durable; uncertain ones stay so.
    fn sync(&mut self) {
        for (_, fate) in &mut self.ops {
            if *fate == Fate::Unsynced {
                *fate = Fate::Synced;
            }
        }
        let settled = self
            .ops
            .iter()
            .position(|(_, f)| *f != Fate::Synced)
            .unwrap_or(self.ops.len());
        for (op, _) in self.ops.drain(..settled) {
            op.apply(&mut self.durable);
        }
    }

    /// A failed `fdatasync`: unsynced operations become uncertain.
    fn fail_sync(&mut self) {
        for (_, fate) in &mut self.ops {
            if *fate == Fate::Unsynced {
                *fate = Fate::Uncertain;
            }
        }
    }
}

#[derive(Clone, Debug)]
enum DirOp {
    Link(String, InodeId),
    Unlink(String),
}

#[derive(Clone, Debug, Default)]
struct Dir {
    durable: BTreeMap<String, InodeId>,
    unsynced: Vec<DirOp>,
    current: BTreeMap<String, InodeId>,
}

impl Dir {
    fn apply(entries: &mut BTreeMap<String, InodeId>, op: &DirOp) {
        match op {
            DirOp::Link(name, inode) => {
                entries.insert(name.clone(), *inode);
            }
            DirOp::Unlink(name) => {
                entries.remove(name);
            }
        }
    }

    fn change(&mut self, op: DirOp) {
        Dir::apply(&mut self.current, &op);
        self.unsynced.push(op);
    }
}

#[derive(Clone, Debug)]
struct Fault {
    call: u64,
    errno: i32,
    persistent: bool,
    /// Bytes a failed write leaves written.
    written: usize,
}

/// A failed call: its error, and for a write, how many of its bytes landed first.
struct Failure {
    errno: i32,
    written: usize,
}

impl From<Failure> for io::Error {
    fn from(failure: Failure) -> io::Error {
        io::Error::from_raw_os_error(failure.errno)
    }
}

/// One captured sync point: the state just before a sync took effect.
#[derive(Clone)]
pub struct SyncPoint {
    /// The mark set by [`SimFs::set_mark`] when the sync began.
    pub mark: u64,
    state: State,
}

impl SyncPoint {
    /// Unsynced operations (file and directory) the state holds.
    pub fn unsynced(&self) -> usize {
        self.state.unsynced()
    }

    /// A crash image of this sync point; see [`SimFs::crash`].
    pub fn crash(&self, how: Crash) -> SimFs {
        SimFs::from_state(self.state.crash(how))
    }
}

#[derive(Clone, Debug, Default)]
struct State {
    inodes: HashMap<InodeId, Inode>,
    dirs: BTreeMap<String, Dir>,
    next_inode: InodeId,
    locks: HashSet<String>,
    calls: u64,
    faults: Vec<Fault>,
    mark: u64,
    recording: bool,
    sync_delay: std::time::Duration,
    sync_points: Vec<(u64, Box<State>)>,
}

/// Which crash image [`SimFs::crash`] builds from the unsynced operations.
#[derive(Clone, Copy, Debug)]
pub enum Crash {
    /// Every unsynced (or uncertain) operation lost.
    DropAll,
    /// Every unsynced (or uncertain) operation kept (as if the power failed right after they
    /// all landed).
    KeepAll,
    /// The first n unsynced (or uncertain) operations of each file and directory kept, in
    /// order.
    KeepPrefix(usize),
    /// A pseudo-random choice from this seed: directory prefixes, and per unsynced (or
    /// uncertain) file operation kept, dropped or torn, independently (so later writes may land
    /// without earlier ones).
    Random(u64),
}

/// A small deterministic generator (splitmix64), so crash images are reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

impl State {
    fn unsynced(&self) -> usize {
        let files: usize = self.inodes.values().map(Inode::unsettled).sum();
        let dirs: usize = self.dirs.values().map(|d| d.unsynced.len()).sum();
        files + dirs
    }

    fn crash(&self, how: Crash) -> State {
        let mut rng = Rng(match how {
            Crash::Random(seed) => seed,
            _ => 0,
        });
        let keep_count = |rng: &mut Rng, n: usize| match how {
            Crash::DropAll => 0,
            Crash::KeepAll => n,
            Crash::KeepPrefix(k) => k.min(n),
            Crash::Random(_) => rng.below(n + 1),
        };
        let mut out = State {
            next_inode: self.next_inode,
            ..State::default()
        };
        for (path, dir) in &self.dirs {
            let mut entries = dir.durable.clone();
            let kept = keep_count(&mut rng, dir.unsynced.len());
            for op in &dir.unsynced[..kept] {
                Dir::apply(&mut entries, op);
            }
            out.dirs.insert(
                path.clone(),
                Dir {
                    durable: entries.clone(),
                    unsynced: Vec::new(),
                    current: entries,
                },
            );
        }
        let mut ids: Vec<InodeId> = self.inodes.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let inode = &self.inodes[&id];
            let mut data = inode.durable.clone();
            let mut kept = keep_count(&mut rng, inode.unsettled());
            for (op, fate) in &inode.ops {
                match (fate, how) {
                    (Fate::Synced, _) => op.apply(&mut data),
                    (_, Crash::Random(_)) => match rng.below(4) {
                        0 => {}
                        1 => op.apply(&mut data),
                        _ => tear(op, &mut data, &mut rng),
                    },
                    _ if kept > 0 => {
                        kept -= 1;
                        op.apply(&mut data);
                    }
                    _ => {}
                }
            }
            out.inodes.insert(
                id,
                Inode {
                    durable: data.clone(),
                    ops: Vec::new(),
                    current: data,
                },
            );
        }
        out
    }

    /// Counts a call and fails it if a fault is set for it.
    fn call(&mut self) -> Result<(), Failure> {
        let now = self.calls;
        self.calls += 1;
        let hit = self
            .faults
            .iter()
            .find(|f| f.call == now || (f.persistent && f.call <= now));
        match hit {
            Some(fault) => Err(Failure {
                errno: fault.errno,
                written: fault.written,
            }),
            None => Ok(()),
        }
    }

    fn capture(&mut self) {
        if self.recording {
            let mut copy = self.clone();
            copy.sync_points.clear();
            copy.recording = false;
            self.sync_points.push((self.mark, Box::new(copy)));
        }
    }

    fn dir(&self, dir: &str) -> io::Result<&Dir> {
        self.dirs.get(dir).ok_or_else(|| not_found(dir))
    }

    fn dir_mut(&mut self, dir: &str) -> io::Result<&mut Dir> {
        self.dirs.get_mut(dir).ok_or_else(|| not_found(dir))
    }

    fn lookup(&self, path: &str) -> io::Result<InodeId> {
        self.dir(parent(path))?
            .current
            .get(name(path))
            .copied()
            .ok_or_else(|| not_found(path))
    }
}

/// A torn version of `op`. A write lands in part: a prefix of it; some of its chunks (as a disk
/// writes sectors in any order); only its size change (the old bytes where it overwrote, zeros
/// where it extended the file); or whole but with a stretch of garbage where it extended the
/// file (blocks allocated whose data never landed; an overwritten sector holds its old or its
/// new bytes, as crash-consistency studies of real file systems assume). A length change lands
/// or not.
fn tear(op: &FileOp, data: &mut Vec<u8>, rng: &mut Rng) {
    match op {
        FileOp::Write { offset, bytes } => {
            if rng.below(4) == 0 {
                let cut = rng.below(bytes.len() + 1);
                write_into(data, *offset, &bytes[..cut]);
                return;
            }
            let start = to_usize(*offset);
            let end = start + bytes.len();
            let old_len = data.len();
            if old_len < end {
                data.resize(end, 0);
            }
            let target = &mut data[start..end];
            match rng.below(3) {
                0 => {
                    let chunk = 1 + rng.below(bytes.len().div_ceil(4).max(1));
                    for (to, from) in target.chunks_mut(chunk).zip(bytes.chunks(chunk)) {
                        if rng.below(2) == 0 {
                            to.copy_from_slice(from);
                        }
                    }
                }
                1 => {}
                _ => {
                    target.copy_from_slice(bytes);
                    // Garbage only where the file grew: blocks allocated whose data never
                    // landed. Overwritten sectors hold their old or their new bytes.
                    let grown = old_len.saturating_sub(start).min(bytes.len());
                    let from = grown + rng.below(bytes.len() - grown + 1);
                    let to = from + rng.below(bytes.len() - from + 1);
                    for byte in &mut target[from..to] {
                        *byte = rng.next() as u8;
                    }
                }
            }
        }
        FileOp::SetLen(_) => {
            if rng.below(2) == 0 {
                op.apply(data);
            }
        }
    }
}

fn not_found(path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{path}: no such file"))
}

fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// An in-memory file system with crash images and fault injection; see the module docs.
///
/// Cloning gives another handle to the same file system.
#[derive(Clone)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

impl Default for SimFs {
    fn default() -> SimFs {
        SimFs::new()
    }
}

impl SimFs {
    /// An empty file system holding only the root directory `""`.
    pub fn new() -> SimFs {
        let mut state = State::default();
        state.dirs.insert(String::new(), Dir::default());
        SimFs::from_state(state)
    }

    fn from_state(state: State) -> SimFs {
        SimFs {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Calls made so far (every method of [`FileSystem`] and [`FsFile`] counts one).
    pub fn calls(&self) -> u64 {
        self.state.lock().calls
    }

    /// Makes call number `call` fail with `errno`; with `persistent`, every later call too. A
    /// failed write writes nothing.
    pub fn fail_call(&self, call: u64, errno: i32, persistent: bool) {
        self.fail_write_partly(call, errno, persistent, 0);
    }

    /// [`fail_call`](SimFs::fail_call), except that a failed write first writes its first
    /// `written` bytes (all of them if it is shorter), unsynced.
    pub fn fail_write_partly(&self, call: u64, errno: i32, persistent: bool, written: usize) {
        self.state.lock().faults.push(Fault {
            call,
            errno,
            persistent,
            written,
        });
    }

    /// Makes every `sync_data` take at least `delay` (slept without holding the file system's
    /// lock), as a disk's flush does: lets concurrent committers pile up behind a sync.
    pub fn set_sync_delay(&self, delay: std::time::Duration) {
        self.state.lock().sync_delay = delay;
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
    }

    /// Turns capturing of sync points on or off.
    pub fn record_sync_points(&self, on: bool) {
        self.state.lock().recording = on;
    }

    /// Sets the mark later sync points are tagged with (for example, how many writes the test
    /// has seen acknowledged).
    pub fn set_mark(&self, mark: u64) {
        self.state.lock().mark = mark;
    }

    /// Raises the mark to `mark` if it is lower (for concurrent committers reporting
    /// acknowledgements out of order).
    pub fn raise_mark(&self, mark: u64) {
        let mut state = self.state.lock();
        state.mark = state.mark.max(mark);
    }

    /// Takes the sync points captured so far.
    pub fn take_sync_points(&self) -> Vec<SyncPoint> {
        std::mem::take(&mut self.state.lock().sync_points)
            .into_iter()
            .map(|(mark, state)| SyncPoint {
                mark,
                state: *state,
            })
            .collect()
    }

    /// Unsynced operations (file and directory) now.
    pub fn unsynced(&self) -> usize {
        self.state.lock().unsynced()
    }

    /// A crash image of the present state as a new file system: what the disk could hold if
    /// the power failed now. Locks are released (the process died); faults are not carried.
    pub fn crash(&self, how: Crash) -> SimFs {
        SimFs::from_state(self.state.lock().crash(how))
    }

    /// The bytes of `path` as reads see them, if it exists (for tests that inspect or damage
    /// files).
    pub fn read_file(&self, path: &str) -> Option<Vec<u8>> {
        let state = self.state.lock();
        let id = state.lookup(path).ok()?;
        Some(state.inodes[&id].current.clone())
    }

    /// Replaces the bytes of `path`, durably (for tests that damage files).
    pub fn write_file(&self, path: &str, bytes: &[u8]) -> bool {
        let mut state = self.state.lock();
        let Ok(id) = state.lookup(path) else {
            return false;
        };
        let inode = state.inodes.get_mut(&id).expect("linked inodes exist");
        inode.durable = bytes.to_vec();
        inode.current = bytes.to_vec();
        inode.ops.clear();
        true
    }
}

struct SimFile {
    state: Arc<Mutex<State>>,
    inode: InodeId,
    writable: bool,
}

impl SimFile {
    fn modify(&self, op: FileOp) -> io::Result<()> {
        let mut state = self.state.lock();
        let result = state.call();
        if !self.writable {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        let (op, result) = match (op, result) {
            (op, Ok(())) => (op, Ok(())),
            (FileOp::Write { offset, mut bytes }, Err(failure)) if failure.written > 0 => {
                bytes.truncate(failure.written);
                (FileOp::Write { offset, bytes }, Err(failure.into()))
            }
            (_, Err(failure)) => return Err(failure.into()),
        };
        let inode = state
            .inodes
            .get_mut(&self.inode)
            .expect("open inodes exist");
        op.apply(&mut inode.current);
        inode.ops.push((op, Fate::Unsynced));
        result
    }
}

impl FsFile for SimFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut state = self.state.lock();
        state.call()?;
        let data = &state.inodes[&self.inode].current;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match data.get(start..).and_then(|rest| rest.get(..buf.len())) {
            Some(bytes) => {
                buf.copy_from_slice(bytes);
                Ok(())
            }
            None => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
        }
    }

    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        self.modify(FileOp::Write {
            offset,
            bytes: bytes.to_vec(),
        })
    }

    fn sync_data(&self) -> io::Result<()> {
        let delay = self.state.lock().sync_delay;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let mut state = self.state.lock();
        state.capture();
        let result = state.call();
        let inode = state
            .inodes
            .get_mut(&self.inode)
            .expect("open inodes exist");
        match result {
            Ok(()) => {
                inode.sync();
                Ok(())
            }
            // Reads still see the operations; the disk may or may not hold them.
            Err(failure) => {
                inode.fail_sync();
                Err(failure.into())
            }
        }
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.modify(FileOp::SetLen(len))
    }

    fn size(&self) -> io::Result<u64> {
        let mut state = self.state.lock();
        state.call()?;
        Ok(state.inodes[&self.inode].current.len() as u64)
    }
}

struct SimLock {
    state: Arc<Mutex<State>>,
    path: String,
}

impl FsLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        self.state.lock().locks.remove(&self.path);
    }
}

impl FileSystem for SimFs {
    fn create_dir_all(&self, dir: &str) -> io::Result<()> {
        let mut state = self.state.lock();
        state.call()?;
        // Directories are created durably: the store creates them once, before any data.
        let mut path = String::new();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(part);
            state.dirs.entry(path.clone()).or_default();
        }
        Ok(())
    }

    fn open(&self, path: &str, mode: OpenMode) -> io::Result<Arc<dyn FsFile>> {
        let mut state = self.state.lock();
        state.call()?;
        let inode = match mode {
            OpenMode::Read | OpenMode::ReadWrite => state.lookup(path)?,
            OpenMode::CreateNew => {
                if state.lookup(path).is_ok() {
                    return Err(io::Error::from(io::ErrorKind::AlreadyExists));
                }
                let id = state.next_inode;
                state.next_inode += 1;
                state.inodes.insert(id, Inode::default());
                state
                    .dir_mut(parent(path))?
                    .change(DirOp::Link(name(path).to_owned(), id));
                id
            }
        };
        Ok(Arc::new(SimFile {
            state: Arc::clone(&self.state),
            inode,
            writable: mode != OpenMode::Read,
        }))
    }

    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        let mut state = self.state.lock();
        state.call()?;
        Ok(state.dir(dir)?.current.keys().cloned().collect())
    }

    fn publish(&self, from: &str, to: &str) -> io::Result<()> {
        let mut state = self.state.lock();
        state.call()?;
        let inode = state.lookup(from)?;
        if state.lookup(to).is_ok() {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        state
            .dir_mut(parent(to))?
            .change(DirOp::Link(name(to).to_owned(), inode));
        state
            .dir_mut(parent(from))?
            .change(DirOp::Unlink(name(from).to_owned()));
        Ok(())
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        let mut state = self.state.lock();
        state.call()?;
        state.lookup(path)?;
        state
            .dir_mut(parent(path))?
            .change(DirOp::Unlink(name(path).to_owned()));
        Ok(())
    }

    fn sync_dir(&self, dir: &str) -> io::Result<()> {
        let mut state = self.state.lock();
        state.capture();
        state.call()?;
        let entry = state.dir_mut(dir)?;
        for op in std::mem::take(&mut entry.unsynced) {
            Dir::apply(&mut entry.durable, &op);
        }
        Ok(())
    }

    fn try_lock(&self, path: &str) -> io::Result<Option<Box<dyn FsLock>>> {
        let mut state = self.state.lock();
        state.call()?;
        if !state.locks.insert(path.to_owned()) {
            return Ok(None);
        }
        Ok(Some(Box::new(SimLock {
            state: Arc::clone(&self.state),
            path: path.to_owned(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(fs: &SimFs, path: &str, bytes: &[u8]) -> Arc<dyn FsFile> {
        let file = fs.open(path, OpenMode::CreateNew).unwrap();
        file.write_all_at(bytes, 0).unwrap();
        file
    }

    #[test]
    fn unsynced_writes_are_lost_and_synced_ones_kept() {
        let fs = SimFs::new();
        let file = write(&fs, "a", b"first");
        file.sync_data().unwrap();
        fs.sync_dir("").unwrap();
        file.write_all_at(b"-second", 5).unwrap();
        assert_eq!(fs.read_file("a").unwrap(), b"first-second");
        assert_eq!(fs.crash(Crash::DropAll).read_file("a").unwrap(), b"first");
        assert_eq!(
            fs.crash(Crash::KeepAll).read_file("a").unwrap(),
            b"first-second"
        );
    }

    #[test]
    fn a_synced_file_without_a_synced_directory_may_vanish() {
        let fs = SimFs::new();
        write(&fs, "a", b"data").sync_data().unwrap();
        assert_eq!(fs.crash(Crash::DropAll).read_file("a"), None);
        fs.sync_dir("").unwrap();
        assert_eq!(fs.crash(Crash::DropAll).read_file("a").unwrap(), b"data");
    }

    #[test]
    fn random_crashes_tear_and_reorder_unsynced_writes() {
        let fs = SimFs::new();
        let file = write(&fs, "a", b"");
        file.sync_data().unwrap();
        fs.sync_dir("").unwrap();
        file.write_all_at(b"AAAA", 0).unwrap();
        file.write_all_at(b"BBBB", 4).unwrap();
        let mut seen = HashSet::new();
        for seed in 0..400 {
            seen.insert(fs.crash(Crash::Random(seed)).read_file("a").unwrap());
        }
        for expected in [
            &b""[..],
            b"AAAA",
            b"AAAABBBB",
            b"\0\0\0\0BBBB", // the second write landed without the first
            b"AA",           // torn
        ] {
            assert!(seen.contains(expected), "never saw {expected:?}");
        }
    }

    #[test]
    fn a_failed_sync_leaves_its_writes_uncertain_whatever_syncs_follow() {
        let fs = SimFs::new();
        let file = write(&fs, "a", b"x");
        fs.sync_dir("").unwrap();
        fs.fail_call(fs.calls(), libc::EIO, false);
        assert_eq!(
            file.sync_data().unwrap_err().raw_os_error(),
            Some(libc::EIO)
        );
        assert_eq!(fs.read_file("a").unwrap(), b"x");
        file.write_all_at(b"y", 1).unwrap();
        file.sync_data().unwrap();
        // "y" is durable; "x" before it may or may not be on the disk.
        assert_eq!(fs.unsynced(), 1);
        assert_eq!(fs.crash(Crash::DropAll).read_file("a").unwrap(), b"\0y");
        assert_eq!(fs.crash(Crash::KeepAll).read_file("a").unwrap(), b"xy");
        let seen: HashSet<Vec<u8>> = (0..50)
            .map(|seed| fs.crash(Crash::Random(seed)).read_file("a").unwrap())
            .collect();
        assert!(seen.contains(&b"xy"[..]) && seen.contains(&b"\0y"[..]));
        // Writing the bytes again is what makes them durable.
        file.write_all_at(b"x", 0).unwrap();
        file.sync_data().unwrap();
        for seed in 0..50 {
            assert_eq!(fs.crash(Crash::Random(seed)).read_file("a").unwrap(), b"xy");
        }
        assert_eq!(fs.crash(Crash::DropAll).read_file("a").unwrap(), b"xy");
    }

    #[test]
    fn a_failed_write_may_leave_a_prefix_written() {
        let fs = SimFs::new();
        let file = write(&fs, "a", b"");
        fs.sync_dir("").unwrap();
        fs.fail_write_partly(fs.calls(), libc::ENOSPC, false, 3);
        assert_eq!(
            file.write_all_at(b"abcdef", 0).unwrap_err().raw_os_error(),
            Some(libc::ENOSPC)
        );
        assert_eq!(fs.read_file("a").unwrap(), b"abc");
        assert_eq!(fs.crash(Crash::DropAll).read_file("a").unwrap(), b"");
        assert_eq!(fs.crash(Crash::KeepAll).read_file("a").unwrap(), b"abc");
        fs.fail_call(fs.calls(), libc::EIO, false);
        assert!(file.write_all_at(b"zz", 0).is_err());
        assert_eq!(fs.read_file("a").unwrap(), b"abc");
    }

    #[test]
    fn torn_writes_leave_old_bytes_zeros_or_garbage_where_the_file_grew() {
        let fs = SimFs::new();
        let file = write(&fs, "a", b"oooooooo");
        file.sync_data().unwrap();
        fs.sync_dir("").unwrap();
        file.write_all_at(b"NNNNNNNNNNNN", 4).unwrap();
        let (mut old, mut zeros, mut garbage, mut chunks) = (false, false, false, false);
        for seed in 0..2000 {
            let got = fs.crash(Crash::Random(seed)).read_file("a").unwrap();
            assert_eq!(&got[..4], b"oooo");
            if got.len() < 16 {
                continue;
            }
            let tail = &got[4..];
            // Overwritten bytes are old or new, never garbage.
            assert!(
                tail[..4].iter().all(|b| *b == b'o' || *b == b'N'),
                "{got:?}"
            );
            old |= tail[..4] == *b"oooo" && tail[4..] == [0; 8];
            zeros |= tail[4..].contains(&0) && tail[..4].contains(&b'N');
            chunks |= tail.starts_with(b"o") && tail.ends_with(b"N");
            garbage |= tail.iter().any(|b| ![b'o', b'N', 0].contains(b));
        }
        assert!(
            old && zeros && chunks && garbage,
            "{old} {zeros} {chunks} {garbage}"
        );
    }

    #[test]
    fn faults_fail_one_call_or_every_later_call() {
        let fs = SimFs::new();
        fs.fail_call(1, libc::ENOSPC, false);
        fs.list("").unwrap();
        assert_eq!(fs.list("").unwrap_err().raw_os_error(), Some(libc::ENOSPC));
        fs.list("").unwrap();
        fs.fail_call(3, libc::EIO, true);
        assert!(fs.list("").is_err());
        assert!(fs.list("").is_err());
        fs.clear_faults();
        fs.list("").unwrap();
    }

    #[test]
    fn sync_points_capture_the_state_before_each_sync() {
        let fs = SimFs::new();
        fs.record_sync_points(true);
        let file = write(&fs, "a", b"one");
        fs.set_mark(7);
        file.sync_data().unwrap();
        fs.sync_dir("").unwrap();
        let points = fs.take_sync_points();
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].mark, 7);
        assert_eq!(points[0].unsynced(), 2);
        assert_eq!(points[1].unsynced(), 1);
        assert_eq!(
            points[1].crash(Crash::KeepAll).read_file("a").unwrap(),
            b"one"
        );
        assert_eq!(points[1].crash(Crash::DropAll).read_file("a"), None);
    }

    #[test]
    fn publish_is_create_only_and_locks_are_exclusive() {
        let fs = SimFs::new();
        write(&fs, "t1", b"1");
        write(&fs, "t2", b"2");
        fs.publish("t1", "m").unwrap();
        assert_eq!(
            fs.publish("t2", "m").unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(fs.read_file("m").unwrap(), b"1");
        let lock = fs.try_lock("LOCK").unwrap().unwrap();
        assert!(fs.try_lock("LOCK").unwrap().is_none());
        drop(lock);
        assert!(fs.try_lock("LOCK").unwrap().is_some());
    }
}
