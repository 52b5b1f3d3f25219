//! Layers with parameters: linear, embedding, depthwise causal convolution, MLP.

use irc_ir::{DType, Init};

use crate::dsl::Var;

use super::{Activation, static_dim};

/// `y = x @ weight + bias` over the last axis of `x` (`d_in`, static). `weight` is stored
/// `[d_in, d_out]`; both params start uniform on `[-1/sqrt(d_in), 1/sqrt(d_in)]`.
/// Params: `<name>.weight`, `<name>.bias`.
#[track_caller]
pub fn linear(name: &str, x: &Var, d_out: usize) -> Var {
    let b = x.builder();
    let _m = b.module(name, "linear");
    let d_in = match static_dim(x, "linear", -1) {
        Ok(d) => d,
        Err(p) => return p,
    };
    let init = Init::Uniform { bound: 1.0 / (d_in as f64).sqrt() };
    let w = b.param("weight", x.dtype(), [d_in, d_out], init);
    x.matmul(&w) + b.param("bias", x.dtype(), [d_out], init)
}

/// Rows of `table` (`[V, D]`) picked by integer `ids` of any shape `S` (rank >= 1): `out[s, :] =
/// table[ids[s], :]`, shape `[S.., D]`. Built from one take-along-axis gather: the ids gain a
/// trailing `D` axis and the table gains the leading dims of `S` by broadcasting.
#[track_caller]
pub fn gather_rows(table: &Var, ids: &Var) -> Var {
    let b = table.builder();
    let _f = b.frame("gather_rows");
    if let Some(p) = b.guard("gather_rows", &[table, ids]) {
        return p;
    }
    if table.rank() != 2 || ids.rank() == 0 {
        return b.fail("gather_rows", "needs a [V, D] table and ids of rank >= 1", &[table, ids]);
    }
    let (r, sd) = (ids.rank(), ids.shape().0.clone());
    let (v, d) = (table.shape().0[0].clone(), table.shape().0[1].clone());
    let mut index_shape = sd.clone();
    index_shape.push(d.clone());
    let index = ids.unsqueeze(-1).expand(index_shape);
    let mut lifted = vec![irc_ir::Dim::Static(1); r - 1];
    lifted.extend([v.clone(), d.clone()]);
    let mut data_shape = sd[..r - 1].to_vec();
    data_shape.extend([v, d]);
    table.reshape(lifted).expand(data_shape).gather(r as i32 - 1, &index)
}

/// Token embedding: `weight` (`[vocab, d]`, normal with std 0.02) looked up by integer `ids`
/// (`[B, T]` or any shape) with [`gather_rows`]. Param: `<name>.weight`.
#[track_caller]
pub fn embedding(name: &str, ids: &Var, vocab: usize, d: usize, dtype: DType) -> Var {
    let b = ids.builder();
    let _m = b.module(name, "embedding");
    let table = b.param("weight", dtype, [vocab, d], Init::Normal { std: 0.02 });
    gather_rows(&table, ids)
}

/// Depthwise causal convolution along the sequence axis of `x` (`[.., T, C]`, `C` static), width `k`,
/// one filter per channel: `y[t, c] = bias[c] + sum_{i<k} weight[i, c] * x[t - (k-1) + i, c]` with
/// `x` zero before the start. Pads `k-1` zeros in front of `T` (giving `T+k-1`), then sums the `k`
/// slices `i..T+i` scaled by the weight rows. `weight` `[k, C]` starts uniform on `+-1/sqrt(k)`,
/// `bias` `[C]` at zeros. Params: `<name>.weight`, `<name>.bias`.
#[track_caller]
pub fn depthwise_causal_conv1d(name: &str, x: &Var, k: usize) -> Var {
    let b = x.builder();
    let _m = b.module(name, "depthwise_causal_conv1d");
    let (c, t) = match (static_dim(x, "depthwise_causal_conv1d", -1), x.dim(-2)) {
        (Ok(c), Some(t)) if k > 0 => (c, t),
        (Err(p), _) => return p,
        _ => return b.fail("depthwise_causal_conv1d", format!("needs rank >= 2 and width >= 1, got {k}"), &[x]),
    };
    let w = b.param("weight", x.dtype(), [k, c], Init::Uniform { bound: 1.0 / (k as f64).sqrt() });
    let bias = b.param("bias", x.dtype(), [c], Init::Zeros);
    let padded = x.pad(-2, k - 1, 0);
    let mut y = bias;
    for i in 0..k {
        // `t + i` only fails for a negative static size, which cannot happen here.
        let end = t.offset_by(i as i64).unwrap_or_else(|| t.clone());
        y = y + padded.slice(-2, i, end) * w.slice(0, i, i + 1);
    }
    y
}

/// Two-layer perceptron: `linear(fc1, d_hidden) -> act -> linear(fc2, d_out)`.
/// Params: `<name>.fc1.*`, `<name>.fc2.*`.
#[track_caller]
pub fn mlp(name: &str, x: &Var, d_hidden: usize, d_out: usize, act: Activation) -> Var {
    let _m = x.builder().module(name, "mlp");
    linear("fc2", &act.apply(&linear("fc1", x, d_hidden)), d_out)
}
