//! The GPT-style pre-norm decoder block.

use crate::dsl::Var;

use super::{Activation, causal_softmax_attention, layer_norm, mlp, static_dim};

/// Sizes and choices of a [`block`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockConfig {
    pub heads: usize,
    /// The MLP's hidden width is `mlp_ratio * d`.
    pub mlp_ratio: usize,
    pub act: Activation,
    /// Layer norm epsilon.
    pub eps: f64,
}

impl Default for BlockConfig {
    fn default() -> BlockConfig {
        BlockConfig { heads: 4, mlp_ratio: 4, act: Activation::Gelu, eps: 1e-5 }
    }
}

/// Pre-norm decoder block on `x` (`[B, T, d]`):
/// `h = x + attn(ln1(x))`, `y = h + mlp(ln2(h))`, with [`causal_softmax_attention`] and an
/// [`mlp`] of hidden width `mlp_ratio * d`. Params under `<name>.{ln1,attn,ln2,mlp}`.
#[track_caller]
pub fn block(name: &str, x: &Var, cfg: &BlockConfig) -> Var {
    let _m = x.builder().module(name, "block");
    let d = match static_dim(x, "block", -1) {
        Ok(d) => d,
        Err(p) => return p,
    };
    let h = x + causal_softmax_attention("attn", &layer_norm("ln1", x, cfg.eps), cfg.heads);
    let m = mlp("mlp", &layer_norm("ln2", &h, cfg.eps), cfg.mlp_ratio * d, d, cfg.act);
    h + m
}
