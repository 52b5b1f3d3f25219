//! Batched matrix multiplication with numpy batch broadcasting.

use super::acc::{Acc, by_acc};
use crate::Tensor;
use crate::index::{Reader, broadcast_index, tensor_from_fn};

/// `[.., M, K] x [.., K, N] -> [.., M, N]`; `shape` is the output shape (batch dims broadcast).
pub(super) fn matmul(a: &Tensor, b: &Tensor, shape: Vec<usize>) -> Tensor {
    by_acc!(a.dtype, matmul_as(a, b, shape))
}

fn matmul_as<A: Acc>(a: &Tensor, b: &Tensor, shape: Vec<usize>) -> Tensor {
    let (ra, rb, r) = (a.rank(), b.rank(), shape.len());
    let k_len = a.shape[ra - 1];
    debug_assert_eq!(k_len, b.shape[rb - 2]);
    let (ra_, rb_) = (Reader::new(a), Reader::new(b));
    let (mut ia, mut ib) = (Vec::with_capacity(ra), Vec::with_capacity(rb));
    tensor_from_fn(a.dtype, shape, |j| {
        let (batch, m, n) = (&j[..r - 2], j[r - 2], j[r - 1]);
        // Each operand's batch index under broadcasting, then its two matrix positions.
        broadcast_index(batch, &a.shape[..ra - 2], &mut ia);
        broadcast_index(batch, &b.shape[..rb - 2], &mut ib);
        ia.extend([m, 0]);
        ib.extend([0, n]);
        let mut sum = A::zero();
        for k in 0..k_len {
            ia[ra - 1] = k;
            ib[rb - 2] = k;
            sum = sum.add(A::load(ra_.get(&ia)).mul(A::load(rb_.get(&ib))));
        }
        sum.store(a.dtype)
    })
}
