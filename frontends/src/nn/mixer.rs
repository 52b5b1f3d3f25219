//! Multi-head causal self-attention with a selectable token mixer. Every variant shares the
//! plumbing: `q`, `k`, `v` projections of `x`, head splitting, head merging and the `out`
//! projection; they differ only in what happens between the split and the merge.

use std::fmt;
use std::str::FromStr;

use crate::dsl::Var;

use super::{
    causal_linear_attention, depthwise_causal_conv1d, elu_plus_one, gated_linear_attention, gla_log_decay, linear,
    merge_heads, rms_norm, scalable_softmax_attention, scaled_dot_product_attention, silu, split_heads, static_dim,
};

/// Width of Primer's depthwise convolutions along the sequence.
pub const DCONV_WIDTH: usize = 3;

/// The token mixer of a [`self_attention`] layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AttnKind {
    /// Causal softmax attention.
    #[default]
    Softmax,
    /// Primer's multi-dconv-head attention: a causal depthwise convolution of width
    /// [`DCONV_WIDTH`] along `T` after each of the `q`, `k`, `v` projections, then softmax attention.
    Dconv,
    /// Causal linear attention with the `elu + 1` feature map on `q` and `k`.
    Linear,
    /// Gated linear attention: data-dependent decays on the key dimension, a per-head RMS norm of
    /// the output and a `silu` output gate.
    Gla,
}

impl AttnKind {
    pub const ALL: [AttnKind; 4] = [AttnKind::Softmax, AttnKind::Dconv, AttnKind::Linear, AttnKind::Gla];

    pub fn name(self) -> &'static str {
        match self {
            AttnKind::Softmax => "softmax",
            AttnKind::Dconv => "dconv",
            AttnKind::Linear => "linear",
            AttnKind::Gla => "gla",
        }
    }

    /// Whether the mixer normalizes scores with a softmax (and so can use Scalable-Softmax).
    pub fn is_softmax(self) -> bool {
        matches!(self, AttnKind::Softmax | AttnKind::Dconv)
    }
}

impl fmt::Display for AttnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AttnKind {
    type Err = String;
    fn from_str(s: &str) -> Result<AttnKind, String> {
        AttnKind::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let names: Vec<&str> = AttnKind::ALL.iter().map(|a| a.name()).collect();
            format!("unknown attention `{s}` (expected one of {})", names.join(", "))
        })
    }
}

/// The choices of one [`self_attention`] layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnConfig {
    pub heads: usize,
    pub kind: AttnKind,
    /// Scalable-Softmax (softmax mixers only; see
    /// [`scalable_softmax_attention`](super::scalable_softmax_attention)).
    pub ssmax: bool,
}

impl AttnConfig {
    /// Plain causal softmax attention with `heads` heads.
    pub fn softmax(heads: usize) -> AttnConfig {
        AttnConfig { heads, kind: AttnKind::Softmax, ssmax: false }
    }
}

/// Multi-head causal self-attention on `x` (`[B, T, D]`, `D` static and divisible by the heads, `T`
/// may be symbolic) with the mixer `cfg.kind`. Params under `<name>`: `{q,k,v,out}.{weight,bias}`
/// always; `{q,k,v}_dconv.{weight,bias}` for `dconv`; `ssmax` with Scalable-Softmax;
/// `decay.{down,up}.*`, `norm.weight` and `gate.*` for `gla`.
#[track_caller]
pub fn self_attention(name: &str, x: &Var, cfg: &AttnConfig) -> Var {
    let _m = x.builder().module(name, "self_attention");
    attention_body(x, cfg)
}

/// [`self_attention`] inside the caller's scope.
#[track_caller]
pub(crate) fn attention_body(x: &Var, cfg: &AttnConfig) -> Var {
    let b = x.builder();
    let d = match static_dim(x, "self_attention", -1) {
        Ok(d) => d,
        Err(p) => return p,
    };
    if cfg.ssmax && !cfg.kind.is_softmax() {
        let msg = format!("Scalable-Softmax needs a softmax mixer (softmax or dconv), not {}", cfg.kind);
        return b.fail("self_attention", msg, &[x]);
    }
    // A loop, not a closure, so `#[track_caller]` still reports the user's call site.
    let mut qkv = Vec::with_capacity(3);
    for proj in ["q", "k", "v"] {
        let mut p = linear(proj, x, d);
        if cfg.kind == AttnKind::Dconv {
            p = depthwise_causal_conv1d(&format!("{proj}_dconv"), &p, DCONV_WIDTH);
        }
        qkv.push(split_heads(&p, cfg.heads));
    }
    let (q, k, v) = (&qkv[0], &qkv[1], &qkv[2]);
    let mixed = match cfg.kind {
        AttnKind::Softmax | AttnKind::Dconv if cfg.ssmax => scalable_softmax_attention(q, k, v),
        AttnKind::Softmax | AttnKind::Dconv => scaled_dot_product_attention(q, k, v, true),
        AttnKind::Linear => causal_linear_attention(&elu_plus_one(q), &elu_plus_one(k), v),
        AttnKind::Gla => {
            // Queries are scaled by 1/sqrt(dh) as in softmax attention, so scores start small.
            // (`heads == 0` was reported by `split_heads`.)
            let q = q * (1.0 / ((d / cfg.heads.max(1)) as f64).sqrt());
            rms_norm("norm", &gated_linear_attention(&q, k, v, &gla_log_decay("decay", x, cfg.heads)), 1e-5)
        }
    };
    let mut y = merge_heads(&mixed);
    if cfg.kind == AttnKind::Gla {
        y = y * silu(&linear("gate", x, d));
    }
    linear("out", &y, d)
}
