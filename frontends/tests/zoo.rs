//! Every zoo model builds, verifies and runs on random inputs; configuration errors are typed.

mod common;

use common::{rand, rand_ids, run};
use irc_frontends::zoo::{self, ZooError};
use irc_ir::{DType, Graph};
use irc_runtime::{Rng, Tensor, init_params};

fn cfg(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Random inputs for `g` with `B = 2` and `T = t`, token ids below `vocab`.
fn inputs(g: &Graph, t: usize, vocab: usize, rng: &mut Rng) -> Vec<(String, Tensor)> {
    let bindings = [("B".to_string(), 2), ("T".to_string(), t)].into();
    g.inputs()
        .map(|(_, name, ty)| {
            let shape = ty.shape.bind(&bindings).unwrap();
            let t = if ty.dtype.is_int() { rand_ids(&shape, vocab, rng) } else { rand(ty.dtype, &shape, rng) };
            (name.to_string(), t)
        })
        .collect()
}

fn run_model(g: &Graph, t: usize, vocab: usize, seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::new(seed);
    let ins = inputs(g, t, vocab, &mut rng);
    let refs: Vec<(&str, &Tensor)> = ins.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let out = run(g, &refs, &init_params(g, seed).unwrap());
    for o in &out {
        assert!(o.data.iter().all(|v| v.is_finite()), "{}: non-finite output", g.name);
    }
    out
}

#[test]
fn every_model_builds_verifies_and_runs() {
    let expected = [
        ("mlp", vec![2, 8]),
        ("gpt-block", vec![2, 5, 64]),
        ("gpt-tiny", vec![2, 5, 256]),
        ("conv-block", vec![2, 5, 64]),
        ("lm", vec![2, 5, 256]),
        ("primer", vec![2, 5, 256]),
        ("monarch-lm", vec![2, 5, 256]),
        ("linear-lm", vec![2, 5, 256]),
        ("gla-lm", vec![2, 5, 256]),
        ("monarch-ffn", vec![2, 5, 64]),
    ];
    assert_eq!(zoo::zoo_names().len(), expected.len());
    for ((name, description), (want_name, shape)) in zoo::zoo_names().into_iter().zip(expected) {
        assert_eq!(name, want_name);
        assert!(!description.is_empty());
        let g = zoo::build(name, &[]).unwrap();
        g.verify().unwrap();
        let out = run_model(&g, 5, 256, 42);
        assert_eq!(out[0].shape, shape, "{name}");
        // The same seed gives the same result.
        assert_eq!(run_model(&g, 5, 256, 42)[0], out[0]);
        // The graph survives a JSON round trip.
        assert_eq!(Graph::from_json(&g.to_json()).unwrap(), g);
    }
}

#[test]
fn gpt_tiny_runs_with_symbolic_lengths() {
    let g = zoo::build("gpt-tiny", &[]).unwrap();
    let ty = g.ty(g.outputs()[0].node).to_string();
    assert_eq!(ty, "f32[B, T, 256]");
    assert_eq!(g.params().filter(|(_, n, _)| n.starts_with("blocks.1.")).count(), 16);
    for t in [5, 8] {
        let out = run_model(&g, t, 256, 7);
        assert_eq!(out[0].shape, vec![2, t, 256]);
    }
    // Causality: logits at position i do not depend on later tokens.
    let p = init_params(&g, 3).unwrap();
    let mut rng = Rng::new(3);
    let a = rand_ids(&[2, 8], 256, &mut rng);
    let mut b = a.clone();
    b.data[7] = (b.data[7] + 1.0) % 256.0;
    let (ya, yb) = (run(&g, &[("tokens", &a)], &p), run(&g, &[("tokens", &b)], &p));
    let cut = 7 * 256;
    assert_eq!(ya[0].data[..cut], yb[0].data[..cut]);
    assert_ne!(ya[0].data[cut..8 * 256], yb[0].data[cut..8 * 256]);
}

#[test]
fn gpt_tiny_loss_variant() {
    let g = zoo::build("gpt-tiny", &cfg(&[("loss", "true"), ("vocab", "32"), ("layers", "1"), ("d", "32")])).unwrap();
    assert_eq!(g.outputs()[0].name, "loss");
    assert_eq!(g.inputs().map(|(_, n, _)| n).collect::<Vec<_>>(), ["tokens", "targets"]);
    let out = run_model(&g, 6, 32, 1);
    assert_eq!(out[0].shape, Vec::<usize>::new());
    // Near ln(vocab) at initialization, when the logits are small.
    assert!((out[0].data[0] - (32f64).ln()).abs() < 0.5, "loss {}", out[0].data[0]);
}

#[test]
fn configs_change_sizes() {
    let g = zoo::build("mlp", &cfg(&[("d_in", "3"), ("d_hidden", "5"), ("d_out", "2"), ("act", "silu")])).unwrap();
    assert_eq!(g.ty(g.outputs()[0].node).to_string(), "f32[B, 2]");
    let g =
        zoo::build("gpt-block", &cfg(&[("d", "48"), ("heads", "3"), ("mlp_ratio", "2"), ("dtype", "f64")])).unwrap();
    assert_eq!(g.ty(g.outputs()[0].node).to_string(), "f64[B, T, 48]");
    assert_eq!(run_model(&g, 3, 1, 0)[0].shape, vec![2, 3, 48]);
    let g = zoo::build("conv-block", &cfg(&[("d", "8"), ("kernel", "2")])).unwrap();
    assert_eq!(run_model(&g, 4, 1, 0)[0].shape, vec![2, 4, 8]);
    // Half precision builds and runs too.
    let g = zoo::build("gpt-tiny", &cfg(&[("dtype", "f16"), ("layers", "1")])).unwrap();
    assert_eq!(run_model(&g, 4, 256, 0)[0].dtype, DType::F16);
}

#[test]
fn config_errors_are_typed_and_helpful() {
    let err = zoo::build("gpt-huge", &[]).unwrap_err();
    assert!(matches!(err, ZooError::UnknownModel { .. }));
    assert_eq!(
        err.to_string(),
        "unknown model `gpt-huge`; known models: mlp, gpt-block, gpt-tiny, conv-block, lm, primer, monarch-lm, \
         linear-lm, gla-lm, monarch-ffn"
    );

    let err = zoo::build("gpt-block", &cfg(&[("width", "3")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "model `gpt-block` has no config key `width`; valid keys: d (default 64), heads (default 4), \
         mlp_ratio (default 4), act (default gelu), dtype (default f32)"
    );

    let bad = [
        (&[("d", "abc")][..], "bad value `abc` for `d`: expected a positive integer"),
        (&[("d", "0")][..], "bad value `0` for `d`: expected a positive integer"),
        (&[("heads", "5")][..], "bad value `5` for `heads`: must divide d = 64"),
        (&[("act", "swish")][..], "bad value `swish` for `act`: unknown activation `swish`"),
        (&[("dtype", "i32")][..], "bad value `i32` for `dtype`: expected a floating-point dtype"),
        (&[("dtype", "f8")][..], "unknown dtype `f8`"),
        (&[("d", "32"), ("d", "64")][..], "bad value `64` for `d`: the key is given twice"),
    ];
    for (pairs, want) in bad {
        let err = zoo::build("gpt-block", &cfg(pairs)).unwrap_err();
        assert!(matches!(err, ZooError::BadValue { .. }), "{err:?}");
        assert!(err.to_string().contains(want), "expected `{want}` in `{err}`");
    }
    let err = zoo::build("gpt-tiny", &cfg(&[("loss", "yes")])).unwrap_err();
    assert!(err.to_string().contains("expected true or false"), "{err}");
}

#[test]
fn model_info_lists_keys() {
    let info = zoo::model_info("gpt-tiny").unwrap();
    let keys: Vec<&str> = info.all_keys().map(|k| k.name).collect();
    assert_eq!(keys, ["vocab", "d", "heads", "layers", "max_seq", "mlp_ratio", "act", "loss", "dtype"]);
    assert_eq!(zoo::zoo_models().len(), zoo::zoo_names().len());
}
