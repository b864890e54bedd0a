//! A manifest of any bytes: decoding never panics, and a manifest that decodes encodes back to
//! the same bytes (one encoding per state).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lqft::store::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = Manifest::decode(data) {
        assert_eq!(manifest.encode(), data);
    }
});
