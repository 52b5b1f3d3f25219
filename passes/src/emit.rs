//! A thin node emitter over a graph under construction, so the gradient rules read like math.

use irc_ir::{BinaryOp, DType, Dim, Graph, IrError, NodeId, Op, ReduceOp, Shape, TensorType, UnaryOp};

pub struct Emitter<'g> {
    pub g: &'g mut Graph,
}

pub type R<T> = Result<T, IrError>;

impl Emitter<'_> {
    pub fn ty(&self, x: NodeId) -> TensorType {
        self.g.ty(x).clone()
    }

    pub fn shape(&self, x: NodeId) -> Shape {
        self.g.ty(x).shape.clone()
    }

    pub fn op(&mut self, op: Op, inputs: &[NodeId]) -> R<NodeId> {
        self.g.push(op, inputs)
    }

    pub fn unary(&mut self, op: UnaryOp, x: NodeId) -> R<NodeId> {
        self.op(Op::Unary { op }, &[x])
    }

    pub fn binary(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> R<NodeId> {
        self.op(Op::Binary { op }, &[a, b])
    }

    pub fn add(&mut self, a: NodeId, b: NodeId) -> R<NodeId> {
        self.binary(BinaryOp::Add, a, b)
    }

    pub fn mul(&mut self, a: NodeId, b: NodeId) -> R<NodeId> {
        self.binary(BinaryOp::Mul, a, b)
    }

    pub fn div(&mut self, a: NodeId, b: NodeId) -> R<NodeId> {
        self.binary(BinaryOp::Div, a, b)
    }

    pub fn neg(&mut self, a: NodeId) -> R<NodeId> {
        self.unary(UnaryOp::Neg, a)
    }

    /// A scalar `value` broadcast to the type of `like`.
    pub fn fill_like(&mut self, value: f64, like: NodeId) -> R<NodeId> {
        let ty = self.ty(like);
        self.fill(value, &ty)
    }

    pub fn fill(&mut self, value: f64, ty: &TensorType) -> R<NodeId> {
        let c = self.op(Op::Const { value, dtype: ty.dtype }, &[])?;
        if ty.rank() == 0 {
            return Ok(c);
        }
        self.op(Op::Expand { shape: ty.shape.clone() }, &[c])
    }

    /// `x * value` for a scalar.
    pub fn scale(&mut self, x: NodeId, value: f64) -> R<NodeId> {
        let c = self.fill_like(value, x)?;
        self.mul(x, c)
    }

    /// `select(cond, a, 0)`.
    pub fn mask(&mut self, cond: NodeId, a: NodeId) -> R<NodeId> {
        let zero = self.fill_like(0.0, a)?;
        self.op(Op::Select, &[cond, a, zero])
    }

    pub fn expand(&mut self, x: NodeId, shape: &Shape) -> R<NodeId> {
        if &self.shape(x) == shape {
            return Ok(x);
        }
        self.op(Op::Expand { shape: shape.clone() }, &[x])
    }

    pub fn reshape(&mut self, x: NodeId, shape: &Shape) -> R<NodeId> {
        if &self.shape(x) == shape {
            return Ok(x);
        }
        self.op(Op::Reshape { shape: shape.clone() }, &[x])
    }

    /// Swaps the last two axes.
    pub fn transpose(&mut self, x: NodeId) -> R<NodeId> {
        let r = self.ty(x).rank();
        let mut perm: Vec<usize> = (0..r).collect();
        perm.swap(r - 2, r - 1);
        self.op(Op::Permute { perm }, &[x])
    }

    /// Sums `x` down to `target`, the inverse of numpy broadcasting: leading extra axes and axes where
    /// `target` has size 1 are summed, then the result is reshaped to `target`.
    pub fn sum_to(&mut self, x: NodeId, target: &Shape) -> R<NodeId> {
        let shape = self.shape(x);
        let extra = shape.rank() - target.rank();
        let axes: Vec<usize> = (0..shape.rank())
            .filter(|&i| i < extra || (target.0[i - extra].is_one() && !shape.0[i].is_one()))
            .collect();
        let summed = if axes.is_empty() { x } else { self.op(Op::Reduce { op: ReduceOp::Sum, axes }, &[x])? };
        self.reshape(summed, target)
    }

    pub fn cast(&mut self, x: NodeId, dtype: DType) -> R<NodeId> {
        if self.g.ty(x).dtype == dtype {
            return Ok(x);
        }
        self.op(Op::Cast { dtype }, &[x])
    }

    /// A dimension known to be static, for gradient shapes that must be static.
    pub fn dim(&self, x: NodeId, axis: usize) -> Dim {
        self.g.ty(x).shape.0[axis].clone()
    }
}
