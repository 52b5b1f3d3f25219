use irc_ir::{DType, Op, ReduceOp};
use irc_runtime::{Tensor, round_to};

use crate::{apply, assert_close, at, nondegenerate, off, rand};

/// Reference reduction by explicit loops over a rank-3 tensor.
fn reference(op: ReduceOp, x: &Tensor, axes: &[usize]) -> Tensor {
    let s = &x.shape;
    let out_shape: Vec<usize> = (0..3).map(|d| if axes.contains(&d) { 1 } else { s[d] }).collect();
    let mut out = vec![0.0; out_shape.iter().product()];
    for i in 0..out_shape[0] {
        for j in 0..out_shape[1] {
            for k in 0..out_shape[2] {
                let mut acc = match op {
                    ReduceOp::Sum => 0.0,
                    ReduceOp::Max => f64::NEG_INFINITY,
                };
                for a in 0..s[0] {
                    for b in 0..s[1] {
                        for c in 0..s[2] {
                            let keep = [(0, i, a), (1, j, b), (2, k, c)];
                            if keep.iter().all(|&(d, o, p)| axes.contains(&d) || o == p) {
                                let v = at(x, &[a, b, c]);
                                acc = match op {
                                    ReduceOp::Sum => acc + v,
                                    ReduceOp::Max => acc.max(v),
                                };
                            }
                        }
                    }
                }
                out[off(&out_shape, &[i, j, k])] = acc;
            }
        }
    }
    Tensor::new(x.dtype, out_shape, out)
}

#[test]
fn reductions_over_every_axis_subset() {
    let x = rand(DType::F32, &[3, 4, 5], 20);
    nondegenerate(&x);
    for op in [ReduceOp::Sum, ReduceOp::Max] {
        for axes in [vec![0], vec![1], vec![2], vec![0, 2], vec![1, 2], vec![0, 1, 2]] {
            let got = apply(Op::Reduce { op, axes: axes.clone() }, &[&x]);
            assert_close(&got, &reference(op, &x, &axes), 1e-6);
        }
    }
}

#[test]
fn integer_and_low_precision_reductions() {
    let x = rand(DType::I32, &[4, 6, 2], 21);
    for op in [ReduceOp::Sum, ReduceOp::Max] {
        let got = apply(Op::Reduce { op, axes: vec![1] }, &[&x]);
        assert_eq!(got, reference(op, &x, &[1]));
    }
    // f16: the f64 sum is rounded once, not after every addition.
    let x = rand(DType::F16, &[1, 200, 1], 22);
    let got = apply(Op::Reduce { op: ReduceOp::Sum, axes: vec![1] }, &[&x]);
    assert_eq!(got.data, [round_to(DType::F16, x.data.iter().sum())]);
    // Sums of large i32s wrap.
    let big = Tensor::new(DType::I32, vec![3], vec![2147483647.0, 2147483647.0, 5.0]);
    let got = apply(Op::Reduce { op: ReduceOp::Sum, axes: vec![0] }, &[&big]);
    assert_eq!(got.data, [(i32::MAX.wrapping_add(i32::MAX).wrapping_add(5)) as f64]);
}

#[test]
fn reductions_of_empty_axes_give_identities() {
    let e = Tensor::zeros(DType::F32, vec![2, 0]);
    let sum = apply(Op::Reduce { op: ReduceOp::Sum, axes: vec![1] }, &[&e]);
    assert_eq!((sum.shape.as_slice(), sum.data.as_slice()), (&[2, 1][..], &[0.0, 0.0][..]));
    let max = apply(Op::Reduce { op: ReduceOp::Max, axes: vec![1] }, &[&e]);
    assert_eq!(max.data, [f64::NEG_INFINITY; 2]);
    let ei = Tensor::zeros(DType::I32, vec![0, 3]);
    let max = apply(Op::Reduce { op: ReduceOp::Max, axes: vec![0] }, &[&ei]);
    assert_eq!(max.data, [i32::MIN as f64; 3]);
    // Reducing the non-empty axis of an empty tensor gives an empty result.
    let r = apply(Op::Reduce { op: ReduceOp::Sum, axes: vec![0] }, &[&e]);
    assert_eq!(r.shape, [1, 0]);
    let s = Tensor::new(DType::F32, vec![1], vec![2.5]);
    assert_eq!(apply(Op::Reduce { op: ReduceOp::Max, axes: vec![0] }, &[&s]), s);
}

/// Reference cumsum by explicit loops over a rank-3 tensor.
fn cumsum_reference(x: &Tensor, axis: usize, reverse: bool) -> Tensor {
    let s = x.shape.clone();
    let mut out = Tensor::zeros(x.dtype, s.clone());
    for i in 0..s[0] {
        for j in 0..s[1] {
            for k in 0..s[2] {
                let p = [i, j, k];
                let mut acc = 0.0;
                for m in 0..s[axis] {
                    let mut q = p;
                    q[axis] = m;
                    let included = if reverse { m >= p[axis] } else { m <= p[axis] };
                    if included {
                        acc += at(x, &q);
                    }
                }
                out.data[off(&s, &p)] = round_to(x.dtype, acc);
            }
        }
    }
    out
}

#[test]
fn cumsum_forward_and_reverse_on_every_axis() {
    let x = rand(DType::F64, &[3, 4, 5], 23);
    let xi = rand(DType::I64, &[3, 4, 5], 24);
    for axis in 0..3 {
        for reverse in [false, true] {
            let got = apply(Op::Cumsum { axis, reverse }, &[&x]);
            assert_close(&got, &cumsum_reference(&x, axis, reverse), 1e-12);
            let got = apply(Op::Cumsum { axis, reverse }, &[&xi]);
            assert_eq!(got, cumsum_reference(&xi, axis, reverse));
        }
    }
    let e = Tensor::zeros(DType::F32, vec![0, 3]);
    assert_eq!(apply(Op::Cumsum { axis: 0, reverse: true }, &[&e]), e);
    let v = Tensor::new(DType::I32, vec![4], vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(apply(Op::Cumsum { axis: 0, reverse: false }, &[&v]).data, [1.0, 3.0, 6.0, 10.0]);
    assert_eq!(apply(Op::Cumsum { axis: 0, reverse: true }, &[&v]).data, [10.0, 9.0, 7.0, 4.0]);
}
