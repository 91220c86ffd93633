//! Deterministic data for tests and benchmarks: incompressible bytes and
//! compressible text, as `Read` streams so gigabytes never sit in memory.

use std::io::Read;

/// splitmix64: tiny, fast, and good enough to be incompressible to zstd.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An endless (or `len`-long) stream of pseudo-random bytes.
#[derive(Debug, Clone)]
pub struct PseudoRandom {
    state: u64,
    left: u64,
}

impl PseudoRandom {
    pub fn new(seed: u64, len: u64) -> Self {
        Self { state: seed, left: len }
    }
}

impl Read for PseudoRandom {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for word in buf[..n].chunks_mut(8) {
            let v = splitmix(&mut self.state).to_le_bytes();
            word.copy_from_slice(&v[..word.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// `len` pseudo-random bytes.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    PseudoRandom::new(seed, len as u64).read_exact(&mut v).expect("in-memory read");
    v
}

const SYLLABLES: &[&str] = &[
    "ka", "ro", "ne", "ti", "lu", "mas", "ber", "don", "el", "sa", "vi", "tor", "an", "pe", "qui", "ra", "shi", "mo",
    "len", "da", "cor", "fi", "ga", "hul", "in", "jo", "ke", "lo", "mi", "nu", "or", "pa", "ste", "ul", "ven", "wi",
];
const COMMON: &[&str] = &[
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not", "he",
    "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were", "their",
    "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who", "so",
];
const VOCABULARY: usize = 2048;

/// A stream of pseudo documents: HTML-like markup lines and prose paragraphs
/// whose words follow Zipf's law over a fixed vocabulary, with now and then a
/// sentence repeated from earlier, as real documents do. Calibrated so zstd -1
/// compresses it about 4x at roughly the speed it has on real text here (see
/// docs/PERFORMANCE.md); `pyxis bench pipeline` prints zstd's own speed on it.
#[derive(Debug, Clone)]
pub struct PseudoText {
    state: u64,
    left: u64,
    words: Vec<Vec<u8>>,
    /// Cumulative Zipf weights (scaled to u64) for picking a word rank.
    cumulative: Vec<u64>,
    recent: Vec<Vec<u8>>,
    pending: Vec<u8>,
    pos: usize,
}

impl PseudoText {
    pub fn new(seed: u64, len: u64) -> Self {
        let mut vocab_state = 0x5EED;
        let mut words: Vec<Vec<u8>> = COMMON.iter().map(|w| w.as_bytes().to_vec()).collect();
        while words.len() < VOCABULARY {
            let n = 1 + splitmix(&mut vocab_state) % 4;
            let w: Vec<u8> = (0..n)
                .flat_map(|_| SYLLABLES[(splitmix(&mut vocab_state) % SYLLABLES.len() as u64) as usize].bytes())
                .collect();
            words.push(w);
        }
        let weights: Vec<f64> = (0..VOCABULARY).map(|r| 1.0 / (r as f64 + 1.0)).collect();
        let sum: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w / sum;
                (acc.min(1.0) * u64::MAX as f64) as u64
            })
            .collect();
        Self { state: seed, left: len, words, cumulative, recent: Vec::new(), pending: Vec::new(), pos: 0 }
    }

    fn word(&mut self) -> usize {
        let r = splitmix(&mut self.state);
        self.cumulative.partition_point(|&c| c < r).min(VOCABULARY - 1)
    }

    fn sentence(&mut self) -> Vec<u8> {
        let r = splitmix(&mut self.state);
        if r.is_multiple_of(5) && !self.recent.is_empty() {
            return self.recent[(r >> 8) as usize % self.recent.len()].clone();
        }
        let n = 6 + (r >> 16) % 14;
        let mut s = Vec::new();
        for i in 0..n {
            let w = self.word();
            let word = &self.words[w];
            if i == 0 {
                s.push(word[0].to_ascii_uppercase());
                s.extend_from_slice(&word[1..]);
            } else {
                s.push(b' ');
                s.extend_from_slice(word);
            }
            if i + 1 < n && splitmix(&mut self.state).is_multiple_of(11) {
                s.push(b',');
            }
        }
        s.extend_from_slice(b". ");
        if self.recent.len() < 256 {
            self.recent.push(s.clone());
        } else {
            let slot = (r >> 24) as usize % 256;
            self.recent[slot] = s.clone();
        }
        s
    }

    fn markup(&mut self) {
        let r = splitmix(&mut self.state);
        let a = self.word();
        let b = self.word();
        let (a, b) = (
            String::from_utf8_lossy(&self.words[a]).into_owned(),
            String::from_utf8_lossy(&self.words[b]).into_owned(),
        );
        let line = match r % 4 {
            0 => format!("<li><a class=\"fn\" href=\"../{a}/fn.{b}.html\" title=\"fn {a}::{b}\">{b}</a></li>\n"),
            1 => format!("<div class=\"item-name\"><a class=\"struct\" href=\"struct.{a}.html\">{a}</a></div>\n"),
            2 => format!(
                "<span class=\"since\" title=\"Stable since {}.{}.0\">{}.{}.0</span>\n",
                r >> 60,
                (r >> 8) % 90,
                r >> 60,
                (r >> 8) % 90
            ),
            _ => format!("<code>pub fn {b}(&amp;self, {a}: usize) -&gt; Option&lt;{a}&gt;</code>\n"),
        };
        self.pending.extend_from_slice(line.as_bytes());
    }

    fn refill(&mut self) {
        self.pending.clear();
        self.pos = 0;
        for _ in 0..splitmix(&mut self.state) % 24 {
            self.markup();
        }
        self.pending.extend_from_slice(b"<p class=\"docblock\">");
        let sentences = 3 + splitmix(&mut self.state) % 6;
        for _ in 0..sentences {
            let s = self.sentence();
            self.pending.extend_from_slice(&s);
        }
        self.pending.extend_from_slice(b"</p>\n");
    }
}

impl Read for PseudoText {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.left > 0 {
            if self.pos == self.pending.len() {
                self.refill();
            }
            let avail = self.pending.len() - self.pos;
            let take = (buf.len() - n).min(avail).min(usize::try_from(self.left).unwrap_or(usize::MAX));
            buf[n..n + take].copy_from_slice(&self.pending[self.pos..self.pos + take]);
            self.pos += take;
            n += take;
            self.left -= take as u64;
        }
        Ok(n)
    }
}

/// `len` bytes of pseudo text.
pub fn pseudo_text(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    PseudoText::new(seed, len as u64).read_exact(&mut v).expect("in-memory read");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        assert_eq!(pseudo_random(1, 1000), pseudo_random(1, 1000));
        assert_ne!(pseudo_random(1, 1000), pseudo_random(2, 1000));
        assert_eq!(pseudo_text(3, 10_001).len(), 10_001);
        let mut s = String::new();
        PseudoText::new(4, 50).read_to_string(&mut s).unwrap();
        assert_eq!(s.len(), 50);
    }
}
