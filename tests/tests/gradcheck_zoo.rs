//! Finite-difference checks of every zoo model's loss gradient, in f64.
//!
//! Models without a loss output get `loss = sum(output * w)` for a fixed random `w`. Entries are sampled
//! (24 per param) to keep the run short; the tolerance is the one justified in `GradCheck::default`.

use std::collections::HashMap;

use irc_frontends::zoo::zoo_models;
use irc_ir::{BinaryOp, DType, Graph, Op, ReduceOp, Shape};
use irc_runtime::{Rng, init_params, random_inputs};
use irc_tests::fixtures::small_zoo_config;
use irc_tests::{GradCheck, check_gradients};

/// Adds `loss = sum(y * w)` over the first output, `w` a random input, when the model has no `loss`.
fn with_loss(mut g: Graph) -> Graph {
    if g.outputs().iter().any(|o| o.name == "loss") {
        return g;
    }
    let y = g.outputs()[0].node;
    let ty = g.ty(y).clone();
    let rank = ty.rank();
    let w = g.push(Op::Input { name: "loss.w".into(), ty }, &[]).unwrap();
    let yw = g.push(Op::Binary { op: BinaryOp::Mul }, &[y, w]).unwrap();
    let s = g.push(Op::Reduce { op: ReduceOp::Sum, axes: (0..rank).collect() }, &[yw]).unwrap();
    let loss = g.push(Op::Reshape { shape: Shape::scalar() }, &[s]).unwrap();
    g.add_output("loss", loss).unwrap();
    g
}

#[test]
fn every_zoo_model_loss_gradient_matches_finite_differences() {
    let sizes = HashMap::from([("B".to_string(), 2), ("T".to_string(), 3)]);
    for (k, m) in zoo_models().iter().enumerate() {
        let mut rng = Rng::new(k as u64);
        let g = irc_frontends::build(m.name, &small_zoo_config(m.name, "f64")).unwrap();
        let g = with_loss(g);
        assert!(g.params().all(|(_, _, t)| t.dtype == DType::F64), "{} must build in f64", m.name);
        let inputs = random_inputs(&g, &sizes, k as u64).unwrap();
        // Random values everywhere (not the init's ones and zeros), so gains and biases are exercised.
        // In name order: a map's own order changes from run to run, and with it the values drawn.
        let mut params = init_params(&g, 1).unwrap();
        let mut names: Vec<String> = params.keys().cloned().collect();
        names.sort();
        for name in names {
            let t = params.get_mut(&name).unwrap();
            t.data.iter_mut().for_each(|v| *v = 0.5 * rng.normal());
        }
        let cfg = GradCheck { max_entries: 24, seed: k as u64, ..GradCheck::default() };
        if let Err(e) = check_gradients(&g, "loss", &inputs, &params, cfg) {
            panic!("{}: {e}", m.name);
        }
    }
}
