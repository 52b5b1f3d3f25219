//! The kernel-IR evaluator's semantics (rounding, integer wrapping and division, casts, NaN) and the bugs
//! it reports (out-of-bounds accesses, races between grid points, reads before writes).

use irc_codegen::kir::{
    Access, BinOp, BufferArg, EvalError, Expr, Kernel, Scalar, Stmt, eval_kernel, read_scalar, write_scalar,
};
use irc_ir::{DType, UnaryOp};

fn bytes(dtype: DType, values: &[f64]) -> Vec<u8> {
    let mut b = vec![0u8; values.len().max(1) * dtype.size_bytes()];
    for (i, &v) in values.iter().enumerate() {
        write_scalar(dtype, &mut b, i, Scalar::of(dtype, v));
    }
    b
}

fn values(dtype: DType, b: &[u8]) -> Vec<f64> {
    (0..b.len() / dtype.size_bytes()).map(|i| read_scalar(dtype, b, i).to_f64()).collect()
}

/// A kernel `out[i] = f(a[i], b[i])` over `n` elements of `dtype` (result dtype `out`).
fn binary_kernel(dtype: DType, out: DType, n: i64, f: impl Fn(Expr, Expr) -> Expr) -> Kernel {
    let mut k = Kernel::new("bin");
    for (name, access, d) in [("a", Access::Read, dtype), ("b", Access::Read, dtype), ("out", Access::Write, out)] {
        k.buffers.push(BufferArg { name: name.into(), dtype: d, access });
    }
    let i = k.var("i", DType::I64);
    k.grid.push((i, Expr::index(n)));
    let at = |buf| Expr::load(buf, Expr::Var(i));
    k.body.push(Stmt::Store { buf: 2, index: Expr::Var(i), value: f(at(0), at(1)) });
    k
}

fn run_binary(dtype: DType, out: DType, a: &[f64], b: &[f64], f: impl Fn(Expr, Expr) -> Expr) -> Vec<f64> {
    let k = binary_kernel(dtype, out, a.len() as i64, f);
    let (mut x, mut y, mut z) = (bytes(dtype, a), bytes(dtype, b), bytes(out, &vec![0.0; a.len()]));
    eval_kernel(&k, &mut [&mut x, &mut y, &mut z], &[]).unwrap();
    values(out, &z)
}

#[test]
fn float_ops_round_to_their_dtype_after_each_op() {
    let third = run_binary(DType::F32, DType::F32, &[1.0], &[3.0], |a, b| Expr::binary(BinOp::Div, a, b));
    assert_eq!(third, [(1.0f32 / 3.0) as f64]);
    let sum = run_binary(DType::F16, DType::F16, &[2048.0], &[1.0], |a, b| Expr::binary(BinOp::Add, a, b));
    assert_eq!(sum, [2048.0], "f16 has 11 significant bits");
    let nan =
        run_binary(DType::F32, DType::F32, &[f64::NAN, 1.0], &[1.0, f64::NAN], |a, b| Expr::binary(BinOp::Max, a, b));
    assert!(nan.iter().all(|v| v.is_nan()), "max propagates NaN");
    let lt = run_binary(DType::F64, DType::Bool, &[1.0, f64::NAN], &[2.0, 1.0], |a, b| Expr::binary(BinOp::Lt, a, b));
    assert_eq!(lt, [1.0, 0.0]);
}

#[test]
fn integer_ops_wrap_and_division_by_zero_gives_zero() {
    let add = run_binary(DType::I32, DType::I32, &[i32::MAX as f64], &[1.0], |a, b| Expr::binary(BinOp::Add, a, b));
    assert_eq!(add, [i32::MIN as f64]);
    let a = [7.0, -7.0, 7.0, i32::MIN as f64];
    let b = [2.0, 2.0, 0.0, -1.0];
    let div = run_binary(DType::I32, DType::I32, &a, &b, |a, b| Expr::binary(BinOp::Div, a, b));
    assert_eq!(div, [3.0, -3.0, 0.0, i32::MIN as f64]);
    let rem = run_binary(DType::I32, DType::I32, &a, &b, |a, b| Expr::binary(BinOp::Rem, a, b));
    assert_eq!(rem, [1.0, -1.0, 0.0, 0.0]);
}

#[test]
fn casts_truncate_saturate_and_test_nonzero() {
    let cast = |to: DType, v: &[f64]| run_binary(DType::F32, to, v, v, |a, _| Expr::cast(to, a));
    let v = [2.7, -2.7, 1e20, -1e20, f64::NAN];
    assert_eq!(cast(DType::I32, &v), [2.0, -2.0, i32::MAX as f64, i32::MIN as f64, 0.0]);
    assert_eq!(cast(DType::Bool, &v), [1.0, 1.0, 1.0, 1.0, 1.0]);
    let wrap = run_binary(DType::I64, DType::I32, &[4294967297.0], &[0.0], |a, _| Expr::cast(DType::I32, a));
    assert_eq!(wrap, [1.0]);
    let neg = run_binary(DType::I32, DType::I32, &[i32::MIN as f64], &[0.0], |a, _| Expr::unary(UnaryOp::Neg, a));
    assert_eq!(neg, [i32::MIN as f64]);
}

#[test]
fn out_of_bounds_accesses_name_the_kernel_buffer_and_index() {
    let k = binary_kernel(DType::F32, DType::F32, 3, |a, _| a);
    let (mut x, mut y, mut z) =
        (bytes(DType::F32, &[1.0; 2]), bytes(DType::F32, &[1.0; 3]), bytes(DType::F32, &[0.0; 3]));
    let e = eval_kernel(&k, &mut [&mut x, &mut y, &mut z], &[]).unwrap_err();
    assert!(matches!(&e, EvalError::OutOfBounds { index: 2, len: 2, .. }), "{e}");
    assert_eq!(e.to_string(), "kernel `bin`: load of `a` at index 2 is out of bounds (length 2)");
    let e = eval_kernel(&k, &mut [&mut x], &[]).unwrap_err();
    assert!(matches!(e, EvalError::Arity { .. }), "{e}");
}

#[test]
fn races_between_grid_points_are_reported() {
    // Every grid point writes element 0.
    let mut k = binary_kernel(DType::F32, DType::F32, 2, |a, _| a);
    k.body = vec![Stmt::Store { buf: 2, index: Expr::index(0), value: Expr::load(0, Expr::index(0)) }];
    let (mut x, mut y, mut z) =
        (bytes(DType::F32, &[1.0; 2]), bytes(DType::F32, &[1.0; 2]), bytes(DType::F32, &[0.0; 2]));
    let e = eval_kernel(&k, &mut [&mut x, &mut y, &mut z], &[]).unwrap_err();
    assert!(matches!(e, EvalError::Race { point: 1, .. }), "{e}");
    // Reading an output element before anything wrote it.
    k.body = vec![Stmt::Store { buf: 2, index: Expr::index(1), value: Expr::load(2, Expr::index(1)) }];
    let e = eval_kernel(&k, &mut [&mut x, &mut y, &mut z], &[]).unwrap_err();
    assert!(e.to_string().contains("nothing wrote yet"), "{e}");
}

#[test]
fn loops_lets_and_sizes() {
    // out[0] = sum of a[0..n], n a size.
    let mut k = Kernel::new("sum");
    k.buffers.push(BufferArg { name: "a".into(), dtype: DType::F64, access: Access::Read });
    k.buffers.push(BufferArg { name: "out".into(), dtype: DType::F64, access: Access::Write });
    k.sizes.push("N".into());
    let acc = k.var("acc", DType::F64);
    let r = k.var("r", DType::I64);
    k.body = vec![
        Stmt::Let { var: acc, value: Expr::constant(0.0, DType::F64) },
        Stmt::Loop {
            var: r,
            extent: Expr::Size(0),
            body: vec![Stmt::Assign {
                var: acc,
                value: Expr::binary(BinOp::Add, Expr::Var(acc), Expr::load(0, Expr::Var(r))),
            }],
        },
        Stmt::Store { buf: 1, index: Expr::index(0), value: Expr::Var(acc) },
    ];
    let (mut a, mut out) = (bytes(DType::F64, &[1.0, 2.0, 3.5]), bytes(DType::F64, &[0.0]));
    eval_kernel(&k, &mut [&mut a, &mut out], &[3]).unwrap();
    assert_eq!(values(DType::F64, &out), [6.5]);
    // An undefined variable is reported, not a panic.
    k.body.remove(0);
    let e = eval_kernel(&k, &mut [&mut a, &mut out], &[3]).unwrap_err();
    assert!(e.to_string().contains("before it is defined"), "{e}");
}
