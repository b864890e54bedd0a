//! Hard caps applied before and while parsing untrusted files.

/// Caps on what a reader accepts. Every read of a portable file goes through them, so a
/// hostile file costs at most these amounts of memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest file read from disk, in bytes (compressed size for `.gz` files).
    pub max_file_bytes: u64,
    /// Largest decompressed document, in bytes, checked on the inflater's output side.
    pub max_decompressed_bytes: u64,
    /// Deepest nesting of JSON arrays and objects, checked before parsing.
    pub max_json_depth: usize,
}

/// Default cap on the size of a file read from disk: 1 GiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1 << 30;
/// Default cap on a decompressed document: 1 GiB.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;
/// Default cap on JSON nesting. The deepest document LQFT writes nests 7 levels (a bundle
/// item); trust-store signer metadata is free-form, hence the headroom.
pub const DEFAULT_MAX_JSON_DEPTH: usize = 64;
/// Cap on key files (PEM or HMAC secret); real ones are a few hundred bytes.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            max_json_depth: DEFAULT_MAX_JSON_DEPTH,
        }
    }
}
