//! The loop structure of each kernel kind: elementwise (one grid point per element), row (reductions over
//! the row, then the row's outputs), matmul (a dot product per grid point, then the epilogue), and the
//! kernels of `cumsum`, `gather` and `scatter_add`.

use irc_ir::{DType, NodeId, Op, ReduceOp, Shape};

use super::build::{BuildError, Builder, Built, compute_dtype, may_be_empty};
use super::index::{self as ix, c};
use super::partition::{KernelPlan, Kind, reduced, squeezed};
use crate::kir::{Access, BinOp, Expr, Stmt, VarId};

/// Builds the body of `plan`'s kernel, writing the root into program buffer `out`.
pub(super) fn build(b: &mut Builder, plan: &KernelPlan, out: usize) -> Built<()> {
    let root = plan.root;
    if !plan.copy {
        b.nodes.insert(root);
    }
    match &plan.kind {
        Kind::Elementwise | Kind::Matmul => {
            for &l in &plan.locals {
                b.set_point(l);
            }
            let shape = b.shape(root);
            let all: Vec<usize> = (0..shape.rank()).collect();
            let idx = grid(b, shape, &all);
            let v = b.value(root, &idx)?;
            store_at(b, out, shape, &idx, v);
        }
        Kind::Row { shape, axes } => row(b, plan, shape, axes, out)?,
        Kind::Special => {
            let node = b.g.node(root);
            match &node.op {
                Op::Cumsum { axis, reverse } => cumsum(b, root, *axis, *reverse, out)?,
                Op::Gather { axis } => gather(b, root, *axis, out)?,
                Op::ScatterAdd { axis, .. } => scatter_add(b, root, *axis, out)?,
                Op::Attention { scale, causal, fill } => super::fused::attention(b, root, *scale, *causal, *fill, out)?,
                Op::Monarch => super::fused::monarch(b, root, out)?,
                op => return Err(BuildError::Internal(format!("no special kernel for {}", op.name()))),
            }
        }
    }
    b.k.body = b.take_body();
    super::tidy::inline_single_uses(&mut b.k.body);
    if matches!(plan.kind, Kind::Row { .. }) {
        super::reuse::keep_row_terms(&mut b.k);
    }
    Ok(())
}

/// Declares grid variables `i{axis}` over `axes` of `shape`; returns a full index with 0 on the other axes.
pub(super) fn grid(b: &mut Builder, shape: &Shape, axes: &[usize]) -> Vec<Expr> {
    let dims = b.dims(shape);
    let mut idx = vec![c(0); shape.rank()];
    for &a in axes {
        let v = b.var(format!("i{a}"), DType::I64);
        b.k.grid.push((v, dims[a].clone()));
        idx[a] = Expr::Var(v);
    }
    idx
}

pub(super) fn store_at(b: &mut Builder, out: usize, shape: &Shape, idx: &[Expr], value: Expr) {
    let dims = b.dims(shape);
    b.store(out, ix::ravel(idx, &dims), value);
}

/// `idx` with `axis` replaced by `v`.
pub(super) fn with(idx: &[Expr], axis: usize, v: Expr) -> Vec<Expr> {
    let mut i = idx.to_vec();
    i[axis] = v;
    i
}

fn identity(op: ReduceOp, dtype: DType) -> Expr {
    let v = match (op, dtype) {
        (ReduceOp::Sum, _) => 0.0,
        (ReduceOp::Max, DType::I32) => i32::MIN as f64,
        (ReduceOp::Max, DType::I64) => i64::MIN as f64,
        (ReduceOp::Max, _) => f64::NEG_INFINITY,
    };
    Expr::constant(v, dtype)
}

fn combine(op: ReduceOp) -> BinOp {
    match op {
        ReduceOp::Sum => BinOp::Add,
        ReduceOp::Max => BinOp::Max,
    }
}

/// Grid over the kept axes of the row `shape`; each local in order (reductions loop over `axes`,
/// per-row values are `let`s); then the root, once or in a loop over `axes`.
fn row(b: &mut Builder, plan: &KernelPlan, shape: &Shape, axes: &[usize], out: usize) -> Built<()> {
    let kept: Vec<usize> = (0..shape.rank()).filter(|a| !axes.contains(a)).collect();
    let base = grid(b, shape, &kept);
    // A fused value is valid where the index agrees with the grid on the kept axes (size-1 axes agree).
    let check = |a: usize| !axes.contains(&a) && !shape.dims()[a].is_one();
    b.row_grid = Some((0..shape.rank()).map(|a| check(a).then(|| base[a].clone())).collect());
    let dims = b.dims(shape);
    let at = |vars: &[Expr]| {
        let mut idx = base.clone();
        for (&a, v) in axes.iter().zip(vars) {
            idx[a] = v.clone();
        }
        idx
    };
    for &l in &plan.locals {
        let node = b.g.node(l);
        let cd = compute_dtype(node.ty.dtype);
        let var = match &node.op {
            Op::Reduce { op, .. } => {
                let (op, input) = (*op, node.inputs[0]);
                let acc = b.var(format!("acc{}", l.0), cd);
                b.emit(Stmt::Let { var: acc, value: identity(op, cd) });
                b.for_axes(axes, &dims, "r", |b, vars| {
                    let x = b.value(input, &at(vars))?;
                    b.emit(Stmt::Assign { var: acc, value: Expr::binary(combine(op), Expr::Var(acc), x) });
                    Ok(())
                })?;
                acc
            }
            _ => {
                let value = b.value_op(l, &base)?;
                let v = b.var(format!("v{}", l.0), cd);
                b.emit(Stmt::Let { var: v, value });
                v
            }
        };
        b.set_local(l, var);
    }
    let root_shape = b.shape(plan.root);
    if root_shape == shape {
        return b.for_axes(axes, &dims, "j", |b, vars| {
            let idx = at(vars);
            let v = b.value(plan.root, &idx)?;
            store_at(b, out, root_shape, &idx, v);
            Ok(())
        });
    }
    if squeezed(root_shape) != squeezed(&reduced(shape, axes)) {
        return Err(BuildError::Internal(format!("root {} does not fit row {shape} over {axes:?}", plan.root)));
    }
    // The root's non-unit axes are the row's kept non-unit axes, in order.
    let mut kept_vars = kept.iter().filter(|&&a| !shape.dims()[a].is_one()).map(|&a| base[a].clone());
    let idx: Vec<Expr> =
        root_shape.dims().iter().map(|d| if d.is_one() { c(0) } else { kept_vars.next().unwrap_or(c(0)) }).collect();
    let v = b.value(plan.root, &idx)?;
    store_at(b, out, root_shape, &idx, v);
    Ok(())
}

/// Emits the dot product of matmul `n` at output index `idx` into a new accumulator and returns it.
pub(super) fn matmul_point(b: &mut Builder, n: NodeId, idx: &[Expr]) -> Built<VarId> {
    let node = b.g.node(n);
    let (x, y) = (node.inputs[0], node.inputs[1]);
    let (sx, sy) = (b.shape(x), b.shape(y));
    let r = idx.len();
    let (batch, m, col) = (&idx[..r - 2], idx[r - 2].clone(), idx[r - 1].clone());
    let inner = b.dim(&sx.dims()[sx.rank() - 1]);
    let cd = compute_dtype(node.ty.dtype);
    let acc = b.var(format!("acc{}", n.0), cd);
    b.emit(Stmt::Let { var: acc, value: Expr::constant(0.0, cd) });
    let k = b.var("k", DType::I64);
    b.for_loop(k, inner, |b| {
        let kv = Expr::Var(k);
        let mut xi = broadcast_batch(batch, sx);
        xi.extend([m, kv.clone()]);
        let mut yi = broadcast_batch(batch, sy);
        yi.extend([kv, col]);
        let xv = b.value(x, &xi)?;
        let yv = b.value(y, &yi)?;
        let sum = Expr::binary(BinOp::Add, Expr::Var(acc), Expr::binary(BinOp::Mul, xv, yv));
        b.emit(Stmt::Assign { var: acc, value: sum });
        Ok(())
    })?;
    Ok(acc)
}

/// The batch index of a matmul operand of `shape` under numpy broadcasting of the output batch `batch`.
fn broadcast_batch(batch: &[Expr], shape: &Shape) -> Vec<Expr> {
    let dims = &shape.dims()[..shape.rank() - 2];
    let pad = batch.len() - dims.len();
    dims.iter().enumerate().map(|(j, d)| if d.is_one() { c(0) } else { batch[j + pad].clone() }).collect()
}

/// Grid over the other axes; a sequential running sum along `axis`, storing every prefix.
fn cumsum(b: &mut Builder, n: NodeId, axis: usize, reverse: bool, out: usize) -> Built<()> {
    let shape = b.shape(n);
    let input = b.g.node(n).inputs[0];
    let others: Vec<usize> = (0..shape.rank()).filter(|&a| a != axis).collect();
    let base = grid(b, shape, &others);
    let dims = b.dims(shape);
    let acc = b.var(format!("acc{}", n.0), compute_dtype(b.g.ty(n).dtype));
    b.emit(Stmt::Let { var: acc, value: Expr::constant(0.0, compute_dtype(b.g.ty(n).dtype)) });
    b.for_axes(&[axis], &dims, "j", |b, vars| {
        let j = vars[0].clone();
        let pos = if reverse { ix::sub(ix::sub(dims[axis].clone(), c(1)), j) } else { j };
        let idx = with(&base, axis, pos);
        let x = b.value(input, &idx)?;
        b.emit(Stmt::Assign { var: acc, value: Expr::binary(BinOp::Add, Expr::Var(acc), x) });
        store_at(b, out, shape, &idx, Expr::Var(acc));
        Ok(())
    })
}

/// An index value converted to an in-range position along an axis of size `size`. Out-of-range indices
/// are clamped, so a bad index can never read or write outside a buffer (the executor reports bad index
/// inputs before launching; see docs/KERNELS.md).
fn position(b: &mut Builder, index: Expr, size: Expr) -> Expr {
    let i = b.cast(DType::I64, index);
    b.bind(ix::clamp(i, size, true, true), "p")
}

/// Grid over the output (the index's shape); each element reads data at the looked-up position.
fn gather(b: &mut Builder, n: NodeId, axis: usize, out: usize) -> Built<()> {
    let node = b.g.node(n);
    let (data, index) = (node.inputs[0], node.inputs[1]);
    let shape = b.shape(n);
    let all: Vec<usize> = (0..shape.rank()).collect();
    let idx = grid(b, shape, &all);
    let iv = b.value(index, &idx)?;
    let d = &b.shape(data).dims()[axis];
    let size = b.dim(d);
    let pos = position(b, iv, size);
    let guard = may_be_empty(d) || d.as_static() == Some(0);
    let v = b.guarded(guard, |b| b.value(data, &with(&idx, axis, pos)))?;
    store_at(b, out, shape, &idx, v);
    Ok(())
}

/// Grid over the output's other axes (one row per grid point, so no two grid points touch one element):
/// zero the row, then add each source element of the row at its indexed position, in order.
fn scatter_add(b: &mut Builder, n: NodeId, axis: usize, out: usize) -> Built<()> {
    let node = b.g.node(n);
    let (src, index) = (node.inputs[0], node.inputs[1]);
    let (shape, src_shape) = (b.shape(n), b.shape(src));
    let cd = compute_dtype(node.ty.dtype);
    let others: Vec<usize> = (0..shape.rank()).filter(|&a| a != axis).collect();
    let base = grid(b, shape, &others);
    let dims = b.dims(shape);
    b.for_axes(&[axis], &dims, "j", |b, vars| {
        store_at(b, out, shape, &with(&base, axis, vars[0].clone()), Expr::constant(0.0, cd));
        Ok(())
    })?;
    let src_dims = b.dims(src_shape);
    b.for_axes(&[axis], &src_dims, "s", |b, vars| {
        let sidx = with(&base, axis, vars[0].clone());
        let iv = b.value(index, &sidx)?;
        let pos = position(b, iv, dims[axis].clone());
        let oidx = with(&base, axis, pos);
        let current = b.load_buffer(out, shape, &oidx, Access::Write);
        let x = b.value(src, &sidx)?;
        store_at(b, out, shape, &oidx, Expr::binary(BinOp::Add, current, x));
        Ok(())
    })
}
