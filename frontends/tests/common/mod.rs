//! Test helpers: running graphs on the reference interpreter, random data, and naive loop
//! implementations of the nn composites to compare against.
#![allow(dead_code)]

use std::collections::HashMap;

use irc_ir::{DType, Graph};
use irc_runtime::{Rng, Tensor, interpret, random_tensor};

pub fn rand(dtype: DType, shape: &[usize], rng: &mut Rng) -> Tensor {
    random_tensor(dtype, shape.to_vec(), rng)
}

/// Random integers in `0..n`.
pub fn rand_ids(shape: &[usize], n: usize, rng: &mut Rng) -> Tensor {
    let count = shape.iter().product();
    Tensor::new(DType::I32, shape.to_vec(), (0..count).map(|_| rng.below(n) as f64).collect())
}

/// Standard-normal values for every param (stronger than the inits: gains are not all ones).
pub fn random_params(g: &Graph, seed: u64) -> HashMap<String, Tensor> {
    let mut rng = Rng::new(seed);
    g.params()
        .map(|(_, name, ty)| (name.to_string(), random_tensor(ty.dtype, ty.shape.as_static().unwrap(), &mut rng)))
        .collect()
}

pub fn run(g: &Graph, inputs: &[(&str, &Tensor)], params: &HashMap<String, Tensor>) -> Vec<Tensor> {
    let inputs = inputs.iter().map(|(n, t)| (n.to_string(), (*t).clone())).collect();
    interpret(g, &inputs, params).unwrap_or_else(|e| panic!("graph `{}` failed to run: {e}", g.name))
}

#[track_caller]
pub fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "element {i}: got {g}, want {w} (tol {tol})");
    }
}

/// `x` viewed as `rows` rows of `n`.
pub fn rows(x: &[f64], n: usize) -> impl Iterator<Item = &[f64]> {
    x.chunks(n)
}

/// `x [rows, d_in] @ w [d_in, d_out] + b`.
pub fn linear_ref(x: &[f64], d_in: usize, w: &Tensor, b: &Tensor) -> Vec<f64> {
    let d_out = w.shape[1];
    rows(x, d_in)
        .flat_map(|r| (0..d_out).map(move |o| b.data[o] + (0..d_in).map(|i| r[i] * w.data[i * d_out + o]).sum::<f64>()))
        .collect()
}

pub fn softmax_ref(x: &[f64], n: usize) -> Vec<f64> {
    rows(x, n)
        .flat_map(|r| {
            let m = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = r.iter().map(|v| (v - m).exp()).sum();
            r.iter().map(move |v| (v - m).exp() / s).collect::<Vec<_>>()
        })
        .collect()
}

pub fn layer_norm_ref(x: &[f64], d: usize, g: &[f64], b: &[f64], eps: f64) -> Vec<f64> {
    rows(x, d)
        .flat_map(|r| {
            let mean = r.iter().sum::<f64>() / d as f64;
            let var = r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
            (0..d).map(move |i| (r[i] - mean) / (var + eps).sqrt() * g[i] + b[i])
        })
        .collect()
}

/// erf by the everywhere-convergent series of positive terms
/// `erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*..*(2n+1))` (no cancellation).
pub fn erf_ref(x: f64) -> f64 {
    let (mut term, mut sum, mut n) = (x, x, 0.0);
    while term.abs() > 1e-17 * sum.abs().max(1e-300) {
        n += 1.0;
        term *= 2.0 * x * x / (2.0 * n + 1.0);
        sum += term;
    }
    2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp() * sum
}

pub fn gelu_tanh_ref(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
}

pub fn gelu_erf_ref(x: f64) -> f64 {
    0.5 * x * (1.0 + erf_ref(x / std::f64::consts::SQRT_2))
}

/// Naive causal multi-head self-attention on `x [bsz, t, d]` with `heads` heads and projections
/// `<prefix>.{q,k,v,out}` from `p`, as nested loops.
pub fn attention_ref(
    x: &[f64],
    (bsz, t, d): (usize, usize, usize),
    heads: usize,
    p: &HashMap<String, Tensor>,
    prefix: &str,
) -> Vec<f64> {
    let proj = |name: &str, x: &[f64]| {
        linear_ref(x, d, &p[&format!("{prefix}.{name}.weight")], &p[&format!("{prefix}.{name}.bias")])
    };
    let (q, k, v) = (proj("q", x), proj("k", x), proj("v", x));
    let dh = d / heads;
    let at = |m: &[f64], b: usize, i: usize, c: usize| m[(b * t + i) * d + c];
    let mut merged = vec![0.0; bsz * t * d];
    for b in 0..bsz {
        for h in 0..heads {
            for i in 0..t {
                let scores: Vec<f64> = (0..=i)
                    .map(|j| {
                        (0..dh).map(|c| at(&q, b, i, h * dh + c) * at(&k, b, j, h * dh + c)).sum::<f64>()
                            / (dh as f64).sqrt()
                    })
                    .collect();
                let w = softmax_ref(&scores, scores.len());
                for c in 0..dh {
                    merged[(b * t + i) * d + h * dh + c] = (0..=i).map(|j| w[j] * at(&v, b, j, h * dh + c)).sum();
                }
            }
        }
    }
    proj("out", &merged)
}
