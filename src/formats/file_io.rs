//! Bounded reading and atomic writing of portable files.
//!
//! Reads enforce [`Limits`]: the file size before reading, the decompressed size on the
//! inflater's output side (a gzip bomb stops at the cap, never allocates past it), and the
//! JSON nesting depth before the parser runs.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;
use serde_json::Value;

use super::error::{Error, ErrorKind, Result};
use super::limits::Limits;

/// Whether LQFT would treat `path` as gzip: its name ends in `.gz`, case-insensitively.
pub fn path_uses_gzip(path: &Path) -> bool {
    path.to_string_lossy().to_ascii_lowercase().ends_with(".gz")
}

/// Reads at most `max` bytes of `path`; a larger file is a [`ErrorKind::Limit`] error.
pub(crate) fn read_capped(path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let declared = file.metadata().map(|m| m.len()).unwrap_or(0);
    if declared > max {
        return Err(Error::new(
            ErrorKind::Limit,
            format!(
                "{what} {} is {declared} bytes, over the cap of {max} bytes",
                path.display()
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "read", e))?;
    if bytes.len() as u64 > max {
        return Err(Error::new(
            ErrorKind::Limit,
            format!("{what} {} is over the cap of {max} bytes", path.display()),
        ));
    }
    Ok(bytes)
}

/// The document bytes of `path`: the file itself, or its gzip-decompressed content when the
/// name ends in `.gz`.
pub fn read_document_bytes(path: &Path, limits: &Limits) -> Result<Vec<u8>> {
    let raw = read_capped(path, limits.max_file_bytes, "file")?;
    if !path_uses_gzip(path) {
        return Ok(raw);
    }
    gunzip_capped(&raw, limits.max_decompressed_bytes)
}

/// Inflates `compressed`, stopping with a [`ErrorKind::Limit`] error as soon as the output
/// would exceed `max` bytes.
pub fn gunzip_capped(compressed: &[u8], max: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    MultiGzDecoder::new(compressed)
        .take(max.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| {
            Error::new(ErrorKind::Parse, format!("invalid gzip data: {e}")).with_source(e)
        })?;
    if out.len() as u64 > max {
        return Err(Error::new(
            ErrorKind::Limit,
            format!("decompressed document is over the cap of {max} bytes"),
        ));
    }
    Ok(out)
}

/// The deepest nesting of arrays and objects in `bytes`, scanning no further than one level
/// past `max` (strings are skipped, so brackets inside them do not count).
fn nesting_exceeds(bytes: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Parses JSON text after checking its nesting depth.
pub fn parse_json(bytes: &[u8], limits: &Limits) -> Result<Value> {
    if nesting_exceeds(bytes, limits.max_json_depth) {
        return Err(Error::new(
            ErrorKind::Limit,
            format!(
                "JSON nesting is deeper than the cap of {} levels",
                limits.max_json_depth
            ),
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Error::new(ErrorKind::Parse, format!("invalid JSON: {e}")).with_source(e))
}

/// Reads and parses a JSON document (gzip by suffix), within `limits`.
pub fn read_json_file(path: &Path, limits: &Limits) -> Result<Value> {
    let bytes = read_document_bytes(path, limits)?;
    parse_json(&bytes, limits)
}

/// Who may read a file written by [`write_atomic`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileMode {
    /// The process umask decides (0644 typically).
    Public,
    /// Owner read/write only (0600), for private keys.
    Private,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_path_for(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    path.with_file_name(name)
}

/// Replaces `path` with `bytes` atomically and durably (see [`write_atomic_with`]).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: FileMode) -> Result<()> {
    write_atomic_with(path, mode, |file, temp| {
        file.write_all(bytes)
            .map_err(|e| Error::io(temp, "write", e))
    })
}

/// Replaces `path` atomically and durably with what `fill` writes: create a temporary file
/// in the same directory, let `fill` write it (it gets the file and the temporary path, for
/// errors), fsync it, rename it over `path`, fsync the directory. A failure removes the
/// temporary file and leaves any previous `path` untouched.
pub(crate) fn write_atomic_with(
    path: &Path,
    mode: FileMode,
    fill: impl FnOnce(&mut File, &Path) -> Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create directory", e))?;
    let temp = temp_path_for(path);
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if mode == FileMode::Private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&temp)
            .map_err(|e| Error::io(&temp, "create", e))?;
        fill(&mut file, &temp)?;
        file.sync_all().map_err(|e| Error::io(&temp, "fsync", e))?;
        fs::rename(&temp, path).map_err(|e| Error::io(path, "rename into", e))?;
        if let Ok(d) = File::open(&dir) {
            d.sync_all().map_err(|e| Error::io(&dir, "fsync", e))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_scan_ignores_brackets_in_strings() {
        assert!(!nesting_exceeds(br#"{"a":"[[[[[[\"[[["}"#, 2));
        assert!(nesting_exceeds(b"[[[", 2));
        assert!(!nesting_exceeds(b"[[]]", 2));
    }
}
