//! Every `RunError` class, with its message.

use std::collections::HashMap;

use irc_ir::{BinaryOp, DType, Dim, Graph, Init, Op, TensorType};
use irc_runtime::{RunError, Tensor, init_params, interpret};

use crate::{G, feed, try_apply, try_run};

fn d(s: &str) -> Dim {
    s.parse().unwrap()
}

/// `x: f32[B, 64]` plus a param `w: f32[64]`, output `x + w`-ish (just both, to keep it simple).
fn model() -> Graph {
    let mut b = G::default();
    let x = b.input("x", DType::F32, [d("B"), d("64")]);
    let w = b.op(Op::Param { name: "w".into(), ty: TensorType::new(DType::F32, [64]), init: Init::Zeros }, &[]);
    b.out(&[x, w])
}

fn run_model(inputs: &[(&str, &Tensor)], params: &[(&str, &Tensor)]) -> RunError {
    interpret(&model(), &feed(inputs), &feed(params)).unwrap_err()
}

fn expect(err: RunError, pattern: fn(&RunError) -> bool, text: &str) {
    let msg = err.to_string();
    assert!(pattern(&err), "wrong variant: {err:?}");
    assert!(msg.contains(text), "message `{msg}` lacks `{text}`");
    assert!(!msg.contains('\n'), "message spans lines: {msg}");
}

#[test]
fn missing_unexpected_and_malformed_values() {
    let x = Tensor::zeros(DType::F32, vec![3, 64]);
    let w = Tensor::zeros(DType::F32, vec![64]);
    expect(
        run_model(&[], &[("w", &w)]),
        |e| matches!(e, RunError::Missing { kind: "input", .. }),
        "missing input `x` (the graph expects inputs: x: f32[B, 64])",
    );
    expect(run_model(&[("x", &x)], &[]), |e| matches!(e, RunError::Missing { kind: "param", .. }), "param `w`");
    expect(
        run_model(&[("x", &x), ("y", &x)], &[("w", &w)]),
        |e| matches!(e, RunError::UnexpectedInput { .. }),
        "unexpected input `y`",
    );
    // Extra params are fine: weights files may hold more than one graph uses.
    assert!(interpret(&model(), &feed(&[("x", &x)]), &feed(&[("w", &w), ("extra", &w)])).is_ok());
    let broken = Tensor { dtype: DType::F32, shape: vec![3, 64], data: vec![0.0; 5] };
    expect(run_model(&[("x", &broken)], &[("w", &w)]), |e| matches!(e, RunError::MalformedTensor { .. }), "holds 5");
}

#[test]
fn wrong_dtypes_and_shapes() {
    let w = Tensor::zeros(DType::F32, vec![64]);
    let xi = Tensor::zeros(DType::I32, vec![3, 64]);
    expect(
        run_model(&[("x", &xi)], &[("w", &w)]),
        |e| matches!(e, RunError::DTypeMismatch { .. }),
        "input `x` expects f32[B, 64] but got i32[3, 64]",
    );
    let x = Tensor::zeros(DType::F32, vec![3, 32]);
    expect(
        run_model(&[("x", &x)], &[("w", &w)]),
        |e| matches!(e, RunError::ShapeMismatch { .. }),
        "input `x` expects f32[B, 64] but got f32[3, 32]",
    );
    let x = Tensor::zeros(DType::F32, vec![64]);
    expect(run_model(&[("x", &x)], &[("w", &w)]), |e| matches!(e, RunError::ShapeMismatch { .. }), "got f32[64]");
    let x = Tensor::zeros(DType::F32, vec![3, 64]);
    let w2 = Tensor::zeros(DType::F32, vec![65]);
    expect(
        run_model(&[("x", &x)], &[("w", &w2)]),
        |e| matches!(e, RunError::ShapeMismatch { kind: "param", .. }),
        "param `w` expects f32[64] but got f32[65]",
    );
    // `T+2` cannot have size 1: that would make T negative.
    let mut b = G::default();
    let x = b.input("x", DType::F32, [d("T+2")]);
    let g = b.out(&[x]);
    let err = try_run(&g, &[("x", &Tensor::zeros(DType::F32, vec![1]))]).unwrap_err();
    expect(err, |e| matches!(e, RunError::ShapeMismatch { .. }), "expects f32[T+2] but got f32[1]");
}

#[test]
fn symbol_binding_errors() {
    let mut b = G::default();
    let x = b.input("x", DType::F32, [d("T")]);
    let y = b.input("y", DType::F32, [d("2"), d("T+1")]);
    let g = b.out(&[x, y]);
    let (xv, yv) = (Tensor::zeros(DType::F32, vec![3]), Tensor::zeros(DType::F32, vec![2, 5]));
    expect(
        try_run(&g, &[("x", &xv), ("y", &yv)]).unwrap_err(),
        |e| matches!(e, RunError::SymbolConflict { .. }),
        "symbol `T` is 3 from input `x` (axis 0) but input `y` (axis 1) implies 4",
    );

    // A symbol only an iota (or a param) mentions is never bound.
    let mut b = G::default();
    let x = b.input("x", DType::F32, [d("T")]);
    let i = b.op(Op::Iota { axis: 0, ty: TensorType::new(DType::I32, [d("S")]) }, &[]);
    let g = b.out(&[x, i]);
    expect(
        try_run(&g, &[("x", &xv)]).unwrap_err(),
        |e| matches!(e, RunError::UnboundSymbol { .. }),
        "node %1 (iota): symbol `S` is not bound by any input",
    );
    let mut b = G::default();
    let x = b.input("x", DType::F32, [d("T")]);
    let w = b.op(Op::Param { name: "w".into(), ty: TensorType::new(DType::F32, [d("S")]), init: Init::Ones }, &[]);
    let g = b.out(&[x, w]);
    let err = interpret(&g, &feed(&[("x", &xv)]), &feed(&[("w", &xv)])).unwrap_err();
    expect(err, |e| matches!(e, RunError::UnboundSymbol { .. }), "param `w`: symbol `S`");
    expect(
        init_params(&g, 0).unwrap_err(),
        |e| matches!(e, RunError::SymbolicParam { .. }),
        "param `w` has symbolic type f32[S]",
    );

    // `T-1` with T = 0 is a negative size.
    let mut b = G::default();
    let x = b.input("x", DType::F32, [d("T")]);
    let i = b.op(Op::Iota { axis: 0, ty: TensorType::new(DType::I64, [d("T-1")]) }, &[]);
    let g = b.out(&[x, i]);
    expect(
        try_run(&g, &[("x", &Tensor::zeros(DType::F32, vec![0]))]).unwrap_err(),
        |e| matches!(e, RunError::NegativeDim { .. }),
        "node %1 (iota): dimension `T-1` is negative when T = 0",
    );
}

#[test]
fn run_time_errors_name_the_node() {
    let data = Tensor::new(DType::F32, vec![2, 3], vec![1.0; 6]);
    for bad in [3.0, -1.0] {
        let idx = Tensor::new(DType::I32, vec![2, 1], vec![0.0, bad]);
        expect(
            try_apply(Op::Gather { axis: 1 }, &[&data, &idx]).unwrap_err(),
            |e| matches!(e, RunError::IndexOutOfRange { .. }),
            &format!("node %2 (gather): index {bad} is out of range for axis 1 of size 3"),
        );
        let src = Tensor::new(DType::F32, vec![2, 1], vec![1.0, 1.0]);
        expect(
            try_apply(Op::ScatterAdd { axis: 1, size: Dim::Static(3) }, &[&src, &idx]).unwrap_err(),
            |e| matches!(e, RunError::IndexOutOfRange { .. }),
            "node %2 (scatter_add): index",
        );
    }
    let a = Tensor::new(DType::I64, vec![2], vec![4.0, 5.0]);
    let b = Tensor::new(DType::I64, vec![2], vec![2.0, 0.0]);
    expect(
        try_apply(Op::Binary { op: BinaryOp::Div }, &[&a, &b]).unwrap_err(),
        |e| matches!(e, RunError::DivisionByZero { .. }),
        "node %2 (div): integer division by zero",
    );

    // A static end that fits the type (`0..5` of `T`) but not the size bound at run time.
    let mut g = G::default();
    let x = g.input("x", DType::F32, [d("T")]);
    let s = g.op(Op::Slice { axis: 0, start: 0, end: Dim::Static(5) }, &[x]);
    let g = g.out(&[s]);
    expect(
        try_run(&g, &[("x", &Tensor::zeros(DType::F32, vec![3]))]).unwrap_err(),
        |e| matches!(e, RunError::SliceOutOfRange { .. }),
        "node %1 (slice): slice 0..5 is out of range for axis 0 of size 3",
    );
    assert_eq!(try_run(&g, &[("x", &Tensor::zeros(DType::F32, vec![7]))]).unwrap()[0].shape, [5]);
}

#[test]
fn unverified_graphs_are_rejected() {
    // Deserializing bypasses verification; claim the add produces f64 from f32 operands.
    let mut b = G::default();
    let x = b.input("x", DType::F32, [2]);
    let y = b.op(Op::Binary { op: BinaryOp::Add }, &[x, x]);
    let json = b.out(&[y]).to_json();
    let tampered = json.rsplit_once("\"f32\"").map(|(a, b)| format!("{a}\"f64\"{b}")).unwrap();
    let g: Graph = serde_json::from_str(&tampered).unwrap();
    let err = interpret(&g, &feed(&[("x", &Tensor::zeros(DType::F32, vec![2]))]), &HashMap::new()).unwrap_err();
    expect(err, |e| matches!(e, RunError::InvalidGraph(_)), "invalid graph");
}
