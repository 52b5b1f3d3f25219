use irc_ir::{DType, Dim, Op};
use irc_runtime::{Tensor, round_to};

use crate::{apply, assert_close, at, nondegenerate, off, rand, rand_index};

#[test]
fn batched_matmul_broadcasts_batch_dims() {
    // [2, 1, 3, 4] x [5, 4, 2] -> [2, 5, 3, 2], by explicit loops.
    let a = rand(DType::F32, &[2, 1, 3, 4], 40);
    let b = rand(DType::F32, &[5, 4, 2], 41);
    let got = apply(Op::MatMul, &[nondegenerate(&a), nondegenerate(&b)]);
    let shape = [2, 5, 3, 2];
    let mut want = vec![0.0; 60];
    for p in 0..2 {
        for q in 0..5 {
            for m in 0..3 {
                for n in 0..2 {
                    let mut s = 0.0;
                    for k in 0..4 {
                        s += at(&a, &[p, 0, m, k]) * at(&b, &[q, k, n]);
                    }
                    want[off(&shape, &[p, q, m, n])] = s;
                }
            }
        }
    }
    assert_close(&got, &Tensor::new(DType::F32, shape.to_vec(), want), 1e-6);
}

#[test]
fn plain_integer_and_degenerate_matmuls() {
    let a = rand(DType::I32, &[3, 5], 42);
    let b = rand(DType::I32, &[5, 2], 43);
    let got = apply(Op::MatMul, &[&a, &b]);
    for m in 0..3 {
        for n in 0..2 {
            let s: f64 = (0..5).map(|k| at(&a, &[m, k]) * at(&b, &[k, n])).sum();
            assert_eq!(at(&got, &[m, n]), s);
        }
    }
    // K = 0 gives zeros; M = 0 gives an empty result.
    let z = apply(Op::MatMul, &[&Tensor::zeros(DType::F32, vec![2, 0]), &Tensor::zeros(DType::F32, vec![0, 3])]);
    assert_eq!((z.shape.as_slice(), z.data.as_slice()), (&[2, 3][..], &[0.0; 6][..]));
    let e = apply(Op::MatMul, &[&Tensor::zeros(DType::F32, vec![0, 4]), &rand(DType::F32, &[4, 3], 44)]);
    assert_eq!(e.shape, [0, 3]);
    // bf16 accumulates in f64 and rounds once.
    let a = rand(DType::BF16, &[1, 64], 45);
    let b = rand(DType::BF16, &[64, 1], 46);
    let exact: f64 = a.data.iter().zip(&b.data).map(|(x, y)| x * y).sum();
    assert_eq!(apply(Op::MatMul, &[&a, &b]).data, [round_to(DType::BF16, exact)]);
    // [3, 2, 2] x [2, 2]: the rank-2 operand broadcasts over the batch.
    let a = rand(DType::F64, &[3, 2, 2], 47);
    let b = rand(DType::F64, &[2, 2], 48);
    let got = apply(Op::MatMul, &[&a, &b]);
    for p in 0..3 {
        let s: f64 = (0..2).map(|k| at(&a, &[p, 1, k]) * at(&b, &[k, 0])).sum();
        assert!((at(&got, &[p, 1, 0]) - s).abs() < 1e-12);
    }
}

/// numpy `take_along_axis` by explicit loops for rank 3.
fn gather_reference(x: &Tensor, idx: &Tensor, axis: usize) -> Tensor {
    let s = &idx.shape;
    let mut out = Tensor::zeros(x.dtype, s.clone());
    for i in 0..s[0] {
        for j in 0..s[1] {
            for k in 0..s[2] {
                let mut p = [i, j, k];
                let o = off(s, &p);
                p[axis] = idx.data[o] as usize;
                out.data[o] = at(x, &p);
            }
        }
    }
    out
}

fn scatter_reference(src: &Tensor, idx: &Tensor, axis: usize, size: usize) -> Tensor {
    let s = &src.shape;
    let mut shape = s.clone();
    shape[axis] = size;
    let mut out = Tensor::zeros(src.dtype, shape.clone());
    for i in 0..s[0] {
        for j in 0..s[1] {
            for k in 0..s[2] {
                let mut p = [i, j, k];
                let o = off(s, &p);
                p[axis] = idx.data[o] as usize;
                out.data[off(&shape, &p)] += src.data[o];
            }
        }
    }
    out
}

#[test]
fn gather_and_scatter_add_along_each_axis() {
    let x = rand(DType::F64, &[4, 5, 3], 50);
    for axis in 0..3 {
        // The index axis may be longer or shorter than the data axis.
        let mut ishape = x.shape.clone();
        ishape[axis] = 6;
        for dt in [DType::I32, DType::I64] {
            let idx = rand_index(dt, &ishape, x.shape[axis], 51 + axis as u64);
            let g = apply(Op::Gather { axis }, &[&x, &idx]);
            assert_eq!(g, gather_reference(&x, &idx, axis));
            let src = rand(DType::F64, &ishape, 60 + axis as u64);
            let size = Dim::Static(x.shape[axis]);
            let s = apply(Op::ScatterAdd { axis, size }, &[&src, &idx]);
            assert_close(&s, &scatter_reference(&src, &idx, axis, x.shape[axis]), 1e-12);
        }
    }
}

#[test]
fn scatter_add_is_the_adjoint_of_gather() {
    // <gather(x, i), y> == <x, scatter_add(y, i)>
    let x = rand(DType::F64, &[3, 7], 70);
    let idx = rand_index(DType::I64, &[3, 9], 7, 71);
    let y = rand(DType::F64, &[3, 9], 72);
    let gx = apply(Op::Gather { axis: 1 }, &[&x, &idx]);
    let sy = apply(Op::ScatterAdd { axis: 1, size: Dim::Static(7) }, &[&y, &idx]);
    let lhs: f64 = gx.data.iter().zip(&y.data).map(|(a, b)| a * b).sum();
    let rhs: f64 = x.data.iter().zip(&sy.data).map(|(a, b)| a * b).sum();
    assert!((lhs - rhs).abs() < 1e-12 * (1.0 + lhs.abs()), "{lhs} vs {rhs}");
}

#[test]
fn scatter_add_accumulates_duplicates_and_integers() {
    let src = Tensor::new(DType::I32, vec![5], vec![1.0, 2.0, 3.0, 4.0, 5.0]);
    let idx = Tensor::new(DType::I32, vec![5], vec![0.0, 2.0, 0.0, 2.0, 2.0]);
    let got = apply(Op::ScatterAdd { axis: 0, size: Dim::Static(4) }, &[&src, &idx]);
    assert_eq!(got.data, [4.0, 0.0, 11.0, 0.0]);
    // Empty index: nothing gathered; scatter into zeros.
    let x = rand(DType::F32, &[2, 3], 73);
    let none = Tensor::zeros(DType::I64, vec![2, 0]);
    assert_eq!(apply(Op::Gather { axis: 1 }, &[&x, &none]).shape, [2, 0]);
    let s = apply(Op::ScatterAdd { axis: 1, size: Dim::Static(3) }, &[&Tensor::zeros(DType::F32, vec![2, 0]), &none]);
    assert_eq!(s, Tensor::zeros(DType::F32, vec![2, 3]));
}
