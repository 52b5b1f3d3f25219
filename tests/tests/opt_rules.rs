//! Each rule group fires where it should and not where it must not; extraction pays a shared
//! subterm once; a rule that changes a type is reported, not applied.

mod opt_common;

use irc_ir::{BinaryOp, DType, Graph, NodeId, Op, ReduceOp, Shape, TensorType, UnaryOp};
use irc_passes::opt::{Exactness, OptError, OptOptions, Rhs, RuleDef, RuleGroup, optimize};
use opt_common::{REASSOC_F32, Tol, check, sizes};

fn input(g: &mut Graph, name: &str, shape: Shape) -> NodeId {
    g.push(Op::Input { name: name.into(), ty: TensorType::new(DType::F32, shape) }, &[]).unwrap()
}

fn fill(g: &mut Graph, v: f64, like: NodeId) -> NodeId {
    let c = g.push(Op::Const { value: v, dtype: g.ty(like).dtype }, &[]).unwrap();
    g.push(Op::Expand { shape: g.ty(like).shape.clone() }, &[c]).unwrap()
}

fn bin(g: &mut Graph, op: BinaryOp, a: NodeId, b: NodeId) -> NodeId {
    g.push(Op::Binary { op }, &[a, b]).unwrap()
}

fn un(g: &mut Graph, op: UnaryOp, a: NodeId) -> NodeId {
    g.push(Op::Unary { op }, &[a]).unwrap()
}

fn permute(g: &mut Graph, perm: &[usize], a: NodeId) -> NodeId {
    g.push(Op::Permute { perm: perm.to_vec() }, &[a]).unwrap()
}

fn matmul(g: &mut Graph, a: NodeId, b: NodeId) -> NodeId {
    g.push(Op::MatMul, &[a, b]).unwrap()
}

fn simplify() -> OptOptions {
    OptOptions::with_groups(&[RuleGroup::Simplify])
}

/// Optimizes `g` (exact rules), checks it, and returns the result's node count and the report.
fn run(g: &Graph, opts: &OptOptions, tol: Tol) -> (Graph, irc_passes::opt::OptReport) {
    check(g, opts, &sizes(&[("B", 2), ("T", 5)]), 3, tol)
}

/// A graph with one input `x: f32[2, 3, 4]` and one output built by `f`.
fn unary_case(f: impl Fn(&mut Graph, NodeId) -> NodeId) -> Graph {
    let mut g = Graph::new("t");
    let x = input(&mut g, "x", Shape::of(&[2, 3, 4]));
    let y = f(&mut g, x);
    g.add_output("y", y).unwrap();
    g
}

#[test]
fn exact_rules_fire_and_reduce_to_the_input() {
    type Case = (&'static str, fn(&mut Graph, NodeId) -> NodeId);
    let cases: [Case; 14] = [
        ("mul-one", |g, x| {
            let one = fill(g, 1.0, x);
            bin(g, BinaryOp::Mul, x, one)
        }),
        ("one-mul", |g, x| {
            let one = fill(g, 1.0, x);
            bin(g, BinaryOp::Mul, one, x)
        }),
        ("div-one", |g, x| {
            let one = fill(g, 1.0, x);
            bin(g, BinaryOp::Div, x, one)
        }),
        ("add-zero", |g, x| {
            let z = fill(g, 0.0, x);
            bin(g, BinaryOp::Add, x, z)
        }),
        ("zero-add", |g, x| {
            let z = fill(g, 0.0, x);
            bin(g, BinaryOp::Add, z, x)
        }),
        ("sub-zero", |g, x| {
            let z = fill(g, 0.0, x);
            bin(g, BinaryOp::Sub, x, z)
        }),
        ("neg-neg", |g, x| {
            let n = un(g, UnaryOp::Neg, x);
            un(g, UnaryOp::Neg, n)
        }),
        ("select-same", |g, x| {
            let c = bin(g, BinaryOp::Lt, x, x);
            g.push(Op::Select, &[c, x, x]).unwrap()
        }),
        ("cast-same", |g, x| g.push(Op::Cast { dtype: DType::F32 }, &[x]).unwrap()),
        ("permute-id", |g, x| permute(g, &[0, 1, 2], x)),
        ("permute-permute", |g, x| {
            let p = permute(g, &[1, 2, 0], x);
            permute(g, &[2, 0, 1], p)
        }),
        ("reshape-id", |g, x| g.push(Op::Reshape { shape: Shape::of(&[2, 3, 4]) }, &[x]).unwrap()),
        ("reshape-reshape", |g, x| {
            let r = g.push(Op::Reshape { shape: Shape::of(&[6, 4]) }, &[x]).unwrap();
            g.push(Op::Reshape { shape: Shape::of(&[2, 3, 4]) }, &[r]).unwrap()
        }),
        ("slice-full", |g, x| g.push(Op::Slice { axis: 1, start: 0, end: 3.into() }, &[x]).unwrap()),
    ];
    for (rule, build) in cases {
        let g = unary_case(build);
        let (h, report) = run(&g, &simplify(), Tol::Exact);
        assert!(report.applied(rule) >= 1, "{rule} did not fire:\n{report}");
        assert_eq!(h.len(), 1, "{rule}: expected y = x, got\n{}", irc_ir::print(&h));
        assert_eq!(h.outputs()[0].node, NodeId(0));
    }
}

#[test]
fn select_on_a_constant_condition_and_expand_folding() {
    let g = unary_case(|g, x| {
        let t = g.push(Op::Const { value: 1.0, dtype: DType::Bool }, &[]).unwrap();
        let c = g.push(Op::Expand { shape: Shape::of(&[2, 3, 4]) }, &[t]).unwrap();
        let n = un(g, UnaryOp::Neg, x);
        g.push(Op::Select, &[c, x, n]).unwrap()
    });
    let (h, report) = run(&g, &simplify(), Tol::Exact);
    assert!(report.applied("select-true") >= 1, "{report}");
    assert_eq!(h.len(), 1);

    let mut g = Graph::new("t");
    let x = input(&mut g, "x", Shape::of(&[4]));
    let e1 = g.push(Op::Expand { shape: Shape::of(&[3, 4]) }, &[x]).unwrap();
    let e2 = g.push(Op::Expand { shape: Shape::of(&[2, 3, 4]) }, &[e1]).unwrap();
    let e3 = g.push(Op::Expand { shape: Shape::of(&[2, 3, 4]) }, &[e2]).unwrap();
    g.add_output("y", e3).unwrap();
    let (h, report) = run(&g, &simplify(), Tol::Exact);
    assert!(report.applied("expand-expand") >= 1 && report.applied("expand-id") >= 1, "{report}");
    assert_eq!(h.len(), 2, "{}", irc_ir::print(&h));
}

#[test]
fn constant_folding_replaces_constant_math() {
    let g = unary_case(|g, x| {
        let two = fill(g, 2.0, x);
        let l = un(g, UnaryOp::Log, two);
        let e = un(g, UnaryOp::Exp, l);
        bin(g, BinaryOp::Mul, x, e)
    });
    let (h, report) = run(&g, &simplify(), Tol::Exact);
    assert!(report.applied("constant-fold") >= 1, "{report}");
    assert!(!h.nodes().iter().any(|n| matches!(n.op, Op::Unary { .. })), "{}", irc_ir::print(&h));
}

#[test]
fn exact_rules_do_not_fire_where_they_must_not() {
    // x * 2, x * 0 (NaN and infinities make it not 0), a non-identity permute, exp(log x) for an x
    // that may be negative, log(exp x) and distributivity without the float-algebra group.
    let cases: [fn(&mut Graph, NodeId) -> NodeId; 5] = [
        |g, x| {
            let two = fill(g, 2.0, x);
            bin(g, BinaryOp::Mul, x, two)
        },
        |g, x| {
            let z = fill(g, 0.0, x);
            bin(g, BinaryOp::Mul, x, z)
        },
        |g, x| permute(g, &[1, 0, 2], x),
        |g, x| {
            let l = un(g, UnaryOp::Log, x);
            un(g, UnaryOp::Exp, l)
        },
        |g, x| {
            let e = un(g, UnaryOp::Exp, x);
            un(g, UnaryOp::Log, e)
        },
    ];
    for build in cases {
        let g = unary_case(build);
        let (h, report) = run(&g, &OptOptions::default(), Tol::Exact);
        assert_eq!(h.len(), g.len(), "{report}\n{}", irc_ir::print(&h));
        assert!(report.rules.is_empty(), "{report}");
    }
    let g = unary_case(|g, x| {
        let l = un(g, UnaryOp::Log, x);
        un(g, UnaryOp::Exp, l)
    });
    let (_, report) = run(&g, &OptOptions::all_groups(), Tol::Exact);
    assert_eq!(report.applied("exp-log"), 0, "x may be negative: {report}");
}

#[test]
fn float_algebra_rules_fire_when_enabled() {
    let g = unary_case(|g, x| {
        let e = un(g, UnaryOp::Exp, x);
        let l = un(g, UnaryOp::Log, e);
        let e2 = un(g, UnaryOp::Exp, l);
        let l2 = un(g, UnaryOp::Log, e2);
        un(g, UnaryOp::Exp, l2)
    });
    let (h, report) = run(&g, &OptOptions::all_groups(), REASSOC_F32);
    assert!(report.applied("log-exp") >= 1, "{report}");
    assert!(h.len() <= 2, "{}", irc_ir::print(&h));

    // exp(log(exp x)): the inner exp is non-negative, so exp-log applies too.
    let g = unary_case(|g, x| {
        let e = un(g, UnaryOp::Exp, x);
        let l = un(g, UnaryOp::Log, e);
        let s = un(g, UnaryOp::Sqrt, l);
        let l2 = un(g, UnaryOp::Log, s);
        un(g, UnaryOp::Exp, l2)
    });
    let (_, report) = run(&g, &OptOptions::all_groups(), Tol::Close { rtol: 1e-5, atol: 1e-6 });
    assert!(report.applied("exp-log") >= 1, "{report}");

    let mut g = Graph::new("t");
    let a = input(&mut g, "a", Shape::of(&[8, 16]));
    let b = input(&mut g, "b", Shape::of(&[16, 4]));
    let c = input(&mut g, "c", Shape::of(&[16, 4]));
    let ab = matmul(&mut g, a, b);
    let ac = matmul(&mut g, a, c);
    let y = bin(&mut g, BinaryOp::Add, ab, ac);
    g.add_output("y", y).unwrap();
    let (h, report) = run(&g, &OptOptions::all_groups(), REASSOC_F32);
    assert!(report.applied("factor-matmul-left") >= 1, "{report}");
    assert_eq!(h.nodes().iter().filter(|n| n.op == Op::MatMul).count(), 1, "{}", irc_ir::print(&h));
    let (h, _) = run(&g, &OptOptions::default(), Tol::Exact);
    assert_eq!(h.nodes().iter().filter(|n| n.op == Op::MatMul).count(), 2);
}

#[test]
fn matmul_chains_reassociate_by_cost() {
    // (A B) C with C narrow: A (B C) does far fewer flops.
    let mut g = Graph::new("chain");
    let a = input(&mut g, "a", Shape::of(&[64, 64]));
    let b = input(&mut g, "b", Shape::of(&[64, 64]));
    let c = input(&mut g, "c", Shape::of(&[64, 2]));
    let ab = matmul(&mut g, a, b);
    let y = matmul(&mut g, ab, c);
    g.add_output("y", y).unwrap();
    let (h, report) = run(&g, &OptOptions::default(), REASSOC_F32);
    assert!(report.applied("matmul-assoc-right") >= 1, "{report}");
    let out = h.node(h.outputs()[0].node);
    assert_eq!(out.inputs[0], NodeId(0), "expected a (b c):\n{}", irc_ir::print(&h));
    assert!(report.cost_after < report.cost_before, "{report}");

    // A (B C) with A narrow: (A B) C is cheaper.
    let mut g = Graph::new("chain");
    let a = input(&mut g, "a", Shape::of(&[2, 64]));
    let b = input(&mut g, "b", Shape::of(&[64, 64]));
    let c = input(&mut g, "c", Shape::of(&[64, 64]));
    let bc = matmul(&mut g, b, c);
    let y = matmul(&mut g, a, bc);
    g.add_output("y", y).unwrap();
    let (h, report) = run(&g, &OptOptions::default(), REASSOC_F32);
    assert!(report.applied("matmul-assoc-left") >= 1, "{report}");
    assert_eq!(h.node(h.outputs()[0].node).inputs[1], NodeId(2), "expected (a b) c:\n{}", irc_ir::print(&h));
}

/// Linear attention `(phi(Q) phi(K)^T) V` over `[B, T, D]`, optionally with a causal mask on the
/// scores; `phi = exp`.
fn linear_attention(causal: bool, scaled: bool) -> Graph {
    let mut g = Graph::new("linear-attention");
    let shape = || Shape::from([irc_ir::Dim::from("B"), "T".into(), 16.into()]);
    let (q, k, v) = (input(&mut g, "q", shape()), input(&mut g, "k", shape()), input(&mut g, "v", shape()));
    let pq = un(&mut g, UnaryOp::Exp, q);
    let pk = un(&mut g, UnaryOp::Exp, k);
    let kt = permute(&mut g, &[0, 2, 1], pk);
    let mut scores = matmul(&mut g, pq, kt);
    if scaled {
        let s = fill(&mut g, 0.25, scores);
        scores = bin(&mut g, BinaryOp::Mul, scores, s);
    }
    if causal {
        let tt = TensorType::new(DType::I32, Shape::from(["B", "T", "T"]));
        let i = g.push(Op::Iota { axis: 1, ty: tt.clone() }, &[]).unwrap();
        let j = g.push(Op::Iota { axis: 2, ty: tt }, &[]).unwrap();
        let mask = bin(&mut g, BinaryOp::Le, j, i);
        let zero = fill(&mut g, 0.0, scores);
        scores = g.push(Op::Select, &[mask, scores, zero]).unwrap();
    }
    let y = matmul(&mut g, scores, v);
    g.add_output("y", y).unwrap();
    g
}

fn has_square_scores(h: &Graph) -> bool {
    h.nodes().iter().any(|n| n.op == Op::MatMul && n.ty.shape == Shape::from(["B", "T", "T"]))
}

#[test]
fn linear_attention_reassociates_only_without_a_causal_mask() {
    let s = sizes(&[("B", 2), ("T", 7)]);
    for scaled in [false, true] {
        let g = linear_attention(false, scaled);
        assert!(has_square_scores(&g));
        let (h, report) = check(&g, &OptOptions::default(), &s, 5, REASSOC_F32);
        assert!(report.applied("matmul-assoc-right") >= 1, "{report}");
        assert_eq!(report.applied("matmul-scale-left") >= 1, scaled, "{report}");
        assert!(!has_square_scores(&h), "T x T scores remain:\n{}", irc_ir::print(&h));
        let state = Shape::from([irc_ir::Dim::from("B"), 16.into(), 16.into()]);
        assert!(h.nodes().iter().any(|n| n.op == Op::MatMul && n.ty.shape == state));
        assert!(report.cost_after < report.cost_before / 2.0, "{report}");

        let g = linear_attention(true, scaled);
        let (h, report) = check(&g, &OptOptions::all_groups(), &s, 5, REASSOC_F32);
        assert_eq!(report.applied("matmul-assoc-right"), 0, "{report}");
        assert!(has_square_scores(&h), "{}", irc_ir::print(&h));
    }
}

#[test]
fn a_shared_subterm_is_paid_once() {
    // y1 = A B is an output; y2 = (A B) C. Tree costs favour A (B C) for y2 (they count A B again),
    // but A B is computed anyway, so (A B) C only adds one small matmul.
    let mut g = Graph::new("shared");
    let a = input(&mut g, "a", Shape::of(&[64, 64]));
    let b = input(&mut g, "b", Shape::of(&[64, 64]));
    let c = input(&mut g, "c", Shape::of(&[64, 8]));
    let ab = matmul(&mut g, a, b);
    let y2 = matmul(&mut g, ab, c);
    g.add_output("y1", ab).unwrap();
    g.add_output("y2", y2).unwrap();

    let greedy_only = OptOptions { search_passes: 0, ..OptOptions::default() };
    // Greedy alone is worse than the input here, so `check`'s no-worse assertion does not apply.
    let (hg, rg) = optimize(&g, &greedy_only).unwrap();
    opt_common::same_interface(&g, &hg).unwrap();
    assert!(rg.cost_after > rg.cost_before, "{rg}");
    assert_eq!(
        hg.nodes().iter().filter(|n| n.op == Op::MatMul).count(),
        3,
        "greedy picks a (b c):\n{}",
        irc_ir::print(&hg)
    );

    let (h, report) = run(&g, &OptOptions::default(), REASSOC_F32);
    assert_eq!(h.nodes().iter().filter(|n| n.op == Op::MatMul).count(), 2, "{}", irc_ir::print(&h));
    let (y1, y2) = (h.outputs()[0].node, h.outputs()[1].node);
    assert_eq!(h.node(y2).inputs[0], y1, "y2 must reuse y1:\n{}", irc_ir::print(&h));
    let r = &report.regions[0];
    assert!(r.cost_after < r.cost_greedy, "{r:?}");
    assert!(report.cost_after < rg.cost_after, "{report}\n{rg}");
}

#[test]
fn a_rule_that_changes_a_type_is_reported() {
    let bad = RuleDef {
        name: "bad-drop-sum",
        group: RuleGroup::Simplify,
        exactness: Exactness::Exact,
        identity: "wrong on purpose: sum(x) = x",
        lhs: "(reduce_sum ?a ?x)",
        rhs: Rhs::Pat("?x"),
    };
    let g = unary_case(|g, x| g.push(Op::Reduce { op: ReduceOp::Sum, axes: vec![1] }, &[x]).unwrap());
    let opts = OptOptions { extra_rules: vec![bad], ..OptOptions::default() };
    match optimize(&g, &opts) {
        Err(OptError::UnsoundRewrite(msg)) => assert!(msg.contains("bad-drop-sum"), "{msg}"),
        other => panic!("expected an unsound-rewrite error, got {other:?}"),
    }
    let malformed = RuleDef { lhs: "(no_such_op ?x)", ..bad };
    let opts = OptOptions { extra_rules: vec![malformed], ..OptOptions::default() };
    assert!(matches!(optimize(&g, &opts), Err(OptError::BadRule(_))));
}

#[test]
fn an_invalid_graph_is_an_error() {
    let g = unary_case(|g, x| un(g, UnaryOp::Exp, x));
    let mut json: serde_json::Value = serde_json::from_str(&g.to_json()).unwrap();
    json["nodes"][1]["ty"]["shape"] = serde_json::json!([5]);
    let bad: Graph = serde_json::from_value(json).unwrap();
    assert!(matches!(optimize(&bad, &OptOptions::default()), Err(OptError::InvalidGraph(_))));
}

#[test]
fn an_empty_max_is_not_folded_to_the_constant() {
    // max over an empty axis is -inf whatever the (vacuous) constant is.
    let mut g = Graph::new("t");
    let c = g.push(Op::Const { value: 2.0, dtype: DType::F32 }, &[]).unwrap();
    let e = g.push(Op::Expand { shape: Shape::of(&[0, 3]) }, &[c]).unwrap();
    let m = g.push(Op::Reduce { op: ReduceOp::Max, axes: vec![0] }, &[e]).unwrap();
    let full = g.push(Op::Expand { shape: Shape::of(&[4, 3]) }, &[c]).unwrap();
    let m2 = g.push(Op::Reduce { op: ReduceOp::Max, axes: vec![0] }, &[full]).unwrap();
    g.add_output("empty", m).unwrap();
    g.add_output("full", m2).unwrap();
    let (h, report) = run(&g, &simplify(), Tol::Exact);
    assert!(report.applied("constant-fold") >= 1, "{report}");
    let out = |i: usize| &h.node(h.outputs()[i].node).op;
    assert!(matches!(out(0), Op::Reduce { .. }), "{}", irc_ir::print(&h));
    assert!(!matches!(out(1), Op::Reduce { .. }), "{}", irc_ir::print(&h));
}

#[test]
fn negations_fold_into_subtractions() {
    type Case = (&'static str, fn(&mut Graph, NodeId, NodeId) -> NodeId, BinaryOp);
    let cases: [Case; 4] = [
        (
            "add-neg",
            |g, x, y| {
                let n = un(g, UnaryOp::Neg, y);
                bin(g, BinaryOp::Add, x, n)
            },
            BinaryOp::Sub,
        ),
        (
            "neg-add",
            |g, x, y| {
                let n = un(g, UnaryOp::Neg, y);
                bin(g, BinaryOp::Add, n, x)
            },
            BinaryOp::Sub,
        ),
        (
            "sub-neg",
            |g, x, y| {
                let n = un(g, UnaryOp::Neg, y);
                bin(g, BinaryOp::Sub, x, n)
            },
            BinaryOp::Add,
        ),
        (
            "neg-sub",
            |g, x, y| {
                let d = bin(g, BinaryOp::Sub, x, y);
                un(g, UnaryOp::Neg, d)
            },
            BinaryOp::Sub,
        ),
    ];
    for (rule, build, op) in cases {
        let mut g = Graph::new("t");
        let x = input(&mut g, "x", Shape::of(&[3, 4]));
        let y = input(&mut g, "y", Shape::of(&[3, 4]));
        let out = build(&mut g, x, y);
        g.add_output("out", out).unwrap();
        let (h, report) = run(&g, &simplify(), Tol::Exact);
        assert!(report.applied(rule) >= 1, "{rule}: {report}");
        assert_eq!(h.len(), 3, "{rule}: {}", irc_ir::print(&h));
        assert_eq!(h.node(h.outputs()[0].node).op, Op::Binary { op }, "{rule}: {}", irc_ir::print(&h));
    }
}

#[test]
fn the_report_has_per_output_costs() {
    let mut g = Graph::new("t");
    let a = input(&mut g, "a", Shape::of(&[64, 64]));
    let c = input(&mut g, "c", Shape::of(&[64, 2]));
    let aa = matmul(&mut g, a, a);
    let y = matmul(&mut g, aa, c);
    let n = un(&mut g, UnaryOp::Neg, a);
    let nn = un(&mut g, UnaryOp::Neg, n);
    g.add_output("y", y).unwrap();
    g.add_output("z", nn).unwrap();
    let (_, report) = run(&g, &OptOptions::default(), REASSOC_F32);
    let names: Vec<&str> = report.outputs.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["y", "z"]);
    assert!(report.outputs.iter().all(|(_, before, after)| after < before), "{report}");
    assert_eq!(report.outputs[1].2, 0.0, "z = a costs nothing: {report}");
    assert!(report.to_string().contains("output y: "), "{report}");
}
