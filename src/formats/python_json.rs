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

/// Adds `"name": value` as the last member of the top-level object whose file text is
/// `text` (as produced by [`to_python_json`] with the same layout), giving the same bytes as
/// laying out the object with the member included.
pub fn append_last_member(
    mut text: Vec<u8>,
    name: &str,
    value: &Value,
    layout: TextLayout,
) -> Vec<u8> {
    let tail: &[u8] = if layout.indent.is_some() {
        b"\n}\n"
    } else {
        b"}\n"
    };
    debug_assert!(text.ends_with(tail));
    text.truncate(text.len() - tail.len());
    separator(layout, 1, &mut text);
    write_ascii_string(name, &mut text);
    text.extend_from_slice(b": ");
    write_value(value, layout, 1, &mut text);
    newline(layout, 0, &mut text);
    text.extend_from_slice(b"}\n");
    text
}

fn newline(layout: TextLayout, level: usize, out: &mut Vec<u8>) {
    if let Some(width) = layout.indent {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', width * level));
    }
}

fn separator(layout: TextLayout, level: usize, out: &mut Vec<u8>) {
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
        Value::Object(map) => write_object(map, layout, level, out),
    }
}

fn write_object(map: &Map<String, Value>, layout: TextLayout, level: usize, out: &mut Vec<u8>) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    if layout.sort_keys {
        entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }
    out.push(b'{');
    newline(layout, level + 1, out);
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            separator(layout, level + 1, out);
        }
        write_ascii_string(k, out);
        out.extend_from_slice(b": ");
        write_value(v, layout, level + 1, out);
    }
    newline(layout, level, out);
    out.push(b'}');
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
    fn appending_a_member_equals_laying_it_out() {
        for indent in [Some(2), Some(0), None] {
            let layout = TextLayout {
                indent,
                sort_keys: false,
            };
            let full = json!({"a": 1, "b": {"c": [true]}});
            let head = json!({"a": 1});
            let appended =
                append_last_member(to_python_json(&head, layout), "b", &full["b"], layout);
            assert_eq!(appended, to_python_json(&full, layout));
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
