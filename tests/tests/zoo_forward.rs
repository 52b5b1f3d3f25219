//! Each zoo language model, run by the reference interpreter in f64, against the plain-loop reference
//! in `zoo_ref` (written from the papers' formulas, with recurrences where the graphs use masked
//! quadratic forms), on small shapes with random params and tokens.
//!
//! Tolerance: both sides compute in f64 and differ only in the order of sums and in algebraically
//! equal forms (quadratic vs recurrent mixers, log-space vs direct decays), which at these sizes moves
//! results by well under 1e-12; 1e-9 (relative to `1 + |want|`) leaves room for that, while a wrong
//! index, term or scale changes logits by 1e-3 or more.

mod zoo_ref;

use std::collections::HashMap;

use irc_frontends::nn::{self, MonarchFactors, MonarchShape};
use irc_frontends::{ModelBuilder, build};
use irc_ir::{DType, Graph};
use irc_runtime::{Rng, Tensor, init_params, interpret};
use zoo_ref::{Layer, Lm, lm_logits};

const TOL: f64 = 1e-9;

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Normal values (std 0.5) for every param, so gains, biases, gates and `s` are all exercised.
fn random_params(g: &Graph, seed: u64) -> HashMap<String, Tensor> {
    let mut rng = Rng::new(seed);
    let mut p = init_params(g, seed).unwrap();
    let mut names: Vec<String> = p.keys().cloned().collect();
    names.sort();
    for n in names {
        p.get_mut(&n).unwrap().data.iter_mut().for_each(|v| *v = 0.5 * rng.normal());
    }
    p
}

#[track_caller]
fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "element {i}: got {g}, want {w} (tol {tol})");
    }
}

/// Builds `model` at width 8 with 2 heads, vocabulary 11 and `config`, and compares its logits for
/// random tokens (B = 2, T = 1 and 6) with the reference for `layers`.
fn check_lm(model: &str, config: &[(&str, &str)], layers: &[Layer], seed: u64) {
    let mut pairs = vec![("d", "8"), ("heads", "2"), ("vocab", "11"), ("max_seq", "8"), ("dtype", "f64")];
    let n = layers.len().to_string();
    pairs.push(("layers", &n));
    pairs.extend_from_slice(config);
    let g = build(model, &kv(&pairs)).unwrap_or_else(|e| panic!("{model}: {e}"));
    let params = random_params(&g, seed);
    let lm = Lm { vocab: 11, d: 8, heads: 2, mlp_ratio: 4, layers: layers.to_vec() };
    let mut rng = Rng::new(seed + 100);
    for t in [1, 6] {
        let ids: Vec<usize> = (0..2 * t).map(|_| rng.below(11)).collect();
        let tokens = Tensor::new(DType::I32, vec![2, t], ids.iter().map(|&i| i as f64).collect());
        let out = interpret(&g, &HashMap::from([("tokens".to_string(), tokens)]), &params).unwrap();
        assert_eq!(out[0].shape, vec![2, t, 11]);
        let want = lm_logits(&lm, &params, &ids, 2, t);
        assert_close(&out[0].data, &want, TOL);
    }
}

fn layer(attn: &'static str, ssmax: bool, act: &'static str, mlp: &'static str) -> Layer {
    Layer { attn, ssmax, act, mlp }
}

#[test]
fn gpt_tiny_is_the_vanilla_decoder() {
    // Softmax attention and a dense GELU (tanh form) MLP in every block.
    check_lm("gpt-tiny", &[], &[layer("softmax", false, "gelu", "dense"); 2], 1);
    check_lm("lm", &[], &[layer("softmax", false, "gelu", "dense"); 2], 1);
}

#[test]
fn primer_matches_reference() {
    check_lm("primer", &[], &[layer("dconv", false, "relu2", "dense"); 2], 2);
}

#[test]
fn monarch_lm_matches_reference() {
    check_lm("monarch-lm", &[], &[layer("softmax", false, "gelu", "monarch"); 2], 3);
}

#[test]
fn linear_lm_matches_reference() {
    check_lm("linear-lm", &[], &[layer("linear", false, "gelu", "dense"); 2], 4);
}

#[test]
fn gla_lm_matches_reference() {
    check_lm("gla-lm", &[], &[layer("gla", false, "gelu", "dense"); 2], 5);
}

#[test]
fn scalable_softmax_matches_reference() {
    check_lm("lm", &[("ssmax", "1")], &[layer("softmax", true, "gelu", "dense")], 6);
    check_lm("primer", &[("ssmax", "1")], &[layer("dconv", true, "relu2", "dense")], 7);
}

#[test]
fn per_layer_choices_match_reference() {
    let config =
        [("attn", "gla,dconv,linear"), ("ssmax", "0,1,0"), ("act", "silu,gelu,relu2"), ("mlp", "monarch,dense,dense")];
    let layers = [
        layer("gla", false, "silu", "monarch"),
        layer("dconv", true, "gelu", "dense"),
        layer("linear", false, "relu2", "dense"),
    ];
    check_lm("lm", &config, &layers, 8);
}

#[test]
fn linear_attention_cumsum_form_equals_quadratic_form() {
    let b = ModelBuilder::new("la");
    let shape = ["B", "2", "T", "4"];
    let (q, k, v) = (b.input("q", DType::F64, shape), b.input("k", DType::F64, shape), b.input("v", DType::F64, shape));
    let (fq, fk) = (nn::elu_plus_one(&q), nn::elu_plus_one(&k));
    let quad = nn::causal_linear_attention(&fq, &fk, &v);
    let scan = nn::causal_linear_attention_cumsum(&fq, &fk, &v);
    let g = b.finish(&[("quad", &quad), ("scan", &scan)]).unwrap();
    let mut rng = Rng::new(9);
    let mut rand = |shape: Vec<usize>| {
        let n = shape.iter().product();
        Tensor::new(DType::F64, shape, (0..n).map(|_| 2.0 * rng.normal()).collect())
    };
    let inputs: HashMap<String, Tensor> =
        ["q", "k", "v"].iter().map(|n| (n.to_string(), rand(vec![3, 2, 7, 4]))).collect();
    let out = interpret(&g, &inputs, &HashMap::new()).unwrap();
    assert_close(&out[1].data, &out[0].data, TOL);
}

#[test]
fn monarch_linear_computes_its_dense_equivalent() {
    // The layer's params, read as Monarch factors, give the dense W of `x @ W + bias`: the graph, the
    // paper's block procedure (`zoo_ref::monarch`) and `MonarchFactors::to_dense` agree.
    for (d_in, d_out, blocks) in [(16, 16, 4), (8, 32, 2), (24, 12, 3), (6, 6, 1)] {
        let b = ModelBuilder::new("monarch");
        let x = b.input("x", DType::F64, ["B", "T", &d_in.to_string()]);
        let y = nn::monarch_linear("m", &x, d_out, blocks);
        let g = b.finish(&[("y", &y)]).unwrap();
        let p = random_params(&g, 10);
        let mut rng = Rng::new(11);
        let xs = Tensor::new(DType::F64, vec![2, 3, d_in], (0..6 * d_in).map(|_| rng.normal()).collect());
        let out = interpret(&g, &HashMap::from([("x".to_string(), xs.clone())]), &p).unwrap();
        let (r, l, bias) = (&p["m.r"], &p["m.l"], &p["m.bias"]);
        let shape = MonarchShape::new(d_in, d_out, blocks).unwrap();
        assert_eq!((r.shape.as_slice(), l.shape.as_slice()), (&shape.r_shape()[..], &shape.l_shape()[..]));
        let want = zoo_ref::monarch(&xs.data, d_in, r, l, &bias.data);
        assert_close(&out[0].data, &want, TOL);
        let w = MonarchFactors::new(shape, r.data.clone(), l.data.clone()).unwrap().to_dense();
        let dense = zoo_ref::linear(&xs.data, d_in, &Tensor::new(DType::F64, vec![d_in, d_out], w), &bias.data);
        assert_close(&out[0].data, &dense, TOL);
    }
}
