//! The remote's volume files and index snapshots, as read back from disk.
//!
//! One input is tried as each layout. Checksums are also made to match, as a
//! torn write that happens to checksum (or a hostile disk) would, so the
//! field checks behind them are reached.

use std::io::Cursor;
use std::ops::ControlFlow;

use pyxis_remote::store::fuzzing::{ScanEnd, Scanned, scan};
use pyxis_remote::store::layout::{
    RECORD_HEADER_LEN, RecordHeader, RecordKind, Snapshot, VOLUME_HEADER_LEN, decode_volume_header,
    encode_volume_header,
};

use crate::{reseal_record_header, seal_snapshot};

const VOLUME_HEADER: usize = VOLUME_HEADER_LEN as usize;

pub fn run(data: &[u8]) {
    if let Some(h) = data.first_chunk::<VOLUME_HEADER>()
        && let Ok(id) = decode_volume_header(h)
    {
        assert_eq!(&encode_volume_header(id), h, "a volume header that parses re-encodes to its bytes");
    }
    if let Some(h) = data.first_chunk::<RECORD_HEADER_LEN>() {
        if let Ok(r) = RecordHeader::decode(h) {
            assert_eq!(&r.encode(), h, "a record header that parses re-encodes to its bytes");
        }
        let mut b = *h;
        reseal_record_header(&mut b);
        if let Ok(r) = RecordHeader::decode(&b) {
            assert_eq!(r.encode(), b, "a record header that parses re-encodes to its bytes");
        }
    }
    if let Ok(s) = Snapshot::decode(data) {
        assert_eq!(s.encode(), data, "a snapshot that parses re-encodes to its bytes");
    }
    let sealed = seal_snapshot(data);
    if let Ok(s) = Snapshot::decode(&sealed) {
        assert_eq!(s.encode(), sealed, "a snapshot that parses re-encodes to its bytes");
        let mut next = VOLUME_HEADER_LEN;
        for e in &s.entries {
            assert_eq!(e.offset, next, "snapshot entries tile the volume");
            assert!(!e.void || matches!(e.header.kind, RecordKind::Shard { .. }));
            next += e.header.record_len();
        }
        assert_eq!(next, s.covered);
    }
    scan_volume(data);
}

/// Scans the input as a volume, its record headers resealed along the way.
fn scan_volume(data: &[u8]) {
    let start = match data.first_chunk::<VOLUME_HEADER>() {
        Some(h) if decode_volume_header(h).is_ok() => VOLUME_HEADER,
        _ => 0,
    };
    let mut volume = data.to_vec();
    let mut at = start;
    while let Some(h) = volume.get_mut(at..at + RECORD_HEADER_LEN) {
        let h: &mut [u8; RECORD_HEADER_LEN] = h.try_into().expect("header-sized slice");
        reseal_record_header(h);
        at += RECORD_HEADER_LEN + u32::from_le_bytes(h[8..12].try_into().expect("4 bytes")) as usize;
    }
    let end = volume.len() as u64;
    for (verify, stop_after) in [(false, usize::MAX), (true, usize::MAX), (true, 1)] {
        let mut next = start as u64;
        let mut seen = 0;
        let reader = Cursor::new(&volume[start..]);
        let ended = scan(reader, start as u64, end, verify, |item| {
            let (offset, header) = match item {
                Scanned::Record { offset, header, data } => {
                    assert_eq!(data.len(), header.data_len() as usize);
                    (offset, header)
                }
                Scanned::Corrupt { offset, header } => {
                    assert!(verify && matches!(header.kind, RecordKind::Shard { .. }));
                    (offset, header)
                }
            };
            assert_eq!(offset, next, "records follow each other");
            next = offset + header.record_len();
            assert!(next <= end);
            seen += 1;
            if seen == stop_after { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .expect("reading memory does not fail");
        match ended {
            ScanEnd::Clean => assert_eq!(next, end),
            ScanEnd::Torn { offset, .. } => assert_eq!(offset, next),
            ScanEnd::Stopped { offset } => assert!(seen == stop_after && offset == next),
        }
    }
}
