//! The optimizer on every zoo model, forward and forward + backward: same interface, same values
//! under the reference interpreter, estimated cost not higher.

mod opt_common;

use irc_passes::opt::{OptOptions, RuleGroup};
use opt_common::{REASSOC_F32, Tol, check, sizes};

fn zoo_graphs() -> Vec<(String, irc_ir::Graph)> {
    let mut out = Vec::new();
    for m in irc_frontends::zoo::zoo_models() {
        let g = irc_frontends::zoo::build(m.name, &[]).expect("zoo model builds");
        out.push((m.name.to_string(), g));
    }
    out
}

#[test]
fn zoo_models_exact_group_is_bit_identical() {
    let s = sizes(&[("B", 2), ("T", 8)]);
    for (name, g) in zoo_graphs() {
        let (_, report) = check(&g, &OptOptions::with_groups(&[RuleGroup::Simplify]), &s, 7, Tol::Exact);
        println!("{name}:\n{report}");
    }
}

#[test]
fn zoo_models_default_and_all_groups() {
    let s = sizes(&[("B", 2), ("T", 8)]);
    for (name, g) in zoo_graphs() {
        for opts in [OptOptions::default(), OptOptions::all_groups()] {
            let (_, report) = check(&g, &opts, &s, 11, REASSOC_F32);
            println!("{name}:\n{report}");
        }
    }
}

/// `g` with its outputs summed into a scalar `loss`, differentiated w.r.t. every param.
fn forward_backward(g: &irc_ir::Graph) -> irc_ir::Graph {
    let mut g = g.clone();
    let outs = g.take_outputs();
    let mut total = None;
    for o in &outs {
        let rank = g.ty(o.node).rank();
        let sum = g.push(irc_ir::Op::Reduce { op: irc_ir::ReduceOp::Sum, axes: (0..rank).collect() }, &[o.node]);
        let s = g.push(irc_ir::Op::Reshape { shape: irc_ir::Shape::scalar() }, &[sum.unwrap()]).unwrap();
        total = Some(match total {
            None => s,
            Some(t) => g.push(irc_ir::Op::Binary { op: irc_ir::BinaryOp::Add }, &[t, s]).unwrap(),
        });
    }
    g.add_output("loss", total.expect("zoo models have outputs")).unwrap();
    let params: Vec<String> = g.params().map(|(_, n, _)| n.to_string()).collect();
    let wrt: Vec<&str> = params.iter().map(String::as_str).collect();
    irc_passes::differentiate(&g, "loss", &wrt).expect("differentiates")
}

#[test]
fn zoo_models_forward_backward() {
    let s = sizes(&[("B", 2), ("T", 8)]);
    for (name, g) in zoo_graphs() {
        let (_, report) = check(&forward_backward(&g), &OptOptions::default(), &s, 13, REASSOC_F32);
        println!("{name} forward + backward:\n{report}");
    }
}
