//! Bounded reading and atomic writing of portable files, over `crate::file`.
//!
//! Reads enforce [`Limits`]: the file size before reading, the decompressed size on the
//! inflater's output side (a gzip bomb stops at the cap, never allocates past it), and the
//! JSON nesting depth before the parser runs. Writes enforce the same size caps
//! (`CappedWriter`), so a file is never written that its reader would refuse.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use serde_json::Value;

use super::error::{Error, ErrorKind, Result};
use super::limits::Limits;
use crate::file::FileError;
use crate::file::read::{self, Links};
use crate::file::replace::{Access, Publish, Staged};

/// Whether LQFT would treat `path` as gzip: its name ends in `.gz`, case-insensitively.
pub fn path_uses_gzip(path: &Path) -> bool {
    path.to_string_lossy().to_ascii_lowercase().ends_with(".gz")
}

/// The document bytes of `path`: the file itself, or its gzip-decompressed content when the
/// name ends in `.gz`. The path must name a regular file (a FIFO, device or directory is an
/// [`ErrorKind::Io`] error, found without blocking); a file over the caps is an
/// [`ErrorKind::Limit`] error.
pub fn read_document_bytes(path: &Path, limits: &Limits) -> Result<Vec<u8>> {
    let raw = read::read_capped(path, limits.max_file_bytes, "file", Links::Follow)?;
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

/// Parses a document held in memory, within `limits`: JSON text, or gzip-compressed JSON
/// text (recognised by the gzip magic bytes `1f 8b`, which JSON text never starts with).
/// `bytes` is capped as a file would be.
pub fn parse_document_bytes(bytes: &[u8], limits: &Limits) -> Result<Value> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(Error::new(
            ErrorKind::Limit,
            format!(
                "document of {} bytes is over the cap of {} bytes",
                bytes.len(),
                limits.max_file_bytes
            ),
        ));
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let text = gunzip_capped(bytes, limits.max_decompressed_bytes)?;
        return parse_json(&text, limits);
    }
    parse_json(bytes, limits)
}

/// Reads and parses a JSON document (gzip by suffix), within `limits`.
pub fn read_json_file(path: &Path, limits: &Limits) -> Result<Value> {
    let bytes = read_document_bytes(path, limits)?;
    parse_json(&bytes, limits)
}

impl From<FileError> for Error {
    fn from(error: FileError) -> Error {
        let kind = match error {
            FileError::TooLarge { .. } => ErrorKind::Limit,
            _ => ErrorKind::Io,
        };
        Error::new(kind, error.to_string()).with_source(error)
    }
}

/// The error a [`CappedWriter`] returns once its cap is passed; found again by type (never
/// by message) when the I/O error comes back out of the writers stacked above it.
#[derive(Debug)]
struct CapExceeded {
    what: &'static str,
    cap: u64,
}

impl std::fmt::Display for CapExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the {} would be over the cap of {} bytes that readers apply, so it could not be \
             read back",
            self.what, self.cap
        )
    }
}

impl std::error::Error for CapExceeded {}

/// A writer that fails as soon as more than `cap` bytes went through it, so a writer refuses
/// what its reader's [`Limits`] would refuse, having written at most `cap` bytes.
pub(crate) struct CappedWriter<W> {
    inner: W,
    written: u64,
    cap: u64,
    what: &'static str,
}

impl<W: Write> CappedWriter<W> {
    /// `what` names the stream in the error ("file", "decompressed document").
    pub(crate) fn new(inner: W, cap: u64, what: &'static str) -> Self {
        CappedWriter {
            inner,
            written: 0,
            cap,
            what,
        }
    }

    /// The writer inside.
    pub(crate) fn into_inner(self) -> W {
        self.inner
    }

    /// The writer inside, for writes the cap does not count (rewriting bytes in place).
    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for CappedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written.saturating_add(buf.len() as u64) > self.cap {
            return Err(std::io::Error::other(CapExceeded {
                what: self.what,
                cap: self.cap,
            }));
        }
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The error for a failed write of `temp`: [`ErrorKind::Limit`] when a [`CappedWriter`]
/// refused it, [`ErrorKind::Io`] otherwise.
pub(crate) fn write_error(temp: &Path, error: std::io::Error) -> Error {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<CapExceeded>())
    {
        Some(cap) => Error::new(ErrorKind::Limit, cap.to_string()),
        None => Error::io(temp, "write", error),
    }
}

/// Replaces `path` atomically and durably with what `fill` writes: a failing `fill` or write
/// leaves any previous `path` untouched and no temporary file behind. The directory must
/// exist and `path` must be a regular file or nothing (see `crate::file::replace` for the
/// rules, including the replaced file's mode being kept).
pub fn replace_file(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    write_atomic_with(path, Access::Inherit, |file, temp| {
        fill(file).map_err(|e| write_error(temp, e))
    })
}

/// Replaces `path` atomically and durably with what `fill` writes into the file it is given
/// (see [`crate::file::replace`]): a failure leaves any previous `path` untouched.
pub(crate) fn write_atomic_with(
    path: &Path,
    access: Access,
    fill: impl FnOnce(&mut File, &Path) -> Result<()>,
) -> Result<()> {
    let mut staged = Staged::create(path, access)?;
    let temp = staged.temp_path().to_path_buf();
    fill(staged.file(), &temp)?;
    Ok(staged.publish(Publish::Replace)?)
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
