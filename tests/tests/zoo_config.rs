//! The per-layer keys of the language-model family: what they build, and typed errors for bad values.

use irc_frontends::dsl::ModelBuilder;
use irc_frontends::nn::{self, AttnConfig, AttnKind};
use irc_frontends::zoo::{self, ZooError};
use irc_ir::DType;

fn cfg(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn params(model: &str, pairs: &[(&str, &str)]) -> Vec<String> {
    let g = zoo::build(model, &cfg(pairs)).unwrap_or_else(|e| panic!("{model}: {e}"));
    g.params().map(|(_, n, _)| n.to_string()).collect()
}

#[test]
fn each_layer_gets_its_own_mixer_and_mlp() {
    let p = params(
        "lm",
        &[("layers", "3"), ("attn", "dconv, gla ,linear"), ("mlp", "dense,monarch,dense"), ("ssmax", "1,0,0")],
    );
    let has = |name: &str| p.iter().any(|n| n == name);
    assert!(has("blocks.0.attn.q_dconv.weight") && has("blocks.0.attn.ssmax") && has("blocks.0.mlp.fc1.weight"));
    assert!(has("blocks.1.attn.decay.up.weight") && has("blocks.1.attn.gate.weight") && has("blocks.1.mlp.fc1.r"));
    assert!(has("blocks.2.attn.q.weight") && !p.iter().any(|n| n.starts_with("blocks.2.attn.") && n.contains("dconv")));
    // The family members differ only in defaults.
    assert!(params("primer", &[]).iter().any(|n| n == "blocks.1.attn.v_dconv.bias"));
    assert!(params("monarch-lm", &[]).iter().any(|n| n == "blocks.0.mlp.fc2.l"));
    assert!(params("gla-lm", &[]).iter().any(|n| n == "blocks.0.attn.norm.weight"));
    assert_eq!(params("lm", &[]), params("gpt-tiny", &[]));
    // Monarch MLPs hold fewer weights than dense ones: at d = 64, 2 * 8 * (64 + 256) + biases.
    let count =
        |model: &str| zoo::build(model, &[]).unwrap().params().map(|(_, _, t)| t.shape.numel().unwrap()).sum::<usize>();
    assert_eq!(count("lm") - count("monarch-lm"), 2 * (2 * 64 * 256 - 2 * 8 * (64 + 256)));
}

#[test]
fn bad_per_layer_values_are_typed_errors() {
    let bad = [
        (
            &[("attn", "flash")][..],
            "bad value `flash` for `attn`: unknown attention `flash` (expected one of softmax, dconv, linear, gla)",
        ),
        (
            &[("attn", "softmax,linear,gla")][..],
            "expected one value or 2 comma-separated values (one per layer), got 3",
        ),
        (&[("attn", "softmax,lin")][..], "layer 1: unknown attention `lin`"),
        (&[("mlp", "sparse")][..], "unknown mlp `sparse` (expected one of dense, monarch)"),
        (&[("act", "gelu,tanh")][..], "layer 1: unknown activation `tanh`"),
        (&[("ssmax", "2")][..], "bad value `2` for `ssmax`: expected 0 or 1, got `2`"),
        (
            &[("attn", "linear"), ("ssmax", "1")][..],
            "layer 0: Scalable-Softmax needs softmax attention (softmax or dconv), not linear",
        ),
        (&[("attn", "dconv,gla"), ("ssmax", "1")][..], "layer 1: Scalable-Softmax needs softmax attention"),
        (&[("heads", "3")][..], "bad value `3` for `heads`: must divide d = 64"),
    ];
    for (pairs, want) in bad {
        let err = zoo::build("lm", &cfg(pairs)).unwrap_err();
        assert!(matches!(err, ZooError::BadValue { .. }), "{err:?}");
        assert!(err.to_string().contains(want), "expected `{want}` in `{err}`");
    }
    // gpt-tiny keeps its own keys.
    assert!(matches!(zoo::build("gpt-tiny", &cfg(&[("attn", "gla")])), Err(ZooError::UnknownKey { .. })));
    // relu2 is squared_relu.
    assert_eq!(zoo::build("lm", &cfg(&[("act", "relu2")])), zoo::build("lm", &cfg(&[("act", "squared_relu")])));
}

#[test]
fn composites_report_bad_arguments() {
    let b = ModelBuilder::new("bad");
    let x = b.input("x", DType::F32, ["B", "T", "12"]);
    let _ = nn::monarch_linear("m", &x, 10, 4);
    let err = b.check().unwrap_err().to_string();
    assert!(err.contains("4 Monarch blocks do not divide widths 12 -> 10") && err.contains("scope `m`"), "{err}");

    let b = ModelBuilder::new("bad");
    let x = b.input("x", DType::F32, ["B", "T", "8"]);
    let _ = nn::self_attention("attn", &x, &AttnConfig { heads: 2, kind: AttnKind::Gla, ssmax: true });
    let err = b.check().unwrap_err().to_string();
    assert!(err.contains("Scalable-Softmax needs a softmax mixer (softmax or dconv), not gla"), "{err}");

    for kind in AttnKind::ALL {
        let b = ModelBuilder::new("bad");
        let x = b.input("x", DType::F32, ["B", "T", "10"]);
        let _ = nn::self_attention("attn", &x, &AttnConfig { heads: 4, kind, ssmax: false });
        let err = b.check().unwrap_err().to_string();
        assert!(err.starts_with("split_heads: cannot split width 10 into 4 heads"), "{kind}: {err}");
        let b = ModelBuilder::new("bad");
        let x = b.input("x", DType::F32, ["B", "T", "8"]);
        let _ = nn::self_attention("attn", &x, &AttnConfig { heads: 0, kind, ssmax: false });
        assert!(b.check().is_err(), "{kind}: zero heads");
    }
}
