//! Canonical JSON: the exact bytes LQFT hashes and signs.
//!
//! LQFT computes `json.dumps(obj, sort_keys=True, separators=(",", ":"),
//! ensure_ascii=False).encode("utf-8")`. This module reproduces those bytes:
//! no whitespace; object keys sorted by code point (equal to UTF-8 byte order); strings
//! emitted raw as UTF-8 with only `"`, `\` and control characters below 0x20 escaped
//! (`\n \r \t \b \f` by name, the rest as lowercase `\u00XX`); integers in plain decimal;
//! floats as Python's `repr`.

use serde_json::{Map, Number, Value};

/// The canonical bytes of `value`.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    out
}

/// Appends the canonical bytes of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>) {
    write_object_around(map, None, out);
}

/// The canonical bytes of `object` with the value of its member `hole` left out, as
/// `(head, tail)`: `head`, then the canonical bytes of that value, then `tail` equal
/// `canonical_bytes` of the whole object. `None` if `object` has no member `hole`.
pub fn canonical_split(object: &Map<String, Value>, hole: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::with_capacity(256);
    let at = write_object_around(object, Some(hole), &mut out)?;
    let tail = out.split_off(at);
    Some((out, tail))
}

/// Writes `map` sorted by key, skipping the value of member `hole` (its name and `:` are
/// written); returns where that value belongs in `out`.
fn write_object_around(
    map: &Map<String, Value>,
    hole: Option<&str>,
    out: &mut Vec<u8>,
) -> Option<usize> {
    let mut at = None;
    let mut member = |index: usize, key: &str, value: &Value, out: &mut Vec<u8>| {
        if Some(key) == hole {
            write_member_name(index, key, out);
            at = Some(out.len());
        } else {
            write_member(index, key, value, out);
        }
    };
    out.push(b'{');
    let sorted = map
        .keys()
        .zip(map.keys().skip(1))
        .all(|(a, b)| a.as_bytes() < b.as_bytes());
    if sorted {
        for (i, (k, v)) in map.iter().enumerate() {
            member(i, k, v, out);
        }
    } else {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (i, (k, v)) in entries.into_iter().enumerate() {
            member(i, k, v, out);
        }
    }
    out.push(b'}');
    at
}

fn write_member_name(index: usize, key: &str, out: &mut Vec<u8>) {
    if index > 0 {
        out.push(b',');
    }
    write_string(key, out);
    out.push(b':');
}

fn write_member(index: usize, key: &str, value: &Value, out: &mut Vec<u8>) {
    write_member_name(index, key, out);
    write_canonical(value, out);
}

/// Writes a JSON string with LQFT's canonical (`ensure_ascii=False`) escaping.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        push_escape(b, out);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The escape Python's encoder uses for an ASCII byte that must be escaped.
pub(crate) fn push_escape(b: u8, out: &mut Vec<u8>) {
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => push_unicode_escape(u32::from(b), out),
    }
}

/// `\uXXXX` with lowercase hex, as Python writes it.
pub(crate) fn push_unicode_escape(unit: u32, out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(DIGITS[(unit >> shift & 15) as usize]);
    }
}

/// Integers in decimal, floats as Python's `repr`.
pub(crate) fn write_number(n: &Number, out: &mut Vec<u8>) {
    if let Some(u) = n.as_u64() {
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64() {
        out.extend_from_slice(i.to_string().as_bytes());
    } else if let Some(f) = n.as_f64() {
        out.extend_from_slice(python_float_repr(f).as_bytes());
    }
}

/// Python's `repr(float)` as `json.dumps` writes it: the shortest round-trip digits, fixed
/// notation when the decimal exponent is in `-4 < e <= 16`, otherwise `d.ddde±XX`.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let decpt = exponent + 1;
    let mut out = String::with_capacity(digits.len() + 8);
    if f < 0.0 {
        out.push('-');
    }
    if decpt > -4 && decpt <= 16 {
        if decpt <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', decpt.unsigned_abs() as usize));
            out.push_str(&digits);
        } else {
            let point = decpt as usize;
            if point >= digits.len() {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', point - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.unsigned_abs()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_repr_matches_python() {
        for (f, py) in [
            (1.0, "1.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123.456, "123.456"),
            (-2.5e-300, "-2.5e-300"),
            (0.1, "0.1"),
            (1.5e300, "1.5e+300"),
            (12345678901234567.0, "1.2345678901234568e+16"),
        ] {
            assert_eq!(python_float_repr(f), py);
        }
    }

    #[test]
    fn canonical_form() {
        let v = json!({"b": [1, -2, 1.5, true, null], "a": "x\"\\\n\u{1}\u{7f}é/\u{2028}"});
        assert_eq!(
            String::from_utf8(canonical_bytes(&v)).unwrap(),
            "{\"a\":\"x\\\"\\\\\\n\\u0001\u{7f}é/\u{2028}\",\"b\":[1,-2,1.5,true,null]}"
        );
    }

    #[test]
    fn split_around_a_member() {
        let v = json!({"z": 1, "items": [{"k": "v"}], "a": {"b": null}});
        let map = v.as_object().unwrap();
        let (mut head, tail) = canonical_split(map, "items").unwrap();
        write_canonical(&v["items"], &mut head);
        head.extend_from_slice(&tail);
        assert_eq!(head, canonical_bytes(&v));
        assert!(canonical_split(map, "missing").is_none());
    }
}
