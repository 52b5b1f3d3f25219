//! Training data: a byte-level tokenizer, a text corpus split into training and validation parts, and
//! batch sampling that is a pure function of `(seed, step, split)`, so a resumed run sees exactly the
//! batches the uninterrupted run would have seen. See docs/DATA.md.

use std::fmt;
use std::path::Path;

use irc_ir::DType;
use thiserror::Error;

use crate::{Rng, Tensor};

/// Number of distinct tokens: one per byte value.
pub const VOCAB_SIZE: usize = 256;

/// Share of the corpus, taken from its end, that [`Corpus::load`] and [`Corpus::bundled`] hold out.
pub const DEFAULT_VAL_FRACTION: f64 = 0.1;

/// The corpus shipped in the repository (data/corpus.txt), compiled in so training works from any
/// directory.
pub const BUNDLED_CORPUS: &[u8] = include_bytes!("../../data/corpus.txt");

/// Bad data arguments or an unreadable corpus; each prints as one line.
#[derive(Debug, Error)]
pub enum DataError {
    #[error("{path}: cannot read corpus: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: corpus file is empty")]
    EmptyFile { path: String },
    #[error("validation fraction {0} is not in [0, 1)")]
    ValFraction(f64),
    #[error("{what} must be at least 1")]
    Zero { what: &'static str },
    #[error("batch size {batch} times sequence length {seq} is too large")]
    TooLarge { batch: usize, seq: usize },
    #[error("sequence length {seq} needs {} bytes but the {split} split has {have}", *seq as u128 + 1)]
    TooShort { seq: usize, split: Split, have: usize },
}

/// Which part of a [`Corpus`] to draw from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Val,
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "training",
            Split::Val => "validation",
        })
    }
}

/// Byte-level tokens: token `i` is byte `i` of the text.
pub fn encode(text: impl AsRef<[u8]>) -> Vec<u32> {
    text.as_ref().iter().map(|&b| b as u32).collect()
}

/// Text of byte tokens. Byte sequences that are not UTF-8 (a model may emit half a character) and
/// tokens outside `0..256` become U+FFFD.
pub fn decode(tokens: &[u32]) -> String {
    let mut bytes = Vec::with_capacity(tokens.len());
    for &t in tokens {
        match u8::try_from(t) {
            Ok(b) => bytes.push(b),
            Err(_) => bytes.extend_from_slice("\u{FFFD}".as_bytes()),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn byte_counts(bytes: &[u8]) -> [u64; VOCAB_SIZE] {
    let mut counts = [0u64; VOCAB_SIZE];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    counts
}

/// Entropy in nats of the byte frequencies of `bytes`: the loss per byte of a model that knows only
/// those frequencies, evaluated on the same bytes. NaN for empty input.
pub fn unigram_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return f64::NAN;
    }
    let n = bytes.len() as f64;
    let counts = byte_counts(bytes);
    -counts.iter().filter(|&&c| c > 0).map(|&c| c as f64 / n * (c as f64 / n).ln()).sum::<f64>()
}

/// Cross-entropy in nats per byte of `eval` under the byte frequencies of `train` with add-one
/// smoothing (so a byte unseen in `train` costs a finite amount): the honest unigram baseline for a
/// validation loss. NaN when `eval` is empty.
pub fn unigram_cross_entropy(train: &[u8], eval: &[u8]) -> f64 {
    if eval.is_empty() {
        return f64::NAN;
    }
    let counts = byte_counts(train);
    let denom = (train.len() + VOCAB_SIZE) as f64;
    let eval_counts = byte_counts(eval);
    let total: f64 = (0..VOCAB_SIZE)
        .filter(|&b| eval_counts[b] > 0)
        .map(|b| eval_counts[b] as f64 * ((counts[b] + 1) as f64 / denom).ln())
        .sum();
    -total / eval.len() as f64
}

/// A byte corpus split into a training part and a validation part. The validation part is the last
/// `val_fraction` of the bytes, one contiguous tail: a random split of overlapping windows would leak
/// validation text into training.
#[derive(Clone, Debug)]
pub struct Corpus {
    train: Vec<u8>,
    val: Vec<u8>,
}

impl Corpus {
    /// Splits `bytes`: the last `round(len * val_fraction)` bytes are validation, the rest training.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>, val_fraction: f64) -> Result<Corpus, DataError> {
        if !(0.0..1.0).contains(&val_fraction) {
            return Err(DataError::ValFraction(val_fraction));
        }
        let mut train = bytes.into();
        let val_len = ((train.len() as f64 * val_fraction).round() as usize).min(train.len());
        let val = train.split_off(train.len() - val_len);
        Ok(Corpus { train, val })
    }

    /// Reads a corpus file and splits it with [`DEFAULT_VAL_FRACTION`].
    pub fn load(path: impl AsRef<Path>) -> Result<Corpus, DataError> {
        Corpus::load_split(path, DEFAULT_VAL_FRACTION)
    }

    /// Reads a corpus file and splits it with `val_fraction`.
    pub fn load_split(path: impl AsRef<Path>, val_fraction: f64) -> Result<Corpus, DataError> {
        let path = path.as_ref();
        let show = || path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| DataError::Io { path: show(), source })?;
        if bytes.is_empty() {
            return Err(DataError::EmptyFile { path: show() });
        }
        Corpus::from_bytes(bytes, val_fraction)
    }

    /// The corpus shipped in the repository ([`BUNDLED_CORPUS`]), split with [`DEFAULT_VAL_FRACTION`].
    pub fn bundled() -> Corpus {
        let val_len = (BUNDLED_CORPUS.len() as f64 * DEFAULT_VAL_FRACTION).round() as usize;
        let (train, val) = BUNDLED_CORPUS.split_at(BUNDLED_CORPUS.len() - val_len);
        Corpus { train: train.to_vec(), val: val.to_vec() }
    }

    pub fn train(&self) -> &[u8] {
        &self.train
    }

    pub fn val(&self) -> &[u8] {
        &self.val
    }

    pub fn split(&self, split: Split) -> &[u8] {
        match split {
            Split::Train => &self.train,
            Split::Val => &self.val,
        }
    }

    /// Unigram entropy of the training bytes, in nats: see [`unigram_entropy`].
    pub fn unigram_entropy(&self) -> f64 {
        unigram_entropy(&self.train)
    }

    /// Validation cross-entropy of the smoothed training byte frequencies, in nats: see
    /// [`unigram_cross_entropy`].
    pub fn unigram_val_cross_entropy(&self) -> f64 {
        unigram_cross_entropy(&self.train, &self.val)
    }

    /// A batch of `batch` windows of `seq + 1` consecutive bytes from `split`, as `(tokens, targets)`:
    /// two i32 tensors of shape `[batch, seq]` where `targets[b][t]` is the byte after `tokens[b][t]`.
    /// Window starts are uniform over the split, drawn from an RNG seeded by a hash of
    /// `(seed, step, split)` alone, so step `s` gets the same batch whatever ran before it.
    pub fn batch(
        &self,
        split: Split,
        batch: usize,
        seq: usize,
        seed: u64,
        step: u64,
    ) -> Result<(Tensor, Tensor), DataError> {
        let data = self.split(split);
        let positions = self.check(split, batch, seq)?;
        let mut rng = Rng::new(batch_seed(seed, step, split));
        let starts: Vec<usize> = (0..batch).map(|_| rng.below(positions)).collect();
        Ok(windows(data, &starts, seq))
    }

    /// `count` batches of `batch` windows each, at `batch * count` evenly spaced starts covering
    /// `split` from its first to its last possible window. No randomness: the same arguments always
    /// give the same batches, so losses measured on them are comparable across runs.
    pub fn fixed_batches(
        &self,
        split: Split,
        batch: usize,
        seq: usize,
        count: usize,
    ) -> Result<Vec<(Tensor, Tensor)>, DataError> {
        if count == 0 {
            return Err(DataError::Zero { what: "the number of batches" });
        }
        let data = self.split(split);
        let positions = self.check(split, batch, seq)?;
        let n = batch.checked_mul(count).ok_or(DataError::TooLarge { batch, seq })?;
        if n.checked_mul(seq).is_none_or(|total| total > MAX_ELEMENTS) {
            return Err(DataError::TooLarge { batch: n, seq });
        }
        let last = (positions - 1) as u128;
        // u128 keeps `i * last` exact for any sizes.
        let start = |i: usize| if n == 1 { 0 } else { (i as u128 * last / (n as u128 - 1)) as usize };
        Ok((0..count)
            .map(|c| {
                let starts: Vec<usize> = (0..batch).map(|b| start(c * batch + b)).collect();
                windows(data, &starts, seq)
            })
            .collect())
    }

    /// [`Corpus::fixed_batches`] on the validation split: the evaluation set.
    pub fn val_batches(&self, batch: usize, seq: usize, count: usize) -> Result<Vec<(Tensor, Tensor)>, DataError> {
        self.fixed_batches(Split::Val, batch, seq, count)
    }

    /// Checks batch arguments; returns the number of possible window starts in `split`.
    fn check(&self, split: Split, batch: usize, seq: usize) -> Result<usize, DataError> {
        if batch == 0 {
            return Err(DataError::Zero { what: "batch size" });
        }
        if seq == 0 {
            return Err(DataError::Zero { what: "sequence length" });
        }
        let have = self.split(split).len();
        if seq >= have {
            return Err(DataError::TooShort { seq, split, have });
        }
        // Refuse sizes whose tensors cannot even be addressed instead of failing inside an allocation.
        if batch.checked_mul(seq).is_none_or(|n| n > MAX_ELEMENTS) {
            return Err(DataError::TooLarge { batch, seq });
        }
        Ok(have - seq)
    }
}

/// The most token values one call may return: past this no allocation of `f64`s can succeed.
const MAX_ELEMENTS: usize = isize::MAX as usize / 8;

/// SplitMix64's finalizer: a bijection that spreads every input bit over the output.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// RNG seed for one batch. Chained mixing, not `seed ^ step`, so that (seed 1, step 0) and (seed 0,
/// step 1) do not collide; the constants keep the two splits' streams apart.
fn batch_seed(seed: u64, step: u64, split: Split) -> u64 {
    let tag: u64 = match split {
        Split::Train => 0x7472_6169_6E00_0000, // "train"
        Split::Val => 0x7661_6C00_0000_0000,   // "val"
    };
    mix64(mix64(mix64(seed ^ tag) ^ step).wrapping_add(0x9E37_79B9_7F4A_7C15))
}

/// Tokens and next-byte targets for windows starting at `starts`; the caller has checked that every
/// `start + seq + 1 <= data.len()`.
fn windows(data: &[u8], starts: &[usize], seq: usize) -> (Tensor, Tensor) {
    let mut tokens = Vec::with_capacity(starts.len() * seq);
    let mut targets = Vec::with_capacity(starts.len() * seq);
    for &s in starts {
        tokens.extend(data[s..s + seq].iter().map(|&b| b as f64));
        targets.extend(data[s + 1..s + seq + 1].iter().map(|&b| b as f64));
    }
    let shape = vec![starts.len(), seq];
    (Tensor::new(DType::I32, shape.clone(), tokens), Tensor::new(DType::I32, shape, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(len: usize, val_fraction: f64) -> Corpus {
        // Every window of this text is distinct, so equal batches mean equal starts.
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 256) as u8).collect();
        Corpus::from_bytes(bytes, val_fraction).unwrap()
    }

    #[test]
    fn encode_decode_round_trip() {
        let text = "fn main() { println!(\"héllo → wörld\"); }\n";
        let tokens = encode(text);
        assert_eq!(tokens.len(), text.len());
        assert!(tokens.iter().all(|&t| (t as usize) < VOCAB_SIZE));
        assert_eq!(decode(&tokens), text);
        assert_eq!(encode(b"AB"), vec![65, 66]);
        // Half a character and out-of-vocabulary tokens decode lossily instead of failing.
        assert_eq!(decode(&[0xC3, 65]), "\u{FFFD}A");
        assert_eq!(decode(&[65, 300]), "A\u{FFFD}");
    }

    #[test]
    fn split_sizes() {
        let c = corpus(1000, 0.1);
        assert_eq!((c.train().len(), c.val().len()), (900, 100));
        let c = corpus(1005, 0.25);
        assert_eq!((c.train().len(), c.val().len()), (754, 251));
        assert_eq!(corpus(10, 0.0).val().len(), 0);
        // The validation part is the tail, in order.
        let bytes: Vec<u8> = (0..50).collect();
        let c = Corpus::from_bytes(bytes.clone(), 0.2).unwrap();
        assert_eq!(c.val(), &bytes[40..]);
        assert_eq!(c.train(), &bytes[..40]);
        for bad in [1.0, -0.1, f64::NAN] {
            let e = Corpus::from_bytes(bytes.clone(), bad).unwrap_err().to_string();
            assert!(e.contains("validation fraction"), "{e}");
        }
    }

    #[test]
    fn bundled_corpus_is_split_like_load() {
        let c = Corpus::bundled();
        let expect = Corpus::from_bytes(BUNDLED_CORPUS, DEFAULT_VAL_FRACTION).unwrap();
        assert_eq!((c.train(), c.val()), (expect.train(), expect.val()));
        assert!(c.train().len() > 100_000 && BUNDLED_CORPUS.len() <= 1_000_000);
        let h = c.unigram_entropy();
        assert!(h > 2.0 && h < 5.0, "{h}");
        assert!(c.unigram_val_cross_entropy() > h);
    }

    #[test]
    fn load_reports_the_path() {
        let e = Corpus::load("/nonexistent/corpus.txt").unwrap_err().to_string();
        assert!(e.starts_with("/nonexistent/corpus.txt: cannot read corpus"), "{e}");
        let dir = std::env::temp_dir().join(format!("irc-data-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.txt");
        std::fs::write(&empty, b"").unwrap();
        let e = Corpus::load(&empty).unwrap_err().to_string();
        assert!(e.contains("empty.txt") && e.ends_with("corpus file is empty"), "{e}");
        let full = dir.join("full.txt");
        std::fs::write(&full, b"0123456789").unwrap();
        let c = Corpus::load_split(&full, 0.3).unwrap();
        assert_eq!((c.train(), c.val()), (&b"0123456"[..], &b"789"[..]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn targets_are_next_bytes() {
        let c = corpus(5000, 0.1);
        for split in [Split::Train, Split::Val] {
            let (x, y) = c.batch(split, 4, 32, 1, 3).unwrap();
            assert_eq!((x.dtype, y.dtype), (DType::I32, DType::I32));
            assert_eq!((x.shape.clone(), y.shape.clone()), (vec![4, 32], vec![4, 32]));
            assert!(x.data.iter().chain(&y.data).all(|&v| (0.0..256.0).contains(&v) && v.fract() == 0.0));
            let data = c.split(split);
            for row in 0..4 {
                let (xr, yr) = (&x.data[row * 32..][..32], &y.data[row * 32..][..32]);
                assert_eq!(xr[1..], yr[..31]);
                // The row is a real window of the split.
                let window: Vec<f64> = xr.iter().chain(&yr[31..]).copied().collect();
                assert!(data.windows(33).any(|w| w.iter().map(|&b| b as f64).eq(window.iter().copied())));
            }
        }
    }

    #[test]
    fn batches_are_deterministic_per_step() {
        let c = corpus(5000, 0.1);
        let a = c.batch(Split::Train, 8, 16, 42, 7).unwrap();
        // A second corpus value and a different call history give the same batch.
        let _ = c.batch(Split::Train, 8, 16, 42, 6).unwrap();
        assert_eq!(corpus(5000, 0.1).batch(Split::Train, 8, 16, 42, 7).unwrap(), a);
        assert_ne!(c.batch(Split::Train, 8, 16, 42, 8).unwrap(), a);
        assert_ne!(c.batch(Split::Train, 8, 16, 43, 7).unwrap(), a);
        // The seeds of nearby (seed, step, split) triples are all distinct.
        let mut seeds = std::collections::HashSet::new();
        for seed in 0..20 {
            for step in 0..20 {
                for split in [Split::Train, Split::Val] {
                    assert!(seeds.insert(batch_seed(seed, step, split)));
                }
            }
        }
    }

    #[test]
    fn window_starts_cover_the_split() {
        let c = corpus(200, 0.0);
        let mut seen = [false; 200];
        for step in 0..2000 {
            let (x, _) = c.batch(Split::Train, 4, 10, 0, step).unwrap();
            for row in x.data.chunks(10) {
                let start = c.train().windows(10).position(|w| w.iter().map(|&b| b as f64).eq(row.iter().copied()));
                seen[start.unwrap()] = true;
            }
        }
        // Starts 0..=189 are possible (the target of the last token must exist); all get drawn.
        assert!(seen[..190].iter().all(|&s| s) && !seen[190..].iter().any(|&s| s));
    }

    #[test]
    fn fixed_batches_are_evenly_spaced() {
        let bytes: Vec<u8> = (0..=255).collect();
        let c = Corpus::from_bytes(bytes, 0.5).unwrap(); // validation holds bytes 128..=255
        let bs = c.val_batches(2, 4, 3).unwrap();
        assert_eq!(bs.len(), 3);
        let firsts: Vec<f64> = bs.iter().flat_map(|(x, _)| x.data.chunks(4).map(|r| r[0])).collect();
        // 6 starts spread over 0..=123 (128 bytes, windows of 5).
        let expect: Vec<f64> = [0, 24, 49, 73, 98, 123].iter().map(|&s| (128 + s) as f64).collect();
        assert_eq!(firsts, expect);
        let (_, y) = &bs[2];
        assert_eq!(y.data[4..], [252.0, 253.0, 254.0, 255.0]);
        assert_eq!(c.val_batches(2, 4, 3).unwrap(), bs);
        assert_eq!(c.fixed_batches(Split::Val, 1, 4, 1).unwrap()[0].0.data, [128.0, 129.0, 130.0, 131.0]);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let c = corpus(5000, 0.8); // 4000 validation bytes
        let e = |r: Result<(Tensor, Tensor), DataError>| r.unwrap_err().to_string();
        assert_eq!(
            e(c.batch(Split::Val, 2, 5000, 0, 0)),
            "sequence length 5000 needs 5001 bytes but the validation split has 4000"
        );
        assert_eq!(
            e(c.batch(Split::Train, 2, 1000, 0, 0)),
            "sequence length 1000 needs 1001 bytes but the training split has 1000"
        );
        assert!(c.batch(Split::Train, 2, 999, 0, 0).is_ok());
        assert_eq!(e(c.batch(Split::Train, 0, 8, 0, 0)), "batch size must be at least 1");
        assert_eq!(e(c.batch(Split::Train, 2, 0, 0, 0)), "sequence length must be at least 1");
        assert!(e(c.batch(Split::Train, usize::MAX, 8, 0, 0)).contains("too large"));
        assert!(c.val_batches(2, 8, 0).unwrap_err().to_string().contains("number of batches"));
        assert!(c.val_batches(usize::MAX / 2, 8, 3).is_err());
        let empty = Corpus::from_bytes(Vec::new(), 0.1).unwrap();
        assert!(e(empty.batch(Split::Train, 1, 1, 0, 0)).ends_with("the training split has 0"));
    }

    #[test]
    fn unigram_entropies() {
        let four = b"abcdabcdabcdabcd";
        assert!((unigram_entropy(four) - 4f64.ln()).abs() < 1e-12);
        assert_eq!(unigram_entropy(b"aaaa"), 0.0);
        assert!(unigram_entropy(b"").is_nan());
        // p = (3/4, 1/4).
        let h = -(0.75f64 * 0.75f64.ln() + 0.25 * 0.25f64.ln());
        assert!((unigram_entropy(b"aaab") - h).abs() < 1e-12);
        // Add-one smoothing: each of a, b, c, d has probability (4 + 1) / (16 + 256).
        let ce = unigram_cross_entropy(four, b"dcba");
        assert!((ce - (272.0f64 / 5.0).ln()).abs() < 1e-12);
        // An unseen byte costs ln(272), finite.
        assert!((unigram_cross_entropy(four, b"z") - 272f64.ln()).abs() < 1e-12);
        assert!(unigram_cross_entropy(four, b"").is_nan());
    }
}
