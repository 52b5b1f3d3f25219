//! The zoo's model definitions.

use irc_ir::{Dim, Graph};

use super::config::{Config, key};
use super::lm::{LM_ACT_HELP, build_lm, heads, lm_keys};
use super::{ModelInfo, ZooError};
use crate::dsl::{DslError, ModelBuilder, Var};
use crate::nn::{self, BlockConfig};

pub(crate) type BuildFn = fn(&Config<'_>) -> Result<Graph, ZooError>;

const ACT_HELP: &str = "activation: gelu, gelu_erf, relu, squared_relu (or relu2), silu";

pub(crate) static ZOO: [ModelInfo; 10] = [
    ModelInfo {
        name: "mlp",
        description: "x f32[B, d_in] -> linear -> act -> linear -> y f32[B, d_out]",
        keys: &[
            key("d_in", "16", "input width"),
            key("d_hidden", "64", "hidden width"),
            key("d_out", "8", "output width"),
            key("act", "gelu", ACT_HELP),
        ],
        build: build_mlp,
    },
    ModelInfo {
        name: "gpt-block",
        description: "one pre-norm decoder block (causal attention + MLP) on x f32[B, T, d]",
        keys: &[
            key("d", "64", "model width"),
            key("heads", "4", "attention heads (must divide d)"),
            key("mlp_ratio", "4", "MLP hidden width / d"),
            key("act", "gelu", ACT_HELP),
        ],
        build: build_gpt_block,
    },
    ModelInfo {
        name: "gpt-tiny",
        description: "decoder-only LM: tokens i32[B, T] -> logits f32[B, T, vocab] (or a scalar loss with loss=true)",
        keys: &[
            key("vocab", "256", "vocabulary size"),
            key("d", "64", "model width"),
            key("heads", "4", "attention heads (must divide d)"),
            key("layers", "2", "decoder blocks"),
            key("max_seq", "64", "learned positions; T must not exceed it"),
            key("mlp_ratio", "4", "MLP hidden width / d"),
            key("act", "gelu", LM_ACT_HELP),
            key("loss", "false", "also take targets i32[B, T] and output the mean cross-entropy `loss`"),
        ],
        build: build_lm,
    },
    ModelInfo {
        name: "conv-block",
        description: "x f32[B, T, d] + linear(silu(depthwise causal conv(linear(rms_norm(x)))))",
        keys: &[key("d", "64", "model width"), key("kernel", "4", "convolution width")],
        build: build_conv_block,
    },
    ModelInfo {
        name: "lm",
        description: "decoder-only LM choosing attn, ssmax, act and mlp per layer (defaults: the GPT block); \
            tokens i32[B, T] -> logits f32[B, T, vocab] (or loss)",
        keys: &lm_keys("gelu", "dense", "softmax"),
        build: build_lm,
    },
    ModelInfo {
        name: "primer",
        description: "Primer-EZ LM: squared-ReLU MLPs, multi-dconv-head attention (width-3 causal depthwise convs on q, k, v)",
        keys: &lm_keys("squared_relu", "dense", "dconv"),
        build: build_lm,
    },
    ModelInfo {
        name: "monarch-lm",
        description: "LM whose MLPs are Monarch-FFNs (M = P L P^T R, block-diagonal L and R)",
        keys: &lm_keys("gelu", "monarch", "softmax"),
        build: build_lm,
    },
    ModelInfo {
        name: "linear-lm",
        description: "LM with causal linear attention (feature map elu + 1)",
        keys: &lm_keys("gelu", "dense", "linear"),
        build: build_lm,
    },
    ModelInfo {
        name: "gla-lm",
        description: "LM with gated linear attention (data-dependent decay, output gate)",
        keys: &lm_keys("gelu", "dense", "gla"),
        build: build_lm,
    },
    ModelInfo {
        name: "monarch-ffn",
        description: "x f32[B, T, d] + monarch_mlp(layer_norm(x)): the Monarch-FFN block",
        keys: &[key("d", "64", "model width"), key("mlp_ratio", "4", "hidden width / d"), key("act", "gelu", ACT_HELP)],
        build: build_monarch_ffn,
    },
];

/// Finishes `b` with `outputs`, naming the model in errors.
pub(crate) fn finish(model: &str, b: &ModelBuilder, outputs: &[(&str, &Var)]) -> Result<Graph, ZooError> {
    b.finish(outputs).map_err(|source: DslError| ZooError::Dsl { model: model.to_string(), source })
}

fn build_mlp(cfg: &Config<'_>) -> Result<Graph, ZooError> {
    let (d_in, d_hidden, d_out) = (cfg.size("d_in")?, cfg.size("d_hidden")?, cfg.size("d_out")?);
    let (act, dtype) = (cfg.act("act")?, cfg.float_dtype()?);
    let b = ModelBuilder::new("mlp");
    let x = b.input("x", dtype, [Dim::from("B"), Dim::Static(d_in)]);
    let y = nn::mlp("mlp", &x, d_hidden, d_out, act);
    finish("mlp", &b, &[("y", &y)])
}

fn build_gpt_block(cfg: &Config<'_>) -> Result<Graph, ZooError> {
    let (d, dtype) = (cfg.size("d")?, cfg.float_dtype()?);
    let block = BlockConfig {
        heads: heads(cfg, d)?,
        mlp_ratio: cfg.size("mlp_ratio")?,
        act: cfg.act("act")?,
        ..BlockConfig::default()
    };
    let b = ModelBuilder::new("gpt-block");
    let x = b.input("x", dtype, [Dim::from("B"), Dim::from("T"), Dim::Static(d)]);
    let y = nn::block("block", &x, &block);
    finish("gpt-block", &b, &[("y", &y)])
}

fn build_conv_block(cfg: &Config<'_>) -> Result<Graph, ZooError> {
    let (d, k, dtype) = (cfg.size("d")?, cfg.size("kernel")?, cfg.float_dtype()?);
    let b = ModelBuilder::new("conv-block");
    let x = b.input("x", dtype, [Dim::from("B"), Dim::from("T"), Dim::Static(d)]);
    let h = nn::linear("in", &nn::rms_norm("norm", &x, 1e-5), d);
    let h = nn::silu(&nn::depthwise_causal_conv1d("conv", &h, k));
    let y = &x + nn::linear("out", &h, d);
    finish("conv-block", &b, &[("y", &y)])
}

fn build_monarch_ffn(cfg: &Config<'_>) -> Result<Graph, ZooError> {
    let (d, ratio, act, dtype) = (cfg.size("d")?, cfg.size("mlp_ratio")?, cfg.act("act")?, cfg.float_dtype()?);
    let b = ModelBuilder::new("monarch-ffn");
    let x = b.input("x", dtype, [Dim::from("B"), Dim::from("T"), Dim::Static(d)]);
    let y = &x + nn::monarch_mlp("mlp", &nn::layer_norm("ln", &x, BlockConfig::default().eps), ratio * d, d, act);
    finish("monarch-ffn", &b, &[("y", &y)])
}
