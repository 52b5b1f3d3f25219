//! The random graph generator: verified graphs, every op kind, and the guarantees its docs promise.

use std::collections::{HashMap, HashSet};

use irc_ir::{BinaryOp, DType, Dim, Graph, NodeId, Op};
use irc_tests::{Choice, GenConfig, MIN_BINDING, Rng, SYMBOLS, build_graph};

/// Graphs from fixed seeds, so these checks are deterministic.
fn sample(cfg: &GenConfig, n: u64) -> Vec<Graph> {
    (0..n)
        .map(|seed| {
            let mut rng = Rng::new(seed);
            let len = 1 + rng.below(cfg.max_nodes);
            let choices: Vec<(Choice, u64)> = (0..len).map(|_| (*rng.pick(&Choice::ALL), rng.next_u64())).collect();
            build_graph(cfg, &choices)
        })
        .collect()
}

fn configs() -> [GenConfig; 3] {
    [GenConfig::symbolic(24), GenConfig::static_dims(24), GenConfig { max_nodes: 24, symbolic: true, zero_size: true }]
}

fn dims(g: &Graph) -> impl Iterator<Item = &Dim> {
    g.nodes().iter().flat_map(|n| n.ty.shape.dims())
}

#[test]
fn graphs_verify_and_stay_small() {
    for cfg in configs() {
        for g in sample(&cfg, 300) {
            assert_eq!(g.verify(), Ok(()));
            assert!(g.len() <= cfg.max_nodes + 4, "{} nodes", g.len());
            assert!(!g.outputs().is_empty());
            assert!(g.nodes().iter().all(|n| n.ty.rank() <= 4), "{g}");
        }
    }
}

#[test]
fn every_op_kind_is_generated() {
    let mut seen = HashSet::new();
    for cfg in configs() {
        for g in sample(&cfg, 300) {
            seen.extend(g.nodes().iter().map(|n| n.op.name()));
        }
    }
    for name in Op::prototypes().iter().map(Op::name) {
        assert!(seen.contains(name), "generator never produced `{name}`");
    }
}

#[test]
fn interesting_cases_are_generated() {
    let (mut batched_matmul, mut shared_weight, mut offset_dim, mut empty, mut scalar) = (0, 0, 0, 0, 0);
    for cfg in configs() {
        for g in sample(&cfg, 300) {
            for n in g.nodes() {
                if let Op::MatMul = n.op {
                    let (a, b) = (g.ty(n.inputs[0]), g.ty(n.inputs[1]));
                    batched_matmul += usize::from(a.rank() > 2 || b.rank() > 2);
                    shared_weight += usize::from(a.rank() != b.rank());
                }
                scalar += usize::from(n.ty.rank() == 0 && !n.op.is_leaf());
            }
            offset_dim += dims(&g).filter(|d| matches!(d, Dim::Sym { offset, .. } if *offset != 0)).count();
            empty += dims(&g).filter(|d| **d == Dim::Static(0)).count();
        }
    }
    for (what, count) in [
        ("batched matmul", batched_matmul),
        ("matmul broadcasting a weight over batch dims", shared_weight),
        ("symbolic dim with an offset", offset_dim),
        ("zero-size dim", empty),
        ("computed 0-d tensor", scalar),
    ] {
        assert!(count > 0, "never generated: {what}");
    }
}

#[test]
fn static_graphs_have_no_symbols_or_empty_dims() {
    for g in sample(&GenConfig::static_dims(24), 300) {
        assert!(g.nodes().iter().all(|n| n.ty.shape.is_static()), "{g}");
        assert!(dims(&g).all(|d| *d != Dim::Static(0)), "{g}");
    }
}

#[test]
fn leaves_are_f32_except_indices_and_iota() {
    for g in sample(&GenConfig::symbolic(24), 300) {
        for n in g.nodes() {
            match &n.op {
                Op::Input { ty, .. } | Op::Param { ty, .. } => assert_eq!(ty.dtype, DType::F32),
                Op::Literal { ty, .. } if ty.dtype != DType::F32 => assert!(ty.dtype.is_int()),
                _ => {}
            }
        }
    }
}

/// Row-major coordinates of flat position `i` in `shape`.
fn coords(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut c = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        c[k] = i % d.max(1);
        i /= d.max(1);
    }
    c
}

/// Evaluates an index tensor. The generator builds indices only from iota, literal, const, expand and sub.
fn eval_index(g: &Graph, id: NodeId, bind: &HashMap<String, usize>) -> Vec<i64> {
    let node = g.node(id);
    let shape = node.ty.shape.bind(bind).unwrap();
    let numel: usize = shape.iter().product();
    match &node.op {
        Op::Iota { axis, .. } => (0..numel).map(|i| coords(i, &shape)[*axis] as i64).collect(),
        Op::Literal { data, .. } => data.iter().map(|&v| v as i64).collect(),
        Op::Const { value, .. } => vec![*value as i64],
        Op::Expand { .. } => {
            let src = eval_index(g, node.inputs[0], bind);
            let src_shape = g.ty(node.inputs[0]).shape.bind(bind).unwrap();
            let lead = shape.len() - src_shape.len();
            (0..numel)
                .map(|i| {
                    let c = coords(i, &shape);
                    let flat = src_shape.iter().enumerate().fold(0, |acc, (k, &d)| acc * d + c[lead + k] % d);
                    src[flat]
                })
                .collect()
        }
        Op::Binary { op: BinaryOp::Sub } => {
            let (a, b) = (eval_index(g, node.inputs[0], bind), eval_index(g, node.inputs[1], bind));
            a.iter().zip(&b).map(|(x, y)| x - y).collect()
        }
        other => panic!("index %{} is built from `{}`", id.0, other.name()),
    }
}

#[test]
fn indices_are_in_range_and_symbolic_dims_positive() {
    for cfg in configs() {
        for g in sample(&cfg, 300) {
            for extra in [0, 2] {
                let bind: HashMap<String, usize> =
                    SYMBOLS.iter().map(|s| (s.to_string(), MIN_BINDING + extra)).collect();
                for n in g.nodes() {
                    let sizes = n.ty.shape.bind(&bind).expect("every dim binds");
                    assert!(cfg.zero_size || sizes.iter().all(|&d| d >= 1), "{g}");
                    let bound = match &n.op {
                        Op::Gather { axis } => &g.ty(n.inputs[0]).shape.0[*axis],
                        Op::ScatterAdd { size, .. } => size,
                        _ => continue,
                    };
                    let bound = bound.bind(&bind).unwrap() as i64;
                    let values = eval_index(&g, n.inputs[1], &bind);
                    assert!(values.iter().all(|v| (0..bound).contains(v)), "index out of 0..{bound}: {values:?}\n{g}");
                }
            }
            for d in dims(&g) {
                if let Dim::Sym { name, offset } = d {
                    assert!(SYMBOLS.contains(&name.as_str()) && *offset >= -2, "{d}");
                }
            }
        }
    }
}

#[test]
fn generation_is_deterministic() {
    let cfg = GenConfig::symbolic(16);
    assert_eq!(sample(&cfg, 20), sample(&cfg, 20));
}

#[test]
#[ignore = "diagnostic: cargo test -p irc-tests --test generator -- --ignored --nocapture"]
fn op_histogram() {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let graphs = sample(&GenConfig::symbolic(24), 300);
    for g in &graphs {
        for n in g.nodes() {
            *counts.entry(n.op.name()).or_default() += 1;
        }
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by_key(|(_, c)| std::cmp::Reverse(*c));
    let total: usize = graphs.iter().map(Graph::len).sum();
    println!("{} graphs, {total} nodes: {counts:?}", graphs.len());
}
