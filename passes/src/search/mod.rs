//! Primer-style architecture search over per-layer model variants.
//!
//! A [`Genome`] is a model's per-layer choices (`attn`, `ssmax`, `act`, `mlp` for each layer, as the
//! zoo's `lm` family spells them). The **variant rules** ([`VARIANT_RULES`]) are the moves the search
//! may make: each rewrites one choice of one layer, and unlike the optimizer's rewrites each changes
//! what the model computes (a different architecture, to be trained and measured). [`evolve`] runs a
//! seeded regularized evolution over them and [`pareto_front`] picks the candidates no other beats on
//! both validation loss and step time.

mod evolve;

use std::collections::BTreeMap;
use std::fmt;

pub use evolve::{Candidate, SearchOptions, evolve, pareto_front};

/// One move of the search: in one layer, set `key` to `to` where it is one of `from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariantRule {
    pub name: &'static str,
    pub key: &'static str,
    pub from: &'static [&'static str],
    pub to: &'static str,
    /// What the move does, for reports.
    pub doc: &'static str,
}

const fn rule(
    name: &'static str,
    key: &'static str,
    from: &'static [&'static str],
    to: &'static str,
    doc: &'static str,
) -> VariantRule {
    VariantRule { name, key, from, to, doc }
}

/// The variant rules: the Primer moves (squared ReLU, depthwise convolutions after the Q, K and V
/// projections), Monarch FFNs, linear and gated linear attention, Scalable-Softmax, and the moves back.
pub const VARIANT_RULES: &[VariantRule] = &[
    rule("squared-relu", "act", &["gelu", "gelu_erf", "relu", "silu"], "squared_relu", "MLP activation -> relu(x)^2"),
    rule("gelu", "act", &["squared_relu", "relu", "silu", "gelu_erf"], "gelu", "MLP activation -> GELU (tanh)"),
    rule("dconv-attn", "attn", &["softmax"], "dconv", "width-3 causal depthwise conv after Q, K, V"),
    rule("plain-attn", "attn", &["dconv", "linear", "gla"], "softmax", "token mixer -> softmax attention"),
    rule("linear-attn", "attn", &["softmax", "dconv", "gla"], "linear", "token mixer -> causal linear attention"),
    rule("gated-linear-attn", "attn", &["softmax", "dconv", "linear"], "gla", "token mixer -> gated linear attention"),
    rule("monarch-ffn", "mlp", &["dense"], "monarch", "dense MLP -> Monarch MLP (block-diagonal factors)"),
    rule("dense-ffn", "mlp", &["monarch"], "dense", "Monarch MLP -> dense MLP"),
    rule("ssmax", "ssmax", &["0"], "1", "softmax scores scaled by s * log(n)"),
    rule("no-ssmax", "ssmax", &["1"], "0", "plain softmax scores"),
];

/// The per-layer keys a genome holds, with the vanilla GPT block's values.
pub const LAYER_KEYS: [(&str, &str); 4] = [("attn", "softmax"), ("ssmax", "0"), ("act", "gelu"), ("mlp", "dense")];

/// A model's per-layer choices.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Genome {
    layers: Vec<BTreeMap<String, String>>,
}

impl Genome {
    /// `layers` vanilla GPT blocks.
    pub fn vanilla(layers: usize) -> Genome {
        let layer: BTreeMap<String, String> = LAYER_KEYS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Genome { layers: vec![layer; layers] }
    }

    /// Every layer's values from `(key, value)` settings as the zoo takes them (one value for all layers,
    /// or one per layer separated by commas); keys other than the layer keys are ignored.
    pub fn from_config(layers: usize, config: &[(String, String)]) -> Result<Genome, String> {
        let mut g = Genome::vanilla(layers);
        for (key, value) in config {
            if !LAYER_KEYS.iter().any(|(k, _)| k == key) {
                continue;
            }
            let values: Vec<&str> = value.split(',').map(str::trim).collect();
            for (i, layer) in g.layers.iter_mut().enumerate() {
                let v = match values.len() {
                    1 => values[0],
                    n if n == layers => values[i],
                    n => return Err(format!("`{key}` has {n} values for {layers} layers")),
                };
                layer.insert(key.clone(), v.to_string());
            }
        }
        Ok(g)
    }

    pub fn layers(&self) -> usize {
        self.layers.len()
    }

    /// The value of `key` in layer `layer`.
    pub fn get(&self, layer: usize, key: &str) -> Option<&str> {
        self.layers.get(layer)?.get(key).map(String::as_str)
    }

    /// The settings that build this genome: one value per key when all layers agree, else one per layer.
    pub fn config(&self) -> Vec<(String, String)> {
        LAYER_KEYS
            .iter()
            .map(|(key, _)| {
                let values: Vec<&str> = (0..self.layers()).map(|i| self.get(i, key).unwrap_or("")).collect();
                let same = values.windows(2).all(|w| w[0] == w[1]);
                (
                    key.to_string(),
                    if same { values.first().copied().unwrap_or("").to_string() } else { values.join(",") },
                )
            })
            .collect()
    }

    /// Whether the choices go together: Scalable-Softmax needs softmax scores (softmax or dconv).
    pub fn is_valid(&self) -> bool {
        (0..self.layers())
            .all(|i| self.get(i, "ssmax") != Some("1") || matches!(self.get(i, "attn"), Some("softmax" | "dconv")))
    }

    /// `rule` applied to layer `layer`, if it applies there and gives a valid genome.
    pub fn apply(&self, rule: &VariantRule, layer: usize) -> Option<Genome> {
        let current = self.get(layer, rule.key)?;
        if !rule.from.contains(&current) {
            return None;
        }
        let mut g = self.clone();
        g.layers[layer].insert(rule.key.to_string(), rule.to.to_string());
        g.is_valid().then_some(g)
    }

    /// Every `(rule, layer)` move that applies.
    pub fn moves(&self) -> Vec<(&'static VariantRule, usize)> {
        VARIANT_RULES
            .iter()
            .flat_map(|r| (0..self.layers()).map(move |l| (r, l)))
            .filter(|(r, l)| self.apply(r, *l).is_some())
            .collect()
    }
}

/// Layers as `attn/act/mlp[+ssmax]`, separated by ` | `.
impl fmt::Display for Genome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in 0..self.layers() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            let v = |k| self.get(i, k).unwrap_or("?");
            write!(f, "{}/{}/{}", v("attn"), v("act"), v("mlp"))?;
            if v("ssmax") == "1" {
                f.write_str("+ssmax")?;
            }
        }
        Ok(())
    }
}
