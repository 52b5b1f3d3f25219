//! Benchmark workloads: named graphs at fixed sizes, each with the bytes and flops it must at least move
//! and compute, so a backend's time can be put next to a roofline floor. `irc bench SUITE` runs them.

use irc_ir::{DType, Graph, Init};

use crate::nn::{self, Activation, BlockConfig};
use crate::{DslError, ModelBuilder};

/// One workload of a suite.
#[derive(Debug)]
pub struct Workload {
    pub name: String,
    pub graph: Graph,
    /// Bytes every implementation must read and write at least (inputs, params and outputs once).
    pub min_bytes: u64,
    /// Floating-point operations of the straightforward algorithm (2·M·N·K for a matmul).
    pub flops: u64,
}

/// Suites by name, with a one-line description.
pub const SUITES: [(&str, &str); 4] = [
    ("cpu", "memory-bound fused ops on 4096x4096, matmul 1024^3, a GPT block forward (d=256, T=256, B=4)"),
    ("cpu-small", "the cpu suite at sizes that run in a moment (for tests)"),
    (
        "blocks",
        "block forwards (d=256, T=256, B=4): GPT, causal linear attention, Monarch FFN, non-causal linear \
         attention written naively, causal linear attention at T=2048 (B=1); for comparing the optimizer on and off",
    ),
    ("blocks-small", "the blocks suite at sizes that run in a moment (for tests)"),
];

fn f32_bytes(elements: u64) -> u64 {
    4 * elements
}

/// Row-wise ops on an `n x n` f32 matrix with a length-`n` weight and bias: silu(x*w+b), softmax,
/// layer_norm.
fn rowwise(n: usize) -> Result<Vec<Workload>, DslError> {
    let nn_ = (n * n) as u64;
    let io = f32_bytes(2 * nn_);
    let silu = {
        let b = ModelBuilder::new("silu_affine");
        let x = b.input("x", DType::F32, [n, n]);
        let w = b.param("w", DType::F32, [n], Init::Normal { std: 1.0 });
        let bias = b.param("b", DType::F32, [n], Init::Normal { std: 1.0 });
        let y = nn::silu(&(&x * &w + &bias));
        b.finish(&[("y", &y)])?
    };
    let softmax = {
        let b = ModelBuilder::new("softmax");
        let x = b.input("x", DType::F32, [n, n]);
        b.finish(&[("y", &nn::softmax(&x, -1))])?
    };
    let layer_norm = {
        let b = ModelBuilder::new("layer_norm");
        let x = b.input("x", DType::F32, [n, n]);
        b.finish(&[("y", &nn::layer_norm("ln", &x, 1e-5))])?
    };
    Ok(vec![
        Workload { name: "silu(x*w+b)".into(), graph: silu, min_bytes: io, flops: 6 * nn_ },
        Workload { name: "softmax rows".into(), graph: softmax, min_bytes: io, flops: 5 * nn_ },
        Workload { name: "layer_norm rows".into(), graph: layer_norm, min_bytes: io, flops: 8 * nn_ },
    ])
}

fn matmul(n: usize) -> Result<Workload, DslError> {
    let b = ModelBuilder::new("matmul");
    let x = b.input("a", DType::F32, [n, n]);
    let w = b.param("b", DType::F32, [n, n], Init::Normal { std: 1.0 });
    let graph = b.finish(&[("c", &x.matmul(&w))])?;
    let n = n as u64;
    Ok(Workload { name: "matmul".into(), graph, min_bytes: f32_bytes(3 * n * n), flops: 2 * n * n * n })
}

fn gpt_block(d: usize, t: usize, batch: usize, heads: usize) -> Result<Workload, DslError> {
    let cfg = BlockConfig { heads, mlp_ratio: 4, act: Activation::Gelu, eps: 1e-5, ..BlockConfig::default() };
    block("gpt-block forward", "gpt_block", &cfg, (d, t, batch))
}

/// A pre-norm block of `cfg` on `x f32[batch, t, d]`, costed as the GPT block's dense work (params
/// 12 d^2, matmuls 2 * bt * 12 d^2, attention 4 * B * T^2 * d), an upper bound for cheaper variants.
fn block(
    name: &'static str,
    graph: &str,
    cfg: &BlockConfig,
    (d, t, batch): (usize, usize, usize),
) -> Result<Workload, DslError> {
    let b = ModelBuilder::new(graph);
    let x = b.input("x", DType::F32, [batch, t, d]);
    let y = nn::block("block", &x, cfg);
    let graph = b.finish(&[("y", &y)])?;
    let (d, t, bt) = (d as u64, t as u64, (batch * t) as u64);
    let flops = 2 * bt * 12 * d * d + 4 * batch as u64 * t * t * d;
    Ok(Workload { name: name.into(), graph, min_bytes: f32_bytes(12 * d * d + 2 * bt * d), flops })
}

/// Non-causal linear attention as a user writes it first, `(phi(Q) phi(K)^T) V` per head with the
/// elu + 1 feature map: quadratic in `t` unless the matmuls are reassociated to `phi(Q) (phi(K)^T V)`.
fn naive_linear_attention((d, t, batch, heads): (usize, usize, usize, usize)) -> Result<Workload, DslError> {
    let dh = d / heads;
    let b = ModelBuilder::new("linear_attention");
    let input = |name| b.input(name, DType::F32, [batch, heads, t, dh]);
    let (q, k, v) = (input("q"), input("k"), input("v"));
    let scores = nn::elu_plus_one(&q).matmul(&nn::elu_plus_one(&k).transpose(-1, -2));
    let graph = b.finish(&[("y", &scores.matmul(&v))])?;
    let (bh, t, dh) = ((batch * heads) as u64, t as u64, dh as u64);
    // The reassociated form's work: K^T V and Q (K^T V), 2 * 2 * t * dh^2 per head.
    Ok(Workload {
        name: "linear attention (naive)".into(),
        graph,
        min_bytes: f32_bytes(4 * bh * t * dh),
        flops: 4 * bh * t * dh * dh,
    })
}

/// Causal linear attention in the zoo's quadratic masked form on `q, k, v: [batch, heads, t, dh]`:
/// quadratic in `t` unless the optimizer rewrites it to the chunked form.
fn causal_linear_attention((dh, t, batch, heads): (usize, usize, usize, usize)) -> Result<Workload, DslError> {
    let b = ModelBuilder::new("causal_linear_attention");
    let input = |name| b.input(name, DType::F32, [batch, heads, t, dh]);
    let (q, k, v) = (input("q"), input("k"), input("v"));
    let y = nn::causal_linear_attention(&nn::elu_plus_one(&q), &nn::elu_plus_one(&k), &v);
    let graph = b.finish(&[("y", &y)])?;
    let (bh, t, dh) = ((batch * heads) as u64, t as u64, dh as u64);
    // The recurrent form's work: the K^T V states and Q S, 2 * 2 * t * dh^2 per head.
    Ok(Workload {
        name: "causal linear attention (long T)".into(),
        graph,
        min_bytes: f32_bytes(4 * bh * t * dh),
        flops: 4 * bh * t * dh * dh,
    })
}

fn blocks((d, t, batch, heads): (usize, usize, usize, usize)) -> Result<Vec<Workload>, DslError> {
    let base = BlockConfig { heads, mlp_ratio: 4, act: Activation::Gelu, eps: 1e-5, ..BlockConfig::default() };
    let shape = (d, t, batch);
    Ok(vec![
        block("gpt-block forward", "gpt_block", &base, shape)?,
        block("linear-attention block", "linear_block", &BlockConfig { attn: nn::AttnKind::Linear, ..base }, shape)?,
        block("monarch-ffn block", "monarch_block", &BlockConfig { mlp: nn::MlpKind::Monarch, ..base }, shape)?,
        naive_linear_attention((d, t, batch, heads))?,
        causal_linear_attention((d / heads, 8 * t, 1, heads))?,
    ])
}

/// The workloads of suite `name`, or `None` for an unknown suite.
pub fn suite(name: &str) -> Option<Result<Vec<Workload>, DslError>> {
    let build = |n: usize, m: usize, (d, t, batch, heads): (usize, usize, usize, usize)| {
        let mut all = rowwise(n)?;
        all.push(matmul(m)?);
        all.push(gpt_block(d, t, batch, heads)?);
        Ok(all)
    };
    match name {
        "cpu" => Some(build(4096, 1024, (256, 256, 4, 4))),
        "cpu-small" => Some(build(64, 32, (32, 16, 2, 2))),
        "blocks" => Some(blocks((256, 256, 4, 4))),
        "blocks-small" => Some(blocks((32, 16, 2, 2))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_build_and_verify() {
        for (name, _) in SUITES {
            for w in suite(name).unwrap().unwrap() {
                w.graph.verify().unwrap();
                assert!(w.min_bytes > 0 && w.flops > 0, "{}", w.name);
            }
        }
        assert!(suite("gpu-huge").is_none());
    }
}
