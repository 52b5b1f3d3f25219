//! The typing rule of every primitive op, with edge cases: 0-d tensors, size-1 and size-0 dims, empty
//! slices, symbolic dims `T` and offsets `T+2`.

use irc_ir::{BinaryOp, DType, Dim, Init, Op, ReduceOp, Shape, TensorType, UnaryOp, infer_type};

/// `"f32[B, T+2, 3]"` as a type.
fn ty(s: &str) -> TensorType {
    let (dtype, rest) = s.split_once('[').expect("type has a shape");
    let body = rest.strip_suffix(']').expect("shape ends with ]");
    let dims: Vec<Dim> = if body.trim().is_empty() {
        vec![]
    } else {
        body.split(',').map(|d| d.trim().parse().expect("valid dim")).collect()
    };
    TensorType::new(dtype.parse().expect("valid dtype"), Shape(dims))
}

#[track_caller]
fn ok(op: Op, ins: &[&str], out: &str) {
    let ins: Vec<TensorType> = ins.iter().map(|s| ty(s)).collect();
    let refs: Vec<&TensorType> = ins.iter().collect();
    assert_eq!(infer_type(&op, &refs), Ok(ty(out)), "{op:?} on {ins:?}");
}

#[track_caller]
fn bad(op: Op, ins: &[&str], needle: &str) {
    let ins: Vec<TensorType> = ins.iter().map(|s| ty(s)).collect();
    let refs: Vec<&TensorType> = ins.iter().collect();
    match infer_type(&op, &refs) {
        Ok(t) => panic!("{op:?} on {ins:?} gave {t}, expected an error containing `{needle}`"),
        Err(msg) => assert!(msg.contains(needle), "`{msg}` lacks `{needle}`"),
    }
}

fn sym(name: &str, offset: i64) -> Dim {
    Dim::Sym { name: name.into(), offset }
}

#[test]
fn arity() {
    bad(Op::MatMul, &["f32[2, 2]"], "expects 2 inputs, got 1");
    bad(Op::Select, &["bool[]", "f32[]"], "expects 3 inputs, got 2");
    bad(Op::Concat { axis: 0 }, &[], "expects at least one input");
    bad(Op::Const { value: 1.0, dtype: DType::F32 }, &["f32[]"], "expects 0 inputs, got 1");
}

#[test]
fn leaves() {
    let t = ty("f32[B, T+2]");
    ok(Op::Input { name: "x".into(), ty: t.clone() }, &[], "f32[B, T+2]");
    ok(Op::Param { name: "w".into(), ty: ty("bf16[3]"), init: Init::Zeros }, &[], "bf16[3]");
    bad(Op::Input { name: String::new(), ty: t }, &[], "name must not be empty");
    ok(Op::Const { value: 0.5, dtype: DType::F16 }, &[], "f16[]");
    ok(Op::Const { value: -3.0, dtype: DType::I32 }, &[], "i32[]");
    ok(Op::Const { value: f64::NEG_INFINITY, dtype: DType::F32 }, &[], "f32[]");
    bad(Op::Const { value: 1.5, dtype: DType::I64 }, &[], "constant 1.5 is not a valid i64");
    ok(Op::Literal { ty: ty("f32[2, 2]"), data: vec![1.0, 2.0, 3.0, 4.0] }, &[], "f32[2, 2]");
    ok(Op::Literal { ty: ty("f32[]"), data: vec![7.0] }, &[], "f32[]");
    ok(Op::Literal { ty: ty("i32[0, 3]"), data: vec![] }, &[], "i32[0, 3]");
    bad(Op::Literal { ty: ty("f32[3]"), data: vec![1.0] }, &[], "needs 3 values, got 1");
    bad(Op::Literal { ty: ty("f32[T]"), data: vec![] }, &[], "literal shape must be static");
    ok(Op::Iota { axis: 1, ty: ty("i32[T, T]") }, &[], "i32[T, T]");
    ok(Op::Iota { axis: 0, ty: ty("f32[1]") }, &[], "f32[1]");
    bad(Op::Iota { axis: 0, ty: ty("i32[]") }, &[], "axis 0 is out of range for rank 0");
    bad(Op::Iota { axis: 0, ty: ty("bool[3]") }, &[], "expects a numeric dtype, got bool");
}

#[test]
fn unary_and_cast() {
    for op in [UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Recip, UnaryOp::Sin, UnaryOp::Cos, UnaryOp::Tanh] {
        ok(Op::Unary { op }, &["f32[B, T+2]"], "f32[B, T+2]");
        ok(Op::Unary { op }, &["f64[]"], "f64[]");
        bad(Op::Unary { op }, &["i32[3]"], "expects a floating-point dtype, got i32");
    }
    ok(Op::Unary { op: UnaryOp::Neg }, &["i64[0]"], "i64[0]");
    ok(Op::Unary { op: UnaryOp::Abs }, &["i32[]"], "i32[]");
    bad(Op::Unary { op: UnaryOp::Abs }, &["bool[2]"], "expects a numeric dtype, got bool");
    ok(Op::Cast { dtype: DType::I32 }, &["f32[B, 1]"], "i32[B, 1]");
    ok(Op::Cast { dtype: DType::F32 }, &["bool[]"], "f32[]");
    ok(Op::Cast { dtype: DType::Bool }, &["f16[T+1]"], "bool[T+1]");
}

#[test]
fn binary() {
    ok(Op::Binary { op: BinaryOp::Add }, &["f32[B, T]", "f32[B, T]"], "f32[B, T]");
    ok(Op::Binary { op: BinaryOp::Max }, &["i32[]", "i32[]"], "i32[]");
    ok(Op::Binary { op: BinaryOp::Pow }, &["f64[2]", "f64[2]"], "f64[2]");
    ok(Op::Binary { op: BinaryOp::Lt }, &["f32[T+2, 3]", "f32[T+2, 3]"], "bool[T+2, 3]");
    ok(Op::Binary { op: BinaryOp::Eq }, &["bool[3]", "bool[3]"], "bool[3]");
    ok(Op::Binary { op: BinaryOp::Ne }, &["i64[0]", "i64[0]"], "bool[0]");
    // No implicit broadcasting, not even of size-1 dims or scalars.
    bad(Op::Binary { op: BinaryOp::Mul }, &["f32[2, 3]", "f32[1, 3]"], "operand types differ: f32[2, 3] vs f32[1, 3]");
    bad(Op::Binary { op: BinaryOp::Mul }, &["f32[3]", "f32[]"], "broadcast explicitly with expand");
    bad(Op::Binary { op: BinaryOp::Sub }, &["f32[T]", "f32[T+1]"], "operand types differ");
    bad(Op::Binary { op: BinaryOp::Add }, &["f32[2]", "f64[2]"], "operand types differ");
    bad(Op::Binary { op: BinaryOp::Add }, &["bool[2]", "bool[2]"], "expects a numeric dtype, got bool");
    bad(Op::Binary { op: BinaryOp::Pow }, &["i32[2]", "i32[2]"], "expects a floating-point dtype, got i32");
}

#[test]
fn select() {
    ok(Op::Select, &["bool[B, 3]", "f32[B, 3]", "f32[B, 3]"], "f32[B, 3]");
    ok(Op::Select, &["bool[]", "i32[]", "i32[]"], "i32[]");
    bad(Op::Select, &["f32[3]", "f32[3]", "f32[3]"], "condition must be bool, got f32");
    bad(Op::Select, &["bool[1]", "f32[3]", "f32[3]"], "condition shape [1] differs from value shape [3]");
    bad(Op::Select, &["bool[3]", "f32[3]", "f16[3]"], "operand types differ");
}

#[test]
fn reductions_keep_dims() {
    let sum = |axes: &[usize]| Op::Reduce { op: ReduceOp::Sum, axes: axes.to_vec() };
    ok(sum(&[1]), &["f32[B, T, 4]"], "f32[B, 1, 4]");
    ok(sum(&[0, 2]), &["f32[B, T+2, 4]"], "f32[1, T+2, 1]");
    ok(sum(&[0]), &["i32[1]"], "i32[1]");
    ok(sum(&[0]), &["f32[0, 3]"], "f32[1, 3]");
    ok(Op::Reduce { op: ReduceOp::Max, axes: vec![0, 1] }, &["f64[T, T]"], "f64[1, 1]");
    bad(sum(&[]), &["f32[3]"], "needs at least one axis");
    bad(sum(&[1, 0]), &["f32[3, 3]"], "must be sorted and distinct");
    bad(sum(&[1, 1]), &["f32[3, 3]"], "must be sorted and distinct");
    bad(sum(&[2]), &["f32[3, 3]"], "axis 2 is out of range for rank 2");
    bad(sum(&[0]), &["f32[]"], "axis 0 is out of range for rank 0");
    bad(sum(&[0]), &["bool[3]"], "expects a numeric dtype");
    ok(Op::Cumsum { axis: 1, reverse: true }, &["f32[B, T]"], "f32[B, T]");
    ok(Op::Cumsum { axis: 0, reverse: false }, &["i64[0]"], "i64[0]");
    bad(Op::Cumsum { axis: 0, reverse: false }, &["f32[]"], "axis 0 is out of range for rank 0");
    bad(Op::Cumsum { axis: 0, reverse: false }, &["bool[2]"], "expects a numeric dtype");
}

#[test]
fn reshape_permute_expand() {
    let reshape = |s: &str| Op::Reshape { shape: ty(&format!("f32{s}")).shape };
    ok(reshape("[6]"), &["f32[2, 3]"], "f32[6]");
    ok(reshape("[2, T, 2]"), &["f32[T, 4]"], "f32[2, T, 2]");
    ok(reshape("[B, T+2, 1]"), &["i32[T+2, B]"], "i32[B, T+2, 1]");
    ok(reshape("[]"), &["f32[1, 1]"], "f32[]");
    ok(reshape("[1]"), &["f32[]"], "f32[1]");
    ok(reshape("[0, 5]"), &["f32[2, 0]"], "f32[0, 5]");
    bad(reshape("[5]"), &["f32[2, 3]"], "cannot reshape [2, 3] to [5]: element counts differ");
    bad(reshape("[B]"), &["f32[T]"], "element counts differ");
    bad(reshape("[T+1]"), &["f32[T]"], "element counts differ");

    ok(Op::Permute { perm: vec![2, 0, 1] }, &["f32[B, T, 4]"], "f32[4, B, T]");
    ok(Op::Permute { perm: vec![] }, &["f32[]"], "f32[]");
    bad(Op::Permute { perm: vec![0] }, &["f32[2, 3]"], "has length 1 but rank is 2");
    bad(Op::Permute { perm: vec![0, 0] }, &["f32[2, 3]"], "is not a permutation of 0..2");
    bad(Op::Permute { perm: vec![0, 2] }, &["f32[2, 3]"], "is not a permutation");

    let expand = |s: &str| Op::Expand { shape: ty(&format!("f32{s}")).shape };
    ok(expand("[2, 3]"), &["f32[3]"], "f32[2, 3]");
    ok(expand("[T, 3]"), &["f32[1, 3]"], "f32[T, 3]");
    ok(expand("[B, 4]"), &["f32[]"], "f32[B, 4]");
    ok(expand("[T+2]"), &["f32[1]"], "f32[T+2]");
    ok(expand("[T]"), &["f32[T]"], "f32[T]");
    ok(expand("[]"), &["f32[]"], "f32[]");
    bad(expand("[3]"), &["f32[2]"], "do not broadcast");
    bad(expand("[3]"), &["f32[2, 3]"], "cannot expand rank 2 to rank 1");
    bad(expand("[T]"), &["f32[B]"], "do not broadcast");
    bad(expand("[1]"), &["f32[T]"], "cannot expand [T] to [1]");
}

#[test]
fn slice_and_pad() {
    let slice = |axis, start, end: Dim| Op::Slice { axis, start, end };
    ok(slice(0, 1, Dim::Static(3)), &["f32[5, 2]"], "f32[2, 2]");
    ok(slice(1, 0, Dim::Static(1)), &["f32[5, 1]"], "f32[5, 1]");
    ok(slice(0, 2, Dim::Static(2)), &["f32[5]"], "f32[0]");
    ok(slice(0, 5, Dim::Static(5)), &["f32[5]"], "f32[0]");
    ok(slice(0, 0, Dim::sym("T")), &["f32[T]"], "f32[T]");
    ok(slice(0, 1, Dim::sym("T")), &["f32[T]"], "f32[T-1]");
    ok(slice(0, 2, sym("T", 2)), &["f32[T+2, B]"], "f32[T, B]");
    ok(slice(0, 0, Dim::Static(2)), &["f32[T]"], "f32[2]");
    ok(slice(0, 3, Dim::sym("T")), &["f32[T]"], "f32[T-3]");
    ok(slice(0, 0, Dim::sym("T")), &["f32[T+2]"], "f32[T]");
    bad(slice(0, 0, Dim::Static(6)), &["f32[5]"], "slice 0..6 exceeds dimension 5 of axis 0");
    bad(slice(0, 3, Dim::Static(2)), &["f32[5]"], "slice 3..2 has negative length");
    bad(slice(0, 0, sym("T", 1)), &["f32[T]"], "exceeds dimension T");
    bad(slice(0, 0, Dim::sym("B")), &["f32[T]"], "exceeds dimension T");
    bad(slice(1, 0, Dim::Static(1)), &["f32[5]"], "axis 1 is out of range for rank 1");
    bad(slice(0, 0, Dim::Static(0)), &["f32[]"], "axis 0 is out of range for rank 0");

    let pad = |axis, before, after| Op::Pad { axis, before, after };
    ok(pad(0, 1, 1), &["f32[3]"], "f32[5]");
    ok(pad(1, 2, 0), &["f32[B, T]"], "f32[B, T+2]");
    ok(pad(0, 0, 3), &["f32[T-1]"], "f32[T+2]");
    ok(pad(0, 0, 0), &["f32[0]"], "f32[0]");
    bad(pad(2, 1, 1), &["f32[3, 3]"], "axis 2 is out of range for rank 2");
}

#[test]
fn concat() {
    let cat = |axis| Op::Concat { axis };
    ok(cat(0), &["f32[2, 3]", "f32[4, 3]"], "f32[6, 3]");
    ok(cat(1), &["f32[B, 1]", "f32[B, 2]", "f32[B, 0]"], "f32[B, 3]");
    ok(cat(0), &["f32[T, 3]", "f32[2, 3]"], "f32[T+2, 3]");
    ok(cat(0), &["f32[T]"], "f32[T]");
    bad(cat(0), &["f32[T]", "f32[T]"], "adds two symbolic dims");
    bad(cat(0), &["f32[2, 3]", "f32[2, 4]"], "dimension 1 differs");
    bad(cat(0), &["f32[2]", "f64[2]"], "cannot concat f32[2] with f64[2]");
    bad(cat(0), &["f32[2]", "f32[2, 1]"], "cannot concat");
    bad(cat(1), &["f32[2]", "f32[2]"], "axis 1 is out of range for rank 1");
}

#[test]
fn matmul_broadcasts_batch_dims() {
    ok(Op::MatMul, &["f32[2, 3]", "f32[3, 4]"], "f32[2, 4]");
    ok(Op::MatMul, &["f32[B, T, 3]", "f32[3, 4]"], "f32[B, T, 4]");
    ok(Op::MatMul, &["f32[3, 4]", "f32[B, 4, 5]"], "f32[B, 3, 5]");
    ok(Op::MatMul, &["f32[B, 1, 2, 3]", "f32[5, 3, 4]"], "f32[B, 5, 2, 4]");
    ok(Op::MatMul, &["i32[1, 1]", "i32[1, 1]"], "i32[1, 1]");
    ok(Op::MatMul, &["f32[T, 0]", "f32[0, T]"], "f32[T, T]");
    bad(Op::MatMul, &["f32[2, 3]", "f32[4, 5]"], "inner dimensions differ: 3 vs 4");
    bad(Op::MatMul, &["f32[2, T]", "f32[T+1, 5]"], "inner dimensions differ: T vs T+1");
    bad(Op::MatMul, &["f32[3]", "f32[3, 4]"], "operands need rank >= 2");
    bad(Op::MatMul, &["f32[2, 3]", "f16[3, 4]"], "dtypes differ: f32 vs f16");
    bad(Op::MatMul, &["bool[2, 2]", "bool[2, 2]"], "expects a numeric dtype");
    bad(Op::MatMul, &["f32[2, 1, 3]", "f32[3, 3, 4]"], "do not broadcast (dimension 2 vs 3)");
}

#[test]
fn gather_and_scatter_add() {
    ok(Op::Gather { axis: 0 }, &["f32[5, 3]", "i64[4, 3]"], "f32[4, 3]");
    ok(Op::Gather { axis: 1 }, &["f32[B, V]", "i32[B, 1]"], "f32[B, 1]");
    ok(Op::Gather { axis: 0 }, &["bool[T]", "i32[T+2]"], "bool[T+2]");
    ok(Op::Gather { axis: 0 }, &["f32[5]", "i32[0]"], "f32[0]");
    bad(Op::Gather { axis: 0 }, &["f32[5, 3]", "f32[4, 3]"], "index must be i32 or i64, got f32");
    bad(Op::Gather { axis: 0 }, &["f32[5, 3]", "i32[4]"], "index rank 1 differs from data rank 2");
    bad(Op::Gather { axis: 0 }, &["f32[5, 3]", "i32[4, 2]"], "differ at dimension 1");
    bad(Op::Gather { axis: 0 }, &["f32[]", "i32[]"], "axis 0 is out of range for rank 0");

    let scatter = |axis, size: Dim| Op::ScatterAdd { axis, size };
    ok(scatter(0, Dim::Static(5)), &["f32[4, 3]", "i32[4, 3]"], "f32[5, 3]");
    ok(scatter(1, Dim::sym("V")), &["f32[B, T]", "i64[B, T]"], "f32[B, V]");
    ok(scatter(0, Dim::Static(1)), &["i32[0]", "i32[0]"], "i32[1]");
    bad(scatter(0, Dim::Static(5)), &["f32[4, 3]", "i32[4, 2]"], "source shape [4, 3] differs from index shape [4, 2]");
    bad(scatter(0, Dim::Static(5)), &["bool[4]", "i32[4]"], "expects a numeric dtype");
    bad(scatter(0, Dim::Static(5)), &["f32[4]", "f32[4]"], "index must be i32 or i64");
    bad(scatter(1, Dim::Static(5)), &["f32[4]", "i32[4]"], "axis 1 is out of range for rank 1");
}
