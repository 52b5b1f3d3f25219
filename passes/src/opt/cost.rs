//! The roofline cost model: a node costs `max(bytes / bandwidth, flops / peak)` plus a launch cost,
//! as if it ran as its own kernel (fusion happens after the optimizer). Movement ops that lower to
//! index arithmetic (`reshape`, `permute`, `expand`, `slice`) cost a small constant, leaves nothing.
//! Symbolic dims take sizes from the options (default 64), so choices that depend on sizes
//! (matmul chains) are made for that size.

use std::collections::HashMap;

use irc_ir::{Dim, Graph, Op, TensorType, UnaryOp};

use super::lang::Prim;

/// What a node costs on: a simple description of a machine. Costs are in microseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub name: String,
    /// Memory bandwidth, bytes per second.
    pub bandwidth: f64,
    /// Peak arithmetic, flops per second.
    pub peak_flops: f64,
    /// Arithmetic rate of the fused ops' kernels (attention, Monarch), flops per second: a target whose
    /// fused kernels are less tuned than its matmuls prices them here, so fusion is chosen only where the
    /// memory traffic it saves outweighs the slower arithmetic.
    pub fused_flops: f64,
    /// Fixed cost of one kernel launch, seconds.
    pub launch: f64,
    /// Cost of a movement op (index arithmetic in its readers), seconds; positive so that of two
    /// equal terms the one with fewer nodes wins.
    pub movement: f64,
}

impl Target {
    /// A few-core CPU: 20 GB/s, 50 GFLOP/s, 2 us per kernel. The CPU backend runs the fused kernels'
    /// inner loops as scalar code, a quarter of the f32x4 rate its matmuls reach.
    pub fn cpu() -> Target {
        Target {
            name: "cpu".into(),
            bandwidth: 20e9,
            peak_flops: 50e9,
            fused_flops: 12.5e9,
            launch: 2e-6,
            movement: 0.05e-6,
        }
    }
}

impl Default for Target {
    fn default() -> Target {
        Target::cpu()
    }
}

/// The cost model: a target and sizes for symbolic dims.
#[derive(Clone, Debug)]
pub struct CostModel {
    pub target: Target,
    pub sizes: HashMap<String, usize>,
    pub default_dim: usize,
}

impl CostModel {
    fn dim(&self, d: &Dim) -> f64 {
        match d {
            Dim::Static(n) => *n as f64,
            Dim::Sym { name, offset } => {
                let base = self.sizes.get(name).copied().unwrap_or(self.default_dim) as f64;
                (base + *offset as f64).max(0.0)
            }
        }
    }

    pub fn numel(&self, t: &TensorType) -> f64 {
        t.shape.0.iter().map(|d| self.dim(d)).product()
    }

    fn bytes(&self, t: &TensorType) -> f64 {
        self.numel(t) * t.dtype.size_bytes() as f64
    }

    /// Cost of one node (microseconds): `prim` is `None` for leaves.
    pub fn node_cost(&self, prim: Option<Prim>, ins: &[&TensorType], out: &TensorType) -> f64 {
        let Some(p) = prim else { return 0.0 };
        let t = &self.target;
        if matches!(p, Prim::Reshape | Prim::Permute | Prim::Expand | Prim::Slice) {
            return t.movement * 1e6;
        }
        let n_out = self.numel(out);
        let flops = match p {
            Prim::MatMul => {
                let k = ins.first().and_then(|a| a.shape.0.last()).map_or(1.0, |d| self.dim(d));
                2.0 * n_out * k
            }
            Prim::Unary(_) => {
                let heavy = !matches!(p.unary_op(), Some(UnaryOp::Neg | UnaryOp::Abs));
                n_out * if heavy { 4.0 } else { 1.0 }
            }
            Prim::Binary(_) => n_out * if p.binary_op() == Some(irc_ir::BinaryOp::Pow) { 4.0 } else { 1.0 },
            Prim::Attention => self.attention_flops(ins, n_out),
            Prim::Monarch => self.monarch_flops(ins, n_out),
            _ => ins.first().map_or(n_out, |a| self.numel(a)),
        };
        let bytes: f64 = ins.iter().map(|t| self.bytes(t)).sum::<f64>() + self.bytes(out);
        let rate = if matches!(p, Prim::Attention | Prim::Monarch) { t.fused_flops } else { t.peak_flops };
        ((bytes / t.bandwidth).max(flops / rate) + t.launch) * 1e6
    }

    /// `attention(q, kt, v)` computed row by row with an online softmax: per score, the `q . k` dot
    /// product (`2 D`), scale, mask, running max, two `exp`s (the score's and the rescaling of the
    /// running sum), the running sum, and the rescaled accumulation into the output row (`2 E`). Its
    /// bytes are only the operands and the result: the `T x S` scores never reach memory.
    fn attention_flops(&self, ins: &[&TensorType], n_out: f64) -> f64 {
        let last = |t: Option<&&TensorType>| t.and_then(|t| t.shape.0.last()).map_or(1.0, |d| self.dim(d));
        let (d, s, e) = (last(ins.first()), last(ins.get(1)), last(ins.get(2)));
        let scores = n_out / e.max(1.0) * s;
        scores * (2.0 * d + 2.0 * e + 4.0 + 2.0 * 4.0)
    }

    /// `monarch(x, r, l)`: the two block-diagonal products, `2 a m2` and `2 m1 c` flops per element
    /// of the intermediate and the output; the intermediate stays in the kernel.
    fn monarch_flops(&self, ins: &[&TensorType], n_out: f64) -> f64 {
        let Some((m1, a, m2, c)) =
            ins.get(1).zip(ins.get(2)).and_then(|(r, l)| irc_ir::fused::monarch_dims(&r.shape, &l.shape))
        else {
            return n_out;
        };
        let rows = n_out / (c * m2).max(1) as f64;
        rows * (2.0 * (m1 * a * m2) as f64 + 2.0 * (m2 * m1 * c) as f64)
    }

    /// Cost of a graph node.
    pub fn op_cost(&self, g: &Graph, op: &Op, inputs: &[irc_ir::NodeId], out: &TensorType) -> f64 {
        let ins: Vec<&TensorType> = inputs.iter().map(|i| g.ty(*i)).collect();
        self.node_cost(Prim::of_op(op).map(|(p, _)| p), &ins, out)
    }

    /// Cost of the nodes the outputs reach, each paid once.
    pub fn graph_cost(&self, g: &Graph) -> f64 {
        self.reach_cost(g, g.outputs().iter().map(|o| o.node))
    }

    /// Per output: the cost of the nodes it reaches (nodes shared between outputs count in each).
    pub fn output_costs(&self, g: &Graph) -> Vec<(String, f64)> {
        g.outputs().iter().map(|o| (o.name.clone(), self.reach_cost(g, std::iter::once(o.node)))).collect()
    }

    fn reach_cost(&self, g: &Graph, roots: impl Iterator<Item = irc_ir::NodeId>) -> f64 {
        let mut live = vec![false; g.len()];
        for r in roots {
            live[r.0] = true;
        }
        let mut total = 0.0;
        for (id, n) in g.nodes().iter().enumerate().rev() {
            if live[id] {
                total += self.op_cost(g, &n.op, &n.inputs, &n.ty);
                for i in &n.inputs {
                    live[i.0] = true;
                }
            }
        }
        total
    }
}
