//! Group 3 (fusion discovery): the softmax-attention pattern becomes one `attention` op keeping its
//! mask (causal into causal, unmasked into unmasked), the Monarch pattern one `monarch` op; near
//! misses (another op in the middle, another mask, another softmax axis, another layout) do not fuse;
//! extraction keeps the fused op because the cost model says it is cheaper, and keeps the original
//! where the scores are needed anyway. Values: `opt_common::check` (reference interpreter).

mod opt_common;

use irc_frontends::dsl::{ModelBuilder, Var};
use irc_frontends::nn;
use irc_ir::{BinaryOp, DType, Dim, Graph, NodeId, Op, ReduceOp, Shape, TensorType, UnaryOp};
use irc_passes::opt::{OptOptions, RuleGroup, Target};
use opt_common::{REASSOC_F32, check, sizes};

/// How a hand-built attention differs from the naive pattern.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    /// `softmax(q k^T * s) v`.
    Plain,
    /// `softmax(q k^T) v` (no scale).
    Unscaled,
    /// `softmax(select(j <= i, q k^T * s, -1e9)) v`.
    Causal,
    /// The mask `i <= j` (anti-causal): a different mask, not the causal one.
    AntiCausal,
    /// `softmax(tanh(q k^T * s)) v`: another op between the scores and the softmax.
    TanhScores,
    /// `(softmax(q k^T * s) * 2) v`: another op between the softmax and the matmul.
    ScaledProbs,
    /// The softmax over the query axis instead of the key axis.
    QueryAxis,
}

fn input(g: &mut Graph, name: &str, dims: Vec<Dim>) -> NodeId {
    g.push(Op::Input { name: name.into(), ty: TensorType::new(DType::F32, Shape(dims)) }, &[]).unwrap()
}

fn splat(g: &mut Graph, v: f64, like: NodeId) -> NodeId {
    let c = g.push(Op::Const { value: v, dtype: DType::F32 }, &[]).unwrap();
    g.push(Op::Expand { shape: g.ty(like).shape.clone() }, &[c]).unwrap()
}

fn bin(g: &mut Graph, op: BinaryOp, a: NodeId, b: NodeId) -> NodeId {
    g.push(Op::Binary { op }, &[a, b]).unwrap()
}

/// `reduce(x)` over `axis`, expanded back.
fn row(g: &mut Graph, op: ReduceOp, axis: usize, x: NodeId) -> NodeId {
    let r = g.push(Op::Reduce { op, axes: vec![axis] }, &[x]).unwrap();
    g.push(Op::Expand { shape: g.ty(x).shape.clone() }, &[r]).unwrap()
}

/// `q: [2, T, 4]`, `k: [2, T, 4]`, `v: [2, T, 3]` -> `[2, T, 3]`, built node by node.
fn attention(variant: Variant) -> Graph {
    let t = Dim::from("T");
    let mut g = Graph::new("attn");
    let q = input(&mut g, "q", vec![Dim::Static(2), t.clone(), Dim::Static(4)]);
    let k = input(&mut g, "k", vec![Dim::Static(2), t.clone(), Dim::Static(4)]);
    let v = input(&mut g, "v", vec![Dim::Static(2), t.clone(), Dim::Static(3)]);
    let kt = g.push(Op::Permute { perm: vec![0, 2, 1] }, &[k]).unwrap();
    let mut s = g.push(Op::MatMul, &[q, kt]).unwrap();
    if variant != Variant::Unscaled {
        let c = splat(&mut g, 0.5, s);
        s = bin(&mut g, BinaryOp::Mul, s, c);
    }
    if matches!(variant, Variant::Causal | Variant::AntiCausal) {
        let ty = TensorType::new(DType::I32, Shape(vec![t.clone(), t.clone()]));
        let rows = g.push(Op::Iota { axis: 0, ty: ty.clone() }, &[]).unwrap();
        let cols = g.push(Op::Iota { axis: 1, ty }, &[]).unwrap();
        let (a, b) = if variant == Variant::Causal { (cols, rows) } else { (rows, cols) };
        let visible = bin(&mut g, BinaryOp::Le, a, b);
        let mask = g.push(Op::Expand { shape: g.ty(s).shape.clone() }, &[visible]).unwrap();
        let fill = splat(&mut g, -1e9, s);
        s = g.push(Op::Select, &[mask, s, fill]).unwrap();
    }
    if variant == Variant::TanhScores {
        s = g.push(Op::Unary { op: UnaryOp::Tanh }, &[s]).unwrap();
    }
    let axis = if variant == Variant::QueryAxis { 1 } else { 2 };
    let mx = row(&mut g, ReduceOp::Max, axis, s);
    let d = bin(&mut g, BinaryOp::Sub, s, mx);
    let e = g.push(Op::Unary { op: UnaryOp::Exp }, &[d]).unwrap();
    let sum = row(&mut g, ReduceOp::Sum, axis, e);
    let mut p = bin(&mut g, BinaryOp::Div, e, sum);
    if variant == Variant::ScaledProbs {
        let two = splat(&mut g, 2.0, p);
        p = bin(&mut g, BinaryOp::Mul, p, two);
    }
    let y = g.push(Op::MatMul, &[p, v]).unwrap();
    g.add_output("y", y).unwrap();
    g
}

fn fused_ops(h: &Graph) -> Vec<Op> {
    h.nodes().iter().filter(|n| n.op.is_fused()).map(|n| n.op.clone()).collect()
}

/// A target whose fused kernels run at its peak rate (the CPU target prices them at a quarter of it).
fn full_rate() -> Target {
    let cpu = Target::cpu();
    Target { fused_flops: cpu.peak_flops, ..cpu }
}

fn fusion() -> OptOptions {
    OptOptions { target: full_rate(), ..OptOptions::with_groups(&[RuleGroup::Fusion]) }
}

fn run(g: &Graph, opts: &OptOptions) -> (Graph, irc_passes::opt::OptReport) {
    check(g, opts, &sizes(&[("T", 6)]), 7, REASSOC_F32)
}

#[test]
fn attention_fuses_keeping_its_mask_and_scale() {
    let cases = [
        (Variant::Plain, "fuse-attention", Op::Attention { scale: 0.5, causal: false, fill: 0.0 }),
        (Variant::Unscaled, "fuse-attention", Op::Attention { scale: 1.0, causal: false, fill: 0.0 }),
        (Variant::Causal, "fuse-causal-attention", Op::Attention { scale: 0.5, causal: true, fill: -1e9 }),
    ];
    for (variant, rule, want) in cases {
        let (h, report) = run(&attention(variant), &fusion());
        assert_eq!(fused_ops(&h), vec![want], "{variant:?}:\n{h}");
        assert_eq!(report.applied(rule), 1, "{variant:?}");
        // The scores, the softmax and both matmuls are gone: the inputs, a permute and the op.
        assert!(!h.nodes().iter().any(|n| matches!(n.op, Op::MatMul | Op::Reduce { .. })), "{variant:?}:\n{h}");
        assert!(report.cost_after < report.cost_before, "{variant:?}: {report}");
    }
}

#[test]
fn near_misses_do_not_fuse() {
    for variant in [Variant::AntiCausal, Variant::TanhScores, Variant::ScaledProbs, Variant::QueryAxis] {
        let (h, report) = run(&attention(variant), &fusion());
        assert!(fused_ops(&h).is_empty(), "{variant:?} fused:\n{h}");
        assert_eq!(report.applied("fuse-attention") + report.applied("fuse-causal-attention"), 0, "{variant:?}");
    }
}

#[test]
fn the_dsl_attention_fuses_in_both_forms() {
    for causal in [false, true] {
        let b = ModelBuilder::new("sdpa");
        let shape = || vec![Dim::from("B"), Dim::Static(2), Dim::from("T"), Dim::Static(8)];
        let [q, k, v]: [Var; 3] = ["q", "k", "v"].map(|n| b.input(n, DType::F32, shape()));
        let y = nn::scaled_dot_product_attention(&q, &k, &v, causal);
        let g = b.finish(&[("y", &y)]).unwrap();
        let opts = OptOptions { target: full_rate(), ..OptOptions::default() };
        let (h, _) = check(&g, &opts, &sizes(&[("B", 2), ("T", 7)]), 11, REASSOC_F32);
        let ops = fused_ops(&h);
        assert!(
            matches!(ops.as_slice(), [Op::Attention { causal: c, fill, .. }] if *c == causal && (!causal || *fill == nn::MASK_VALUE)),
            "causal={causal}: {ops:?}"
        );
    }
}

/// On the CPU target the fused attention's scalar arithmetic costs more than the scores' memory
/// traffic saves at the gpt-block's size: the rule fires, and extraction keeps the pattern.
#[test]
fn the_cpu_target_keeps_attention_unfused_where_fusion_costs_more() {
    let b = ModelBuilder::new("sdpa");
    let shape = || vec![Dim::Static(4), Dim::Static(4), Dim::Static(256), Dim::Static(64)];
    let [q, k, v]: [Var; 3] = ["q", "k", "v"].map(|n| b.input(n, DType::F32, shape()));
    let y = nn::scaled_dot_product_attention(&q, &k, &v, true);
    let g = b.finish(&[("y", &y)]).unwrap();
    let (h, report) = irc_passes::opt::optimize(&g, &OptOptions::default()).unwrap();
    assert_eq!(report.applied("fuse-causal-attention"), 1);
    assert!(fused_ops(&h).is_empty(), "{h}");
    let opts = OptOptions { target: full_rate(), ..OptOptions::default() };
    let (h, _) = irc_passes::opt::optimize(&g, &opts).unwrap();
    assert_eq!(fused_ops(&h).len(), 1, "{h}");
}

#[test]
fn fusion_is_off_without_its_group() {
    let opts = OptOptions::with_groups(&[RuleGroup::Simplify, RuleGroup::MatmulAssoc]);
    let (h, _) = run(&attention(Variant::Causal), &opts);
    assert!(fused_ops(&h).is_empty());
}

/// With the probabilities also an output, the scores are materialized anyway: the fused op would be
/// extra work, and extraction keeps the pattern.
#[test]
fn extraction_keeps_the_pattern_where_the_scores_are_needed() {
    let mut g = attention(Variant::Causal);
    let probs = g.nodes().iter().rposition(|n| matches!(n.op, Op::Binary { op: BinaryOp::Div })).unwrap();
    g.add_output("p", NodeId(probs)).unwrap();
    let (h, report) = run(&g, &fusion());
    assert_eq!(report.applied("fuse-causal-attention"), 1);
    assert!(fused_ops(&h).is_empty(), "{h}");
}

/// `x: [B, T, d]` through one `monarch_linear` (`d -> d_out` with `blocks` blocks).
fn monarch(d: usize, d_out: usize, blocks: usize) -> Graph {
    let b = ModelBuilder::new("monarch");
    let x = b.input("x", DType::F32, vec![Dim::from("B"), Dim::from("T"), Dim::Static(d)]);
    let y = nn::monarch_linear("m", &x, d_out, blocks);
    b.finish(&[("y", &y)]).unwrap()
}

#[test]
fn monarch_fuses_for_square_and_rectangular_layers() {
    for (d, d_out, blocks) in [(16, 16, 4), (16, 32, 4), (32, 16, 2), (12, 18, 3)] {
        let g = monarch(d, d_out, blocks);
        let (h, report) = check(&g, &fusion(), &sizes(&[("B", 2), ("T", 3)]), 5, REASSOC_F32);
        assert_eq!(fused_ops(&h), vec![Op::Monarch], "{d}->{d_out} ({blocks} blocks):\n{h}");
        assert_eq!(report.applied("fuse-monarch"), 1);
        assert!(!h.nodes().iter().any(|n| matches!(n.op, Op::MatMul)), "{h}");
        assert!(report.cost_after < report.cost_before, "{report}");
    }
}

/// The same chain with the middle permutation left out is not a Monarch product.
#[test]
fn monarch_without_the_permutation_does_not_fuse() {
    let (m, a) = (4, 4);
    let b = ModelBuilder::new("no-perm");
    let x = b.input("x", DType::F32, vec![Dim::from("B"), Dim::Static(m * a)]);
    let r = b.param("r", DType::F32, [m, a, m], irc_ir::Init::Ones);
    let l = b.param("l", DType::F32, [m, m, m], irc_ir::Init::Ones);
    let bd = || Dim::from("B");
    let u = x.reshape(vec![bd(), m.into(), 1.into(), a.into()]).matmul(&r).reshape(vec![bd(), m.into(), m.into()]);
    let w = u.reshape(vec![bd(), m.into(), 1.into(), m.into()]).matmul(&l).reshape(vec![bd(), m.into(), m.into()]);
    let y = w.transpose(-1, -2).reshape(vec![bd(), (m * m).into()]);
    let g = b.finish(&[("y", &y)]).unwrap();
    let (h, report) = check(&g, &fusion(), &sizes(&[("B", 3)]), 2, REASSOC_F32);
    assert!(fused_ops(&h).is_empty(), "{h}");
    assert_eq!(report.applied("fuse-monarch"), 0);
}
