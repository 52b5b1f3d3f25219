//! Output-type inference: the typing rule of every primitive op, in one place. The verifier and every
//! graph builder call [`infer_type`], so a graph that was built is a graph that type-checks.

use crate::{BinaryOp, DType, Dim, Op, Shape, TensorType};

/// Why an op cannot take the given inputs; the caller adds the node, op and input types.
pub type TypeResult<T> = Result<T, String>;

fn check(cond: bool, msg: impl FnOnce() -> String) -> TypeResult<()> {
    if cond { Ok(()) } else { Err(msg()) }
}

fn axis_ok(axis: usize, rank: usize) -> TypeResult<()> {
    check(axis < rank, || format!("axis {axis} is out of range for rank {rank}"))
}

fn numeric(t: &TensorType) -> TypeResult<()> {
    check(t.dtype != DType::Bool, || format!("expects a numeric dtype, got {}", t.dtype))
}

fn float(t: &TensorType) -> TypeResult<()> {
    check(t.dtype.is_float(), || format!("expects a floating-point dtype, got {}", t.dtype))
}

fn index(t: &TensorType) -> TypeResult<()> {
    check(t.dtype.is_int(), || format!("index must be i32 or i64, got {}", t.dtype))
}

fn same_type(a: &TensorType, b: &TensorType) -> TypeResult<()> {
    check(a == b, || format!("operand types differ: {a} vs {b} (broadcast explicitly with expand)"))
}

/// numpy broadcasting of two shapes aligned from the right.
pub fn broadcast_shapes(a: &Shape, b: &Shape) -> TypeResult<Shape> {
    let rank = a.rank().max(b.rank());
    let dim = |s: &Shape, i: usize| -> Dim {
        let pad = rank - s.rank();
        if i < pad { Dim::Static(1) } else { s.0[i - pad].clone() }
    };
    (0..rank)
        .map(|i| {
            let (x, y) = (dim(a, i), dim(b, i));
            if x == y || y.is_one() {
                Ok(x)
            } else if x.is_one() {
                Ok(y)
            } else {
                Err(format!("shapes {a} and {b} do not broadcast (dimension {x} vs {y})"))
            }
        })
        .collect::<TypeResult<Vec<_>>>()
        .map(Shape)
}

/// The output type of `op` applied to inputs of types `ins`.
pub fn infer_type(op: &Op, ins: &[&TensorType]) -> TypeResult<TensorType> {
    match op.arity() {
        Some(n) => check(ins.len() == n, || format!("expects {n} inputs, got {}", ins.len()))?,
        None => check(!ins.is_empty(), || "expects at least one input".to_string())?,
    }
    match op {
        Op::Input { ty, name } | Op::Param { ty, name, .. } => {
            check(!name.is_empty(), || "name must not be empty".into())?;
            Ok(ty.clone())
        }
        Op::Const { dtype, value } => {
            check(dtype.is_float() || value.fract() == 0.0 || !value.is_finite(), || {
                format!("constant {value} is not a valid {dtype}")
            })?;
            Ok(TensorType::new(*dtype, Shape::scalar()))
        }
        Op::Literal { ty, data } => {
            check(ty.shape.is_static(), || "literal shape must be static".into())?;
            let n = ty.shape.numel().ok_or("literal shape is too large")?;
            check(n == data.len(), || format!("literal of shape {} needs {n} values, got {}", ty.shape, data.len()))?;
            Ok(ty.clone())
        }
        Op::Iota { axis, ty } => {
            axis_ok(*axis, ty.rank())?;
            numeric(ty)?;
            Ok(ty.clone())
        }
        Op::Unary { op } => {
            if op.is_sign_op() { numeric(ins[0]) } else { float(ins[0]) }?;
            Ok(ins[0].clone())
        }
        Op::Cast { dtype } => Ok(TensorType::new(*dtype, ins[0].shape.clone())),
        Op::Binary { op } => {
            same_type(ins[0], ins[1])?;
            if op.is_comparison() {
                Ok(TensorType::new(DType::Bool, ins[0].shape.clone()))
            } else {
                numeric(ins[0])?;
                if *op == BinaryOp::Pow {
                    float(ins[0])?;
                }
                Ok(ins[0].clone())
            }
        }
        Op::Select => {
            let (c, a, b) = (ins[0], ins[1], ins[2]);
            check(c.dtype == DType::Bool, || format!("condition must be bool, got {}", c.dtype))?;
            same_type(a, b)?;
            check(c.shape == a.shape, || format!("condition shape {} differs from value shape {}", c.shape, a.shape))?;
            Ok(a.clone())
        }
        Op::Reduce { axes, .. } => {
            let t = ins[0];
            numeric(t)?;
            check(!axes.is_empty(), || "needs at least one axis".into())?;
            check(axes.windows(2).all(|w| w[0] < w[1]), || format!("axes {axes:?} must be sorted and distinct"))?;
            let mut shape = t.shape.clone();
            for &a in axes {
                axis_ok(a, t.rank())?;
                shape.0[a] = Dim::Static(1);
            }
            Ok(TensorType::new(t.dtype, shape))
        }
        Op::Cumsum { axis, .. } => {
            numeric(ins[0])?;
            axis_ok(*axis, ins[0].rank())?;
            Ok(ins[0].clone())
        }
        Op::Reshape { shape } => {
            let t = ins[0];
            check(t.shape.numel_parts() == shape.numel_parts(), || {
                format!("cannot reshape {} to {}: element counts differ", t.shape, shape)
            })?;
            Ok(TensorType::new(t.dtype, shape.clone()))
        }
        Op::Permute { perm } => {
            let t = ins[0];
            let mut seen = vec![false; t.rank()];
            check(perm.len() == t.rank(), || {
                format!("permutation {perm:?} has length {} but rank is {}", perm.len(), t.rank())
            })?;
            for &p in perm {
                check(p < t.rank() && !seen[p], || format!("{perm:?} is not a permutation of 0..{}", t.rank()))?;
                seen[p] = true;
            }
            Ok(TensorType::new(t.dtype, Shape(perm.iter().map(|&p| t.shape.0[p].clone()).collect())))
        }
        Op::Expand { shape } => {
            let t = ins[0];
            check(t.rank() <= shape.rank(), || format!("cannot expand rank {} to rank {}", t.rank(), shape.rank()))?;
            let b = broadcast_shapes(&t.shape, shape)?;
            check(&b == shape, || format!("cannot expand {} to {}", t.shape, shape))?;
            Ok(TensorType::new(t.dtype, shape.clone()))
        }
        Op::Slice { axis, start, end } => {
            let t = ins[0];
            axis_ok(*axis, t.rank())?;
            let dim = &t.shape.0[*axis];
            let len =
                end.minus(&Dim::Static(*start)).ok_or_else(|| format!("slice {start}..{end} has negative length"))?;
            let past = dim.minus(end).is_some();
            check(past, || format!("slice {start}..{end} exceeds dimension {dim} of axis {axis}"))?;
            let mut shape = t.shape.clone();
            shape.0[*axis] = len;
            Ok(TensorType::new(t.dtype, shape))
        }
        Op::Pad { axis, before, after } => {
            let t = ins[0];
            axis_ok(*axis, t.rank())?;
            let mut shape = t.shape.clone();
            let grown = before.checked_add(*after).and_then(|k| i64::try_from(k).ok());
            shape.0[*axis] = grown
                .and_then(|k| shape.0[*axis].offset_by(k))
                .ok_or_else(|| format!("padding {before}+{after} overflows dimension {}", t.shape.0[*axis]))?;
            Ok(TensorType::new(t.dtype, shape))
        }
        Op::Concat { axis } => {
            let first = ins[0];
            axis_ok(*axis, first.rank())?;
            let mut total = Dim::Static(0);
            for t in ins {
                check(t.dtype == first.dtype && t.rank() == first.rank(), || {
                    format!("cannot concat {first} with {t}")
                })?;
                for (i, (x, y)) in first.shape.0.iter().zip(&t.shape.0).enumerate() {
                    check(i == *axis || x == y, || format!("cannot concat {first} with {t}: dimension {i} differs"))?;
                }
                total = total.plus(&t.shape.0[*axis]).ok_or_else(|| {
                    format!(
                        "concat along axis {axis} adds two symbolic dims ({total} + {}): unsupported",
                        t.shape.0[*axis]
                    )
                })?;
            }
            let mut shape = first.shape.clone();
            shape.0[*axis] = total;
            Ok(TensorType::new(first.dtype, shape))
        }
        Op::MatMul => {
            let (a, b) = (ins[0], ins[1]);
            numeric(a)?;
            check(a.dtype == b.dtype, || format!("dtypes differ: {} vs {}", a.dtype, b.dtype))?;
            check(a.rank() >= 2 && b.rank() >= 2, || format!("operands need rank >= 2, got {a} and {b}"))?;
            let (ra, rb) = (a.rank(), b.rank());
            let (m, k1) = (&a.shape.0[ra - 2], &a.shape.0[ra - 1]);
            let (k2, n) = (&b.shape.0[rb - 2], &b.shape.0[rb - 1]);
            check(k1 == k2, || format!("inner dimensions differ: {k1} vs {k2}"))?;
            let batch = broadcast_shapes(&Shape(a.shape.0[..ra - 2].to_vec()), &Shape(b.shape.0[..rb - 2].to_vec()))?;
            let mut dims = batch.0;
            dims.extend([m.clone(), n.clone()]);
            Ok(TensorType::new(a.dtype, Shape(dims)))
        }
        Op::Gather { axis } => {
            let (data, idx) = (ins[0], ins[1]);
            index(idx)?;
            axis_ok(*axis, data.rank())?;
            check(idx.rank() == data.rank(), || {
                format!("index rank {} differs from data rank {}", idx.rank(), data.rank())
            })?;
            for (i, (x, y)) in data.shape.0.iter().zip(&idx.shape.0).enumerate() {
                check(i == *axis || x == y, || {
                    format!("index shape {} and data shape {} differ at dimension {i}", idx.shape, data.shape)
                })?;
            }
            Ok(TensorType::new(data.dtype, idx.shape.clone()))
        }
        Op::ScatterAdd { axis, size } => {
            let (src, idx) = (ins[0], ins[1]);
            numeric(src)?;
            index(idx)?;
            check(src.shape == idx.shape, || {
                format!("source shape {} differs from index shape {}", src.shape, idx.shape)
            })?;
            axis_ok(*axis, src.rank())?;
            let mut shape = src.shape.clone();
            shape.0[*axis] = size.clone();
            Ok(TensorType::new(src.dtype, shape))
        }
        Op::Attention { .. } => crate::fused::attention_type(ins),
        Op::Monarch => crate::fused::monarch_type(ins),
    }
}
