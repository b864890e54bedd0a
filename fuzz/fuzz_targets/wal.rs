//! A WAL segment of any bytes: decoding never panics, valid records are contiguous and inside
//! the valid part, and every record payload decodes or is refused cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lqft::store::record::LogRecord;
use lqft::store::wal::{RECORD_HEADER_LEN, decode_segment};

fuzz_target!(|data: &[u8]| {
    let Ok(segment) = decode_segment(data) else {
        return;
    };
    assert!(segment.valid_len <= data.len());
    let mut end = segment
        .header
        .map_or(0, |_| lqft::store::wal::SEGMENT_HEADER_LEN);
    for (i, record) in segment.records.iter().enumerate() {
        let first = segment.header.expect("records need a header").first_seq;
        assert_eq!(record.seq, first + i as u64);
        assert_eq!(record.offset, end + RECORD_HEADER_LEN);
        end = record.offset + record.len;
        let _ = LogRecord::decode(record.kind, &data[record.offset..end]);
    }
    assert_eq!(end.max(segment.valid_len), segment.valid_len);
});
