use irc_ir::{BinaryOp, DType, Dim, Op, ReduceOp, Shape, TensorType};
use irc_runtime::Tensor;

use crate::{G, at, rand, run, try_run};

fn d(s: &str) -> Dim {
    s.parse().unwrap()
}

/// One graph over `x: f32[T, 4]` and `m: f32[T+2, 4]`, run at several sizes of T.
#[test]
fn one_graph_runs_at_several_sizes() {
    let mut b = G::default();
    let x = b.input("x", DType::F32, [d("T"), d("4")]);
    let m = b.input("m", DType::F32, [d("T+2"), d("4")]);
    let sliced = b.op(Op::Slice { axis: 0, start: 1, end: d("T") }, &[x]);
    let padded = b.op(Op::Pad { axis: 0, before: 1, after: 1 }, &[x]);
    let summed = b.op(Op::Binary { op: BinaryOp::Add }, &[padded, m]);
    let pos = b.op(Op::Iota { axis: 0, ty: TensorType::new(DType::I32, [d("T")]) }, &[]);
    let total = b.op(Op::Reduce { op: ReduceOp::Sum, axes: vec![0] }, &[x]);
    let reshaped = b.op(Op::Reshape { shape: Shape(vec![d("T"), d("2"), d("2")]) }, &[x]);
    let one = b.op(Op::Const { value: 1.5, dtype: DType::F32 }, &[]);
    let filled = b.op(Op::Expand { shape: Shape(vec![d("T"), d("4")]) }, &[one]);
    let g = b.out(&[sliced, summed, pos, total, reshaped, filled]);

    for t in [3, 5, 1, 0] {
        let xv = rand(DType::F32, &[t, 4], 80 + t as u64);
        let mv = rand(DType::F32, &[t + 2, 4], 90 + t as u64);
        if t == 0 {
            // slice 1..T is out of range when T = 0.
            let err = try_run(&g, &[("x", &xv), ("m", &mv)]).unwrap_err().to_string();
            assert!(err.contains("slice 1..0 is out of range for axis 0 of size 0"), "{err}");
            continue;
        }
        let out = run(&g, &[("x", &xv), ("m", &mv)]);
        assert_eq!(out[0].shape, [t - 1, 4]);
        assert_eq!(out[0].data, xv.data[4..]);
        assert_eq!(out[1].shape, [t + 2, 4]);
        for i in 0..t + 2 {
            for j in 0..4 {
                let p = if (1..=t).contains(&i) { at(&xv, &[i - 1, j]) } else { 0.0 };
                assert_eq!(at(&out[1], &[i, j]), ((p + at(&mv, &[i, j])) as f32) as f64);
            }
        }
        assert_eq!(out[2], Tensor::new(DType::I32, vec![t], (0..t).map(|i| i as f64).collect()));
        let col: Vec<f64> = (0..4).map(|j| (0..t).map(|i| at(&xv, &[i, j])).sum::<f64>()).collect();
        assert_eq!(out[3], Tensor::new(DType::F32, vec![1, 4], col));
        assert_eq!((out[4].shape.as_slice(), &out[4].data), (&[t, 2, 2][..], &xv.data));
        assert_eq!(out[5], Tensor::new(DType::F32, vec![t, 4], vec![1.5; t * 4]));
    }
}

#[test]
fn symbols_bind_through_offsets_and_reach_params_and_scatter() {
    let mut b = G::default();
    let x = b.input("x", DType::F32, [d("T-1")]);
    let idx = b.input("i", DType::I64, [d("N")]);
    let w =
        b.op(Op::Param { name: "w".into(), ty: TensorType::new(DType::F32, [d("T")]), init: Default::default() }, &[]);
    let src = b.op(Op::Cast { dtype: DType::F32 }, &[idx]);
    let scattered = b.op(Op::ScatterAdd { axis: 0, size: d("T") }, &[src, idx]);
    let sum = b.op(Op::Binary { op: BinaryOp::Add }, &[scattered, w]);
    let padded = b.op(Op::Pad { axis: 0, before: 0, after: 1 }, &[x]);
    let g = b.out(&[sum, padded]);

    // x has 2 elements, so T = 3.
    let xv = rand(DType::F32, &[2], 100);
    let iv = Tensor::new(DType::I64, vec![4], vec![2.0, 0.0, 2.0, 1.0]);
    let wv = Tensor::new(DType::F32, vec![3], vec![10.0, 20.0, 30.0]);
    let params = [("w".to_string(), wv)].into_iter().collect();
    let out = irc_runtime::interpret(&g, &crate::feed(&[("x", &xv), ("i", &iv)]), &params).unwrap();
    assert_eq!(out[0].data, [10.0, 21.0, 34.0]);
    assert_eq!(out[1].data, [xv.data[0], xv.data[1], 0.0]);
}

#[test]
fn outputs_dead_nodes_and_repeated_uses() {
    let mut b = G::default();
    let x = b.input("x", DType::F32, [d("T")]);
    let _dead = b.op(Op::Unary { op: irc_ir::UnaryOp::Exp }, &[x]);
    let doubled = b.op(Op::Binary { op: BinaryOp::Add }, &[x, x]);
    let quad = b.op(Op::Binary { op: BinaryOp::Add }, &[doubled, doubled]);
    let mut g = b.out(&[quad, doubled, x]);
    g.add_output("again", doubled).unwrap();
    let xv = rand(DType::F32, &[4], 110);
    let out = run(&g, &[("x", &xv)]);
    let times = |k: f64| Tensor::new(DType::F32, vec![4], xv.data.iter().map(|v| v * k).collect());
    assert_eq!(out, [times(4.0), times(2.0), xv.clone(), times(2.0)]);
}
