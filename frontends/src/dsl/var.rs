//! Tensor handles and their methods: elementwise math, reductions, movement, matmul and indexing.

use std::fmt;

use irc_ir::{DType, Dim, NodeId, Op, ReduceOp, Shape, TensorType, UnaryOp};

use super::builder::ModelBuilder;
use super::ops::Operand;
use super::spec::{Axes, DimSpec, ShapeSpec, axis_index};

/// A handle to a value in the graph a [`ModelBuilder`] is building. Cheap to clone.
///
/// A handle is *poisoned* when the call that made it failed (the builder keeps the error). Every op
/// on a poisoned handle returns another poisoned handle without recording anything, so model code
/// can run to the end and [`ModelBuilder::finish`] reports the first failure. A poisoned handle
/// reports the placeholder type `f32[]`.
#[derive(Clone)]
pub struct Var {
    b: ModelBuilder,
    node: Option<NodeId>,
    ty: TensorType,
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(id) => write!(f, "Var({id}: {})", self.ty),
            None => f.write_str("Var(poisoned)"),
        }
    }
}

impl Var {
    pub(crate) fn new(b: ModelBuilder, node: NodeId, ty: TensorType) -> Var {
        Var { b, node: Some(node), ty }
    }

    pub(crate) fn poisoned(b: ModelBuilder) -> Var {
        Var { b, node: None, ty: TensorType::new(DType::F32, Shape::scalar()) }
    }

    /// The builder this handle belongs to.
    pub fn builder(&self) -> &ModelBuilder {
        &self.b
    }

    /// The graph node, or `None` if poisoned.
    pub fn node(&self) -> Option<NodeId> {
        self.node
    }

    pub fn is_poisoned(&self) -> bool {
        self.node.is_none()
    }

    pub fn ty(&self) -> &TensorType {
        &self.ty
    }

    pub fn shape(&self) -> &Shape {
        &self.ty.shape
    }

    pub fn dtype(&self) -> DType {
        self.ty.dtype
    }

    pub fn rank(&self) -> usize {
        self.ty.rank()
    }

    /// The size of `axis` (negative counts from the end), or `None` if out of range.
    pub fn dim(&self, axis: i32) -> Option<Dim> {
        axis_index(axis, self.rank()).ok().map(|a| self.ty.shape.0[a].clone())
    }

    /// Resolves `axis` for call `op`, recording a failure if it is out of range.
    #[track_caller]
    pub(crate) fn axis(&self, op: &str, axis: i32) -> Result<usize, Var> {
        axis_index(axis, self.rank()).map_err(|msg| self.b.fail(op, msg, &[self]))
    }

    #[track_caller]
    fn unary(&self, op: UnaryOp) -> Var {
        self.b.push(op.name(), Op::Unary { op }, &[self])
    }

    #[track_caller]
    pub fn exp(&self) -> Var {
        self.unary(UnaryOp::Exp)
    }

    #[track_caller]
    pub fn log(&self) -> Var {
        self.unary(UnaryOp::Log)
    }

    #[track_caller]
    pub fn sqrt(&self) -> Var {
        self.unary(UnaryOp::Sqrt)
    }

    #[track_caller]
    pub fn recip(&self) -> Var {
        self.unary(UnaryOp::Recip)
    }

    #[track_caller]
    pub fn sin(&self) -> Var {
        self.unary(UnaryOp::Sin)
    }

    #[track_caller]
    pub fn cos(&self) -> Var {
        self.unary(UnaryOp::Cos)
    }

    #[track_caller]
    pub fn tanh(&self) -> Var {
        self.unary(UnaryOp::Tanh)
    }

    #[track_caller]
    pub fn abs(&self) -> Var {
        self.unary(UnaryOp::Abs)
    }

    /// `-x` (also available as the unary `-` operator).
    #[track_caller]
    pub fn neg(&self) -> Var {
        self.unary(UnaryOp::Neg)
    }

    /// `max(x, 0)`.
    #[track_caller]
    pub fn relu(&self) -> Var {
        self.max(0.0)
    }

    /// `1 / (1 + exp(-x))`; saturates to 0 and 1 without NaNs because `recip(inf) = 0`.
    #[track_caller]
    pub fn sigmoid(&self) -> Var {
        (1.0 + self.neg().exp()).recip()
    }

    /// `x * x`.
    #[track_caller]
    pub fn square(&self) -> Var {
        self * self
    }

    /// Element type conversion (floats to ints truncate toward zero; nonzero to bool is true).
    #[track_caller]
    pub fn cast(&self, dtype: DType) -> Var {
        if self.dtype() == dtype {
            return self.clone();
        }
        self.b.push("cast", Op::Cast { dtype }, &[self])
    }

    /// `a` where `self` (a bool mask) is true, else `b`; all three broadcast together.
    #[track_caller]
    pub fn select(&self, a: impl Into<Operand>, b: impl Into<Operand>) -> Var {
        super::ops::select(self, a.into(), b.into())
    }

    #[track_caller]
    fn reduce_axes(&self, name: &str, op: ReduceOp, axes: &[usize], keepdim: bool) -> Var {
        let r = if axes.is_empty() {
            self.clone()
        } else {
            self.b.push(name, Op::Reduce { op, axes: axes.to_vec() }, &[self])
        };
        if keepdim { r } else { r.drop_axes(name, axes) }
    }

    #[track_caller]
    fn reduce(&self, name: &str, op: ReduceOp, axes: impl Axes, keepdim: bool) -> Var {
        if let Some(p) = self.b.guard(name, &[self]) {
            return p;
        }
        match axes.resolve(self.rank()) {
            Ok(axes) => self.reduce_axes(name, op, &axes, keepdim),
            Err(msg) => self.b.fail(name, msg, &[self]),
        }
    }

    /// Removes size-1 `axes` (sorted) with a reshape.
    #[track_caller]
    fn drop_axes(&self, name: &str, axes: &[usize]) -> Var {
        if axes.is_empty() {
            return self.clone();
        }
        let dims = self.shape().0.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, d)| d.clone());
        self.b.push(name, Op::Reshape { shape: Shape(dims.collect()) }, &[self])
    }

    /// Sum over `axes` (`-1`, `[0, 2]`, or `..` for all); `keepdim` keeps them as size 1.
    #[track_caller]
    pub fn sum(&self, axes: impl Axes, keepdim: bool) -> Var {
        self.reduce("sum", ReduceOp::Sum, axes, keepdim)
    }

    /// Maximum over `axes`.
    #[track_caller]
    pub fn amax(&self, axes: impl Axes, keepdim: bool) -> Var {
        self.reduce("amax", ReduceOp::Max, axes, keepdim)
    }

    /// Maximum over `axes` (alias of [`amax`](Self::amax)).
    #[track_caller]
    pub fn max_reduce(&self, axes: impl Axes, keepdim: bool) -> Var {
        self.amax(axes, keepdim)
    }

    /// Minimum over `axes`, as `-amax(-x)`.
    #[track_caller]
    pub fn amin(&self, axes: impl Axes, keepdim: bool) -> Var {
        self.neg().amax(axes, keepdim).neg()
    }

    /// The element count of `axes` as a tensor broadcastable against a keepdim reduction: a
    /// constant when the dims are static, else the sum of ones expanded over those dims.
    #[track_caller]
    fn count(&self, axes: &[usize]) -> Var {
        let dims: Vec<&Dim> = axes.iter().map(|&a| &self.shape().0[a]).collect();
        if let Some(n) = dims.iter().map(|d| d.as_static()).collect::<Option<Vec<_>>>() {
            return self.b.scalar(n.iter().product::<usize>() as f64, self.dtype());
        }
        let shape: Vec<Dim> = (0..self.rank())
            .map(|i| if axes.contains(&i) { self.shape().0[i].clone() } else { Dim::Static(1) })
            .collect();
        self.b.full(1.0, self.dtype(), shape).reduce_axes("mean", ReduceOp::Sum, axes, true)
    }

    /// Mean over `axes`; works over symbolic dims too.
    #[track_caller]
    pub fn mean(&self, axes: impl Axes, keepdim: bool) -> Var {
        if let Some(p) = self.b.guard("mean", &[self]) {
            return p;
        }
        if !self.dtype().is_float() {
            return self.b.fail("mean", format!("expects a floating-point dtype, got {}", self.dtype()), &[self]);
        }
        let axes = match axes.resolve(self.rank()) {
            Ok(axes) => axes,
            Err(msg) => return self.b.fail("mean", msg, &[self]),
        };
        let m = &self.reduce_axes("mean", ReduceOp::Sum, &axes, true) / &self.count(&axes);
        if keepdim { m } else { m.drop_axes("mean", &axes) }
    }

    /// Population variance over `axes`: `mean((x - mean(x))^2)`.
    #[track_caller]
    pub fn var(&self, axes: impl Axes, keepdim: bool) -> Var {
        if let Some(p) = self.b.guard("var", &[self]) {
            return p;
        }
        let axes = match axes.resolve(self.rank()) {
            Ok(axes) => axes.into_iter().map(|a| a as i32).collect::<Vec<_>>(),
            Err(msg) => return self.b.fail("var", msg, &[self]),
        };
        (self - &self.mean(&axes, true)).square().mean(&axes, keepdim)
    }

    /// Inclusive prefix sum along `axis`.
    #[track_caller]
    pub fn cumsum(&self, axis: i32) -> Var {
        self.axis("cumsum", axis)
            .map_or_else(|p| p, |axis| self.b.push("cumsum", Op::Cumsum { axis, reverse: false }, &[self]))
    }

    /// Inclusive suffix sum along `axis` (from the end).
    #[track_caller]
    pub fn cumsum_reverse(&self, axis: i32) -> Var {
        self.axis("cumsum", axis)
            .map_or_else(|p| p, |axis| self.b.push("cumsum", Op::Cumsum { axis, reverse: true }, &[self]))
    }

    /// Same elements, row-major, in a new shape (`["B", "T", 4, 16]`).
    #[track_caller]
    pub fn reshape(&self, shape: impl ShapeSpec) -> Var {
        match self.b.shape_arg("reshape", &shape, &[self]) {
            Some(shape) => self.b.push("reshape", Op::Reshape { shape }, &[self]),
            None => Var::poisoned(self.b.clone()),
        }
    }

    /// Reorders axes: `out.shape[i] = in.shape[perm[i]]`; entries may be negative.
    #[track_caller]
    pub fn permute(&self, perm: &[i32]) -> Var {
        let perm = perm.iter().map(|&a| axis_index(a, self.rank())).collect::<Result<Vec<_>, _>>();
        match perm {
            Ok(perm) => self.b.push("permute", Op::Permute { perm }, &[self]),
            Err(msg) => self.b.fail("permute", msg, &[self]),
        }
    }

    /// Swaps two axes.
    #[track_caller]
    pub fn transpose(&self, a: i32, b: i32) -> Var {
        let (a, b) = match (axis_index(a, self.rank()), axis_index(b, self.rank())) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(msg), _) | (_, Err(msg)) => return self.b.fail("transpose", msg, &[self]),
        };
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.b.push("transpose", Op::Permute { perm }, &[self])
    }

    /// numpy `broadcast_to`: dims align from the right; size-1 or missing dims repeat.
    #[track_caller]
    pub fn expand(&self, shape: impl ShapeSpec) -> Var {
        let Some(shape) = self.b.shape_arg("expand", &shape, &[self]) else { return Var::poisoned(self.b.clone()) };
        if &shape == self.shape() {
            return self.clone();
        }
        self.b.push("expand", Op::Expand { shape }, &[self])
    }

    /// Alias of [`expand`](Self::expand).
    #[track_caller]
    pub fn broadcast_to(&self, shape: impl ShapeSpec) -> Var {
        self.expand(shape)
    }

    /// A new size-1 axis at position `axis` (`-1` appends).
    #[track_caller]
    pub fn unsqueeze(&self, axis: i32) -> Var {
        let at = match axis_index(axis, self.rank() + 1) {
            Ok(a) => a,
            Err(msg) => return self.b.fail("unsqueeze", msg, &[self]),
        };
        let mut dims = self.shape().0.clone();
        dims.insert(at, Dim::Static(1));
        self.b.push("unsqueeze", Op::Reshape { shape: Shape(dims) }, &[self])
    }

    /// Elements `start..end` along `axis`; `end` may be symbolic (`"T"`, `"T+1"`).
    #[track_caller]
    pub fn slice(&self, axis: i32, start: usize, end: impl DimSpec) -> Var {
        let end = end.to_dim().map_err(|msg| self.b.fail("slice", msg, &[self]));
        match (self.axis("slice", axis), end) {
            (Ok(axis), Ok(end)) => self.b.push("slice", Op::Slice { axis, start, end }, &[self]),
            (Err(p), _) | (_, Err(p)) => p,
        }
    }

    /// `before` and `after` zeros added along `axis`.
    #[track_caller]
    pub fn pad(&self, axis: i32, before: usize, after: usize) -> Var {
        self.axis("pad", axis).map_or_else(|p| p, |axis| self.b.push("pad", Op::Pad { axis, before, after }, &[self]))
    }

    /// `[.., M, K] x [.., K, N] -> [.., M, N]`; batch dims broadcast like numpy's matmul.
    #[track_caller]
    pub fn matmul(&self, other: &Var) -> Var {
        self.b.push("matmul", Op::MatMul, &[self, other])
    }

    /// numpy `take_along_axis`: `out[p] = self[p with p[axis] := index[p]]`; `out` has the index's
    /// shape, which must equal `self`'s except along `axis`.
    #[track_caller]
    pub fn gather(&self, axis: i32, index: &Var) -> Var {
        self.axis("gather", axis).map_or_else(|p| p, |axis| self.b.push("gather", Op::Gather { axis }, &[self, index]))
    }

    /// Adjoint of [`gather`](Self::gather): `out[p with p[axis] := index[p]] += self[p]`, with
    /// `out.shape[axis] = size`.
    #[track_caller]
    pub fn scatter_add(&self, axis: i32, index: &Var, size: impl DimSpec) -> Var {
        let size = size.to_dim().map_err(|msg| self.b.fail("scatter_add", msg, &[self, index]));
        match (self.axis("scatter_add", axis), size) {
            (Ok(axis), Ok(size)) => self.b.push("scatter_add", Op::ScatterAdd { axis, size }, &[self, index]),
            (Err(p), _) | (_, Err(p)) => p,
        }
    }
}
