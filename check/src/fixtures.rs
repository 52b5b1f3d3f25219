//! Hand-written graphs shared by test suites.

use irc_ir::Graph;

/// `.irc` source using every primitive op at least once, with free-form node names and comments.
pub const ALL_OPS_SRC: &str = include_str!("../../tests/data/all_ops.irc");

/// [`ALL_OPS_SRC`] parsed.
pub fn all_ops_graph() -> Graph {
    irc_ir::parse(ALL_OPS_SRC).unwrap_or_else(|e| panic!("all_ops.irc does not parse:\n{e}"))
}

/// Small settings for each zoo model, in `dtype`, so tests that run every model (gradient checks,
/// lowering) finish in a moment. Models not listed get their defaults.
pub fn small_zoo_config(name: &str, dtype: &str) -> Vec<(String, String)> {
    let pairs: &[(&str, &str)] = match name {
        "mlp" => &[("d_in", "5"), ("d_hidden", "7"), ("d_out", "3")],
        "gpt-block" => &[("d", "8"), ("heads", "2"), ("mlp_ratio", "2")],
        "gpt-tiny" => &[("d", "8"), ("heads", "2"), ("vocab", "11"), ("max_seq", "8"), ("loss", "true")],
        "conv-block" => &[("d", "6"), ("kernel", "3")],
        // Every mixer, Scalable-Softmax and both MLP structures, one layer each.
        "lm" => &[
            ("d", "8"),
            ("heads", "2"),
            ("vocab", "11"),
            ("max_seq", "8"),
            ("loss", "true"),
            ("layers", "4"),
            ("attn", "softmax,dconv,linear,gla"),
            ("ssmax", "1,1,0,0"),
            ("act", "gelu,relu2,silu,gelu"),
            ("mlp", "monarch,dense,dense,monarch"),
        ],
        "primer" | "monarch-lm" | "linear-lm" | "gla-lm" => {
            &[("d", "8"), ("heads", "2"), ("vocab", "11"), ("max_seq", "8"), ("loss", "true"), ("layers", "1")]
        }
        "monarch-ffn" => &[("d", "8"), ("mlp_ratio", "2")],
        _ => &[],
    };
    pairs.iter().chain(&[("dtype", dtype)]).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}
