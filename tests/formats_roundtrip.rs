//! Files we write round-trip through a Map and follow LQFT's reader rules.

use std::path::{Path, PathBuf};

use lqft::formats::envelope::seal;
use lqft::formats::file_io::read_json_file;
use lqft::formats::map_files::{
    LoadOptions, export_current_state, export_snapshot, load_bundle_file, load_snapshot_file,
    save_bundle, save_current_state, save_snapshot,
};
use lqft::formats::python_json::{TextLayout, to_python_json};
use lqft::formats::{
    Ed25519PrivateKey, ErrorKind, Limits, SignKey, Validity, VerifyKey, VerifyOptions, WriteOptions,
};
use lqft::{Map, RollbackPolicy};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("lqft-roundtrip-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn populated() -> Map {
    let map = Map::new();
    map.put(b"alpha", b"1").unwrap();
    map.put(b"\x00\xffbinary", b"\xfe\x00").unwrap();
    map.put("été".as_bytes(), b"summer").unwrap();
    map.snapshot();
    map.put(b"alpha", b"2").unwrap();
    map.delete(b"\x00\xffbinary").unwrap();
    map.snapshot();
    map.put(b"pending", b"x").unwrap();
    map
}

#[test]
fn snapshot_files_round_trip_with_metadata_and_root_hash() {
    let dir = TempDir::new("snap");
    let map = populated();
    let key = SignKey::from(Ed25519PrivateKey::from_seed(&[5; 32]));
    let public: VerifyKey = Ed25519PrivateKey::from_seed(&[5; 32])
        .public_key()
        .clone()
        .into();
    let validity = Validity::for_seconds_from(std::time::SystemTime::now(), 3600).unwrap();
    for name in ["s.json", "s.json.gz"] {
        let path = dir.path(name);
        let original = map.snapshots()[0].clone();
        let options = WriteOptions {
            sign_key: Some(&key),
            validity: Some(&validity),
            ..WriteOptions::default()
        };
        save_snapshot(&path, &original, &options).unwrap();
        let target = Map::new();
        let load = LoadOptions {
            verify: VerifyOptions {
                verify_key: Some(&public),
                min_remaining_validity_seconds: Some(60),
                ..VerifyOptions::default()
            },
            activate: true,
            ..LoadOptions::default()
        };
        let loaded = load_snapshot_file(&target, &path, &load).unwrap();
        assert_eq!(loaded.meta(), original.meta());
        assert_eq!(loaded.root_hash(), original.root_hash());
        assert_eq!(target.current_snapshot().unwrap().id(), original.id());
        assert_eq!(
            target.get(b"\x00\xffbinary").as_deref(),
            Some(&b"\xfe\x00"[..])
        );
        // Loading the same id twice is refused.
        assert_eq!(
            load_snapshot_file(&target, &path, &load)
                .unwrap_err()
                .kind(),
            ErrorKind::Engine
        );
    }
}

#[test]
fn bundles_load_all_or_nothing() {
    let dir = TempDir::new("bundle");
    let map = populated();
    let path = dir.path("b.json");
    save_bundle(&path, &map, None, &WriteOptions::default()).unwrap();
    let target = Map::new();
    let loaded = load_bundle_file(
        &target,
        &path,
        &LoadOptions {
            activate: true,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(loaded.len(), 2);
    for (a, b) in loaded.iter().zip(map.snapshots()) {
        assert_eq!(a.meta(), b.meta());
        assert_eq!(a.root_hash(), b.root_hash());
    }
    assert_eq!(
        target.current_snapshot().unwrap().id(),
        map.current_snapshot().unwrap().id()
    );

    // A map that already holds snapshot 2 takes none of the bundle.
    let clash = Map::new();
    clash.snapshot();
    clash.put(b"k", b"v").unwrap();
    clash.snapshot();
    let before = clash.snapshots().len();
    assert!(load_bundle_file(&clash, &path, &LoadOptions::default()).is_err());
    assert_eq!(clash.snapshots().len(), before);

    // Activation refuses to drop pending writes unless told to.
    let busy = Map::new();
    busy.put(b"uncommitted", b"1").unwrap();
    assert!(
        load_bundle_file(
            &busy,
            &path,
            &LoadOptions {
                activate: true,
                ..LoadOptions::default()
            }
        )
        .is_err()
    );
    assert!(busy.snapshots().is_empty());
    let options = LoadOptions {
        activate: true,
        pending: RollbackPolicy::Discard,
        ..LoadOptions::default()
    };
    assert_eq!(load_bundle_file(&busy, &path, &options).unwrap().len(), 2);
}

#[test]
fn lqft_sample_bundle_loads_into_a_map() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lqft-1.2.2/bundle.json");
    let map = Map::new();
    let loaded = load_bundle_file(
        &map,
        &path,
        &LoadOptions {
            activate: true,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        loaded.iter().map(|s| s.id()).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(loaded[1].meta().parent_id, Some(1));
    assert_eq!(map.get(b"beta").as_deref(), Some(&b"value-b2"[..]));
    assert!(map.get(b"alpha").is_none());
}

#[test]
fn written_files_follow_lqft_reader_rules() {
    let dir = TempDir::new("rules");
    let map = populated();
    let validity = Validity {
        not_before: Some("2020-01-01T00:00:00Z".into()),
        expires_at: Some("2099-01-01T00:00:00+00:00".into()),
        warn_before_expiry_seconds: Some(60),
    };
    let hmac = SignKey::from_material(b"k").unwrap();
    let path = dir.path("rules.json");
    let options = WriteOptions {
        sign_key: Some(&hmac),
        validity: Some(&validity),
        ..WriteOptions::default()
    };
    save_snapshot(&path, &map.snapshots()[1], &options).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.is_ascii(), "ensure_ascii layout");
    assert!(text.ends_with("}\n"));
    let doc = read_json_file(&path, &Limits::default()).unwrap();
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "format",
            "compression",
            "integrity",
            "payload",
            "validity",
            "signature"
        ]
    );
    assert_eq!(doc["compression"], "none");
    assert_eq!(doc["validity"], doc["payload"]["validity"]);
    assert_eq!(
        doc["validity"]["not_before"], "2020-01-01T00:00:00Z",
        "stored as given"
    );
    let items = doc["payload"]["items"].as_array().unwrap();
    assert_eq!(items[0], serde_json::json!({"key": "alpha", "value": "2"}));
    assert_eq!(
        items[1],
        serde_json::json!({"key": "été", "value": "summer"})
    );
    assert_eq!(doc["payload"]["metadata"]["size"], items.len());

    let state = export_current_state(&map).unwrap();
    assert_eq!(state["metadata"]["logical_items"], 3);
    assert_eq!(state["metadata"]["pending_mutations"], 1);
    save_current_state(&dir.path("state.json.gz"), &map, &WriteOptions::default()).unwrap();
    let doc = read_json_file(&dir.path("state.json.gz"), &Limits::default()).unwrap();
    assert_eq!(doc["compression"], "gzip");
    assert_eq!(doc["payload"]["format"], "lqft-current-state-v1");
}

/// A map whose items exercise every escape in both JSON forms and both item encodings.
fn awkward() -> Map {
    let map = Map::new();
    map.put(b"plain", b"value").unwrap();
    map.put("quote\"back\\slash\nnl\ttab\u{1}\u{7f}".as_bytes(), b"")
        .unwrap();
    map.put("été😀\u{2028}".as_bytes(), "ü\"\u{1f}".as_bytes())
        .unwrap();
    map.put(b"\xff\xfe", b"\x00\x80binary").unwrap();
    map.put(b"k\xc3", "text 😀".as_bytes()).unwrap();
    for i in 0..50u32 {
        map.put(format!("bulk-{i:03}").as_bytes(), &i.to_le_bytes())
            .unwrap();
    }
    map
}

/// The written file text, decompressed if needed.
fn file_text(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        lqft::formats::file_io::gunzip_capped(&raw, u64::MAX).unwrap()
    } else {
        raw
    }
}

/// The file text the `Value`-based sealing and layout give for the payload stored in `path`
/// (a parsed payload keeps its member order and exact strings and integers).
fn resealed_text(path: &Path, options: &WriteOptions<'_>) -> Vec<u8> {
    let doc = read_json_file(path, &Limits::default()).unwrap();
    let payload = doc["payload"].as_object().unwrap().clone();
    let compression = doc["compression"].as_str().unwrap();
    let sealed = seal(payload, compression, options.sign_key, options.validity).unwrap();
    to_python_json(&serde_json::Value::Object(sealed), options.layout)
}

#[test]
fn streamed_saves_equal_value_based_sealing() {
    let dir = TempDir::new("streamed");
    let map = awkward();
    let snapshot = map.snapshot();
    let empty = Map::new().snapshot();
    map.put(b"pending", b"\xff").unwrap();
    let ed25519 = SignKey::from(Ed25519PrivateKey::from_seed(&[9; 32]));
    let hmac = SignKey::from_material(b"secret").unwrap();
    let validity = Validity {
        not_before: Some("2020-01-01T00:00:00Z".into()),
        expires_at: Some("2099-01-01T00:00:00+00:00".into()),
        warn_before_expiry_seconds: Some(60),
    };
    let layouts = [
        TextLayout::default(),
        TextLayout {
            indent: None,
            sort_keys: false,
        },
        TextLayout {
            indent: Some(0),
            sort_keys: true,
        },
        TextLayout {
            indent: Some(4),
            sort_keys: true,
        },
        TextLayout {
            indent: None,
            sort_keys: true,
        },
    ];
    for layout in layouts {
        for sign_key in [None, Some(&hmac), Some(&ed25519)] {
            for validity in [None, Some(&validity)] {
                for name in ["f.json", "f.json.gz"] {
                    let options = WriteOptions {
                        sign_key,
                        validity,
                        layout,
                        gzip_level: 1,
                        ..WriteOptions::default()
                    };
                    let path = dir.path(name);
                    let what = format!("{layout:?} {} {validity:?} {name}", sign_key.is_some());
                    save_snapshot(&path, &snapshot, &options).unwrap();
                    let text = file_text(&path);
                    assert_eq!(text, resealed_text(&path, &options), "snapshot {what}");
                    let mut payload = export_snapshot(&snapshot);
                    if let Some(v) = validity {
                        payload.insert("validity".into(), v.to_json());
                    }
                    assert_eq!(
                        read_json_file(&path, &Limits::default()).unwrap()["payload"],
                        serde_json::Value::Object(payload),
                        "{what}"
                    );
                    save_snapshot(&path, &empty, &options).unwrap();
                    assert_eq!(file_text(&path), resealed_text(&path, &options), "{what}");
                    save_current_state(&path, &map, &options).unwrap();
                    assert_eq!(file_text(&path), resealed_text(&path, &options), "{what}");
                    save_bundle(&path, &map, None, &options).unwrap();
                    assert_eq!(file_text(&path), resealed_text(&path, &options), "{what}");
                }
            }
        }
    }
}
