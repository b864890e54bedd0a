//! The DER and PEM encodings of Ed25519 keys (RFC 8410): PKCS#8 `PRIVATE KEY` and
//! SubjectPublicKeyInfo `PUBLIC KEY`, the forms LQFT (Python `cryptography`) reads and writes.

use super::base64;

/// DER of AlgorithmIdentifier { id-Ed25519 (1.3.101.112) } with absent parameters.
const ED25519_ALGORITHM: [u8; 7] = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

/// PEM label of a PKCS#8 private key.
pub const PRIVATE_KEY_LABEL: &str = "PRIVATE KEY";
/// PEM label of a SubjectPublicKeyInfo public key.
pub const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

/// One decoded PEM block.
#[derive(Debug)]
pub struct PemBlock {
    /// The label between `-----BEGIN ` and `-----`.
    pub label: String,
    /// The decoded body.
    pub der: Vec<u8>,
}

/// Parses the first PEM block of `text`. Whitespace inside the body is ignored; the body
/// must be canonical base64 and the END label must match.
pub fn parse_pem(text: &[u8]) -> Option<PemBlock> {
    let text = std::str::from_utf8(text).ok()?.trim_start();
    let rest = text.strip_prefix("-----BEGIN ")?;
    let (label, rest) = rest.split_once("-----")?;
    let end_marker = format!("-----END {label}-----");
    let (body, _) = rest.split_once(end_marker.as_str())?;
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    Some(PemBlock {
        label: label.to_owned(),
        der: base64::decode(&compact)?,
    })
}

/// PEM text with 64-character lines, as OpenSSL and `cryptography` write it.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    let body = base64::encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// PKCS#8 v1 DER of an Ed25519 private key seed.
pub fn private_key_der(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![0x30, 0x2e, 0x02, 0x01, 0x00];
    der.extend_from_slice(&ED25519_ALGORITHM);
    der.extend_from_slice(&[0x04, 0x22, 0x04, 0x20]);
    der.extend_from_slice(seed);
    der
}

/// SubjectPublicKeyInfo DER of an Ed25519 public key.
pub fn public_key_der(key: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![0x30, 0x2a];
    der.extend_from_slice(&ED25519_ALGORITHM);
    der.extend_from_slice(&[0x03, 0x21, 0x00]);
    der.extend_from_slice(key);
    der
}

/// A minimal DER reader: definite lengths only, in minimal form.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn read(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.rest.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 2 || rest.len() < count {
                return None;
            }
            let mut len = 0usize;
            for &b in &rest[..count] {
                len = len << 8 | usize::from(b);
            }
            if len < 0x80 || (count == 2 && len < 0x100) {
                return None;
            }
            rest = &rest[count..];
            len
        };
        if rest.len() < len {
            return None;
        }
        let (content, rest) = rest.split_at(len);
        self.rest = rest;
        Some((tag, content))
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.read()? {
            (t, content) if t == tag => Some(content),
            _ => None,
        }
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }
}

fn ed25519_algorithm(content_with_header: &[u8]) -> bool {
    content_with_header == &ED25519_ALGORITHM[2..]
}

/// The seed of a PKCS#8 (v1, or v2 with attributes/public key) Ed25519 private key, and the
/// embedded public key when v2 carries one.
pub fn parse_private_key_der(der: &[u8]) -> Option<([u8; 32], Option<[u8; 32]>)> {
    let mut outer = Der { rest: der };
    let body = outer.expect(0x30)?;
    if !outer.rest.is_empty() {
        return None;
    }
    let mut seq = Der { rest: body };
    let version = seq.expect(0x02)?;
    if version != [0] && version != [1] {
        return None;
    }
    if !ed25519_algorithm(seq.expect(0x30)?) {
        return None;
    }
    let mut wrapped = Der {
        rest: seq.expect(0x04)?,
    };
    let seed: [u8; 32] = wrapped.expect(0x04)?.try_into().ok()?;
    if !wrapped.rest.is_empty() {
        return None;
    }
    if seq.peek_tag() == Some(0xa0) {
        seq.read()?;
    }
    let mut public = None;
    if matches!(seq.peek_tag(), Some(0x81 | 0xa1)) {
        let (tag, content) = seq.read()?;
        let bits = if tag == 0xa1 {
            Der { rest: content }.expect(0x03)?
        } else {
            content
        };
        let (&unused, key) = bits.split_first()?;
        if unused != 0 {
            return None;
        }
        public = Some(key.try_into().ok()?);
    }
    if !seq.rest.is_empty() || (version == [0] && public.is_some()) {
        return None;
    }
    Some((seed, public))
}

/// The raw key of an Ed25519 SubjectPublicKeyInfo.
pub fn parse_public_key_der(der: &[u8]) -> Option<[u8; 32]> {
    let mut outer = Der { rest: der };
    let body = outer.expect(0x30)?;
    if !outer.rest.is_empty() {
        return None;
    }
    let mut seq = Der { rest: body };
    if !ed25519_algorithm(seq.expect(0x30)?) {
        return None;
    }
    let bits = seq.expect(0x03)?;
    if !seq.rest.is_empty() {
        return None;
    }
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    key.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let seed = [7u8; 32];
        let pem = to_pem(PRIVATE_KEY_LABEL, &private_key_der(&seed));
        let block = parse_pem(pem.as_bytes()).unwrap();
        assert_eq!(block.label, PRIVATE_KEY_LABEL);
        assert_eq!(parse_private_key_der(&block.der), Some((seed, None)));
        let key = [9u8; 32];
        let der = public_key_der(&key);
        assert_eq!(parse_public_key_der(&der), Some(key));
        assert_eq!(parse_public_key_der(&der[..der.len() - 1]), None);
    }
}
