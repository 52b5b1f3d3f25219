//! Interpreter tests: every primitive against an independent computation (explicit loops and index
//! formulas written here, not the interpreter's index helper) on seeded random inputs.

mod elementwise;
mod errors;
mod linalg;
mod movement;
mod reduce;
mod rng;
mod symbolic;

use std::collections::HashMap;

use irc_ir::{DType, Graph, NodeId, Op, Shape, TensorType};
use irc_runtime::{Rng, RunError, Tensor, interpret, random_tensor};

/// Builds a graph op by op; `run` feeds inputs by name.
#[derive(Default)]
pub struct G {
    pub g: Graph,
}

impl G {
    pub fn input(&mut self, name: &str, dtype: DType, shape: impl Into<Shape>) -> NodeId {
        self.op(Op::Input { name: name.into(), ty: TensorType::new(dtype, shape) }, &[])
    }

    pub fn op(&mut self, op: Op, ins: &[NodeId]) -> NodeId {
        self.g.push(op, ins).unwrap_or_else(|e| panic!("test graph is ill-typed: {e}"))
    }

    pub fn out(mut self, nodes: &[NodeId]) -> Graph {
        for (i, &n) in nodes.iter().enumerate() {
            self.g.add_output(format!("out{i}"), n).unwrap();
        }
        self.g
    }
}

pub fn feed(inputs: &[(&str, &Tensor)]) -> HashMap<String, Tensor> {
    inputs.iter().map(|(n, t)| (n.to_string(), (*t).clone())).collect()
}

pub fn try_run(g: &Graph, inputs: &[(&str, &Tensor)]) -> Result<Vec<Tensor>, RunError> {
    interpret(g, &feed(inputs), &HashMap::new())
}

pub fn run(g: &Graph, inputs: &[(&str, &Tensor)]) -> Vec<Tensor> {
    try_run(g, inputs).unwrap_or_else(|e| panic!("interpret failed: {e}"))
}

/// A graph of one op applied to inputs `x0, x1, ..` of the given tensors' types, run on them.
pub fn apply(op: Op, args: &[&Tensor]) -> Tensor {
    try_apply(op, args).unwrap_or_else(|e| panic!("interpret failed: {e}"))
}

pub fn try_apply(op: Op, args: &[&Tensor]) -> Result<Tensor, RunError> {
    let mut b = G::default();
    let names: Vec<String> = (0..args.len()).map(|i| format!("x{i}")).collect();
    let ins: Vec<NodeId> = args.iter().zip(&names).map(|(t, n)| b.input(n, t.dtype, Shape::of(&t.shape))).collect();
    let y = b.op(op, &ins);
    let g = b.out(&[y]);
    let feeds: Vec<(&str, &Tensor)> = names.iter().map(|n| n.as_str()).zip(args.iter().copied()).collect();
    Ok(try_run(&g, &feeds)?.remove(0))
}

/// Seeded random tensor: normal floats, small ints, random bools.
pub fn rand(dtype: DType, shape: &[usize], seed: u64) -> Tensor {
    random_tensor(dtype, shape, &mut Rng::new(seed))
}

/// Random integer index tensor with values in `0..bound`.
pub fn rand_index(dtype: DType, shape: &[usize], bound: usize, seed: u64) -> Tensor {
    let mut r = Rng::new(seed);
    let n = shape.iter().product();
    Tensor::new(dtype, shape.to_vec(), (0..n).map(|_| r.below(bound) as f64).collect())
}

/// Row-major offset by Horner's rule (independent of the runtime's stride helpers).
pub fn off(shape: &[usize], idx: &[usize]) -> usize {
    assert_eq!(shape.len(), idx.len());
    idx.iter().zip(shape).fold(0, |acc, (&i, &n)| {
        assert!(i < n, "index {idx:?} outside {shape:?}");
        acc * n + i
    })
}

pub fn at(t: &Tensor, idx: &[usize]) -> f64 {
    t.data[off(&t.shape, idx)]
}

pub fn assert_close(got: &Tensor, want: &Tensor, tol: f64) {
    assert_eq!((got.dtype, &got.shape), (want.dtype, &want.shape), "type differs");
    for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
        let ok = (g - w).abs() <= tol * (1.0 + w.abs()) || (g.is_nan() && w.is_nan()) || g == w;
        assert!(ok, "element {i}: got {g}, want {w} (tol {tol})");
    }
}

/// Asserts the random data is not degenerate (the tests never run on all-zero inputs).
pub fn nondegenerate(t: &Tensor) -> &Tensor {
    assert!(t.numel() == 0 || t.data.iter().any(|&v| v != 0.0), "degenerate test input");
    t
}
