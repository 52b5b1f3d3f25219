use irc_ir::{DType, Init, Op, TensorType};
use irc_runtime::{Rng, init_params, random_tensor};

use crate::G;

fn param(b: &mut G, name: &str, shape: &[usize], init: Init) {
    b.op(Op::Param { name: name.into(), ty: TensorType::new(DType::F32, irc_ir::Shape::of(shape)), init }, &[]);
}

#[test]
fn init_params_follows_each_init_and_is_deterministic() {
    let mut b = G::default();
    param(&mut b, "z", &[3], Init::Zeros);
    param(&mut b, "o", &[2, 2], Init::Ones);
    param(&mut b, "n", &[100, 40], Init::Normal { std: 0.5 });
    param(&mut b, "u", &[4000], Init::Uniform { bound: 0.25 });
    let x = b.input("x", DType::F32, [1]);
    let g = b.out(&[x]);

    let p = init_params(&g, 7).unwrap();
    assert_eq!(p.len(), 4);
    assert_eq!(p["z"].data, [0.0; 3]);
    assert_eq!((p["o"].shape.as_slice(), p["o"].data.as_slice()), (&[2, 2][..], &[1.0; 4][..]));
    let n = &p["n"].data;
    let std = (n.iter().map(|v| v * v).sum::<f64>() / n.len() as f64).sqrt();
    assert!((std - 0.5).abs() < 0.02, "std {std}");
    let u = &p["u"].data;
    assert!(u.iter().all(|v| v.abs() <= 0.25) && u.iter().any(|v| v.abs() > 0.24));
    assert_eq!(init_params(&g, 7).unwrap(), p);
    assert_ne!(init_params(&g, 8).unwrap()["n"], p["n"]);
    // A param's values depend on its name and the seed, not on its neighbours.
    let mut b = G::default();
    param(&mut b, "n", &[100, 40], Init::Normal { std: 0.5 });
    let x = b.input("x", DType::F32, [1]);
    assert_eq!(init_params(&b.out(&[x]), 7).unwrap()["n"], p["n"]);
}

#[test]
fn random_tensors_by_dtype() {
    let mut r = Rng::new(3);
    let i = random_tensor(DType::I32, [1000], &mut r);
    assert!(i.data.iter().all(|v| v.fract() == 0.0 && v.abs() <= 9.0));
    assert!(i.data.iter().filter(|&&v| v != 0.0).count() > 800);
    let b = random_tensor(DType::Bool, vec![1000], &mut r);
    let ones = b.data.iter().filter(|&&v| v == 1.0).count();
    assert!((400..600).contains(&ones) && b.data.iter().all(|&v| v == 0.0 || v == 1.0));
    let f = random_tensor(DType::BF16, &[3, 0][..], &mut r);
    assert_eq!(f.shape, [3, 0]);
    let h = random_tensor(DType::F16, [500], &mut r);
    assert!(h.data.iter().all(|&v| irc_runtime::round_to(DType::F16, v) == v));
    assert!(h.data.iter().any(|&v| v < -1.0) && h.data.iter().any(|&v| v > 1.0));
}
