//! Files liblqft writes and reads: a failing call changes nothing and destroys nothing; only
//! regular files are read or replaced; caps hold on both sides; paths named by a file stay in
//! its directory once symlinks are followed.

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use common::{TempDir, mkfifo, mode, within};
use lqft::Map;
use lqft::formats::engine_manifest::StorageEngineManifest;
use lqft::formats::inspect::{InspectOptions, ManifestKind, inspect_storage_engine_manifest};
use lqft::formats::keypair::write_ed25519_keypair;
use lqft::formats::keys::read_key_material;
use lqft::formats::map_files::{LoadOptions, load_snapshot_file, save_bundle, save_snapshot};
use lqft::formats::{
    Ed25519PrivateKey, ErrorKind, Limits, PolicyCode, SignKey, TrustStore, TrustStoreOptions,
    VerifyKey, WriteOptions,
};

fn snapshot_of(items: &[(&str, &str)]) -> lqft::Snapshot {
    let map = Map::new();
    for (k, v) in items {
        map.put(k.as_bytes(), v.as_bytes()).unwrap();
    }
    map.snapshot()
}

fn save(path: &Path) -> lqft::formats::Result<()> {
    save_snapshot(path, &snapshot_of(&[("k", "v")]), &WriteOptions::default())
}

#[test]
fn keypair_failure_after_staging_keeps_the_existing_private_key() {
    let dir = TempDir::new("keypair-fail");
    let (private, public) = (dir.path("k.pem"), dir.path("k.pub.pem"));
    write_ed25519_keypair(&private, &public, false).unwrap();
    let before = std::fs::read(&private).unwrap();
    // The public key cannot be written: its path is a directory, or in a missing one.
    std::fs::create_dir(dir.path("pubdir")).unwrap();
    for bad_public in [dir.path("pubdir"), dir.path("missing/k.pub.pem")] {
        assert!(write_ed25519_keypair(&private, &bad_public, true).is_err());
        assert_eq!(std::fs::read(&private).unwrap(), before);
    }
    assert_eq!(dir.entries(), ["k.pem", "k.pub.pem", "pubdir"]);
}

#[test]
fn keypair_refuses_two_spellings_of_one_file() {
    let dir = TempDir::new("keypair-same");
    std::fs::create_dir(dir.path("d")).unwrap();
    symlink(dir.path("d"), dir.path("link")).unwrap();
    let private = dir.path("d/k.pem");
    write_ed25519_keypair(&private, &dir.path("d/k.pub.pem"), false).unwrap();
    let before = std::fs::read(&private).unwrap();
    for other in ["d/../d/k.pem", "link/k.pem", "d/./k.pem"] {
        let err = write_ed25519_keypair(&private, &dir.path(other), true).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Key, "{other}: {err}");
        assert_eq!(std::fs::read(&private).unwrap(), before);
    }
    // Not even a new file is written when the two names are one.
    let fresh = dir.path("d/new.pem");
    assert!(write_ed25519_keypair(&fresh, &dir.path("link/new.pem"), false).is_err());
    assert!(!fresh.exists());
}

#[test]
fn saving_over_a_file_keeps_its_mode() {
    let dir = TempDir::new("mode");
    let path = dir.path("s.json");
    for wanted in [0o600, 0o640, 0o644] {
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wanted)).unwrap();
        save(&path).unwrap();
        assert_eq!(mode(&path), wanted);
    }
    // The public key of a regenerated pair keeps its mode too; the private key is 0600.
    let (private, public) = (dir.path("k.pem"), dir.path("k.pub.pem"));
    write_ed25519_keypair(&private, &public, false).unwrap();
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
    write_ed25519_keypair(&private, &public, true).unwrap();
    assert_eq!((mode(&private), mode(&public)), (0o600, 0o640));
}

#[test]
fn saving_refuses_links_directories_fifos_and_devices() {
    let dir = TempDir::new("kinds");
    let real = dir.path("real.json");
    std::fs::write(&real, b"keep").unwrap();
    symlink(&real, dir.path("link.json")).unwrap();
    std::fs::create_dir(dir.path("dir.json")).unwrap();
    mkfifo(&dir.path("fifo.json"));
    let mut targets = vec!["link.json", "dir.json", "fifo.json"];
    // A device node, where the test may make one (root outside a restricted container).
    let made_device = std::process::Command::new("mknod")
        .args([dir.path("dev.json").to_str().unwrap(), "c", "1", "3"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made_device {
        targets.push("dev.json");
    }
    let before = dir.entries();
    for name in targets {
        let path = dir.path(name);
        let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
        let err = save(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{name}");
        assert!(err.message().contains("not a regular file"), "{err}");
        assert_eq!(std::fs::symlink_metadata(&path).unwrap().file_type(), kind);
    }
    assert_eq!(std::fs::read(&real).unwrap(), b"keep");
    assert_eq!(dir.entries(), before);
}

#[test]
fn saving_into_a_missing_directory_fails_and_creates_nothing() {
    let dir = TempDir::new("parent");
    let err = save(&dir.path("typo/deeper/s.json")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.message().contains("does not exist"), "{err}");
    assert!(dir.entries().is_empty());
    let err =
        write_ed25519_keypair(&dir.path("k.pem"), &dir.path("typo/k.pub.pem"), false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(dir.entries().is_empty());
}

#[test]
fn a_file_name_of_250_bytes_can_be_saved() {
    let dir = TempDir::new("long");
    let name = format!("{}.json", "n".repeat(245));
    assert_eq!(name.len(), 250);
    save(&dir.path(&name)).unwrap();
    assert_eq!(dir.entries(), [name]);
}

#[test]
fn fifos_given_as_snapshot_key_or_inspect_paths_fail_without_blocking() {
    let dir = TempDir::new("fifo");
    let fifo = dir.path("fifo");
    mkfifo(&fifo);
    let limit = Duration::from_secs(20);
    let path = fifo.clone();
    let err = within(limit, move || {
        load_snapshot_file(&Map::new(), &path, &LoadOptions::default()).unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.message().contains("a FIFO"), "{err}");
    let path = fifo.clone();
    let err = within(limit, move || VerifyKey::from_file(&path).unwrap_err());
    assert_eq!(err.kind(), ErrorKind::Io);
    let path = fifo.clone();
    let err = within(limit, move || SignKey::from_file(&path).unwrap_err());
    assert_eq!(err.kind(), ErrorKind::Io);
    let path = fifo.clone();
    let err = within(limit, move || {
        lqft::formats::inspect::inspect_persisted_file(&path, &InspectOptions::default())
            .unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Io);
    let path = fifo.clone();
    let err = within(limit, move || {
        TrustStore::load(&path, &TrustStoreOptions::default()).unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Io);
}

#[test]
fn key_files_are_capped_at_64_kib_and_devices_refused() {
    let dir = TempDir::new("keycap");
    let big = dir.path("big.key");
    std::fs::write(&big, vec![b'k'; 64 * 1024 + 1]).unwrap();
    assert_eq!(
        read_key_material(&big).unwrap_err().kind(),
        ErrorKind::Limit
    );
    let ok = dir.path("ok.key");
    std::fs::write(&ok, vec![b'k'; 64 * 1024]).unwrap();
    assert_eq!(read_key_material(&ok).unwrap().len(), 64 * 1024);
    let err = within(Duration::from_secs(20), || {
        read_key_material(Path::new("/dev/zero")).unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.message().contains("character device"), "{err}");
}

#[test]
fn the_writer_refuses_what_the_reader_would_refuse_as_a_limit() {
    let dir = TempDir::new("writecap");
    let snapshot = snapshot_of(&[("key", &"v".repeat(4000))]);
    let limits = Limits {
        max_file_bytes: 2000,
        max_decompressed_bytes: 2000,
        ..Limits::default()
    };
    let options = WriteOptions {
        limits,
        ..WriteOptions::default()
    };
    for name in ["s.json", "s.json.gz"] {
        let path = dir.path(name);
        std::fs::write(&path, b"previous").unwrap();
        let err = save_snapshot(&path, &snapshot, &options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Limit, "{name}: {err}");
        assert!(err.message().contains("2000 bytes"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"previous");
    }
    // A bundle of a long history: each snapshot is small, together they are over the cap.
    let map = Map::new();
    for i in 0..20 {
        map.put(format!("k{i}").as_bytes(), &[b'v'; 100]).unwrap();
        map.snapshot();
    }
    let err = save_bundle(&dir.path("b.json"), &map, None, &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit, "{err}");
    assert_eq!(dir.entries(), ["s.json", "s.json.gz"]);
    // What fits is written, and reads back under the same caps.
    let small = snapshot_of(&[("key", "value")]);
    let path = dir.path("small.json");
    save_snapshot(&path, &small, &options).unwrap();
    let load = LoadOptions {
        limits,
        ..LoadOptions::default()
    };
    load_snapshot_file(&Map::new(), &path, &load).unwrap();
    // A file just over the reader's cap is a limit error, not corruption.
    std::fs::write(&path, vec![b' '; 2001]).unwrap();
    let err = load_snapshot_file(&Map::new(), &path, &load).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit);
}

/// A raw storage-engine manifest at `dir/m/manifest.json` whose checkpoint is `checkpoint`.
fn engine_manifest(dir: &TempDir, checkpoint: &str) -> std::path::PathBuf {
    let payload = serde_json::json!({
        "format": "lqft-storage-engine-manifest-v1",
        "storage": {"checkpoint_path": checkpoint, "wal_path": "wal.jsonl",
                    "wal_fsync": true, "checkpoint_retain_last": 2},
        "checkpoint_policy": {"sign_key_path": null, "verify_key_path": null,
                              "trusted_signers_path": null,
                              "min_remaining_validity_seconds": null, "validity": null},
        "serialization": {"indent": 2, "sort_keys": false},
        "exported_at_ns": 1,
    });
    let path = dir.path("m/manifest.json");
    std::fs::write(&path, payload.to_string()).unwrap();
    path
}

#[test]
fn manifest_paths_leaving_through_a_symlinked_directory_are_refused() {
    let dir = TempDir::new("confine");
    std::fs::create_dir_all(dir.path("m/sub")).unwrap();
    std::fs::create_dir_all(dir.path("outside")).unwrap();
    symlink("../outside", dir.path("m/out")).unwrap();
    symlink("sub", dir.path("m/in")).unwrap();
    symlink("/nonexistent/elsewhere", dir.path("m/dangling")).unwrap();
    // The verdict is about the manifest's directory; the working directory (the crate root
    // here) holds no `out`, `in` or `dangling`.
    for (checkpoint, allowed) in [
        ("in/ckpt.json.gz", true),
        ("new/ckpt.json.gz", true),
        ("out/ckpt.json.gz", false),
        ("dangling", false),
    ] {
        let path = engine_manifest(&dir, checkpoint);
        let report =
            inspect_storage_engine_manifest(&path, ManifestKind::Single, &Default::default())
                .unwrap();
        let policy = &report["effective_policy"];
        assert_eq!(policy["allowed"], allowed, "{checkpoint}: {report}");
        if !allowed {
            assert_eq!(
                policy["reason_code"], "schema_invalid_storage_engine_manifest",
                "{checkpoint}"
            );
        }
        let document = lqft::formats::file_io::read_json_file(&path, &Limits::default()).unwrap();
        let manifest = StorageEngineManifest::from_json(&document).unwrap();
        assert_eq!(
            manifest.check_paths(&dir.path("m")).is_ok(),
            allowed,
            "{checkpoint}"
        );
        assert_eq!(
            StorageEngineManifest::resolve(&path, checkpoint).is_ok(),
            allowed
        );
    }
}

#[test]
fn trust_store_directories_refuse_pem_links_that_leave_them() {
    let dir = TempDir::new("trustdir");
    let key = |seed: u8| {
        Ed25519PrivateKey::from_seed(&[seed; 32])
            .public_key()
            .to_pem()
    };
    std::fs::create_dir_all(dir.path("trust/keys")).unwrap();
    std::fs::write(dir.path("trust/a.pem"), key(1)).unwrap();
    std::fs::write(dir.path("trust/keys/b.pub"), key(2)).unwrap();
    symlink("keys/b.pub", dir.path("trust/b.pem")).unwrap();
    let store = TrustStore::load(&dir.path("trust"), &TrustStoreOptions::default()).unwrap();
    assert_eq!(store.len(), 2);

    std::fs::write(dir.path("outside.pem"), key(3)).unwrap();
    symlink("../outside.pem", dir.path("trust/c.pem")).unwrap();
    let err = TrustStore::load(&dir.path("trust"), &TrustStoreOptions::default()).unwrap_err();
    assert_eq!(
        err.policy_code(),
        Some(PolicyCode::SchemaInvalidTrustedSigners),
        "{err}"
    );
    assert!(err.message().contains("c.pem"), "{err}");
}
