//! Monarch linear layers and the Monarch MLP (Dao et al. 2022).

use irc_ir::{Dim, Init};

use crate::dsl::Var;

use super::{Activation, MonarchShape, static_dim};

/// `y = x @ M + bias` with a Monarch matrix `M` of `blocks` blocks per factor, over the last axis of
/// `x` (`d_in`, static; `blocks` must divide `d_in` and `d_out`). Computed without forming `M`:
/// view the features as `m` blocks of `a = d_in/m`, multiply block `i` by `R[i]` (`a x m`, one
/// batched matmul), swap the two `m`-sized axes (the stride permutation `P`), multiply block `q` by
/// `L[q]` (`m x d_out/m`), swap back and flatten. See [`MonarchFactors`](super::MonarchFactors) for
/// the dense equivalent. `r` and `l` start uniform on `+-1/sqrt(fan-in)` like [`linear`](super::linear)
/// weights, `bias` on `+-1/sqrt(d_in)`. Params: `<name>.r` `[m, a, m]`, `<name>.l` `[m, m, d_out/m]`,
/// `<name>.bias` `[d_out]`.
#[track_caller]
pub fn monarch_linear(name: &str, x: &Var, d_out: usize, blocks: usize) -> Var {
    let b = x.builder();
    let _m = b.module(name, "monarch_linear");
    let d_in = match static_dim(x, "monarch_linear", -1) {
        Ok(d) => d,
        Err(p) => return p,
    };
    let shape = match MonarchShape::new(d_in, d_out, blocks) {
        Ok(s) => s,
        Err(e) => return b.fail("monarch_linear", e.to_string(), &[x]),
    };
    let ([m, a, _], [_, _, c]) = (shape.r_shape(), shape.l_shape());
    let uniform = |fan_in: usize| Init::Uniform { bound: 1.0 / (fan_in as f64).sqrt() };
    let r = b.param("r", x.dtype(), shape.r_shape(), uniform(a));
    let l = b.param("l", x.dtype(), shape.l_shape(), uniform(m));
    let bias = b.param("bias", x.dtype(), [d_out], uniform(d_in));
    let lead = &x.shape().0[..x.rank() - 1];
    let dims = |tail: &[usize]| lead.iter().cloned().chain(tail.iter().map(|&n| Dim::Static(n))).collect::<Vec<_>>();
    // [.., i, 1, p] @ R[i] -> [.., i, q]; swap to [.., q, i]; [.., q, 1, i] @ L[q] -> [.., q, c].
    let u = x.reshape(dims(&[m, 1, a])).matmul(&r).reshape(dims(&[m, m]));
    let v = u.transpose(-1, -2).unsqueeze(-2).matmul(&l).reshape(dims(&[m, c]));
    v.transpose(-1, -2).reshape(dims(&[d_out])) + bias
}

/// The Monarch-FFN: [`mlp`](super::mlp) with both linear layers replaced by [`monarch_linear`]
/// (`d_in -> d_hidden -> d_out`, each with [`monarch_blocks`](super::monarch_blocks) blocks).
/// Params: `<name>.fc1.{r,l,bias}`, `<name>.fc2.{r,l,bias}`.
#[track_caller]
pub fn monarch_mlp(name: &str, x: &Var, d_hidden: usize, d_out: usize, act: Activation) -> Var {
    let _m = x.builder().module(name, "monarch_mlp");
    let d_in = match static_dim(x, "monarch_mlp", -1) {
        Ok(d) => d,
        Err(p) => return p,
    };
    let h = monarch_linear("fc1", x, d_hidden, MonarchShape::auto(d_in, d_hidden).blocks);
    monarch_linear("fc2", &act.apply(&h), d_out, MonarchShape::auto(d_hidden, d_out).blocks)
}
