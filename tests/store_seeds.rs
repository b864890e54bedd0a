//! The fuzz seed corpus (`fuzz/corpus/{wal,pack,manifest}`) is what the current encoders write:
//! one valid file of each kind per interesting shape, so the fuzzers start from real formats.
//!
//! Regenerate the seeds with `LQFT_BLESS=1 cargo test --test store_seeds`.

use std::path::Path;

use lqft::store::manifest::{Manifest, StoredRoot, StoredSnapshot};
use lqft::store::pack::{PACK_VERSION, PackHeader, PackInfo, PackWriter, decode_pack};
use lqft::store::record::{ImportedSnapshot, LogOp, LogRecord, SnapshotMarker};
use lqft::store::sim::SimFs;
use lqft::store::wal::{RecordHeader, SegmentHeader, WAL_VERSION, decode_segment, encode_record};
use lqft::store::{FileSystem, OpenMode};
use lqft::tree::STORED_NODE_FORMAT_VERSION;

const SALT: u64 = 0x0123_4567_89ab_cdef;

fn records() -> Vec<LogRecord> {
    vec![
        LogRecord::Batch(vec![LogOp::Put(b"alpha".to_vec(), b"one".to_vec())]),
        LogRecord::Batch(vec![
            LogOp::Delete(b"alpha".to_vec()),
            LogOp::Put(b"beta".to_vec(), vec![0xab; 40]),
            LogOp::Clear,
        ]),
        LogRecord::Snapshot(SnapshotMarker {
            id: 1,
            generation: 1,
            parent_id: None,
            created_at_ns: 1_764_000_000_000_000_000,
            mutation_count: 4,
            delta_size: 1,
            size: 1,
            root: [0x5a; 32],
            pruned: Vec::new(),
        }),
        LogRecord::Rollback {
            id: 1,
            discard: false,
        },
        LogRecord::Retention {
            keep: Some(3),
            pruned: vec![1],
        },
        LogRecord::Compact {
            retain_last: 1,
            pruned: Vec::new(),
        },
        LogRecord::Import {
            snapshots: vec![ImportedSnapshot {
                meta: lqft::SnapshotMeta {
                    id: 2,
                    generation: 2,
                    parent_id: Some(1),
                    created_at_ns: 1_764_000_000_000_000_001,
                    mutation_count: 0,
                    delta_size: 1,
                    size: 1,
                },
                entries: vec![(b"gamma".to_vec(), b"three".to_vec())],
            }],
            activate: Some(0),
        },
    ]
}

fn wal_segment(first_seq: u64, synced_every: u64) -> Vec<u8> {
    let mut bytes = SegmentHeader {
        salt: SALT,
        first_seq,
    }
    .encode()
    .to_vec();
    for (i, record) in records().iter().enumerate() {
        let seq = first_seq + i as u64;
        let header = RecordHeader {
            kind: record.kind(),
            seq,
            synced: seq - seq % synced_every.max(1),
        };
        encode_record(&mut bytes, SALT, header, &record.encode());
    }
    bytes
}

fn pack(records: &[&[u8]]) -> (Vec<u8>, PackInfo) {
    let fs = SimFs::new();
    let file = fs.open("p", OpenMode::CreateNew).unwrap();
    let header = PackHeader {
        id: 1,
        generation: 0,
        epoch: 1,
    };
    let mut writer = PackWriter::new(file, "p".into(), header);
    for record in records {
        writer.add(record).unwrap();
    }
    let info = writer.finish().unwrap();
    (fs.read_file("p").unwrap(), info)
}

fn manifest(info: PackInfo) -> Manifest {
    let root = StoredRoot {
        pack: info.id,
        ordinal: info.records - 1,
        hash: [0x11; 32],
        len: 2,
        key_bytes: 9,
        value_bytes: 43,
    };
    Manifest {
        number: 3,
        writer_epoch: 1,
        node_format: STORED_NODE_FORMAT_VERSION,
        wal_format: WAL_VERSION,
        pack_format: PACK_VERSION,
        wal_start: 7,
        next_pack_id: info.id + 1,
        packs: vec![info],
        root: Some(root),
        next_snapshot_id: 2,
        current_snapshot: Some(1),
        retention: Some(3),
        pending: 0,
        snapshots: vec![StoredSnapshot {
            id: 1,
            generation: 1,
            parent_id: None,
            created_at_ns: 1_764_000_000_000_000_000,
            mutation_count: 4,
            delta_size: 1,
            root: Some(root),
        }],
    }
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let (small, info) = pack(&[b"\x01leaf record", b"\x02branch record with children"]);
    let (empty, _) = pack(&[]);
    let empty_manifest = Manifest {
        packs: Vec::new(),
        root: None,
        snapshots: Vec::new(),
        current_snapshot: None,
        ..manifest(info)
    };
    let mut torn = wal_segment(1, 1);
    torn.truncate(torn.len() - 5);
    vec![
        ("wal/records", wal_segment(1, 1)),
        ("wal/group-commit", wal_segment(100, 3)),
        ("wal/torn-tail", torn),
        ("wal/header-only", wal_segment(1, 1)[..32].to_vec()),
        ("pack/two-records", small),
        ("pack/empty", empty),
        ("manifest/full", manifest(info).encode()),
        ("manifest/empty-store", empty_manifest.encode()),
    ]
}

#[test]
fn seeds_decode_as_intended() {
    for (name, bytes) in seeds() {
        match name.split('/').next().unwrap() {
            "wal" => {
                let segment = decode_segment(&bytes).unwrap();
                assert!(segment.header.is_some(), "{name}");
                for record in &segment.records {
                    let payload = &bytes[record.offset..record.offset + record.len];
                    LogRecord::decode(record.kind, payload).unwrap();
                }
            }
            "pack" => {
                decode_pack(&bytes).unwrap();
            }
            _ => {
                assert_eq!(Manifest::decode(&bytes).unwrap().encode(), bytes, "{name}");
            }
        }
    }
}

#[test]
fn committed_seed_corpus_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let bless = std::env::var_os("LQFT_BLESS").is_some();
    for (name, bytes) in seeds() {
        let path = root.join(name);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        } else {
            let committed = std::fs::read(&path).unwrap_or_default();
            assert!(
                committed == bytes,
                "fuzz/corpus/{name} is stale: the store's formats changed. Regenerate the seeds \
                 with `LQFT_BLESS=1 cargo test --test store_seeds` and commit them."
            );
        }
    }
}
