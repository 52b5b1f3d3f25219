//! Batched matrix multiplication with numpy batch broadcasting.

use super::acc::{Acc, by_acc};
use crate::index::{broadcast_index, for_each_index, ravel};
use crate::{Tensor, strides};

/// `[.., M, K] x [.., K, N] -> [.., M, N]`; `shape` is the output shape (batch dims broadcast).
pub(super) fn matmul(a: &Tensor, b: &Tensor, shape: Vec<usize>) -> Tensor {
    by_acc!(a.dtype, matmul_as(a, b, shape))
}

fn matmul_as<A: Acc>(a: &Tensor, b: &Tensor, shape: Vec<usize>) -> Tensor {
    let (ra, rb, r) = (a.rank(), b.rank(), shape.len());
    let (m, k, n) = (a.shape[ra - 2], a.shape[ra - 1], b.shape[rb - 1]);
    debug_assert_eq!(k, b.shape[rb - 2]);
    let (sa, sb) = (strides(&a.shape), strides(&b.shape));
    let (mut ia, mut ib) = (Vec::with_capacity(ra), Vec::with_capacity(rb));
    let mut data = Vec::with_capacity(shape.iter().product());
    let mut row = vec![A::zero(); n];
    for_each_index(&shape[..r - 2], |batch| {
        // Each operand's matrix under broadcasting; matrices are contiguous in row-major tensors.
        broadcast_index(batch, &a.shape[..ra - 2], &mut ia);
        broadcast_index(batch, &b.shape[..rb - 2], &mut ib);
        let (a0, b0) = (ravel(&ia, &sa[..ra - 2]), ravel(&ib, &sb[..rb - 2]));
        for i in 0..m {
            // Row i of the product, accumulated over k in increasing order for every element.
            row.fill(A::zero());
            for kk in 0..k {
                let x = A::load(a.data[a0 + i * k + kk]);
                let b_row = &b.data[b0 + kk * n..b0 + (kk + 1) * n];
                for (acc, &y) in row.iter_mut().zip(b_row) {
                    *acc = acc.add(x.mul(A::load(y)));
                }
            }
            data.extend(row.iter().map(|v| v.store(a.dtype)));
        }
    });
    Tensor::new(a.dtype, shape, data)
}
