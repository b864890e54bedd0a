//! `lqft store info|verify|checkpoint|backup|dump|load DIR`: output, exit codes, refusals.

mod common;

use std::path::Path;
use std::process::Output;

use common::{TempDir, run_lqft};
use lqft::Tree;
use lqft::store::{Store, StoreOptions};

fn lqft(args: &[&str], dir: &TempDir) -> Output {
    run_lqft(args, dir.dir())
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Loads `lines` (written to a file) into the store `db` under `dir`; returns the output.
fn load(dir: &TempDir, lines: &str) -> Output {
    std::fs::write(dir.path("in.jsonl"), lines).unwrap();
    lqft(&["store", "load", "db", "in.jsonl"], dir)
}

const LINES: &str = "{\"key\":\"b\",\"value\":\"2\"}\n\
                     [\"a\",\"1\"]\n\
                     \n\
                     {\"key_b64\":\"AP8=\",\"value_b64\":\"/wE=\"}\n\
                     {\"key\":\"b\",\"value\":\"two\"}\n";

/// What `LINES` leaves: `b` replaced by the later line, binary key `00 ff` and value `ff 01`.
fn expected_tree() -> Tree {
    let mut tree = Tree::new();
    for (key, value) in [
        (&b"a"[..], &b"1"[..]),
        (b"b", b"two"),
        (b"\x00\xff", b"\xff\x01"),
    ] {
        tree.insert(key, value).unwrap();
    }
    tree
}

#[test]
fn load_then_dump_gives_the_entries_in_key_order_in_export_format() {
    let dir = TempDir::new("cli-store-roundtrip");
    let out = load(&dir, LINES);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["loaded"], 3);
    assert_eq!(report["current"]["items"], 3);
    assert_eq!(
        report["current"]["root_hash"],
        hex(&expected_tree().root_hash())
    );

    let out = lqft(&["store", "dump", "db"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "{\"key_b64\":\"AP8=\",\"value_b64\":\"/wE=\"}\n\
         {\"key\":\"a\",\"value\":\"1\"}\n\
         {\"key\":\"b\",\"value\":\"two\"}\n"
    );

    // --out writes a file, and that file loads into another store with the same root.
    let out = lqft(&["store", "dump", "db", "--out", "dump.jsonl"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = lqft(&["store", "load", "copy", "dump.jsonl"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        json(&out)["current"]["root_hash"],
        hex(&expected_tree().root_hash())
    );
}

#[test]
fn load_refuses_bad_input_and_changes_nothing() {
    let dir = TempDir::new("cli-store-bad-input");
    assert_eq!(code(&load(&dir, LINES)), 0);
    let before = stdout(&lqft(&["store", "dump", "db"], &dir));
    for (bad, line) in [
        ("{\"key\":\"c\",\"value\":\"3\"}\nnot json\n", "line 2"),
        ("{\"key\":\"c\"}\n", "line 1"),
        ("[\"c\",\"3\",\"4\"]\n", "line 1"),
    ] {
        let out = load(&dir, bad);
        assert_eq!(code(&out), 1, "{bad:?}");
        assert!(stderr(&out).contains(line), "{bad:?}: {}", stderr(&out));
        assert_eq!(stdout(&lqft(&["store", "dump", "db"], &dir)), before);
    }
    let key = format!("{{\"key\":\"{}\",\"value\":\"\"}}\n", "k".repeat(70_000));
    let out = load(&dir, &key);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("key"), "{}", stderr(&out));
    let out = lqft(
        &["store", "load", "db", "in.jsonl", "--max-input-bytes", "10"],
        &dir,
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("--max-input-bytes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&lqft(&["store", "dump", "db"], &dir)), before);
}

#[test]
fn checkpoint_publishes_a_manifest_that_info_and_verify_report() {
    let dir = TempDir::new("cli-store-checkpoint");
    // A store whose writer stopped without closing (a closing writer checkpoints): a copy of
    // the directory taken while the writer is open, its writes in the WAL and no manifest.
    let writer = Store::open(dir.path("live"), StoreOptions::default()).unwrap();
    for (key, value) in expected_tree().iter() {
        writer.put(key, value).unwrap();
    }
    for sub in ["", "wal", "packs", "manifest"] {
        std::fs::create_dir_all(dir.path("db").join(sub)).unwrap();
        for entry in std::fs::read_dir(dir.path("live").join(sub)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(
                    entry.path(),
                    dir.path("db").join(sub).join(entry.file_name()),
                )
                .unwrap();
            }
        }
    }
    drop(writer);
    let info = json(&lqft(&["store", "info", "db"], &dir));
    assert_eq!(info["manifest"], 0);
    assert_eq!(info["packs"], 0);
    assert_eq!(info["current"]["items"], 3);
    assert_eq!(info["current"]["key_bytes"], 4);

    let out = lqft(&["store", "checkpoint", "db"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["manifest"], 1);

    let info = json(&lqft(&["store", "info", "db"], &dir));
    assert_eq!(info["manifest"], 1);
    assert_eq!(info["packs"], 1);
    let root = hex(&expected_tree().root_hash());
    assert_eq!(info["current"]["root_hash"], root);

    let out = lqft(&["store", "verify", "db"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["verified"], true);
    assert_eq!(report["packs_verified"], 1);
    assert_eq!(report["current"]["root_hash"], root);
    assert!(report["node_loads"].as_u64().unwrap() > 0);
}

/// The one pack file of the store `db`.
fn pack_file(dir: &TempDir) -> std::path::PathBuf {
    let packs: Vec<_> = std::fs::read_dir(dir.path("db/packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(packs.len(), 1, "{packs:?}");
    packs[0].clone()
}

#[test]
fn verify_exits_1_on_every_flipped_byte_of_a_pack_it_cannot_trust() {
    let dir = TempDir::new("cli-store-verify-damage");
    let mut lines = String::new();
    for i in 0..200 {
        lines.push_str(&format!(
            "{{\"key\":\"key{i:04}\",\"value\":\"value {i}\"}}\n"
        ));
    }
    assert_eq!(code(&load(&dir, &lines)), 0);
    assert_eq!(code(&lqft(&["store", "checkpoint", "db"], &dir)), 0);
    let pack = pack_file(&dir);
    let good = std::fs::read(&pack).unwrap();
    // A spread of positions: header, records, ordinal table, footer.
    let step = (good.len() / 40).max(1);
    let mut damaged = 0;
    for at in (0..good.len()).step_by(step) {
        let mut bytes = good.clone();
        bytes[at] ^= 0x10;
        std::fs::write(&pack, &bytes).unwrap();
        let out = lqft(&["store", "verify", "db"], &dir);
        assert_eq!(code(&out), 1, "byte {at}: {}", stdout(&out));
        assert!(stdout(&out).is_empty(), "byte {at}");
        assert!(stderr(&out).contains("db"), "byte {at}: {}", stderr(&out));
        damaged += 1;
    }
    assert!(damaged >= 40);
    std::fs::write(&pack, &good).unwrap();
    assert_eq!(code(&lqft(&["store", "verify", "db"], &dir)), 0);

    std::fs::remove_file(&pack).unwrap();
    let out = lqft(&["store", "verify", "db"], &dir);
    assert_eq!(code(&out), 1);
}

#[test]
fn writing_commands_are_refused_while_another_writer_holds_the_store() {
    let dir = TempDir::new("cli-store-locked");
    assert_eq!(code(&load(&dir, LINES)), 0);
    let writer = Store::open(dir.path("db"), StoreOptions::default()).unwrap();
    writer.put(b"c", b"3").unwrap();

    for args in [
        &["store", "checkpoint", "db"][..],
        &["store", "backup", "db", "bk"],
        &["store", "load", "db", "in.jsonl"],
    ] {
        let out = lqft(args, &dir);
        assert_eq!(code(&out), 1, "{args:?}");
        assert!(
            stderr(&out).contains("another process has the store open for writing"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // Readers take no lock and see the writer's committed writes.
    let info = json(&lqft(&["store", "info", "db"], &dir));
    assert_eq!(info["current"]["items"], 4);
    assert_eq!(code(&lqft(&["store", "verify", "db"], &dir)), 0);
    assert!(stdout(&lqft(&["store", "dump", "db"], &dir)).contains("\"key\":\"c\""));
}

#[test]
fn store_usage_errors_exit_2_and_missing_stores_exit_1() {
    let dir = TempDir::new("cli-store-usage");
    std::fs::create_dir(dir.path("plain")).unwrap();
    for args in [
        &["store"][..],
        &["store", "info"],
        &["store", "frobnicate", "db"],
        &["store", "info", "db", "extra"],
        &["store", "dump", "db", "--max-input-bytes", "5"],
        &["store", "load", "db", "--out", "x"],
        &["store", "info", "db", "--unknown"],
        &["store", "backup", "db"],
        &["store", "backup", "db", "bk", "extra"],
    ] {
        let out = lqft(args, &dir);
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(stderr(&out).contains("usage: lqft store"), "{args:?}");
    }
    for args in [
        &["store", "info", "missing"][..],
        &["store", "verify", "plain"],
        &["store", "dump", "plain"],
        &["store", "checkpoint", "plain"],
        &["store", "backup", "plain", "bk"],
    ] {
        let out = lqft(args, &dir);
        assert_eq!(code(&out), 1, "{args:?}");
        assert!(stderr(&out).contains("is not a store"), "{args:?}");
    }
    // Nothing was created by the refused commands.
    assert!(!Path::new(&dir.path("missing")).exists());
    assert!(!dir.path("plain/manifest").exists());
    assert!(!dir.path("bk").exists());
}

#[test]
fn store_help_is_reachable_every_way() {
    let dir = TempDir::new("cli-store-help");
    let help = stdout(&lqft(&["help", "store"], &dir));
    assert!(help.starts_with("usage: lqft store info|verify|checkpoint|backup|dump|load DIR"));
    for sub in ["info", "verify", "checkpoint", "backup", "dump", "load"] {
        assert!(help.contains(&format!("\n  {sub} DIR")), "{sub}");
    }
    assert_eq!(stdout(&lqft(&["store", "--help"], &dir)), help);
    assert_eq!(
        stdout(&lqft(&["store", "dump", "db", "--help"], &dir)),
        help
    );
    assert!(
        stdout(&lqft(&["--help"], &dir)).contains("store info|verify|checkpoint|backup|dump|load")
    );
}

#[test]
fn info_lists_snapshots_verify_checks_each_and_dump_reads_one() {
    let dir = TempDir::new("cli-store-snapshots");
    assert_eq!(code(&load(&dir, LINES)), 0);
    let (first, second) = {
        let store = Store::open(dir.path("db"), StoreOptions::default()).unwrap();
        let map = store.map();
        let first = map.try_snapshot().unwrap();
        map.put(b"a", b"changed").unwrap();
        store.checkpoint().unwrap();
        let second = map.try_snapshot().unwrap();
        (
            (first.id(), hex(&first.root_hash())),
            (second.id(), hex(&second.root_hash())),
        )
    };
    let info = json(&lqft(&["store", "info", "db"], &dir));
    let snapshots = info["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 2, "{info}");
    assert_eq!(snapshots[0]["snapshot_id"], first.0);
    assert_eq!(snapshots[0]["root_hash"], first.1);
    assert_eq!(snapshots[1]["snapshot_id"], second.0);
    assert_eq!(snapshots[1]["root_hash"], second.1);
    assert_eq!(snapshots[1]["parent_id"], first.0);
    assert_eq!(info["current_snapshot_id"], second.0);

    let out = lqft(&["store", "verify", "db"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["versions_verified"], 3);

    let id = first.0.to_string();
    let out = lqft(&["store", "dump", "db", "--snapshot-id", &id], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("{\"key\":\"a\",\"value\":\"1\"}"));
    let out = lqft(&["store", "dump", "db"], &dir);
    assert!(stdout(&out).contains("{\"key\":\"a\",\"value\":\"changed\"}"));
    let out = lqft(&["store", "dump", "db", "--snapshot-id", "999"], &dir);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("no snapshot 999"), "{}", stderr(&out));
}

#[test]
fn backup_copies_the_store_then_only_new_packs_and_the_copy_opens() {
    let dir = TempDir::new("cli-store-backup");
    assert_eq!(code(&load(&dir, LINES)), 0);
    let first = json(&lqft(&["store", "backup", "db", "bk"], &dir));
    assert!(first["packs"].as_u64().unwrap() >= 1);
    assert_eq!(first["packs_copied"], first["packs"]);
    assert!(first["bytes_copied"].as_u64().unwrap() > 0);
    let again = json(&lqft(&["store", "backup", "db", "bk"], &dir));
    assert_eq!(again["packs_copied"], 0);
    assert_eq!(again["manifest"], first["manifest"]);
    let info = json(&lqft(&["store", "info", "bk"], &dir));
    assert_eq!(
        info["current"]["root_hash"],
        hex(&expected_tree().root_hash())
    );
    assert_eq!(code(&lqft(&["store", "verify", "bk"], &dir)), 0);
    // Restoring reads the backup without making it a store: it takes backups again after.
    let restored = json(&lqft(&["store", "backup", "bk", "restored"], &dir));
    assert_eq!(restored["packs_copied"], first["packs"]);
    assert!(
        dir.path("bk/wal").read_dir().unwrap().next().is_none(),
        "bk has no WAL"
    );
    assert_eq!(code(&lqft(&["store", "backup", "db", "bk"], &dir)), 0);
    let info = json(&lqft(&["store", "info", "restored"], &dir));
    assert_eq!(
        info["current"]["root_hash"],
        hex(&expected_tree().root_hash())
    );
}
