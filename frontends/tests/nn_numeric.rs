//! Every nn composite, run by the reference interpreter in f64, against a naive loop.

mod common;

use std::collections::HashMap;

use common::*;
use irc_frontends::dsl::{ModelBuilder, Var};
use irc_frontends::nn::{self, Activation, BlockConfig};
use irc_ir::{DType, Graph};
use irc_runtime::{Rng, Tensor, init_params};

/// A graph of `f` applied to one f64 input `x` of declared shape `shape`.
fn unary_graph(shape: &[&str], f: impl FnOnce(&Var) -> Var) -> Graph {
    let b = ModelBuilder::new("t");
    let x = b.input("x", DType::F64, shape);
    let y = f(&x);
    b.finish(&[("y", &y)]).unwrap()
}

fn eval(g: &Graph, x: &Tensor, params: &HashMap<String, Tensor>) -> Tensor {
    run(g, &[("x", x)], params).remove(0)
}

#[test]
fn softmax_and_log_softmax() {
    let mut rng = Rng::new(10);
    let x = rand(DType::F64, &[3, 7], &mut rng);
    let y = eval(&unary_graph(&["R", "7"], |x| nn::softmax(x, -1)), &x, &HashMap::new());
    assert_close(&y.data, &softmax_ref(&x.data, 7), 1e-14);
    for row in y.data.chunks(7) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-14);
    }
    let ls = eval(&unary_graph(&["R", "7"], |x| nn::log_softmax(x, 1)), &x, &HashMap::new());
    let want: Vec<f64> = softmax_ref(&x.data, 7).iter().map(|p| p.ln()).collect();
    assert_close(&ls.data, &want, 1e-12);
    // Along axis 0: columns sum to one.
    let y0 = eval(&unary_graph(&["3", "7"], |x| nn::softmax(x, 0)), &x, &HashMap::new());
    for c in 0..7 {
        assert!(((0..3).map(|r| y0.data[r * 7 + c]).sum::<f64>() - 1.0).abs() < 1e-14);
    }
    // Large logits do not overflow.
    let big = Tensor::new(DType::F64, vec![1, 3], vec![1000.0, 999.0, -1000.0]);
    let yb = eval(&unary_graph(&["1", "3"], |x| nn::softmax(x, -1)), &big, &HashMap::new());
    assert_close(&yb.data, &softmax_ref(&big.data, 3), 1e-14);
}

#[test]
fn layer_norm_and_rms_norm() {
    let mut rng = Rng::new(11);
    let x = rand(DType::F64, &[2, 3, 16], &mut rng);
    let g = unary_graph(&["B", "T", "16"], |x| nn::layer_norm("ln", x, 1e-5));
    assert_eq!(g.params().map(|(_, n, _)| n).collect::<Vec<_>>(), ["ln.weight", "ln.bias"]);
    // With the initial gain (ones) and bias (zeros) every row has mean 0 and variance ~1.
    let y = eval(&g, &x, &init_params(&g, 0).unwrap());
    for row in y.data.chunks(16) {
        let mean = row.iter().sum::<f64>() / 16.0;
        let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 16.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-3, "mean {mean} var {var}");
    }
    let p = random_params(&g, 1);
    let y = eval(&g, &x, &p);
    assert_close(&y.data, &layer_norm_ref(&x.data, 16, &p["ln.weight"].data, &p["ln.bias"].data, 1e-5), 1e-12);

    let g = unary_graph(&["B", "T", "16"], |x| nn::rms_norm("rms", x, 1e-6));
    let p = random_params(&g, 2);
    let y = eval(&g, &x, &p);
    let want: Vec<f64> = x
        .data
        .chunks(16)
        .flat_map(|r| {
            let rms = (r.iter().map(|v| v * v).sum::<f64>() / 16.0 + 1e-6).sqrt();
            r.iter().zip(&p["rms.weight"].data).map(move |(v, w)| v / rms * w)
        })
        .collect();
    assert_close(&y.data, &want, 1e-12);
}

#[test]
fn activations_match_f64_references() {
    let xs: Vec<f64> = (-80..=80).map(|i| i as f64 * 0.1).chain([-30.0, -12.5, 1e-9, 0.0, 12.5, 30.0]).collect();
    let x = Tensor::new(DType::F64, vec![xs.len()], xs.clone());
    type Case = (fn(&Var) -> Var, fn(f64) -> f64, f64);
    let cases: [Case; 5] = [
        (nn::gelu_tanh, gelu_tanh_ref, 0.0),
        (nn::gelu_erf, gelu_erf_ref, 1.5e-7),
        (nn::silu, |v| v / (1.0 + (-v).exp()), 0.0),
        (nn::squared_relu, |v| v.max(0.0).powi(2), 0.0),
        (|x| x.relu(), |v| v.max(0.0), 0.0),
    ];
    for (i, (f, reference, tol)) in cases.into_iter().enumerate() {
        let y = eval(&unary_graph(&["N"], f), &x, &HashMap::new());
        for (v, got) in xs.iter().zip(&y.data) {
            // gelu_erf's error is 0.5 |x| times erf's absolute bound.
            let bound = (tol * 0.5 * v.abs()).max(1e-14 * (1.0 + v.abs()));
            assert!((got - reference(*v)).abs() <= bound, "case {i} at {v}: {got} vs {}", reference(*v));
        }
    }
    // erf itself, against the series, within Abramowitz & Stegun's stated 1.5e-7.
    let y = eval(&unary_graph(&["N"], nn::erf), &x, &HashMap::new());
    let worst = xs.iter().zip(&y.data).map(|(v, got)| (got - erf_ref(*v)).abs()).fold(0.0, f64::max);
    assert!(worst <= 1.5e-7, "erf max error {worst}");
    assert!(worst > 1e-9, "the approximation is not exact; the reference must differ somewhere");
    assert!((erf_ref(1.0) - 0.842_700_792_949_714_9).abs() < 1e-15);
    assert!((erf_ref(-2.5) + 0.999_593_047_982_555).abs() < 1e-15);
}

#[test]
fn linear_and_mlp() {
    let mut rng = Rng::new(12);
    let x = rand(DType::F64, &[2, 3, 5], &mut rng);
    let g = unary_graph(&["B", "T", "5"], |x| nn::linear("fc", x, 4));
    let p = random_params(&g, 3);
    assert_eq!(p["fc.weight"].shape, vec![5, 4]);
    let y = eval(&g, &x, &p);
    assert_eq!(y.shape, vec![2, 3, 4]);
    assert_close(&y.data, &linear_ref(&x.data, 5, &p["fc.weight"], &p["fc.bias"]), 1e-12);

    for act in Activation::ALL {
        let g = unary_graph(&["B", "T", "5"], |x| nn::mlp("mlp", x, 8, 3, act));
        let p = random_params(&g, 4);
        let y = eval(&g, &x, &p);
        let h = linear_ref(&x.data, 5, &p["mlp.fc1.weight"], &p["mlp.fc1.bias"]);
        let h =
            eval(&unary_graph(&["N"], |v| act.apply(v)), &Tensor::new(DType::F64, vec![h.len()], h), &HashMap::new());
        assert_close(&y.data, &linear_ref(&h.data, 8, &p["mlp.fc2.weight"], &p["mlp.fc2.bias"]), 1e-12);
    }
}

#[test]
fn embedding_is_direct_indexing() {
    let b = ModelBuilder::new("emb");
    let ids = b.input("ids", DType::I32, ["B", "T"]);
    let y = nn::embedding("tok", &ids, 11, 6, DType::F64);
    let flat = b.input("flat", DType::I64, ["N"]);
    let table = b.param("table", DType::F64, [11, 6], irc_ir::Init::Zeros);
    let z = nn::gather_rows(&table, &flat);
    let g = b.finish(&[("y", &y), ("z", &z)]).unwrap();
    let mut rng = Rng::new(13);
    let it = rand_ids(&[3, 4], 11, &mut rng);
    let ft = Tensor::new(DType::I64, vec![5], vec![10.0, 0.0, 3.0, 3.0, 7.0]);
    let p = random_params(&g, 5);
    let out = run(&g, &[("ids", &it), ("flat", &ft)], &p);
    assert_eq!(out[0].shape, vec![3, 4, 6]);
    let pick = |t: &Tensor, ids: &[f64]| -> Vec<f64> {
        ids.iter().flat_map(|&i| t.data[i as usize * 6..i as usize * 6 + 6].to_vec()).collect()
    };
    assert_eq!(out[0].data, pick(&p["tok.weight"], &it.data));
    assert_eq!(out[1].data, pick(&p["table"], &ft.data));
}

#[test]
fn causal_attention_matches_loops_for_several_lengths() {
    let g = unary_graph(&["B", "T", "8"], |x| nn::causal_softmax_attention("attn", x, 2));
    let p = random_params(&g, 6);
    let mut rng = Rng::new(14);
    for t in [1, 3, 5] {
        let x = rand(DType::F64, &[2, t, 8], &mut rng);
        let y = eval(&g, &x, &p);
        assert_eq!(y.shape, vec![2, t, 8]);
        assert_close(&y.data, &attention_ref(&x.data, (2, t, 8), 2, &p, "attn"), 1e-10);
    }
}

#[test]
fn depthwise_causal_conv_matches_loop() {
    let (k, c) = (3, 4);
    let g = unary_graph(&["B", "T", "4"], |x| nn::depthwise_causal_conv1d("conv", x, k));
    let p = random_params(&g, 7);
    let (w, bias) = (&p["conv.weight"], &p["conv.bias"]);
    assert_eq!(w.shape, vec![k, c]);
    let mut rng = Rng::new(15);
    for t in [1, 2, 6] {
        let x = rand(DType::F64, &[2, t, c], &mut rng);
        let y = eval(&g, &x, &p);
        let mut want = vec![0.0; 2 * t * c];
        for b in 0..2 {
            for s in 0..t {
                for ch in 0..c {
                    let mut acc = bias.data[ch];
                    for i in 0..k {
                        // Input position s - (k - 1) + i; before the start it is zero.
                        if let Some(src) = (s + i).checked_sub(k - 1) {
                            acc += w.data[i * c + ch] * x.data[(b * t + src) * c + ch];
                        }
                    }
                    want[(b * t + s) * c + ch] = acc;
                }
            }
        }
        assert_close(&y.data, &want, 1e-12);
    }
}

#[test]
fn block_is_the_pre_norm_composition() {
    let cfg = BlockConfig { heads: 2, mlp_ratio: 2, act: Activation::GeluErf, ..BlockConfig::default() };
    let g = unary_graph(&["B", "T", "8"], |x| nn::block("blk", x, &cfg));
    let p = random_params(&g, 8);
    let mut rng = Rng::new(16);
    let x = rand(DType::F64, &[2, 4, 8], &mut rng);
    let y = eval(&g, &x, &p);
    let ln = |v: &[f64], name: &str| {
        layer_norm_ref(v, 8, &p[&format!("blk.{name}.weight")].data, &p[&format!("blk.{name}.bias")].data, 1e-5)
    };
    let a = attention_ref(&ln(&x.data, "ln1"), (2, 4, 8), 2, &p, "blk.attn");
    let h: Vec<f64> = x.data.iter().zip(&a).map(|(u, v)| u + v).collect();
    let m = linear_ref(&ln(&h, "ln2"), 8, &p["blk.mlp.fc1.weight"], &p["blk.mlp.fc1.bias"]);
    let m: Vec<f64> = m.iter().map(|&v| 0.5 * v * (1.0 + erf_ref(v / std::f64::consts::SQRT_2))).collect();
    let m = linear_ref(&m, 16, &p["blk.mlp.fc2.weight"], &p["blk.mlp.fc2.bias"]);
    let want: Vec<f64> = h.iter().zip(&m).map(|(u, v)| u + v).collect();
    // The erf approximation (1.5e-7) propagates through fc2.
    assert_close(&y.data, &want, 1e-5);
}

#[test]
fn cross_entropy_matches_loop() {
    let b = ModelBuilder::new("ce");
    let logits = b.input("logits", DType::F64, ["B", "T", "9"]);
    let targets = b.input("targets", DType::I32, ["B", "T"]);
    let loss = nn::cross_entropy(&logits, &targets);
    assert_eq!(loss.ty().to_string(), "f64[]");
    let g = b.finish(&[("loss", &loss)]).unwrap();
    let mut rng = Rng::new(17);
    let (lt, tt) = (rand(DType::F64, &[2, 3, 9], &mut rng), rand_ids(&[2, 3], 9, &mut rng));
    let out = run(&g, &[("logits", &lt), ("targets", &tt)], &HashMap::new());
    let want = lt
        .data
        .chunks(9)
        .zip(&tt.data)
        .map(|(row, &t)| {
            let m = row.iter().cloned().fold(f64::MIN, f64::max);
            m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - row[t as usize]
        })
        .sum::<f64>()
        / 6.0;
    assert_eq!(out[0].shape, Vec::<usize>::new());
    assert_close(&out[0].data, &[want], 1e-12);
}

#[test]
fn composites_report_bad_inputs() {
    let b = ModelBuilder::new("bad");
    let x = b.input("x", DType::F32, ["B", "T", "10"]);
    let _ = nn::causal_softmax_attention("attn", &x, 4);
    let err = b.check().unwrap_err().to_string();
    assert!(err.starts_with("split_heads: cannot split width 10 into 4 heads"), "{err}");
    assert!(err.contains("causal_softmax_attention") && err.contains("scope `attn`"), "{err}");
    assert!(err.contains("tests/nn_numeric.rs:"), "the location is the user's call: {err}");

    let b = ModelBuilder::new("bad");
    let logits = b.input("logits", DType::F32, ["B", "9"]);
    let targets = b.input("targets", DType::I32, ["T"]);
    let _ = nn::cross_entropy(&logits, &targets);
    let err = b.check().unwrap_err().to_string();
    assert!(err.starts_with("gather:") && err.contains("cross_entropy"), "{err}");

    let b = ModelBuilder::new("bad");
    let ids = b.input("ids", DType::F32, ["B"]);
    let _ = nn::embedding("e", &ids, 4, 4, DType::F32);
    assert!(b.check().unwrap_err().to_string().contains("index must be i32 or i64"));

    let b = ModelBuilder::new("bad");
    let x = b.input("x", DType::F32, ["B", "T", "4"]);
    let _ = nn::depthwise_causal_conv1d("c", &x, 0);
    assert!(b.check().unwrap_err().to_string().contains("width >= 1"));
}
