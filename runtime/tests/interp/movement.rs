use irc_ir::{DType, Dim, Op, Shape};
use irc_runtime::Tensor;

use crate::{apply, at, nondegenerate, off, rand};

fn tensor_fn(dtype: DType, shape: &[usize], f: impl Fn(&[usize]) -> f64) -> Tensor {
    // Odometer written out here so the expected values do not depend on the runtime's index helper.
    let n: usize = shape.iter().product();
    let mut data = Vec::with_capacity(n);
    for flat in 0..n {
        let mut idx = vec![0; shape.len()];
        let mut r = flat;
        for d in (0..shape.len()).rev() {
            idx[d] = r % shape[d];
            r /= shape[d];
        }
        assert_eq!(off(shape, &idx), flat);
        data.push(f(&idx));
    }
    Tensor::new(dtype, shape.to_vec(), data)
}

#[test]
fn reshape_keeps_row_major_order() {
    let x = rand(DType::F32, &[2, 3, 4], 30);
    let y = apply(Op::Reshape { shape: Shape::of(&[4, 6]) }, &[&x]);
    assert_eq!((y.shape.as_slice(), &y.data), (&[4, 6][..], &x.data));
    let s = Tensor::scalar(DType::I32, 7.0);
    assert_eq!(apply(Op::Reshape { shape: Shape::of(&[1, 1]) }, &[&s]).shape, [1, 1]);
    let e = Tensor::zeros(DType::F32, vec![0, 5]);
    assert_eq!(apply(Op::Reshape { shape: Shape::of(&[5, 0, 2]) }, &[&e]).shape, [5, 0, 2]);
}

#[test]
fn permute_by_index_formula_and_inverse() {
    let x = rand(DType::F32, &[2, 3, 4], 31);
    let y = apply(Op::Permute { perm: vec![2, 0, 1] }, &[nondegenerate(&x)]);
    // out.shape[i] = in.shape[perm[i]], so out[a, b, c] = x[b, c, a].
    let want = tensor_fn(DType::F32, &[4, 2, 3], |j| at(&x, &[j[1], j[2], j[0]]));
    assert_eq!(y, want);
    let back = apply(Op::Permute { perm: vec![1, 2, 0] }, &[&y]);
    assert_eq!(back, x);
    let z = rand(DType::I64, &[2, 1, 3, 2], 32);
    let p = apply(Op::Permute { perm: vec![3, 1, 0, 2] }, &[&z]);
    assert_eq!(p, tensor_fn(DType::I64, &[2, 1, 2, 3], |j| at(&z, &[j[2], j[1], j[3], j[0]])));
}

#[test]
fn expand_broadcasts_from_the_right() {
    let x = rand(DType::F32, &[3, 1], 33);
    let y = apply(Op::Expand { shape: Shape::of(&[2, 3, 4]) }, &[&x]);
    assert_eq!(y, tensor_fn(DType::F32, &[2, 3, 4], |j| at(&x, &[j[1], 0])));
    let s = Tensor::scalar(DType::Bool, 1.0);
    let y = apply(Op::Expand { shape: Shape::of(&[2, 2]) }, &[&s]);
    assert_eq!(y.data, [1.0; 4]);
    let y = apply(Op::Expand { shape: Shape::of(&[3, 0]) }, &[&Tensor::zeros(DType::F32, vec![1])]);
    assert_eq!(y.shape, [3, 0]);
}

#[test]
fn slice_by_index_formula() {
    let x = rand(DType::F32, &[4, 5, 3], 34);
    let y = apply(Op::Slice { axis: 1, start: 1, end: Dim::Static(4) }, &[&x]);
    assert_eq!(y, tensor_fn(DType::F32, &[4, 3, 3], |j| at(&x, &[j[0], j[1] + 1, j[2]])));
    let empty = apply(Op::Slice { axis: 0, start: 2, end: Dim::Static(2) }, &[&x]);
    assert_eq!((empty.shape.as_slice(), empty.data.len()), (&[0, 5, 3][..], 0));
    let whole = apply(Op::Slice { axis: 2, start: 0, end: Dim::Static(3) }, &[&x]);
    assert_eq!(whole, x);
}

#[test]
fn pad_by_index_formula_and_slice_recovers_input() {
    let x = rand(DType::I32, &[3, 2], 35);
    let y = apply(Op::Pad { axis: 0, before: 2, after: 1 }, &[&x]);
    let want = tensor_fn(DType::I32, &[6, 2], |j| if (2..5).contains(&j[0]) { at(&x, &[j[0] - 2, j[1]]) } else { 0.0 });
    assert_eq!(y, want);
    let back = apply(Op::Slice { axis: 0, start: 2, end: Dim::Static(5) }, &[&y]);
    assert_eq!(back, x);
    let e = Tensor::zeros(DType::F32, vec![0, 2]);
    let y = apply(Op::Pad { axis: 0, before: 1, after: 1 }, &[&e]);
    assert_eq!((y.shape.as_slice(), y.data.as_slice()), (&[2, 2][..], &[0.0; 4][..]));
}

#[test]
fn concat_then_slice_recovers_parts() {
    let a = rand(DType::F32, &[2, 3], 36);
    let b = rand(DType::F32, &[2, 1], 37);
    let e = Tensor::zeros(DType::F32, vec![2, 0]);
    let c = rand(DType::F32, &[2, 2], 38);
    let y = apply(Op::Concat { axis: 1 }, &[&a, &b, &e, &c]);
    let want = tensor_fn(DType::F32, &[2, 6], |j| match j[1] {
        0..3 => at(&a, &[j[0], j[1]]),
        3 => at(&b, &[j[0], 0]),
        _ => at(&c, &[j[0], j[1] - 4]),
    });
    assert_eq!(y, want);
    for (part, start) in [(&a, 0), (&b, 3), (&e, 4), (&c, 4)] {
        let end = Dim::Static(start + part.shape[1]);
        assert_eq!(&apply(Op::Slice { axis: 1, start, end }, &[&y]), part);
    }
    let y = apply(Op::Concat { axis: 0 }, &[&a, &a]);
    assert_eq!(y.data, [a.data.clone(), a.data.clone()].concat());
}
