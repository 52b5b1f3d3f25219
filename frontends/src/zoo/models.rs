//! The zoo's model definitions.

use irc_ir::{DType, Dim, Graph, Init};

use super::config::{Config, ConfigKey};
use super::{ModelInfo, ZooError};
use crate::dsl::{DslError, ModelBuilder, Var};
use crate::nn::{self, BlockConfig};

pub(crate) type BuildFn = fn(&Config<'_>) -> Result<Graph, ZooError>;

const fn key(name: &'static str, default: &'static str, help: &'static str) -> ConfigKey {
    ConfigKey { name, default, help }
}

const ACT_HELP: &str = "activation: gelu, gelu_erf, relu, squared_relu, silu";

pub(crate) static ZOO: [ModelInfo; 4] = [
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
            key("act", "gelu", ACT_HELP),
            key("loss", "false", "also take targets i32[B, T] and output the mean cross-entropy `loss`"),
        ],
        build: build_gpt_tiny,
    },
    ModelInfo {
        name: "conv-block",
        description: "x f32[B, T, d] + linear(silu(depthwise causal conv(linear(rms_norm(x)))))",
        keys: &[key("d", "64", "model width"), key("kernel", "4", "convolution width")],
        build: build_conv_block,
    },
];

/// Finishes `b` with `outputs`, naming the model in errors.
fn finish(model: &str, b: &ModelBuilder, outputs: &[(&str, &Var)]) -> Result<Graph, ZooError> {
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

/// The block settings shared by `gpt-block` and `gpt-tiny`, with `heads` checked against `d`.
fn block_config(cfg: &Config<'_>, d: usize) -> Result<BlockConfig, ZooError> {
    let heads = cfg.size("heads")?;
    if !d.is_multiple_of(heads) {
        return Err(cfg.invalid("heads", &format!("must divide d = {d}")));
    }
    Ok(BlockConfig { heads, mlp_ratio: cfg.size("mlp_ratio")?, act: cfg.act("act")?, ..BlockConfig::default() })
}

fn build_gpt_block(cfg: &Config<'_>) -> Result<Graph, ZooError> {
    let (d, dtype) = (cfg.size("d")?, cfg.float_dtype()?);
    let block = block_config(cfg, d)?;
    let b = ModelBuilder::new("gpt-block");
    let x = b.input("x", dtype, [Dim::from("B"), Dim::from("T"), Dim::Static(d)]);
    let y = nn::block("block", &x, &block);
    finish("gpt-block", &b, &[("y", &y)])
}

fn build_gpt_tiny(cfg: &Config<'_>) -> Result<Graph, ZooError> {
    let (vocab, d, layers, max_seq) = (cfg.size("vocab")?, cfg.size("d")?, cfg.size("layers")?, cfg.size("max_seq")?);
    let (with_loss, dtype) = (cfg.flag("loss")?, cfg.float_dtype()?);
    let block = block_config(cfg, d)?;
    let b = ModelBuilder::new("gpt-tiny");
    let tokens = b.input("tokens", DType::I32, ["B", "T"]);
    let positions = b.iota(DType::I32, ["T"], 0);
    let pos_table = b.param("pos_emb.weight", dtype, [max_seq, d], Init::Normal { std: 0.02 });
    let mut x = nn::embedding("tok_emb", &tokens, vocab, d, dtype) + nn::gather_rows(&pos_table, &positions);
    for i in 0..layers {
        x = nn::block(&format!("blocks.{i}"), &x, &block);
    }
    let logits = nn::linear("lm_head", &nn::layer_norm("ln_f", &x, block.eps), vocab);
    if with_loss {
        let targets = b.input("targets", DType::I32, ["B", "T"]);
        finish("gpt-tiny", &b, &[("loss", &nn::cross_entropy(&logits, &targets))])
    } else {
        finish("gpt-tiny", &b, &[("logits", &logits)])
    }
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
