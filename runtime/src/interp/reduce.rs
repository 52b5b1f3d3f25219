//! Reductions and prefix sums.

use irc_ir::ReduceOp;

use super::acc::{Acc, by_acc};
use crate::index::{Reader, for_each_index, ravel};
use crate::{Tensor, strides};

/// Reduces `axes` of `x`, keeping them as size-1 dims. Max over an empty axis gives -inf (the dtype's
/// minimum for integers); sum gives 0.
pub(super) fn reduce(op: ReduceOp, axes: &[usize], x: &Tensor) -> Tensor {
    by_acc!(x.dtype, reduce_as(op, axes, x))
}

fn reduce_as<A: Acc>(op: ReduceOp, axes: &[usize], x: &Tensor) -> Tensor {
    let mut out_shape = x.shape.clone();
    for &a in axes {
        out_shape[a] = 1;
    }
    let out_strides = strides(&out_shape);
    let init = match op {
        ReduceOp::Sum => A::zero(),
        ReduceOp::Max => A::lowest(x.dtype),
    };
    let mut acc = vec![init; out_shape.iter().product()];
    let input = Reader::new(x);
    let mut dst = Vec::with_capacity(x.rank());
    // Every input element folds into the output element at its index with the reduced axes zeroed.
    for_each_index(&x.shape, |i| {
        dst.clear();
        dst.extend(i.iter().enumerate().map(|(d, &p)| if axes.contains(&d) { 0 } else { p }));
        let o = ravel(&dst, &out_strides);
        let v = A::load(input.get(i));
        acc[o] = match op {
            ReduceOp::Sum => acc[o].add(v),
            ReduceOp::Max => acc[o].max(v),
        };
    });
    Tensor::new(x.dtype, out_shape, acc.into_iter().map(|a| a.store(x.dtype)).collect())
}

/// Inclusive prefix sum along `axis`; `reverse` sums from the end.
pub(super) fn cumsum(x: &Tensor, axis: usize, reverse: bool) -> Tensor {
    by_acc!(x.dtype, cumsum_as(x, axis, reverse))
}

fn cumsum_as<A: Acc>(x: &Tensor, axis: usize, reverse: bool) -> Tensor {
    let step = strides(&x.shape)[axis];
    let len = x.shape[axis];
    let mut order: Vec<usize> = (0..x.numel()).collect();
    if reverse {
        order.reverse();
    }
    // In row-major order (or its reverse for `reverse`) the previous element along `axis` is visited
    // before the current one, so one pass over the flat offsets suffices.
    let mut acc = vec![A::zero(); x.numel()];
    for o in order {
        let pos = (o / step) % len;
        let prev = match reverse {
            false if pos > 0 => Some(o - step),
            true if pos + 1 < len => Some(o + step),
            _ => None,
        };
        let v = A::load(x.data[o]);
        acc[o] = prev.map_or(v, |p| acc[p].add(v));
    }
    Tensor::new(x.dtype, x.shape.clone(), acc.into_iter().map(|a| a.store(x.dtype)).collect())
}
