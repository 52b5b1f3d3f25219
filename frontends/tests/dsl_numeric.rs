//! DSL ops computed by the reference interpreter against direct f64 computations.

mod common;

use std::collections::HashMap;

use common::{assert_close, rand, run};
use irc_frontends::dsl::ModelBuilder;
use irc_ir::DType;
use irc_runtime::{Rng, Tensor};

fn no_params() -> HashMap<String, Tensor> {
    HashMap::new()
}

#[test]
fn broadcasting_arithmetic_with_scalars() {
    let b = ModelBuilder::new("arith");
    let x = b.input("x", DType::F64, ["B", "3"]);
    let row = b.input("row", DType::F64, [3]);
    let y = (&x + &row) * 2.0 - 1.0 / &x + (-&row) / 4 - (3.0 - &x);
    let g = b.finish(&[("y", &y)]).unwrap();
    let mut rng = Rng::new(1);
    let (xt, rt) = (rand(DType::F64, &[2, 3], &mut rng), rand(DType::F64, &[3], &mut rng));
    let out = run(&g, &[("x", &xt), ("row", &rt)], &no_params());
    assert_eq!(out[0].shape, vec![2, 3]);
    let want: Vec<f64> = (0..6)
        .map(|i| {
            let (x, r) = (xt.data[i], rt.data[i % 3]);
            (x + r) * 2.0 - 1.0 / x + (-r) / 4.0 - (3.0 - x)
        })
        .collect();
    assert_close(&out[0].data, &want, 1e-12);
}

#[test]
fn mean_and_var_over_symbolic_dims() {
    let b = ModelBuilder::new("stats");
    let x = b.input("x", DType::F64, ["B", "T", "4"]);
    let m = x.mean([0, 1], false);
    let v = x.var([0, -2], true);
    let s = x.sum(.., false);
    let g = b.finish(&[("m", &m), ("v", &v), ("s", &s)]).unwrap();
    let mut rng = Rng::new(2);
    let xt = rand(DType::F64, &[2, 5, 4], &mut rng);
    let out = run(&g, &[("x", &xt)], &no_params());
    assert_eq!((out[0].shape.clone(), out[1].shape.clone(), out[2].shape.clone()), (vec![4], vec![1, 1, 4], vec![]));
    for c in 0..4 {
        let col: Vec<f64> = (0..10).map(|r| xt.data[r * 4 + c]).collect();
        let mean = col.iter().sum::<f64>() / 10.0;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 10.0;
        assert_close(&[out[0].data[c], out[1].data[c]], &[mean, var], 1e-12);
    }
    assert_close(&out[2].data, &[xt.data.iter().sum()], 1e-12);
}

#[test]
fn reductions_cumsum_and_comparisons() {
    let b = ModelBuilder::new("misc");
    let x = b.input("x", DType::F64, ["2", "3"]);
    let y = b.input("y", DType::F64, ["2", "3"]);
    let outs = [
        x.amax(-1, false),
        x.amin(0, false),
        x.cumsum(1),
        x.cumsum_reverse(1),
        x.gt(&y).cast(DType::F64),
        x.ge(&y).cast(DType::F64),
        x.lt(0.0).select(&y, &x),
        x.le(&y).cast(DType::F64) + x.eq(&x).cast(DType::F64) + x.ne(&y).cast(DType::F64),
        x.max(&y) - x.min(0.0),
        x.abs().sqrt().log().exp() + x.square().recip() + x.sin() * x.cos() + x.tanh() + x.abs().pow(1.5),
    ];
    let named: Vec<(String, &irc_frontends::Var)> =
        outs.iter().enumerate().map(|(i, v)| (format!("o{i}"), v)).collect();
    let refs: Vec<(&str, &irc_frontends::Var)> = named.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let g = b.finish(&refs).unwrap();
    let mut rng = Rng::new(3);
    let (xt, yt) = (rand(DType::F64, &[2, 3], &mut rng), rand(DType::F64, &[2, 3], &mut rng));
    let out = run(&g, &[("x", &xt), ("y", &yt)], &no_params());
    let (x, y) = (&xt.data, &yt.data);
    let f = |c: bool| c as u8 as f64;
    assert_close(
        &out[0].data,
        &[x[..3].iter().cloned().fold(f64::MIN, f64::max), x[3..].iter().cloned().fold(f64::MIN, f64::max)],
        0.0,
    );
    assert_close(&out[1].data, &(0..3).map(|c| x[c].min(x[c + 3])).collect::<Vec<_>>(), 0.0);
    let cum = |r: usize, rev: bool| -> Vec<f64> {
        let row = &x[r * 3..r * 3 + 3];
        (0..3).map(|i| if rev { row[i..].iter().sum() } else { row[..=i].iter().sum() }).collect()
    };
    assert_close(&out[2].data, &[cum(0, false), cum(1, false)].concat(), 1e-12);
    assert_close(&out[3].data, &[cum(0, true), cum(1, true)].concat(), 1e-12);
    for i in 0..6 {
        assert_eq!(out[4].data[i], f(x[i] > y[i]));
        assert_eq!(out[5].data[i], f(x[i] >= y[i]));
        assert_eq!(out[6].data[i], if x[i] < 0.0 { y[i] } else { x[i] });
        assert_eq!(out[7].data[i], f(x[i] <= y[i]) + 1.0 + f(x[i] != y[i]));
        assert_close(&[out[8].data[i]], &[x[i].max(y[i]) - x[i].min(0.0)], 1e-12);
        let a = x[i].abs();
        let want = a.sqrt().ln().exp() + 1.0 / (x[i] * x[i]) + x[i].sin() * x[i].cos() + x[i].tanh() + a.powf(1.5);
        assert_close(&[out[9].data[i]], &[want], 1e-12);
    }
}

#[test]
fn sigmoid_saturates_without_nans() {
    let b = ModelBuilder::new("sig");
    let x = b.input("x", DType::F32, ["5"]);
    let g = b.finish(&[("y", &x.sigmoid())]).unwrap();
    let xt = Tensor::new(DType::F32, vec![5], vec![-1000.0, -1.0, 0.0, 1.0, 1000.0]);
    let out = run(&g, &[("x", &xt)], &no_params());
    let want: Vec<f64> = xt.data.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect();
    assert_close(&out[0].data, &want, 1e-6);
}

#[test]
fn movement_and_indexing() {
    let b = ModelBuilder::new("move");
    let x = b.input("x", DType::F64, ["T", "2"]);
    let idx = b.input("idx", DType::I32, ["T", "2"]);
    let padded = x.pad(0, 1, 2);
    let back = padded.slice(0, 1, "T+1");
    let cat = b.concat(&[&x, &back], 1);
    let pos = b.iota(DType::F64, ["T", "2"], 0);
    let scat = x.scatter_add(1, &idx, 4);
    let gath = cat.gather(1, &idx);
    let perm = x.transpose(0, 1).reshape(["2", "T"]);
    let g = b
        .finish(&[("padded", &padded), ("cat", &cat), ("pos", &pos), ("scat", &scat), ("gath", &gath), ("perm", &perm)])
        .unwrap();
    let xt = Tensor::new(DType::F64, vec![3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let it = Tensor::new(DType::I32, vec![3, 2], vec![0.0, 2.0, 1.0, 1.0, 3.0, 0.0]);
    let out = run(&g, &[("x", &xt), ("idx", &it)], &no_params());
    assert_eq!(out[0].shape, vec![6, 2]);
    assert_eq!(out[0].data, vec![0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(out[1].data, vec![1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 5.0, 6.0, 5.0, 6.0]);
    assert_eq!(out[2].data, vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0]);
    assert_eq!(out[3].data, vec![1.0, 0.0, 2.0, 0.0, 0.0, 7.0, 0.0, 0.0, 6.0, 0.0, 0.0, 5.0]);
    assert_eq!(out[4].data, vec![1.0, 1.0, 4.0, 4.0, 6.0, 5.0]);
    assert_eq!(out[5].data, vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
}
