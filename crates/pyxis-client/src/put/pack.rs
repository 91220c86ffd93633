//! Packing small files: one stream of many files' bytes, cut into ordinary
//! chunks, so a tree of small files costs a few shard uploads per megabyte
//! instead of a round trip to every remote per file. Each file then refers
//! to slices of those chunks (docs/FORMAT.md, manifest entries).
//!
//! Files go into the stream in path order, so re-putting an unchanged tree
//! gives the same chunks (and deduplicates), and an edited file disturbs only
//! the chunks around it.

use std::cell::RefCell;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::PathBuf;
use std::rc::Rc;

use pyxis_core::manifest::ContentHasher;
use pyxis_crypto::keys::Keyring;

/// A small file to pack, as planned from its metadata.
#[derive(Debug, Clone)]
pub struct PackItem {
    pub src: PathBuf,
    pub size: u64,
    /// Modification time seen when planning (unchanged-check after reading).
    pub mtime: Option<std::time::SystemTime>,
}

/// Where one file ended up in the stream.
#[derive(Debug, Clone)]
pub struct Span {
    pub start: u64,
    /// Bytes of it in the stream (its final length once `finished`).
    pub len: u64,
    pub finished: bool,
    /// Why the file cannot be committed (unreadable, changed).
    pub error: Option<String>,
    pub hash: [u8; 32],
}

/// Reads the files one after another as one stream; spans are shared with
/// the producer, which maps chunk offsets back to files.
pub struct PackReader {
    items: Vec<PackItem>,
    next: usize,
    cur: Option<(File, ContentHasher)>,
    pos: u64,
    keys: Keyring,
    spans: Rc<RefCell<Vec<Span>>>,
}

impl std::fmt::Debug for PackReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackReader({} of {})", self.next, self.items.len())
    }
}

impl PackReader {
    pub fn new(items: Vec<PackItem>, keys: Keyring) -> (Self, Rc<RefCell<Vec<Span>>>) {
        let spans = Rc::new(RefCell::new(Vec::with_capacity(items.len())));
        (Self { items, next: 0, cur: None, pos: 0, keys, spans: spans.clone() }, spans)
    }

    /// Opens the next file, recording its span; false at the end.
    fn open_next(&mut self) -> bool {
        while self.next < self.items.len() {
            let src = &self.items[self.next].src;
            let mut span = Span { start: self.pos, len: 0, finished: false, error: None, hash: [0; 32] };
            match File::open(src) {
                Ok(f) => {
                    self.spans.borrow_mut().push(span);
                    self.cur = Some((f, ContentHasher::new(&self.keys)));
                    return true;
                }
                Err(e) => {
                    span.finished = true;
                    span.error = Some(format!("cannot open: {e}"));
                    self.spans.borrow_mut().push(span);
                    self.next += 1;
                }
            }
        }
        false
    }

    fn finish(&mut self, error: Option<String>) {
        let (f, hasher) = self.cur.take().expect("a file is open");
        let item = &self.items[self.next];
        let changed = || match f.metadata() {
            Ok(m) => m.len() != item.size || (item.mtime.is_some() && m.modified().ok() != item.mtime),
            Err(_) => true,
        };
        let error = error.or_else(|| changed().then(|| "changed while it was being read".to_owned()));
        let mut spans = self.spans.borrow_mut();
        let span = spans.last_mut().expect("span of the open file");
        span.finished = true;
        span.hash = hasher.finalize();
        span.error = error;
        self.next += 1;
    }
}

impl Read for PackReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.cur.is_none() && !self.open_next() {
                return Ok(0);
            }
            let size = self.items[self.next].size;
            let done = self.spans.borrow().last().expect("span").len;
            let want = usize::try_from(size - done).unwrap_or(usize::MAX).min(buf.len());
            if want == 0 {
                self.finish(None);
                continue;
            }
            let (f, hasher) = self.cur.as_mut().expect("open file");
            match f.read(&mut buf[..want]) {
                Ok(0) => self.finish(Some("changed while it was being read (it got shorter)".into())),
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    self.spans.borrow_mut().last_mut().expect("span").len += n as u64;
                    self.pos += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => self.finish(Some(format!("read error: {e}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyxis_crypto::keys::MasterKey;

    #[test]
    fn concatenates_and_records_spans() {
        let dir = tempfile::tempdir().unwrap();
        let mut items = Vec::new();
        for (name, body) in [("a", &b"hello"[..]), ("b", b""), ("c", b"world!")] {
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            let m = std::fs::metadata(&p).unwrap();
            items.push(PackItem { src: p, size: m.len(), mtime: m.modified().ok() });
        }
        items.push(PackItem { src: dir.path().join("missing"), size: 3, mtime: None });
        let keys = Keyring::new(&MasterKey::from_bytes([1; 32]));
        let (mut r, spans) = PackReader::new(items, keys);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"helloworld!");
        let spans = spans.borrow();
        assert_eq!(spans.iter().map(|s| (s.start, s.len)).collect::<Vec<_>>(), vec![(0, 5), (5, 0), (5, 6), (11, 0)]);
        assert!(spans[..3].iter().all(|s| s.finished && s.error.is_none()));
        assert!(spans[3].error.as_deref().unwrap().contains("cannot open"));
    }

    #[test]
    fn a_file_that_shrank_is_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        std::fs::write(&p, b"abc").unwrap();
        let item = PackItem { src: p, size: 10, mtime: None };
        let keys = Keyring::new(&MasterKey::from_bytes([1; 32]));
        let (mut r, spans) = PackReader::new(vec![item], keys);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc");
        assert!(spans.borrow()[0].error.as_deref().unwrap().contains("shorter"));
    }
}
