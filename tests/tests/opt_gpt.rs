//! The optimizer on a 12-block GPT forward + backward: it finishes within its limits (node, iteration
//! and time limits per region) and keeps the graph's values. Wall time is a benchmark
//! (`docs/OPTIMIZER.md` records it), so it is printed, not asserted.

mod opt_common;

use irc_ir::Graph;
use irc_passes::opt::{OptOptions, optimize};
use opt_common::{REASSOC_F32, same_interface, same_values, sizes};

fn gpt_train_graph(layers: usize) -> Graph {
    let cfg = vec![("layers".to_string(), layers.to_string()), ("loss".to_string(), "true".to_string())];
    let g = irc_frontends::zoo::build("gpt-tiny", &cfg).expect("gpt-tiny builds");
    let params: Vec<String> = g.params().map(|(_, n, _)| n.to_string()).collect();
    let wrt: Vec<&str> = params.iter().map(String::as_str).collect();
    irc_passes::differentiate(&g, "loss", &wrt).expect("differentiates")
}

#[test]
fn gpt_12_blocks_forward_backward_within_limits() {
    let g = gpt_train_graph(12);
    let opts = OptOptions::default();
    let (h, report) = optimize(&g, &opts).expect("optimizes");
    println!("{} nodes\n{report}", g.len());
    same_interface(&g, &h).unwrap();
    for r in &report.regions {
        assert!(r.nodes <= opts.region_nodes, "{r:?}");
        assert!(r.iterations <= opts.iter_limit, "{r:?}");
        // egg stops at the first iteration that ends above the node limit.
        assert!(r.egraph_nodes <= 2 * opts.node_limit, "{r:?}");
    }
    assert!(report.cost_after <= report.cost_before * (1.0 + 1e-9), "{report}");
}

#[test]
fn gpt_2_blocks_forward_backward_keeps_values() {
    let g = gpt_train_graph(2);
    let (h, report) = optimize(&g, &OptOptions::default()).expect("optimizes");
    println!("{report}");
    same_interface(&g, &h).unwrap();
    same_values(&g, &h, &sizes(&[("B", 2), ("T", 8)]), 1, REASSOC_F32).unwrap();
}

#[test]
fn tight_limits_stop_early_and_still_give_a_valid_graph() {
    let g = gpt_train_graph(2);
    let s = sizes(&[("B", 2), ("T", 8)]);
    let cases = [
        (OptOptions { iter_limit: 1, ..OptOptions::default() }, "IterationLimit"),
        (OptOptions { node_limit: 100, ..OptOptions::default() }, "NodeLimit"),
        (OptOptions { time_limit: std::time::Duration::from_millis(1), ..OptOptions::default() }, "TimeLimit"),
    ];
    for (opts, stop) in cases {
        let (h, report) = optimize(&g, &opts).expect("optimizes");
        assert!(report.regions.iter().any(|r| r.stop.starts_with(stop)), "{stop}: {report:?}");
        assert!(report.regions.iter().all(|r| r.iterations <= opts.iter_limit), "{report}");
        same_interface(&g, &h).unwrap();
        same_values(&g, &h, &s, 2, REASSOC_F32).unwrap();
    }
    let small = OptOptions { region_nodes: 100, ..OptOptions::default() };
    let (h, report) = optimize(&g, &small).expect("optimizes");
    assert!(report.regions.len() > 5 && report.regions.iter().all(|r| r.nodes <= 100), "{report}");
    same_values(&g, &h, &s, 3, REASSOC_F32).unwrap();
}
