//! Multi-head causal self-attention and its pieces.

use irc_ir::{DType, Dim};

use crate::dsl::{ModelBuilder, Var};

use super::{linear, softmax, static_dim};

/// What masked scores are set to: far below any real score, yet finite so graphs serialize to JSON
/// (it rounds to -inf in f16, where `exp` still gives 0).
pub const MASK_VALUE: f64 = -1e9;

/// `[.., T, H*dh] -> [.., H, T, dh]` (reshape, then swap the `T` and `H` axes).
#[track_caller]
pub fn split_heads(x: &Var, heads: usize) -> Var {
    let b = x.builder();
    let d = match static_dim(x, "split_heads", -1) {
        Ok(d) => d,
        Err(p) => return p,
    };
    if heads == 0 || !d.is_multiple_of(heads) || x.rank() < 2 {
        return b.fail("split_heads", format!("cannot split width {d} into {heads} heads"), &[x]);
    }
    let mut dims = x.shape().0.clone();
    dims.pop();
    dims.extend([Dim::Static(heads), Dim::Static(d / heads)]);
    x.reshape(dims).transpose(-3, -2)
}

/// `[.., H, T, dh] -> [.., T, H*dh]`, the inverse of [`split_heads`].
#[track_caller]
pub fn merge_heads(x: &Var) -> Var {
    let (h, dh) = match (static_dim(x, "merge_heads", -3), static_dim(x, "merge_heads", -1)) {
        (Ok(h), Ok(dh)) => (h, dh),
        (Err(p), _) | (_, Err(p)) => return p,
    };
    let y = x.transpose(-3, -2);
    let mut dims = y.shape().0.clone();
    dims.truncate(dims.len().saturating_sub(2));
    dims.push(Dim::Static(h * dh));
    y.reshape(dims)
}

/// `mask[i, j] = j <= i` of shape `[t, t]`: query `i` may attend to keys up to itself.
#[track_caller]
pub fn causal_mask(b: &ModelBuilder, t: &Dim) -> Var {
    let rows = b.iota(DType::I32, [t, t], 0);
    let cols = b.iota(DType::I32, [t, t], 1);
    cols.le(&rows)
}

/// `softmax(q k^T / sqrt(dh) + mask) v` for `q, k, v` of shape `[.., T, dh]`; with `causal`, key
/// `j > i` is hidden from query `i` by setting its score to [`MASK_VALUE`].
#[track_caller]
pub fn scaled_dot_product_attention(q: &Var, k: &Var, v: &Var, causal: bool) -> Var {
    let b = q.builder();
    let _f = b.frame("scaled_dot_product_attention");
    let (dh, t) = match (static_dim(q, "attention", -1), q.dim(-2)) {
        (Ok(dh), Some(t)) => (dh, t),
        (Err(p), _) => return p,
        (_, None) => return b.fail("attention", "queries need rank >= 2", &[q]),
    };
    let mut scores = q.matmul(&k.transpose(-1, -2)) * (1.0 / (dh as f64).sqrt());
    if causal {
        scores = causal_mask(b, &t).select(&scores, MASK_VALUE);
    }
    softmax(&scores, -1).matmul(v)
}

/// Multi-head causal self-attention on `x` (`[B, T, D]`, `D` static and divisible by `heads`; `T`
/// may be symbolic): `q, k, v = linear(x)` each `[B, T, D]`, split into `heads` heads of width
/// `dh = D / heads`, [`scaled_dot_product_attention`] with the causal mask, heads merged, then the
/// `out` projection. Params: `<name>.{q,k,v,out}.{weight,bias}`.
#[track_caller]
pub fn causal_softmax_attention(name: &str, x: &Var, heads: usize) -> Var {
    let b = x.builder();
    let _m = b.module(name, "causal_softmax_attention");
    let d = match static_dim(x, "causal_softmax_attention", -1) {
        Ok(d) => d,
        Err(p) => return p,
    };
    // A loop, not a closure, so `#[track_caller]` still reports the user's call site.
    let mut qkv = Vec::with_capacity(3);
    for proj in ["q", "k", "v"] {
        qkv.push(split_heads(&linear(proj, x, d), heads));
    }
    linear("out", &merge_heads(&scaled_dot_product_attention(&qkv[0], &qkv[1], &qkv[2], true)), d)
}
