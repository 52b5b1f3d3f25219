//! The decoder-only language models: `gpt-tiny` and the family whose blocks choose their token mixer,
//! Scalable-Softmax, activation and MLP structure layer by layer (`lm`, `primer`, `monarch-lm`,
//! `linear-lm`, `gla-lm` differ only in their defaults).

use std::str::FromStr;

use irc_ir::{DType, Graph, Init};

use super::ZooError;
use super::config::{Config, ConfigKey, key};
use super::models::finish;
use crate::dsl::ModelBuilder;
use crate::nn::{self, Activation, AttnKind, BlockConfig, MlpKind};

pub(crate) const LM_ACT_HELP: &str = "activation per layer: gelu, gelu_erf, relu, squared_relu (or relu2), silu; \
    one value, or one per layer separated by commas";

/// The keys of the per-layer family, with the defaults of one member.
pub(crate) const fn lm_keys(act: &'static str, mlp: &'static str, attn: &'static str) -> [ConfigKey; 11] {
    [
        key("vocab", "256", "vocabulary size"),
        key("d", "64", "model width"),
        key("heads", "4", "attention heads (must divide d)"),
        key("layers", "2", "decoder blocks"),
        key("max_seq", "64", "learned positions; T must not exceed it"),
        key("mlp_ratio", "4", "MLP hidden width / d"),
        key("act", act, LM_ACT_HELP),
        key("mlp", mlp, "MLP structure per layer: dense, monarch (one value, or one per layer)"),
        key("attn", attn, "token mixer per layer: softmax, dconv (Primer), linear, gla (one value, or one per layer)"),
        key("ssmax", "0", "Scalable-Softmax per layer: 0 or 1, softmax and dconv only (one value, or one per layer)"),
        key("loss", "false", "also take targets i32[B, T] and output the mean cross-entropy `loss`"),
    ]
}

/// A per-layer on/off switch: `0`, `1`, `false` or `true`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Switch(bool);

impl FromStr for Switch {
    type Err = String;
    fn from_str(s: &str) -> Result<Switch, String> {
        match s {
            "0" | "false" => Ok(Switch(false)),
            "1" | "true" => Ok(Switch(true)),
            _ => Err(format!("expected 0 or 1, got `{s}`")),
        }
    }
}

/// `heads`, checked against `d`.
pub(crate) fn heads(cfg: &Config<'_>, d: usize) -> Result<usize, ZooError> {
    let heads = cfg.size("heads")?;
    if !d.is_multiple_of(heads) {
        return Err(cfg.invalid("heads", &format!("must divide d = {d}")));
    }
    Ok(heads)
}

/// The per-layer values of `key`, or `default` for every layer when the model has no such key.
fn choice<T: FromStr<Err = String> + Clone>(
    cfg: &Config<'_>,
    key: &str,
    layers: usize,
    default: T,
) -> Result<Vec<T>, ZooError> {
    if cfg.has_key(key) { cfg.per_layer(key, layers) } else { Ok(vec![default; layers]) }
}

/// The block settings of every layer.
fn layer_configs(cfg: &Config<'_>, d: usize, layers: usize) -> Result<Vec<BlockConfig>, ZooError> {
    let (heads, mlp_ratio) = (heads(cfg, d)?, cfg.size("mlp_ratio")?);
    let acts: Vec<Activation> = cfg.per_layer("act", layers)?;
    let attns = choice(cfg, "attn", layers, AttnKind::Softmax)?;
    let mlps = choice(cfg, "mlp", layers, MlpKind::Dense)?;
    let ssmax = choice(cfg, "ssmax", layers, Switch(false))?;
    (0..layers)
        .map(|i| {
            if ssmax[i].0 && !attns[i].is_softmax() {
                let why =
                    format!("layer {i}: Scalable-Softmax needs softmax attention (softmax or dconv), not {}", attns[i]);
                return Err(cfg.invalid("ssmax", &why));
            }
            let (act, attn, ssmax, mlp) = (acts[i], attns[i], ssmax[i].0, mlps[i]);
            Ok(BlockConfig { heads, mlp_ratio, act, attn, ssmax, mlp, ..BlockConfig::default() })
        })
        .collect()
}

/// `tokens i32[B, T]` -> token + learned position embeddings -> `layers` pre-norm blocks -> final
/// layer norm -> `lm_head` -> `logits f32[B, T, vocab]`; with `loss=true` also `targets` and only the
/// scalar mean cross-entropy `loss`.
pub(crate) fn build_lm(cfg: &Config<'_>) -> Result<Graph, ZooError> {
    let model = cfg.model();
    let (vocab, d, layers, max_seq) = (cfg.size("vocab")?, cfg.size("d")?, cfg.size("layers")?, cfg.size("max_seq")?);
    let (with_loss, dtype) = (cfg.flag("loss")?, cfg.float_dtype()?);
    let blocks = layer_configs(cfg, d, layers)?;
    let b = ModelBuilder::new(model);
    let tokens = b.input("tokens", DType::I32, ["B", "T"]);
    let positions = b.iota(DType::I32, ["T"], 0);
    let pos_table = b.param("pos_emb.weight", dtype, [max_seq, d], Init::Normal { std: 0.02 });
    let mut x = nn::embedding("tok_emb", &tokens, vocab, d, dtype) + nn::gather_rows(&pos_table, &positions);
    for (i, block) in blocks.iter().enumerate() {
        x = nn::block(&format!("blocks.{i}"), &x, block);
    }
    let logits = nn::linear("lm_head", &nn::layer_norm("ln_f", &x, BlockConfig::default().eps), vocab);
    if with_loss {
        let targets = b.input("targets", DType::I32, ["B", "T"]);
        finish(model, &b, &[("loss", &nn::cross_entropy(&logits, &targets))])
    } else {
        finish(model, &b, &[("logits", &logits)])
    }
}
