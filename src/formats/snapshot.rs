//! Snapshot payloads: `lqft-snapshot-v1`, `lqft-snapshot-bundle-v1` and
//! `lqft-current-state-v1`, and the JSON encoding of binary keys and values.
//!
//! ## Items
//! An item is `{"key": <string>, "value": <string>}` when the bytes are UTF-8 (LQFT's only
//! form). Bytes that are not UTF-8 are written as `"key_b64"` / `"value_b64"` (standard
//! padded base64) *instead of* `"key"` / `"value"`, per item and per field. LQFT reads every
//! item whose data is UTF-8; an item with a `_b64` field makes LQFT fail loudly ("snapshot
//! items must contain string keys and string values") instead of loading wrong data. Items
//! are sorted by key bytes, which for UTF-8 keys is LQFT's code-point order.

use std::io::Write;

use serde_json::{Map, Value};

use super::base64;
use super::canonical_json;
use super::envelope::StreamedPart;
use super::error::{Error, Result};
use super::python_json::{TextLayout, newline, separator, write_ascii_string};

/// `format` of a snapshot payload.
pub const SNAPSHOT_FORMAT: &str = "lqft-snapshot-v1";
/// `format` of a bundle payload.
pub const BUNDLE_FORMAT: &str = "lqft-snapshot-bundle-v1";
/// `format` of a current-state payload.
pub const CURRENT_STATE_FORMAT: &str = "lqft-current-state-v1";

/// A key or value as one JSON member: `name` for UTF-8, `name_b64` otherwise.
fn encode_field(map: &mut Map<String, Value>, name: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => map.insert(name.to_owned(), Value::String(text.to_owned())),
        Err(_) => map.insert(format!("{name}_b64"), Value::String(base64::encode(bytes))),
    };
}

/// The JSON item for one key and value.
pub fn encode_item(key: &[u8], value: &[u8]) -> Value {
    let mut map = Map::with_capacity(2);
    encode_field(&mut map, "key", key);
    encode_field(&mut map, "value", value);
    Value::Object(map)
}

fn items_error() -> Error {
    Error::payload("snapshot items must contain string keys and string values")
}

fn field_bytes(map: &Map<String, Value>, name: &str) -> Result<Vec<u8>> {
    match (map.get(name), map.get(&format!("{name}_b64"))) {
        (Some(Value::String(s)), None) => Ok(s.as_bytes().to_vec()),
        (None, Some(Value::String(s))) => base64::decode(s)
            .ok_or_else(|| Error::payload(format!("snapshot item {name}_b64 is not valid base64"))),
        (Some(_), Some(_)) => Err(Error::payload(format!(
            "snapshot item has both {name} and {name}_b64"
        ))),
        _ => Err(items_error()),
    }
}

/// Decodes one item: an object (with `key`/`key_b64` and `value`/`value_b64`) or a
/// `[key, value]` pair of strings.
pub fn decode_item(item: &Value) -> Result<(Vec<u8>, Vec<u8>)> {
    match item {
        Value::Object(map) => Ok((field_bytes(map, "key")?, field_bytes(map, "value")?)),
        Value::Array(pair) if pair.len() == 2 => match (&pair[0], &pair[1]) {
            (Value::String(k), Value::String(v)) => {
                Ok((k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            }
            _ => Err(items_error()),
        },
        _ => Err(Error::payload(
            "snapshot items must be {'key', 'value'} mappings or key/value pairs",
        )),
    }
}

/// Decodes an `items` list, sorts it by key bytes and refuses duplicate keys (LQFT accepts
/// them and then reports a wrong size).
pub fn decode_items(items: Option<&Value>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let list = match items {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(Error::payload("snapshot items must be a list")),
    };
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        out.push(decode_item(item)?);
    }
    if !out.windows(2).all(|w| w[0].0 < w[1].0) {
        out.sort_by(|a, b| a.0.cmp(&b.0));
        if out.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Error::payload("snapshot items contain a duplicate key"));
        }
    }
    Ok(out)
}

fn encode_items<'a>(items: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Value {
    Value::Array(items.map(|(k, v)| encode_item(k, v)).collect())
}

/// The payload member holding the items.
pub(crate) const ITEMS: &str = "items";

/// File text is handed to the writer in pieces of about this size.
const TEXT_CHUNK: usize = 1 << 20;

/// An `items` array written straight from key/value pairs in key order, with the same bytes
/// as the `Value` of [`encode_item`]s would give, without building it. Each call of the
/// function must yield the same pairs: the canonical bytes and the file text are written in
/// separate passes, on two threads.
pub(crate) struct StreamedItems<F>(pub(crate) F);

impl<'a, F, I> StreamedPart for StreamedItems<F>
where
    F: Fn() -> I + Sync,
    I: Iterator<Item = (&'a [u8], &'a [u8])>,
{
    fn write_canonical(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, (key, value)) in (self.0)().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // "key" and "key_b64" sort before "value" and "value_b64", so this member order
            // is the sorted one.
            out.push(b'{');
            write_canonical_field("key", key, out);
            out.push(b',');
            write_canonical_field("value", value, out);
            out.push(b'}');
        }
        out.push(b']');
    }

    fn write_text(
        &self,
        layout: TextLayout,
        level: usize,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        let mut items = (self.0)().peekable();
        if items.peek().is_none() {
            return out.write_all(b"[]");
        }
        let mut text = Vec::with_capacity(TEXT_CHUNK + 4096);
        text.push(b'[');
        newline(layout, level + 1, &mut text);
        for (i, (key, value)) in items.enumerate() {
            if i > 0 {
                separator(layout, level + 1, &mut text);
            }
            // The member order is the same whether or not the layout sorts keys.
            text.push(b'{');
            newline(layout, level + 2, &mut text);
            write_text_field("key", key, &mut text);
            separator(layout, level + 2, &mut text);
            write_text_field("value", value, &mut text);
            newline(layout, level + 1, &mut text);
            text.push(b'}');
            if text.len() >= TEXT_CHUNK {
                out.write_all(&text)?;
                text.clear();
            }
        }
        newline(layout, level, &mut text);
        text.push(b']');
        out.write_all(&text)
    }
}

/// `"name":"text"` or `"name_b64":"base64"` as [`encode_field`] and canonical JSON give it.
fn write_canonical_field(name: &str, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            out.extend_from_slice(b"\":");
            canonical_json::write_string(text, out);
        }
        Err(_) => {
            out.extend_from_slice(b"_b64\":\"");
            base64::encode_into(bytes, out);
            out.push(b'"');
        }
    }
}

/// `"name": "text"` or `"name_b64": "base64"` as [`encode_field`] and the file text give it.
fn write_text_field(name: &str, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            out.extend_from_slice(b"\": ");
            write_ascii_string(text, out);
        }
        Err(_) => {
            out.extend_from_slice(b"_b64\": \"");
            base64::encode_into(bytes, out);
            out.push(b'"');
        }
    }
}

/// Python's `datetime.fromtimestamp(ns / 1e9, tz=utc).isoformat()`, which LQFT writes as
/// `created_at`: the correctly rounded float of `ns / 1e9`, split into seconds and
/// microseconds rounded half to even.
pub fn python_created_at(created_at_ns: u64) -> String {
    let seconds = correctly_rounded_div_1e9(created_at_ns);
    let whole = seconds.trunc();
    let scaled = (seconds - whole) * 1e6;
    let mut micros = scaled.round();
    if (scaled - micros).abs() == 0.5 {
        micros = 2.0 * (scaled / 2.0).round();
    }
    let mut whole = whole as i64;
    let mut micros = micros as i64;
    if micros >= 1_000_000 {
        micros -= 1_000_000;
        whole += 1;
    }
    super::validity::format_utc_micros(whole * 1_000_000 + micros)
}

/// The nearest `f64` to `n / 10^9` (Python's int true division is correctly rounded).
fn correctly_rounded_div_1e9(n: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    const D: u128 = 1_000_000_000;
    let n = u128::from(n);
    // Smallest shift with floor(n·2^shift / D) >= 2^52, so the quotient has 53 bits.
    let mut shift = 0i32;
    while (n << shift) / D < (1u128 << 52) {
        shift += 1;
    }
    let num = n << shift;
    let mut q = num / D;
    let rem = num % D;
    if 2 * rem > D || (2 * rem == D && q & 1 == 1) {
        q += 1;
    }
    q as f64 * 2f64.powi(-shift)
}

/// A snapshot's metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotMetadata {
    /// Positive id, unique within a map; in a decoded payload, 0 when the file records none
    /// (the map gives the snapshot an id when it registers it).
    pub snapshot_id: u64,
    /// Positive generation; in a decoded payload, 0 when the file records neither a generation
    /// nor an id (it becomes the id the snapshot is registered under, LQFT's default).
    pub generation: u64,
    /// The snapshot this one was taken after.
    pub parent_snapshot_id: Option<u64>,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_at_ns: u64,
    /// Mutations since the parent.
    pub mutation_count: u64,
    /// Keys changed since the parent.
    pub delta_size: u64,
    /// Number of items.
    pub size: u64,
}

impl SnapshotMetadata {
    /// The `metadata` object in LQFT's member order, with the derived `created_at`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "snapshot_id": self.snapshot_id,
            "generation": self.generation,
            "parent_snapshot_id": self.parent_snapshot_id,
            "created_at_ns": self.created_at_ns,
            "created_at": python_created_at(self.created_at_ns),
            "mutation_count": self.mutation_count,
            "delta_size": self.delta_size,
            "size": self.size,
        })
    }
}

/// A decoded `lqft-snapshot-v1` payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotPayload {
    /// Metadata; `size` equals `items.len()`.
    pub metadata: SnapshotMetadata,
    /// Items sorted by key, without duplicates.
    pub items: Vec<(Vec<u8>, Vec<u8>)>,
}

fn meta_u64(meta: &Map<String, Value>, field: &str, default: u64, positive: bool) -> Result<u64> {
    let requirement = if positive {
        "a positive"
    } else {
        "a non-negative"
    };
    match meta.get(field) {
        None => Ok(default),
        Some(v) => v.as_u64().filter(|&n| !positive || n > 0).ok_or_else(|| {
            Error::payload(format!(
                "snapshot metadata {field} must be {requirement} integer"
            ))
        }),
    }
}

fn as_object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Error::payload(format!("{what} must be a dictionary"))),
    }
}

fn check_format(map: &Map<String, Value>, format: &str, what: &str) -> Result<()> {
    if map.get("format").and_then(Value::as_str) == Some(format) {
        Ok(())
    } else {
        Err(Error::payload(format!("unsupported {what} payload format")))
    }
}

impl SnapshotPayload {
    /// Builds a payload from items already sorted by key without duplicates; `size` is set
    /// from the items.
    pub fn new(mut metadata: SnapshotMetadata, items: Vec<(Vec<u8>, Vec<u8>)>) -> SnapshotPayload {
        metadata.size = items.len() as u64;
        SnapshotPayload { metadata, items }
    }

    /// The payload document.
    pub fn to_json(&self) -> Map<String, Value> {
        snapshot_json(
            &self.metadata,
            self.items.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
        )
    }

    /// Decodes a payload as LQFT's `load_snapshot` validates it. A missing `snapshot_id`
    /// becomes 0 (the map importing it gives it a fresh id), a missing `generation` the
    /// snapshot id, a missing `created_at_ns` `now_ns`; `created_at` is ignored.
    pub fn from_json(value: &Value, now_ns: u64) -> Result<SnapshotPayload> {
        let map = as_object(value, "snapshot payload")?;
        check_format(map, SNAPSHOT_FORMAT, "snapshot")?;
        let meta = match map.get("metadata") {
            Some(Value::Object(m)) => m,
            _ => {
                return Err(Error::payload(
                    "snapshot payload must include a metadata dictionary",
                ));
            }
        };
        let snapshot_id = meta_u64(meta, "snapshot_id", 0, true)?;
        let generation = meta_u64(meta, "generation", snapshot_id, true)?;
        let parent_snapshot_id = match meta.get("parent_snapshot_id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                Error::payload("snapshot metadata parent_snapshot_id must be an integer or null")
            })?),
        };
        let created_at_ns = meta_u64(meta, "created_at_ns", now_ns, false)?;
        let mutation_count = meta_u64(meta, "mutation_count", 0, false)?;
        let delta_size = meta_u64(meta, "delta_size", 0, false)?;
        let items = decode_items(map.get("items"))?;
        let size = meta_u64(meta, "size", items.len() as u64, false)?;
        if size != items.len() as u64 {
            return Err(Error::payload(
                "snapshot metadata size does not match the exported item count",
            ));
        }
        Ok(SnapshotPayload {
            metadata: SnapshotMetadata {
                snapshot_id,
                generation,
                parent_snapshot_id,
                created_at_ns,
                mutation_count,
                delta_size,
                size,
            },
            items,
        })
    }
}

/// A snapshot payload document from metadata and items in key order.
pub fn snapshot_json<'a>(
    metadata: &SnapshotMetadata,
    items: impl Iterator<Item = (&'a [u8], &'a [u8])>,
) -> Map<String, Value> {
    let mut map = snapshot_members(metadata);
    map.insert(ITEMS.into(), encode_items(items));
    map
}

/// A snapshot payload document whose `items` member is an empty placeholder, in LQFT's
/// member order.
pub(crate) fn snapshot_members(metadata: &SnapshotMetadata) -> Map<String, Value> {
    let mut map = Map::with_capacity(3);
    map.insert("format".into(), SNAPSHOT_FORMAT.into());
    map.insert("metadata".into(), metadata.to_json());
    map.insert(ITEMS.into(), Value::Array(Vec::new()));
    map
}

/// A decoded `lqft-snapshot-bundle-v1` payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundlePayload {
    /// The snapshot that was current when exported, if it is in the bundle.
    pub current_snapshot_id: Option<u64>,
    /// Export time, nanoseconds since the Unix epoch.
    pub exported_at_ns: u64,
    /// Snapshots in registration order.
    pub snapshots: Vec<SnapshotPayload>,
}

impl BundlePayload {
    /// The position of the snapshot a load activates: the current one, else the last.
    pub fn current_index(&self) -> usize {
        self.current_snapshot_id
            .and_then(|id| {
                self.snapshots
                    .iter()
                    .position(|s| s.metadata.snapshot_id == id)
            })
            .unwrap_or(self.snapshots.len().saturating_sub(1))
    }

    /// The payload document.
    pub fn to_json(&self) -> Map<String, Value> {
        bundle_json(
            self.current_snapshot_id,
            self.exported_at_ns,
            self.snapshots
                .iter()
                .map(SnapshotPayload::to_json)
                .collect(),
        )
    }

    /// Decodes a bundle. Snapshots without an id get consecutive ids from `next_id`, as
    /// LQFT's sequential load assigns them. Duplicate ids are refused.
    pub fn from_json(value: &Value, now_ns: u64) -> Result<BundlePayload> {
        let map = as_object(value, "snapshot bundle payload")?;
        check_format(map, BUNDLE_FORMAT, "snapshot bundle")?;
        let Some(Value::Object(meta)) = map.get("metadata") else {
            return Err(Error::payload(
                "snapshot bundle payload must include a metadata dictionary",
            ));
        };
        let list = match map.get("snapshots") {
            Some(Value::Array(list)) if !list.is_empty() => list,
            _ => {
                return Err(Error::payload(
                    "snapshot bundle payload must include a non-empty snapshots list",
                ));
            }
        };
        let current_snapshot_id = match meta.get("current_snapshot_id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                Error::payload(
                    "snapshot bundle metadata current_snapshot_id must be an integer or null",
                )
            })?),
        };
        let exported_at_ns = meta
            .get("exported_at_ns")
            .and_then(Value::as_u64)
            .unwrap_or(now_ns);
        let mut snapshots: Vec<SnapshotPayload> = Vec::with_capacity(list.len());
        let mut ids = std::collections::HashSet::with_capacity(list.len());
        for item in list {
            let snapshot = SnapshotPayload::from_json(item, now_ns)?;
            let id = snapshot.metadata.snapshot_id;
            if id != 0 && !ids.insert(id) {
                return Err(Error::payload(format!("snapshot id already exists: {id}")));
            }
            snapshots.push(snapshot);
        }
        if let Some(id) = current_snapshot_id
            && !ids.contains(&id)
        {
            return Err(Error::payload(format!(
                "snapshot bundle metadata current_snapshot_id {id} names none of its snapshots"
            )));
        }
        Ok(BundlePayload {
            current_snapshot_id,
            exported_at_ns,
            snapshots,
        })
    }
}

/// A bundle payload document from already encoded snapshot payloads.
pub fn bundle_json(
    current_snapshot_id: Option<u64>,
    exported_at_ns: u64,
    snapshots: Vec<Map<String, Value>>,
) -> Map<String, Value> {
    let mut map = Map::with_capacity(3);
    map.insert("format".into(), BUNDLE_FORMAT.into());
    map.insert(
        "metadata".into(),
        serde_json::json!({
            "snapshot_count": snapshots.len(),
            "current_snapshot_id": current_snapshot_id,
            "exported_at_ns": exported_at_ns,
        }),
    );
    map.insert(
        "snapshots".into(),
        Value::Array(snapshots.into_iter().map(Value::Object).collect()),
    );
    map
}

/// An `lqft-current-state-v1` payload (the live state of a map).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentStatePayload {
    /// The snapshot the live state is based on.
    pub base_snapshot_id: Option<u64>,
    /// Writes since that snapshot.
    pub pending_mutations: u64,
    /// Export time, nanoseconds since the Unix epoch.
    pub exported_at_ns: u64,
    /// Items sorted by key.
    pub items: Vec<(Vec<u8>, Vec<u8>)>,
}

impl CurrentStatePayload {
    /// The payload document; `logical_items` is the item count.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut map = self.members();
        map.insert(
            ITEMS.into(),
            encode_items(self.items.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))),
        );
        map
    }

    /// The payload document with an empty placeholder `items` member.
    pub(crate) fn members(&self) -> Map<String, Value> {
        let mut map = Map::with_capacity(3);
        map.insert("format".into(), CURRENT_STATE_FORMAT.into());
        map.insert(
            "metadata".into(),
            serde_json::json!({
                "base_snapshot_id": self.base_snapshot_id,
                "logical_items": self.items.len(),
                "pending_mutations": self.pending_mutations,
                "exported_at_ns": self.exported_at_ns,
            }),
        );
        map.insert(ITEMS.into(), Value::Array(Vec::new()));
        map
    }

    /// Decodes a current-state payload (LQFT writes these but has no reader).
    pub fn from_json(value: &Value) -> Result<CurrentStatePayload> {
        let map = as_object(value, "current state payload")?;
        check_format(map, CURRENT_STATE_FORMAT, "current state")?;
        let Some(Value::Object(meta)) = map.get("metadata") else {
            return Err(Error::payload(
                "current state payload must include a metadata dictionary",
            ));
        };
        let field = |name: &str| meta.get(name).and_then(Value::as_u64);
        let items = decode_items(map.get("items"))?;
        if field("logical_items").is_some_and(|n| n != items.len() as u64) {
            return Err(Error::payload(
                "current state metadata logical_items does not match the item count",
            ));
        }
        Ok(CurrentStatePayload {
            base_snapshot_id: field("base_snapshot_id"),
            pending_mutations: field("pending_mutations").unwrap_or(0),
            exported_at_ns: field("exported_at_ns").unwrap_or(0),
            items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_at_matches_python() {
        assert_eq!(
            python_created_at(1_795_420_394_902_089_498),
            "2026-11-23T07:53:14.902090+00:00"
        );
        assert_eq!(
            python_created_at(1_795_420_394_886_134_281),
            "2026-11-23T07:53:14.886134+00:00"
        );
        assert_eq!(python_created_at(0), "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn binary_items_use_b64_fields() {
        let item = encode_item(b"\xff\x00", b"ok");
        assert_eq!(item, serde_json::json!({"key_b64": "/wA=", "value": "ok"}));
        assert_eq!(
            decode_item(&item).unwrap(),
            (b"\xff\x00".to_vec(), b"ok".to_vec())
        );
        let both = serde_json::json!({"key": "a", "key_b64": "YQ==", "value": "v"});
        assert!(decode_item(&both).is_err());
    }
}
