//! Stored node records, damaged: a tree of keys drawn from the input is written through
//! `Tree::store_new_nodes`, one byte of one record is changed (or a record cut short) as the
//! input says, and the tree is read back through `Tree::from_stored`. Every load is checked
//! against the hash its parent holds, so a read either fails with an error or returns exactly
//! what was written: never a panic, never a missing or different entry.
#![no_main]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use libfuzzer_sys::fuzz_target;
use lqft::tree::{Location, NodeSource};
use lqft::{Result, Tree};

struct Records(Mutex<Vec<Vec<u8>>>);

impl NodeSource for Records {
    fn read(&self, at: Location) -> Result<Vec<u8>> {
        let records = self.0.lock().unwrap();
        records
            .get(at.ordinal as usize)
            .cloned()
            .ok_or_else(|| lqft::Error::InvalidArgument(format!("no record {}", at.ordinal)))
    }
}

fuzz_target!(|data: &[u8]| {
    // Input: [damage: record u8, offset u16, xor u8 (0: cut the record at offset)] then keys of
    // 1 to 8 bytes, each preceded by its length.
    let Some((damage, mut rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let mut model = BTreeMap::new();
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len % 8) + 1;
        let Some(key) = tail.get(..len) else { break };
        model.insert(key.to_vec(), key.repeat(3));
        rest = &tail[len..];
    }
    if model.is_empty() {
        return;
    }
    let mut tree = Tree::new();
    for (k, v) in &model {
        tree.insert(k, v).unwrap();
    }
    let mut records = Vec::new();
    let root = tree
        .store_new_nodes(&mut |record| {
            records.push(record.to_vec());
            Ok(Location {
                pack: 0,
                ordinal: records.len() as u32 - 1,
            })
        })
        .unwrap()
        .unwrap();
    let which = usize::from(damage[0]) % records.len();
    let at = usize::from(u16::from_le_bytes([damage[1], damage[2]]));
    let record = &mut records[which];
    if damage[3] == 0 {
        record.truncate(at % (record.len() + 1));
    } else if !record.is_empty() {
        let i = at % record.len();
        record[i] ^= damage[3];
    }
    let source = Arc::new(Records(Mutex::new(records)));
    let stored = Tree::from_stored(
        root,
        tree.root_hash(),
        tree.len(),
        tree.key_bytes(),
        tree.value_bytes(),
        source,
    );
    for (k, v) in &model {
        if let Ok(found) = stored.try_get(k) {
            assert_eq!(found, Some(v.as_slice()), "a damaged tree read wrong data");
        }
    }
    let mut expected = model.iter();
    for entry in stored.try_iter() {
        let Ok((k, v)) = entry else { return };
        let (ek, ev) = expected
            .next()
            .expect("a damaged tree read an entry too many");
        assert_eq!(
            (k, v),
            (ek.as_slice(), ev.as_slice()),
            "a damaged tree read wrong data"
        );
    }
    assert!(
        expected.next().is_none(),
        "a damaged tree lost an entry without an error"
    );
});
