//! Causal linear attention (Katharopoulos et al. 2020) and gated linear attention (Yang et al. 2023),
//! per head on `[.., H, T, dh]` tensors.
//!
//! Both are written in their quadratic masked form: a `[T, T]` score matrix that is zero above the
//! diagonal, multiplied by `v`. It is exact, uses the same matmuls as softmax attention and needs no
//! state tensors, so it is the form the zoo uses. Linear attention also has its recurrent form,
//! [`causal_linear_attention_cumsum`] (a prefix sum over `T` of the `dh x dh` outer products
//! `phi(k_j) v_j^T`), which is linear in `T`; tests check that the two agree. Where `T` is static the
//! optimizer rewrites the quadratic form into the chunked form (intra-chunk scores plus a prefix of
//! chunk states, docs/OPTIMIZER.md), linear in `T` without a per-position state. For gated linear
//! attention the same prefix-sum trick needs `exp(-cumsum(log alpha))`, which overflows once the
//! decays multiply below the float range, so only the quadratic form (with the decays applied in log
//! space, always `<= 1`) is given; the chunkwise form of the paper is not built.

use irc_ir::Dim;

use crate::dsl::Var;

use super::{MASK_VALUE, causal_mask, linear, static_dim};

/// Added to the linear-attention normalizer so an all-underflowed row cannot divide by zero.
pub const LINEAR_ATTENTION_EPS: f64 = 1e-6;

/// The gate's temperature: `alpha = sigmoid(u)^(1/GLA_TAU)` keeps decays close to one.
pub const GLA_TAU: f64 = 16.0;

/// The rank of the low-rank gate projection `x W1 W2`.
pub const GLA_GATE_RANK: usize = 16;

/// The linear-attention feature map `phi(u) = elu(u) + 1`, written `max(u, 0) + exp(min(u, 0))` so
/// neither branch can overflow: `u + 1` for `u > 0`, `exp(u)` otherwise.
#[track_caller]
pub fn elu_plus_one(u: &Var) -> Var {
    let _f = u.builder().frame("elu_plus_one");
    u.relu() + u.min(0.0).exp()
}

/// `log(sigmoid(u)) = min(u, 0) - log(1 + exp(-|u|))`, stable for any `u`.
#[track_caller]
pub fn log_sigmoid(u: &Var) -> Var {
    u.min(0.0) - ((-u.abs()).exp() + 1.0).log()
}

/// The sequence length of `q` (`[.., T, dh]`), or the poisoned result.
#[track_caller]
fn seq_len(q: &Var, op: &str) -> Result<Dim, Var> {
    if let Some(p) = q.builder().guard(op, &[q]) {
        return Err(p);
    }
    q.dim(-2).ok_or_else(|| q.builder().fail(op, "needs rank >= 2", &[q]))
}

/// Causal linear attention in quadratic form on feature-mapped `q`, `k` (`[.., T, dk]`) and `v`
/// (`[.., T, dv]`): `out_i = sum_{j<=i} (q_i . k_j) v_j / (sum_{j<=i} q_i . k_j + eps)`. The caller
/// applies the feature map (see [`elu_plus_one`]), which keeps the normalizer positive.
#[track_caller]
pub fn causal_linear_attention(q: &Var, k: &Var, v: &Var) -> Var {
    let b = q.builder();
    let _f = b.frame("causal_linear_attention");
    let t = match seq_len(q, "causal_linear_attention") {
        Ok(t) => t,
        Err(p) => return p,
    };
    let scores = causal_mask(b, &t).select(q.matmul(&k.transpose(-1, -2)), 0.0);
    scores.matmul(v) / (scores.sum(-1, true) + LINEAR_ATTENTION_EPS)
}

/// The same function as [`causal_linear_attention`] in recurrent form: the state
/// `S_i = sum_{j<=i} k_j v_j^T` (`[.., T, dk, dv]`) and normalizer `z_i = sum_{j<=i} k_j` are prefix
/// sums over `T`, and `out_i = q_i^T S_i / (q_i . z_i + eps)`. Linear in `T`, but it holds a
/// `dk x dv` state per position.
#[track_caller]
pub fn causal_linear_attention_cumsum(q: &Var, k: &Var, v: &Var) -> Var {
    let _f = q.builder().frame("causal_linear_attention_cumsum");
    if let Err(p) = seq_len(q, "causal_linear_attention_cumsum") {
        return p;
    }
    let state = (k.unsqueeze(-1) * v.unsqueeze(-2)).cumsum(-3);
    let num = q.unsqueeze(-2).matmul(&state);
    let mut dims = num.shape().0.clone();
    dims.remove(dims.len() - 2);
    let den = (q * k.cumsum(-2)).sum(-1, true) + LINEAR_ATTENTION_EPS;
    num.reshape(dims) / den
}

/// The per-step log decays of gated linear attention from `x` (`[.., T, D]`):
/// `log alpha = log(sigmoid(x W1 W2 + b)) / GLA_TAU` with a rank-[`GLA_GATE_RANK`] factorization
/// `W1 W2`, split into `heads` heads like the keys (`[.., H, T, D/H]`), all `<= 0`.
/// Params: `<name>.{down,up}.{weight,bias}` (the bias of `down` folds into `b` through `W2`).
#[track_caller]
pub fn gla_log_decay(name: &str, x: &Var, heads: usize) -> Var {
    let _m = x.builder().module(name, "gla_log_decay");
    let d = match static_dim(x, "gla_log_decay", -1) {
        Ok(d) => d,
        Err(p) => return p,
    };
    let u = linear("up", &linear("down", x, GLA_GATE_RANK), d);
    super::split_heads(&(log_sigmoid(&u) * (1.0 / GLA_TAU)), heads)
}

/// Gated linear attention in quadratic form: with the state recurrence
/// `S_t = diag(alpha_t) S_{t-1} + k_t^T v_t` and `o_t = q_t S_t`,
/// `o_t = sum_{j<=t} sum_i q_t[i] k_j[i] exp(c_t[i] - c_j[i]) v_j` where `c = cumsum_T(log alpha)`.
/// `q, k, log_alpha`: `[.., T, dk]`, `v`: `[.., T, dv]`. The decay factors are formed in log space and
/// masked before `exp`, so they never exceed one; this materializes a `[.., T, T, dk]` tensor.
#[track_caller]
pub fn gated_linear_attention(q: &Var, k: &Var, v: &Var, log_alpha: &Var) -> Var {
    let b = q.builder();
    let _f = b.frame("gated_linear_attention");
    let t = match seq_len(q, "gated_linear_attention") {
        Ok(t) => t,
        Err(p) => return p,
    };
    let c = log_alpha.cumsum(-2);
    let log_decay = c.unsqueeze(-2) - c.unsqueeze(-3);
    let decay = causal_mask(b, &t).unsqueeze(-1).select(&log_decay, MASK_VALUE).exp();
    let scores = (q.unsqueeze(-2) * k.unsqueeze(-3) * decay).sum(-1, false);
    scores.matmul(v)
}
