//! Softmax attention and its pieces: head splitting, the causal mask, scaled dot-product attention
//! and its Scalable-Softmax variant.

use irc_ir::{DType, Dim, Init};

use crate::dsl::{ModelBuilder, Var};

use super::{AttnConfig, softmax, static_dim};

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

/// The static head width and the sequence length of `q` (`[.., T, dh]`), or the poisoned result.
#[track_caller]
fn query_dims(q: &Var, op: &str) -> Result<(usize, Dim), Var> {
    match (static_dim(q, op, -1), q.dim(-2)) {
        (Ok(dh), Some(t)) => Ok((dh, t)),
        (Err(p), _) => Err(p),
        (_, None) => Err(q.builder().fail(op, "queries need rank >= 2", &[q])),
    }
}

/// `softmax(scale * q k^T / sqrt(dh) + mask) v`; `scale` (if any) broadcasts against the scores.
#[track_caller]
fn softmax_attention(q: &Var, k: &Var, v: &Var, causal: bool, scale: Option<&Var>) -> Var {
    let b = q.builder();
    let (dh, t) = match query_dims(q, "attention") {
        Ok(dims) => dims,
        Err(p) => return p,
    };
    let mut scores = q.matmul(&k.transpose(-1, -2)) * (1.0 / (dh as f64).sqrt());
    if let Some(s) = scale {
        scores = scores * s;
    }
    if causal {
        scores = causal_mask(b, &t).select(&scores, MASK_VALUE);
    }
    softmax(&scores, -1).matmul(v)
}

/// `softmax(q k^T / sqrt(dh) + mask) v` for `q, k, v` of shape `[.., T, dh]`; with `causal`, key
/// `j > i` is hidden from query `i` by setting its score to [`MASK_VALUE`].
#[track_caller]
pub fn scaled_dot_product_attention(q: &Var, k: &Var, v: &Var, causal: bool) -> Var {
    let _f = q.builder().frame("scaled_dot_product_attention");
    softmax_attention(q, k, v, causal, None)
}

/// Causal attention with Scalable-Softmax (Nakanishi 2025): the scores of query `i`, which sees
/// `n = i + 1` keys, are multiplied by `s_h * ln(n)` before the softmax, with a learnable `s` per
/// head, so attention does not flatten as the context grows. `q, k, v`: `[.., H, T, dh]`.
/// Param: `ssmax` (`[H]`, starting at ones).
#[track_caller]
pub fn scalable_softmax_attention(q: &Var, k: &Var, v: &Var) -> Var {
    let b = q.builder();
    let _f = b.frame("scalable_softmax_attention");
    let (h, t) = match (static_dim(q, "scalable_softmax_attention", -3), q.dim(-2)) {
        (Ok(h), Some(t)) => (h, t),
        (Err(p), _) => return p,
        (_, None) => return b.fail("scalable_softmax_attention", "queries need rank >= 3", &[q]),
    };
    let s = b.param("ssmax", q.dtype(), [h], Init::Ones).reshape([h, 1, 1]);
    let log_n = (b.iota(q.dtype(), [t.clone(), Dim::Static(1)], 0) + 1.0).log();
    softmax_attention(q, k, v, true, Some(&(s * log_n)))
}

/// Multi-head causal self-attention on `x` (`[B, T, D]`, `D` static and divisible by `heads`; `T`
/// may be symbolic): `q, k, v = linear(x)` each `[B, T, D]`, split into `heads` heads of width
/// `dh = D / heads`, [`scaled_dot_product_attention`] with the causal mask, heads merged, then the
/// `out` projection. Params: `<name>.{q,k,v,out}.{weight,bias}`. The same as
/// [`self_attention`](super::self_attention) with [`AttnConfig::softmax`].
#[track_caller]
pub fn causal_softmax_attention(name: &str, x: &Var, heads: usize) -> Var {
    let _m = x.builder().module(name, "causal_softmax_attention");
    super::mixer::attention_body(x, &AttnConfig::softmax(heads))
}
