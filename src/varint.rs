//! LEB128 varints, the compact integers of stored node records and manifests
//! (`docs/FORMAT.md`).

/// Appends `value` as a LEB128 varint: 7 bits a byte, low bits first, the high bit set on
/// every byte but the last.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a varint from the front of `bytes`, refusing one that is truncated, longer than 64
/// bits or not in its shortest form.
pub(crate) fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7f);
        if i == 9 && byte > 1 {
            return None;
        }
        value |= bits << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return None;
            }
            *bytes = &bytes[i + 1..];
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_refuse_truncated_overlong_and_padded_forms() {
        for value in [0, 1, 127, 128, 300, 1 << 32, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            let mut bytes = &out[..];
            assert_eq!(varint(&mut bytes), Some(value));
            assert!(bytes.is_empty());
            assert_eq!(
                varint(&mut &out[..out.len() - 1]),
                None,
                "truncated {value}"
            );
        }
        // 0 padded to two bytes, a continuation past 64 bits, an 11th byte.
        assert_eq!(varint(&mut &[0x80, 0x00][..]), None);
        assert_eq!(
            varint(&mut &[0xff; 9].iter().chain(&[0x02]).copied().collect::<Vec<_>>()[..]),
            None
        );
        assert_eq!(varint(&mut &[0xff; 11][..]), None);
    }
}
