//! Finite-difference checks of every primitive's gradient rule, in f64.
//!
//! Each case builds `loss = sum(f(params) * w)` with a fixed random weight `w` (so every output element
//! matters with a different factor), differentiates it, and compares each gradient entry with the
//! central difference `(L(p + h) - L(p - h)) / 2h`, h = 1e-5. In f64 the truncation error is about
//! h^2 |L'''| ~ 1e-10 and the rounding error about 1e-16 |L| / h ~ 1e-11, so a mismatch above
//! 1e-6 * max(1, |grad|) is a wrong rule, not noise. Random inputs keep away from kinks (ties of max,
//! zero of abs) with probability one.

use std::collections::HashMap;

use irc_ir::{BinaryOp, DType, Dim, Graph, Init, NodeId, Op, ReduceOp, Shape, TensorType, UnaryOp};
use irc_passes::differentiate;
use irc_runtime::{Rng, Tensor};
use irc_tests::{GradCheck, check_gradients};

const F: DType = DType::F64;

struct Case {
    g: Graph,
    rng: Rng,
}

impl Case {
    fn new(seed: u64) -> Case {
        Case { g: Graph::new("gradcheck"), rng: Rng::new(seed) }
    }

    fn param(&mut self, name: &str, dims: &[usize]) -> NodeId {
        let ty = TensorType::new(F, Shape::of(dims));
        self.g.push(Op::Param { name: name.into(), ty, init: Init::Normal { std: 1.0 } }, &[]).unwrap()
    }

    fn op(&mut self, op: Op, inputs: &[NodeId]) -> NodeId {
        self.g.push(op, inputs).unwrap()
    }

    fn literal(&mut self, dtype: DType, dims: &[usize], data: Vec<f64>) -> NodeId {
        self.op(Op::Literal { ty: TensorType::new(dtype, Shape::of(dims)), data }, &[])
    }

    /// A value kept away from zero: `|x| + 0.5`.
    fn positive(&mut self, x: NodeId) -> NodeId {
        let a = self.op(Op::Unary { op: UnaryOp::Abs }, &[x]);
        let half = self.op(Op::Const { value: 0.5, dtype: F }, &[]);
        let half = self.op(Op::Expand { shape: self.g.ty(x).shape.clone() }, &[half]);
        self.op(Op::Binary { op: BinaryOp::Add }, &[a, half])
    }

    /// Finishes with `loss = sum(y * w)` and checks every param's gradient.
    fn check(self, y: NodeId) {
        self.check_tol(y, 1e-5, 1e-6)
    }

    fn check_tol(mut self, y: NodeId, h: f64, tol: f64) {
        let shape = self.g.ty(y).shape.clone();
        let dims = shape.as_static().unwrap();
        let n: usize = dims.iter().product();
        let w: Vec<f64> = (0..n).map(|_| self.rng.normal()).collect();
        let w = self.literal(F, &dims, w);
        let yw = self.op(Op::Binary { op: BinaryOp::Mul }, &[y, w]);
        let s = if dims.is_empty() {
            yw
        } else {
            self.op(Op::Reduce { op: ReduceOp::Sum, axes: (0..dims.len()).collect() }, &[yw])
        };
        let loss = self.op(Op::Reshape { shape: Shape::scalar() }, &[s]);
        self.g.add_output("loss", loss).unwrap();
        self.g.verify().unwrap();

        let mut params: HashMap<String, Tensor> = HashMap::new();
        for (_, name, ty) in self.g.params() {
            let dims = ty.shape.as_static().unwrap();
            let n = dims.iter().product();
            let data = (0..n).map(|_| self.rng.normal()).collect();
            params.insert(name.to_string(), Tensor::new(F, dims, data));
        }
        let cfg = GradCheck { h, tol, ..GradCheck::default() };
        if let Err(e) = check_gradients(&self.g, "loss", &HashMap::new(), &params, cfg) {
            panic!("{e}\n{}", irc_ir::print(&self.g));
        }
    }
}

#[test]
fn unary_ops() {
    for (k, &(op, _)) in irc_ir::UNARY_NAMES.iter().enumerate() {
        let mut c = Case::new(k as u64);
        let x = c.param("x", &[2, 3]);
        let x = if matches!(op, UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Recip) { c.positive(x) } else { x };
        let y = c.op(Op::Unary { op }, &[x]);
        c.check(y);
    }
}

#[test]
fn binary_ops() {
    for (k, &(op, _)) in irc_ir::BINARY_NAMES.iter().enumerate().filter(|(_, (op, _))| !op.is_comparison()) {
        let mut c = Case::new(100 + k as u64);
        let a = c.param("a", &[3, 2]);
        let b = c.param("b", &[3, 2]);
        let (a, b) = match op {
            BinaryOp::Pow => (c.positive(a), b),
            BinaryOp::Div => (a, c.positive(b)),
            _ => (a, b),
        };
        let y = c.op(Op::Binary { op }, &[a, b]);
        c.check(y);
    }
}

#[test]
fn max_and_min_route_to_the_winner_with_shared_operand() {
    // max(a, a) is a tie everywhere: each side gets half, so d/da sums to the true derivative 1.
    let mut c = Case::new(7);
    let a = c.param("a", &[4]);
    let y = c.op(Op::Binary { op: BinaryOp::Max }, &[a, a]);
    c.check(y);
}

#[test]
fn select_and_comparisons() {
    let mut c = Case::new(200);
    let a = c.param("a", &[2, 3]);
    let b = c.param("b", &[2, 3]);
    let cond = c.op(Op::Binary { op: BinaryOp::Lt }, &[a, b]);
    let y = c.op(Op::Select, &[cond, a, b]);
    c.check(y);
}

#[test]
fn cast_round_trip() {
    // Through f32 the finite difference sees f32 rounding (~1e-7 / h), hence the coarser step and bound.
    let mut c = Case::new(300);
    let x = c.param("x", &[3]);
    let x32 = c.op(Op::Cast { dtype: DType::F32 }, &[x]);
    let sq = c.op(Op::Binary { op: BinaryOp::Mul }, &[x32, x32]);
    let y = c.op(Op::Cast { dtype: F }, &[sq]);
    c.check_tol(y, 1e-2, 1e-3);
}

#[test]
fn reductions() {
    for (k, axes) in [vec![0], vec![1], vec![0, 2], vec![0, 1, 2]].into_iter().enumerate() {
        for op in [ReduceOp::Sum, ReduceOp::Max] {
            let mut c = Case::new(400 + k as u64);
            let x = c.param("x", &[2, 3, 4]);
            let y = c.op(Op::Reduce { op, axes: axes.clone() }, &[x]);
            c.check(y);
        }
    }
}

#[test]
fn reduce_max_splits_ties() {
    let mut c = Case::new(450);
    let x = c.param("x", &[1, 3]);
    let twice = c.op(Op::Concat { axis: 0 }, &[x, x]);
    let y = c.op(Op::Reduce { op: ReduceOp::Max, axes: vec![0] }, &[twice]);
    c.check(y);
}

#[test]
fn cumsum_both_directions() {
    for reverse in [false, true] {
        for axis in 0..2 {
            let mut c = Case::new(500 + axis as u64);
            let x = c.param("x", &[3, 4]);
            let y = c.op(Op::Cumsum { axis, reverse }, &[x]);
            c.check(y);
        }
    }
}

#[test]
fn movement_ops() {
    let ops = [
        Op::Reshape { shape: Shape::of(&[4, 3, 2]) },
        Op::Permute { perm: vec![2, 0, 1] },
        Op::Expand { shape: Shape::of(&[5, 2, 3, 4]) },
        Op::Slice { axis: 2, start: 1, end: Dim::Static(3) },
        Op::Slice { axis: 1, start: 2, end: Dim::Static(2) },
        Op::Pad { axis: 0, before: 1, after: 2 },
    ];
    for (k, op) in ops.into_iter().enumerate() {
        let mut c = Case::new(600 + k as u64);
        let x = c.param("x", &[2, 3, 4]);
        let y = c.op(op, &[x]);
        c.check(y);
    }
}

#[test]
fn expand_of_size_one_axes() {
    let mut c = Case::new(650);
    let x = c.param("x", &[3, 1]);
    let y = c.op(Op::Expand { shape: Shape::of(&[2, 3, 4]) }, &[x]);
    c.check(y);
}

#[test]
fn concat_parts() {
    let mut c = Case::new(700);
    let a = c.param("a", &[2, 1]);
    let b = c.param("b", &[2, 3]);
    let y = c.op(Op::Concat { axis: 1 }, &[a, b, a]);
    c.check(y);
}

#[test]
fn matmul_with_broadcast_batch() {
    for (k, (da, db)) in [(vec![3, 4], vec![4, 2]), (vec![2, 1, 3, 4], vec![5, 4, 2]), (vec![2, 3, 4], vec![4, 5])]
        .into_iter()
        .enumerate()
    {
        let mut c = Case::new(800 + k as u64);
        let a = c.param("a", &da);
        let b = c.param("b", &db);
        let y = c.op(Op::MatMul, &[a, b]);
        c.check(y);
    }
}

#[test]
fn gather_and_scatter_add() {
    let mut c = Case::new(900);
    let data = c.param("data", &[4, 3]);
    let idx = c.literal(DType::I32, &[5, 3], vec![0., 3., 1., 2., 2., 0., 3., 1., 1., 0., 0., 2., 1., 3., 3.]);
    let y = c.op(Op::Gather { axis: 0 }, &[data, idx]);
    c.check(y);

    let mut c = Case::new(901);
    let src = c.param("src", &[2, 5]);
    let idx = c.literal(DType::I64, &[2, 5], vec![0., 2., 2., 1., 0., 1., 1., 0., 2., 2.]);
    let y = c.op(Op::ScatterAdd { axis: 1, size: Dim::Static(3) }, &[src, idx]);
    c.check(y);
}

#[test]
fn shared_subexpressions_accumulate() {
    // x feeds three paths: adjoints must add up.
    let mut c = Case::new(1000);
    let x = c.param("x", &[3]);
    let e = c.op(Op::Unary { op: UnaryOp::Exp }, &[x]);
    let t = c.op(Op::Unary { op: UnaryOp::Tanh }, &[x]);
    let m = c.op(Op::Binary { op: BinaryOp::Mul }, &[e, t]);
    let y = c.op(Op::Binary { op: BinaryOp::Mul }, &[m, x]);
    c.check(y);
}

#[test]
fn unreachable_param_gets_zero_gradient() {
    let mut c = Case::new(1100);
    let x = c.param("x", &[2]);
    let _unused = c.param("unused", &[3]);
    let y = c.op(Op::Unary { op: UnaryOp::Sin }, &[x]);
    c.check(y);
}

#[test]
fn errors_are_reported() {
    let mut g = Graph::new("e");
    let x = g
        .push(Op::Param { name: "x".into(), ty: TensorType::new(F, Shape::of(&[3])), init: Init::Zeros }, &[])
        .unwrap();
    g.add_output("y", x).unwrap();
    let err = differentiate(&g, "y", &["x"]).unwrap_err().to_string();
    assert!(err.contains("single floating-point value"), "{err}");
    let err = differentiate(&g, "nope", &["x"]).unwrap_err().to_string();
    assert!(err.contains("no output named `nope`"), "{err}");
    let s = g.push(Op::Reduce { op: ReduceOp::Sum, axes: vec![0] }, &[x]).unwrap();
    g.add_output("s", s).unwrap();
    let err = differentiate(&g, "s", &["w"]).unwrap_err().to_string();
    assert!(err.contains("no input or param named `w`"), "{err}");
}
