//! Movement ops: each says, for every output multi-index, which input element it reads.

use super::RunError;
use crate::Tensor;
use crate::index::{Reader, broadcast_index, tensor_from_fn};

/// Same values in row-major order; `shape` holds as many elements (guaranteed by type inference).
pub(super) fn reshape(x: &Tensor, shape: Vec<usize>) -> Tensor {
    assert_eq!(shape.iter().product::<usize>(), x.numel(), "reshape {:?} to {shape:?}", x.shape);
    Tensor { dtype: x.dtype, shape, data: x.data.clone() }
}

/// `out[j] = x[k]` with `k[perm[i]] = j[i]`.
pub(super) fn permute(x: &Tensor, perm: &[usize]) -> Tensor {
    let input = Reader::new(x);
    let shape = perm.iter().map(|&p| x.shape[p]).collect();
    let mut k = vec![0; x.rank()];
    tensor_from_fn(x.dtype, shape, |j| {
        for (i, &p) in perm.iter().enumerate() {
            k[p] = j[i];
        }
        input.get(&k)
    })
}

/// numpy `broadcast_to`.
pub(super) fn expand(x: &Tensor, shape: Vec<usize>) -> Tensor {
    let input = Reader::new(x);
    let mut k = Vec::with_capacity(x.rank());
    tensor_from_fn(x.dtype, shape, |j| {
        broadcast_index(j, &x.shape, &mut k);
        input.get(&k)
    })
}

/// A run-time check that `start..end` lies within the axis; type inference cannot see sizes bound at
/// run time (e.g. `0..5` of an axis `T` when T = 3).
pub(super) fn check_slice(x: &Tensor, axis: usize, start: usize, end: usize, at: &str) -> Result<(), RunError> {
    let size = x.shape[axis];
    if start <= end && end <= size {
        Ok(())
    } else {
        Err(RunError::SliceOutOfRange { at: at.into(), start, end, axis, size })
    }
}

/// Elements `start..end` along `axis` (already checked by [`check_slice`]).
pub(super) fn slice(x: &Tensor, axis: usize, start: usize, end: usize) -> Tensor {
    let input = Reader::new(x);
    let mut shape = x.shape.clone();
    shape[axis] = end - start;
    let mut k = Vec::with_capacity(x.rank());
    tensor_from_fn(x.dtype, shape, |j| {
        k.clear();
        k.extend_from_slice(j);
        k[axis] += start;
        input.get(&k)
    })
}

/// `before` zeros, then `x`, then `after` zeros along `axis`.
pub(super) fn pad(x: &Tensor, axis: usize, before: usize, after: usize) -> Tensor {
    let input = Reader::new(x);
    let n = x.shape[axis];
    let mut shape = x.shape.clone();
    shape[axis] = before + n + after;
    let mut k = Vec::with_capacity(x.rank());
    tensor_from_fn(x.dtype, shape, |j| {
        if j[axis] < before || j[axis] >= before + n {
            return 0.0;
        }
        k.clear();
        k.extend_from_slice(j);
        k[axis] -= before;
        input.get(&k)
    })
}

/// The parts one after another along `axis`; all other dims agree (guaranteed by type inference).
pub(super) fn concat(parts: &[&Tensor], axis: usize) -> Tensor {
    let readers: Vec<Reader> = parts.iter().map(|t| Reader::new(t)).collect();
    let mut shape = parts[0].shape.clone();
    shape[axis] = parts.iter().map(|t| t.shape[axis]).sum();
    let mut k = Vec::with_capacity(shape.len());
    tensor_from_fn(parts[0].dtype, shape, |j| {
        // Find the part holding position j[axis], and the position within it.
        let mut pos = j[axis];
        let r = readers
            .iter()
            .find(|r| {
                let n = r.shape()[axis];
                if pos < n {
                    return true;
                }
                pos -= n;
                false
            })
            .expect("the concatenated axis is the sum of the parts");
        k.clear();
        k.extend_from_slice(j);
        k[axis] = pos;
        r.get(&k)
    })
}
