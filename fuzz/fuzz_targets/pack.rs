//! A pack of any bytes: full verification and the lazy reader never panic, and when the whole
//! pack verifies, the reader returns exactly the verified records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lqft::store::pack::{
    PACK_FOOTER_LEN, PackFooter, PackHeader, PackInfo, PackReader, decode_pack,
};
use lqft::store::sim::SimFs;
use lqft::store::{FileSystem, FsFile, OpenMode};

fuzz_target!(|data: &[u8]| {
    let verified = decode_pack(data);
    // The reader trusts only the footer (and the manifest's size, count and hash).
    let Some(tail) = data
        .len()
        .checked_sub(PACK_FOOTER_LEN)
        .map(|at| &data[at..])
    else {
        return;
    };
    let Ok(footer) = PackFooter::decode(tail, data.len() as u64) else {
        return;
    };
    let fs = SimFs::new();
    let file = fs.open("p", OpenMode::CreateNew).unwrap();
    file.write_all_at(data, 0).unwrap();
    // A manifest names a pack by the id and generation its header holds: name it so, so that
    // a pack that verifies is one a manifest could name.
    let (id, generation) = PackHeader::decode(data).map_or((0, 0), |h| (h.id, h.generation));
    let info = PackInfo {
        id,
        generation,
        size: data.len() as u64,
        records: footer.records,
        hash: footer.hash,
    };
    let Ok(reader) = PackReader::open(file, "p".into(), info) else {
        return;
    };
    for ordinal in 0..footer.records.min(64) {
        let read = reader.read(ordinal);
        if let Ok((_, _, ranges)) = &verified {
            assert_eq!(read.unwrap(), &data[ranges[ordinal as usize].clone()]);
        }
    }
});
