//! Gather (numpy `take_along_axis`) and its adjoint, scatter-add.

use super::RunError;
use super::acc::{Acc, by_acc};
use super::elementwise::to_int;
use crate::index::{Reader, for_each_index, ravel, tensor_from_fn};
use crate::{Tensor, strides};

/// Every index in `idx` as a position in `0..size`; negative indices are out of range too.
fn positions(idx: &Tensor, axis: usize, size: usize, at: &str) -> Result<Vec<usize>, RunError> {
    idx.data
        .iter()
        .map(|&v| {
            let i = to_int(v);
            usize::try_from(i).ok().filter(|&p| p < size).ok_or_else(|| RunError::IndexOutOfRange {
                at: at.into(),
                index: i,
                axis,
                size,
            })
        })
        .collect()
}

/// `out[p] = data[p with p[axis] := index[p]]`; the output has the index's shape.
pub(super) fn gather(data: &Tensor, idx: &Tensor, axis: usize, at: &str) -> Result<Tensor, RunError> {
    let pos = positions(idx, axis, data.shape[axis], at)?;
    let (input, index) = (Reader::new(data), Reader::new(idx));
    let mut k = Vec::with_capacity(data.rank());
    Ok(tensor_from_fn(data.dtype, idx.shape.clone(), |j| {
        k.clear();
        k.extend_from_slice(j);
        k[axis] = pos[index.offset(j)];
        input.get(&k)
    }))
}

/// `out[p with p[axis] := index[p]] += src[p]` into zeros of `src`'s shape with `axis` of `size`.
pub(super) fn scatter_add(src: &Tensor, idx: &Tensor, axis: usize, size: usize, at: &str) -> Result<Tensor, RunError> {
    let pos = positions(idx, axis, size, at)?;
    Ok(by_acc!(src.dtype, scatter_as(src, &pos, axis, size)))
}

fn scatter_as<A: Acc>(src: &Tensor, pos: &[usize], axis: usize, size: usize) -> Tensor {
    let mut shape = src.shape.clone();
    shape[axis] = size;
    let out_strides = strides(&shape);
    let mut acc = vec![A::zero(); shape.iter().product()];
    let input = Reader::new(src);
    let mut k = Vec::with_capacity(src.rank());
    for_each_index(&src.shape, |p| {
        let o = input.offset(p);
        k.clear();
        k.extend_from_slice(p);
        k[axis] = pos[o];
        let d = ravel(&k, &out_strides);
        acc[d] = acc[d].add(A::load(src.data[o]));
    });
    Tensor::new(src.dtype, shape, acc.into_iter().map(|a| a.store(src.dtype)).collect())
}
