//! Neural-network composites built only from primitive ops through the [`dsl`](crate::dsl).
//!
//! Functions that own parameters take a `name` and put their params in that scope
//! (`<scope>.<name>.weight`); the rest are plain functions of handles. Every function documents
//! its formula; errors are recorded in the builder like any other DSL call.
//!
//! | composite | formula |
//! |---|---|
//! | [`linear`] | `x @ W + b`, `W: [in, out]` |
//! | [`embedding`] | rows of `W: [V, D]` picked by integer ids |
//! | [`layer_norm`], [`rms_norm`] | normalize over the last axis, then scale (and shift) |
//! | [`softmax`], [`log_softmax`] | max-subtracted, over one axis |
//! | [`gelu_tanh`], [`gelu_erf`], [`erf`], [`silu`], [`squared_relu`] | activations |
//! | [`causal_softmax_attention`] | multi-head causal self-attention |
//! | [`depthwise_causal_conv1d`] | per-channel causal convolution along `T` |
//! | [`mlp`] | `linear -> act -> linear` |
//! | [`block`] | `x + attn(ln(x))`, then `+ mlp(ln(.))` |
//! | [`cross_entropy`] | mean `-log softmax(logits)[target]` |

mod act;
mod attention;
mod block;
mod layers;
mod loss;
mod norm;

pub use act::{Activation, erf, gelu_erf, gelu_tanh, silu, squared_relu};
pub use attention::{
    MASK_VALUE, causal_mask, causal_softmax_attention, merge_heads, scaled_dot_product_attention, split_heads,
};
pub use block::{BlockConfig, block};
pub use layers::{depthwise_causal_conv1d, embedding, gather_rows, linear, mlp};
pub use loss::cross_entropy;
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
