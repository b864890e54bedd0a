//! File text as LQFT writes it: `json.dumps(document, indent=2, sort_keys=False)` with
//! Python's default `ensure_ascii=True`, followed by one newline.
//!
//! The file text is not what is hashed (see [`super::canonical_json`]); matching Python's
//! layout keeps our files diffable against LQFT's and byte-identical for the same document.

use serde_json::{Map, Value};

use super::canonical_json::{push_escape, push_unicode_escape, write_number};

/// Layout of the file text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextLayout {
    /// Spaces per nesting level; `None` writes one line with `", "` and `": "` separators.
    pub indent: Option<usize>,
    /// Sort object keys by code point (Python's `sort_keys=True`).
    pub sort_keys: bool,
}

impl Default for TextLayout {
    fn default() -> Self {
        TextLayout {
            indent: Some(2),
            sort_keys: false,
        }
    }
}

/// The file text of `value` followed by `"\n"`.
pub fn to_python_json(value: &Value, layout: TextLayout) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(value, layout, 0, &mut out);
    out.push(b'\n');
    out
}

/// The file text of `value` (as [`to_python_json`] lays it out) with the value of the
/// member at `hole` (a path of member names from the top-level object) left out, as
/// `(head, tail)`: `head`, then that value laid out at nesting level `hole.len()`, then
/// `tail` equal the whole text. `None` if there is no such member.
pub fn to_python_json_split(
    value: &Value,
    layout: TextLayout,
    hole: &[&str],
) -> Option<(Vec<u8>, Vec<u8>)> {
    let Value::Object(map) = value else {
        return None;
    };
    let mut out = Vec::with_capacity(256);
    let at = write_object(map, layout, 0, hole, &mut out)?;
    out.push(b'\n');
    let tail = out.split_off(at);
    Some((out, tail))
}

/// Appends the file text of `value` nested `level` deep (no trailing newline).
pub(crate) fn write_value_at(value: &Value, layout: TextLayout, level: usize, out: &mut Vec<u8>) {
    write_value(value, layout, level, out);
}

/// A line break and the indentation of `level` (nothing without indentation).
pub(crate) fn newline(layout: TextLayout, level: usize, out: &mut Vec<u8>) {
    if let Some(width) = layout.indent {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', width * level));
    }
}

/// The separator between members or elements of a container whose contents are nested
/// `level` deep.
pub(crate) fn separator(layout: TextLayout, level: usize, out: &mut Vec<u8>) {
    out.push(b',');
    if layout.indent.is_some() {
        newline(layout, level, out);
    } else {
        out.push(b' ');
    }
}

fn write_value(value: &Value, layout: TextLayout, level: usize, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_ascii_string(s, out),
        Value::Array(items) if items.is_empty() => out.extend_from_slice(b"[]"),
        Value::Array(items) => {
            out.push(b'[');
            newline(layout, level + 1, out);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    separator(layout, level + 1, out);
                }
                write_value(item, layout, level + 1, out);
            }
            newline(layout, level, out);
            out.push(b']');
        }
        Value::Object(map) if map.is_empty() => out.extend_from_slice(b"{}"),
        Value::Object(map) => {
            write_object(map, layout, level, &[], out);
        }
    }
}

/// Writes a non-empty object, skipping the value of the member at path `hole` (its name and
/// `": "` are written); returns where that value belongs in `out`.
fn write_object(
    map: &Map<String, Value>,
    layout: TextLayout,
    level: usize,
    hole: &[&str],
    out: &mut Vec<u8>,
) -> Option<usize> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    if layout.sort_keys {
        entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }
    let mut at = None;
    out.push(b'{');
    newline(layout, level + 1, out);
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            separator(layout, level + 1, out);
        }
        write_ascii_string(k, out);
        out.extend_from_slice(b": ");
        match (hole, v) {
            ([name], _) if name == k => at = Some(out.len()),
            ([name, rest @ ..], Value::Object(inner)) if name == k && !inner.is_empty() => {
                at = write_object(inner, layout, level + 1, rest, out);
            }
            _ => write_value(v, layout, level + 1, out),
        }
    }
    newline(layout, level, out);
    out.push(b'}');
    at
}

/// A JSON string with Python's `ensure_ascii=True` escaping: printable ASCII raw, everything
/// else as `\uXXXX` (UTF-16 surrogate pairs above U+FFFF).
pub fn write_ascii_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if b < 0x80 {
            if b == 0x7f {
                push_unicode_escape(0x7f, out);
            } else {
                push_escape(b, out);
            }
            i += 1;
        } else {
            let width = utf8_width(b);
            let c = s[i..i + width].chars().next().map_or(0xfffd, u32::from);
            if c >= 0x1_0000 {
                let v = c - 0x1_0000;
                push_unicode_escape(0xd800 | (v >> 10), out);
                push_unicode_escape(0xdc00 | (v & 0x3ff), out);
            } else {
                push_unicode_escape(c, out);
            }
            i += width;
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn utf8_width(lead: u8) -> usize {
    match lead {
        0xf0.. => 4,
        0xe0.. => 3,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn split_around_a_nested_member() {
        for indent in [Some(2), Some(0), None] {
            for sort_keys in [false, true] {
                let layout = TextLayout { indent, sort_keys };
                let full = json!({"z": 1, "p": {"x": {}, "items": [true, {"k": []}]}, "a": 2});
                let (mut head, tail) = to_python_json_split(&full, layout, &["p", "items"])
                    .expect("the member exists");
                write_value_at(&full["p"]["items"], layout, 2, &mut head);
                head.extend_from_slice(&tail);
                assert_eq!(head, to_python_json(&full, layout));
                assert!(to_python_json_split(&full, layout, &["p", "missing"]).is_none());
            }
        }
    }

    #[test]
    fn matches_python_layout() {
        let v = json!({"b": [], "a": {"x": [1, "é😀\u{7f}"]}, "c": {}});
        let text = String::from_utf8(to_python_json(&v, TextLayout::default())).unwrap();
        assert_eq!(
            text,
            "{\n  \"b\": [],\n  \"a\": {\n    \"x\": [\n      1,\n      \"\\u00e9\\ud83d\\ude00\\u007f\"\n    ]\n  },\n  \"c\": {}\n}\n"
        );
        let flat = TextLayout {
            indent: None,
            sort_keys: true,
        };
        let text = String::from_utf8(to_python_json(&v, flat)).unwrap();
        assert_eq!(
            text,
            "{\"a\": {\"x\": [1, \"\\u00e9\\ud83d\\ude00\\u007f\"]}, \"b\": [], \"c\": {}}\n"
        );
    }
}
