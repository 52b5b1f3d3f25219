//! Seeded random numbers without extra crates: xoshiro256** seeded by SplitMix64, for parameter
//! initialization and test inputs. Deterministic across platforms for a given seed.

use std::collections::HashMap;

use irc_ir::{DType, Graph, Init, Op};

use crate::{RunError, Tensor};

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** (Blackman and Vigna).
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // SplitMix64 spreads any seed, 0 included, over a state that is never all zeros.
        let mut sm = seed;
        Rng { s: std::array::from_fn(|_| splitmix64(&mut sm)) }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform on `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal, by Box-Muller.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1], so the log is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform integer in `0..n`; `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0): empty range");
        // Rejection sampling removes the modulo bias.
        let zone = u64::MAX - (u64::MAX % n + 1) % n;
        loop {
            let v = self.next_u64();
            if v <= zone {
                return v % n;
            }
        }
    }

    /// Uniform integer in `lo..=hi`; `lo <= hi` is required.
    pub fn int_in(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi, "Rng::int_in({lo}, {hi}): empty range");
        let span = hi.wrapping_sub(lo) as u64;
        if span == u64::MAX {
            return self.next_u64() as i64;
        }
        lo.wrapping_add(self.below(span + 1) as i64)
    }
}

/// A random tensor for tests: standard normal floats, integers in `-9..=9`, fair-coin bools.
pub fn random_tensor(dtype: DType, shape: impl Into<Vec<usize>>, rng: &mut Rng) -> Tensor {
    let shape = shape.into();
    let n = shape.iter().product();
    let data = (0..n)
        .map(|_| match dtype {
            d if d.is_float() => rng.normal(),
            DType::Bool => (rng.next_u64() >> 63) as f64,
            _ => rng.int_in(-9, 9) as f64,
        })
        .collect();
    Tensor::new(dtype, shape, data)
}

/// FNV-1a, to give every parameter its own stream: a param's initial value then depends only on the
/// seed and its name, not on which other params the graph has.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3))
}

/// Initial values for every param of `g`, drawn from its [`Init`]; deterministic for a seed.
pub fn init_params(g: &Graph, seed: u64) -> Result<HashMap<String, Tensor>, RunError> {
    let mut out = HashMap::new();
    for node in g.nodes() {
        let Op::Param { name, ty, init } = &node.op else { continue };
        let shape =
            ty.shape.as_static().ok_or_else(|| RunError::SymbolicParam { name: name.clone(), ty: ty.to_string() })?;
        let mut rng = Rng::new(seed ^ name_hash(name));
        let n: usize = shape.iter().product();
        let data = (0..n)
            .map(|_| match *init {
                Init::Zeros => 0.0,
                Init::Ones => 1.0,
                Init::Normal { std } => std * rng.normal(),
                Init::Uniform { bound } => bound * (2.0 * rng.uniform() - 1.0),
            })
            .collect();
        out.insert(name.clone(), Tensor::new(ty.dtype, shape, data));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b, mut c) = (Rng::new(7), Rng::new(7), Rng::new(8));
        let xa: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
    }

    #[test]
    fn moments_are_plausible() {
        let mut r = Rng::new(1);
        let n = 20_000;
        let u: Vec<f64> = (0..n).map(|_| r.uniform()).collect();
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = u.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "uniform mean {mean}");
        let z: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "normal mean {mean} var {var}");
        let ints: Vec<i64> = (0..n).map(|_| r.int_in(-3, 3)).collect();
        assert!(ints.iter().all(|i| (-3..=3).contains(i)));
        assert!((-3..=3).all(|v| ints.contains(&v)));
    }
}
