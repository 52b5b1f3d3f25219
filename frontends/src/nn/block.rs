//! The pre-norm decoder block, with a selectable token mixer and MLP.

use std::fmt;
use std::str::FromStr;

use crate::dsl::Var;

use super::{Activation, AttnConfig, AttnKind, layer_norm, mlp, monarch_mlp, self_attention, static_dim};

/// The structure of a block's MLP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MlpKind {
    /// [`mlp`]: two dense linear layers.
    #[default]
    Dense,
    /// [`monarch_mlp`]: two Monarch linear layers.
    Monarch,
}

impl MlpKind {
    pub const ALL: [MlpKind; 2] = [MlpKind::Dense, MlpKind::Monarch];

    pub fn name(self) -> &'static str {
        match self {
            MlpKind::Dense => "dense",
            MlpKind::Monarch => "monarch",
        }
    }
}

impl fmt::Display for MlpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MlpKind {
    type Err = String;
    fn from_str(s: &str) -> Result<MlpKind, String> {
        MlpKind::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<&str> = MlpKind::ALL.iter().map(|m| m.name()).collect();
            format!("unknown mlp `{s}` (expected one of {})", names.join(", "))
        })
    }
}

/// Sizes and choices of a [`block`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockConfig {
    pub heads: usize,
    /// The MLP's hidden width is `mlp_ratio * d`.
    pub mlp_ratio: usize,
    pub act: Activation,
    /// Layer norm epsilon.
    pub eps: f64,
    /// The token mixer.
    pub attn: AttnKind,
    /// Scalable-Softmax in a softmax mixer.
    pub ssmax: bool,
    pub mlp: MlpKind,
}

impl Default for BlockConfig {
    fn default() -> BlockConfig {
        BlockConfig {
            heads: 4,
            mlp_ratio: 4,
            act: Activation::Gelu,
            eps: 1e-5,
            attn: AttnKind::Softmax,
            ssmax: false,
            mlp: MlpKind::Dense,
        }
    }
}

/// Pre-norm decoder block on `x` (`[B, T, d]`): `h = x + attn(ln1(x))`, `y = h + mlp(ln2(h))`. The
/// defaults give the GPT block: [`causal_softmax_attention`](super::causal_softmax_attention) and a
/// dense GELU [`mlp`] of hidden width `mlp_ratio * d`; `attn`, `ssmax`, `act` and `mlp` select the
/// other variants ([`self_attention`](super::self_attention), [`monarch_mlp`]).
/// Params under `<name>.{ln1,attn,ln2,mlp}`.
#[track_caller]
pub fn block(name: &str, x: &Var, cfg: &BlockConfig) -> Var {
    let _m = x.builder().module(name, "block");
    let d = match static_dim(x, "block", -1) {
        Ok(d) => d,
        Err(p) => return p,
    };
    let attn = AttnConfig { heads: cfg.heads, kind: cfg.attn, ssmax: cfg.ssmax };
    let normed = layer_norm("ln1", x, cfg.eps);
    let h = x + self_attention("attn", &normed, &attn);
    let normed = layer_norm("ln2", &h, cfg.eps);
    let m = match cfg.mlp {
        MlpKind::Dense => mlp("mlp", &normed, cfg.mlp_ratio * d, d, cfg.act),
        MlpKind::Monarch => monarch_mlp("mlp", &normed, cfg.mlp_ratio * d, d, cfg.act),
    };
    h + m
}
