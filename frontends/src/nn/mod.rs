//! Neural-network composites built only from primitive ops through the [`dsl`](crate::dsl).
//!
//! Functions that own parameters take a `name` and put their params in that scope
//! (`<scope>.<name>.weight`); the rest are plain functions of handles. Every function documents
//! its formula; errors are recorded in the builder like any other DSL call.
//!
//! | composite | formula |
//! |---|---|
//! | [`linear`] | `x @ W + b`, `W: [in, out]` |
//! | [`monarch_linear`] | `x @ M + b`, `M = P L P^T R` with block-diagonal `L`, `R` |
//! | [`embedding`] | rows of `W: [V, D]` picked by integer ids |
//! | [`layer_norm`], [`rms_norm`] | normalize over the last axis, then scale (and shift) |
//! | [`softmax`], [`log_softmax`] | max-subtracted, over one axis |
//! | [`gelu_tanh`], [`gelu_erf`], [`erf`], [`silu`], [`squared_relu`] | activations |
//! | [`causal_softmax_attention`] | multi-head causal self-attention |
//! | [`self_attention`] | the same with a selectable mixer: softmax, Primer's dconv, linear, gated linear |
//! | [`scalable_softmax_attention`] | causal attention with scores scaled by `s_h ln(n)` |
//! | [`causal_linear_attention`], [`gated_linear_attention`] | linear-time mixers, quadratic form |
//! | [`depthwise_causal_conv1d`] | per-channel causal convolution along `T` |
//! | [`mlp`], [`monarch_mlp`] | `linear -> act -> linear` (dense or Monarch) |
//! | [`block`] | `x + attn(ln(x))`, then `+ mlp(ln(.))` |
//! | [`cross_entropy`] | mean `-log softmax(logits)[target]` |
//!
//! [`monarch_project`] is a numeric routine, not a graph: it projects a dense weight onto Monarch
//! form.

mod act;
mod attention;
mod block;
mod layers;
mod linear_attention;
mod loss;
mod mixer;
mod monarch;
mod monarch_project;
mod norm;

pub use act::{Activation, erf, gelu_erf, gelu_tanh, silu, squared_relu};
pub use attention::{
    MASK_VALUE, causal_mask, causal_softmax_attention, merge_heads, scalable_softmax_attention,
    scaled_dot_product_attention, split_heads,
};
pub use block::{BlockConfig, MlpKind, block};
pub use layers::{depthwise_causal_conv1d, embedding, gather_rows, linear, mlp};
pub use linear_attention::{
    GLA_GATE_RANK, GLA_TAU, LINEAR_ATTENTION_EPS, causal_linear_attention, causal_linear_attention_cumsum,
    elu_plus_one, gated_linear_attention, gla_log_decay, log_sigmoid,
};
pub use loss::cross_entropy;
pub use mixer::{AttnConfig, AttnKind, DCONV_WIDTH, self_attention};
pub use monarch::{monarch_linear, monarch_mlp};
pub use monarch_project::{MonarchError, MonarchFactors, MonarchShape, monarch_blocks, monarch_project};
pub use norm::{layer_norm, log_softmax, rms_norm, softmax};

use crate::dsl::Var;

/// The size of `axis` of `x` if it is static; otherwise records why `op` needs it and returns the
/// poisoned result.
#[track_caller]
pub(crate) fn static_dim(x: &Var, op: &str, axis: i32) -> Result<usize, Var> {
    if let Some(p) = x.builder().guard(op, &[x]) {
        return Err(p);
    }
    match x.dim(axis) {
        Some(d) => d
            .as_static()
            .ok_or_else(|| x.builder().fail(op, format!("needs a static size on axis {axis}, got {d}"), &[x])),
        None => Err(x.builder().fail(op, format!("axis {axis} is out of range for rank {}", x.rank()), &[x])),
    }
}
