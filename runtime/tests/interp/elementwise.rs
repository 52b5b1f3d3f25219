use irc_ir::{BinaryOp, DType, Op, UnaryOp};
use irc_runtime::{Tensor, round_to};

use crate::{apply, assert_close, nondegenerate, rand, try_apply};

type UnaryFn = fn(f64) -> f64;
type BinaryFn = fn(f64, f64) -> f64;
type CompareFn = fn(f64, f64) -> bool;

fn unary(op: UnaryOp, x: &Tensor) -> Tensor {
    apply(Op::Unary { op }, &[x])
}

fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> Tensor {
    apply(Op::Binary { op }, &[a, b])
}

fn positive(shape: &[usize], seed: u64) -> Tensor {
    let x = rand(DType::F32, shape, seed);
    Tensor::new(DType::F32, x.shape.clone(), x.data.iter().map(|v| v.abs() + 0.1).collect())
}

#[test]
fn unary_ops_match_f64_math_rounded_to_f32() {
    let x = rand(DType::F32, &[4, 5], 1);
    let p = positive(&[4, 5], 2);
    let cases: [(UnaryOp, UnaryFn, &Tensor); 9] = [
        (UnaryOp::Neg, |v| -v, &x),
        (UnaryOp::Exp, f64::exp, &x),
        (UnaryOp::Log, f64::ln, &p),
        (UnaryOp::Sqrt, f64::sqrt, &p),
        (UnaryOp::Recip, |v| 1.0 / v, &p),
        (UnaryOp::Sin, f64::sin, &x),
        (UnaryOp::Cos, f64::cos, &x),
        (UnaryOp::Tanh, f64::tanh, &x),
        (UnaryOp::Abs, f64::abs, &x),
    ];
    for (op, f, input) in cases {
        let got = unary(op, nondegenerate(input));
        let want: Vec<f64> = input.data.iter().map(|&v| f(v) as f32 as f64).collect();
        assert_eq!(got.data, want, "{}", op.name());
    }
}

#[test]
fn unary_identities() {
    let p = positive(&[3, 7], 3);
    assert_close(&unary(UnaryOp::Exp, &unary(UnaryOp::Log, &p)), &p, 1e-6);
    assert_close(&unary(UnaryOp::Recip, &unary(UnaryOp::Recip, &p)), &p, 1e-6);
    let x = rand(DType::F64, &[50], 4);
    let (s, c) = (unary(UnaryOp::Sin, &x), unary(UnaryOp::Cos, &x));
    let one = binary(BinaryOp::Add, &binary(BinaryOp::Mul, &s, &s), &binary(BinaryOp::Mul, &c, &c));
    assert_close(&one, &Tensor::new(DType::F64, vec![50], vec![1.0; 50]), 1e-14);
    let sq = unary(UnaryOp::Sqrt, &p);
    assert_close(&binary(BinaryOp::Mul, &sq, &sq), &p, 1e-6);
}

#[test]
fn binary_float_ops() {
    let (a, b) = (rand(DType::F32, &[6, 3], 5), rand(DType::F32, &[6, 3], 6));
    let cases: [(BinaryOp, BinaryFn); 6] = [
        (BinaryOp::Add, |x, y| x + y),
        (BinaryOp::Sub, |x, y| x - y),
        (BinaryOp::Mul, |x, y| x * y),
        (BinaryOp::Div, |x, y| x / y),
        (BinaryOp::Max, f64::max),
        (BinaryOp::Min, f64::min),
    ];
    for (op, f) in cases {
        let got = binary(op, nondegenerate(&a), nondegenerate(&b));
        let want: Vec<f64> = a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y) as f32 as f64).collect();
        assert_eq!(got.data, want, "{}", op.name());
    }
    let p = positive(&[6, 3], 7);
    let got = binary(BinaryOp::Pow, &p, &a);
    let want: Vec<f64> = p.data.iter().zip(&a.data).map(|(&x, &y)| x.powf(y) as f32 as f64).collect();
    assert_eq!(got.data, want);
    // x / 0 follows IEEE for floats.
    let z = Tensor::new(DType::F32, vec![2], vec![0.0, 0.0]);
    let q = binary(BinaryOp::Div, &Tensor::new(DType::F32, vec![2], vec![1.0, -1.0]), &z);
    assert_eq!(q.data, [f64::INFINITY, f64::NEG_INFINITY]);
}

#[test]
fn max_and_min_propagate_nan() {
    let a = Tensor::new(DType::F32, vec![2], vec![f64::NAN, 1.0]);
    let b = Tensor::new(DType::F32, vec![2], vec![1.0, f64::NAN]);
    assert!(binary(BinaryOp::Max, &a, &b).data.iter().all(|v| v.is_nan()));
    assert!(binary(BinaryOp::Min, &a, &b).data.iter().all(|v| v.is_nan()));
}

#[test]
fn comparisons_give_bool() {
    let a = rand(DType::I32, &[40], 8);
    let b = rand(DType::I32, &[40], 9);
    let cases: [(BinaryOp, CompareFn); 4] = [
        (BinaryOp::Lt, |x, y| x < y),
        (BinaryOp::Le, |x, y| x <= y),
        (BinaryOp::Eq, |x, y| x == y),
        (BinaryOp::Ne, |x, y| x != y),
    ];
    for (op, f) in cases {
        let got = binary(op, &a, &b);
        assert_eq!(got.dtype, DType::Bool);
        let want: Vec<f64> = a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y) as u8 as f64).collect();
        assert_eq!(got.data, want, "{}", op.name());
    }
    // Both outcomes occur, so the check above is not vacuous.
    let lt = binary(BinaryOp::Lt, &a, &b);
    assert!(lt.data.contains(&0.0) && lt.data.contains(&1.0));
    let nan = Tensor::new(DType::F32, vec![1], vec![f64::NAN]);
    assert_eq!(binary(BinaryOp::Eq, &nan, &nan).data, [0.0]);
    assert_eq!(binary(BinaryOp::Ne, &nan, &nan).data, [1.0]);
}

fn ints(dtype: DType, v: &[i64]) -> Tensor {
    Tensor::new(dtype, vec![v.len()], v.iter().map(|&x| x as f64).collect())
}

#[test]
fn integer_arithmetic_wraps_and_truncates() {
    let big = [i32::MAX as i64, 65536, 123_456_789, -7, 7, i32::MIN as i64];
    let other = [1, 65536, 987_654_321, 2, -2, -1];
    let (a, b) = (ints(DType::I32, &big), ints(DType::I32, &other));
    let want = |f: fn(i32, i32) -> i32| -> Vec<f64> {
        big.iter().zip(&other).map(|(&x, &y)| f(x as i32, y as i32) as f64).collect()
    };
    assert_eq!(binary(BinaryOp::Add, &a, &b).data, want(i32::wrapping_add));
    assert_eq!(binary(BinaryOp::Sub, &a, &b).data, want(i32::wrapping_sub));
    assert_eq!(binary(BinaryOp::Mul, &a, &b).data, want(i32::wrapping_mul));
    assert_eq!(binary(BinaryOp::Div, &a, &b).data, want(i32::wrapping_div));
    assert_eq!(binary(BinaryOp::Div, &a, &b).data[3..5], [-3.0, -3.0]); // toward zero
    assert_eq!(binary(BinaryOp::Max, &a, &b).data, want(|x, y| x.max(y)));
    assert_eq!(binary(BinaryOp::Min, &a, &b).data, want(|x, y| x.min(y)));
    assert_eq!(unary(UnaryOp::Neg, &a).data, big.iter().map(|&x| (x as i32).wrapping_neg() as f64).collect::<Vec<_>>());
    assert_eq!(unary(UnaryOp::Abs, &a).data, big.iter().map(|&x| (x as i32).wrapping_abs() as f64).collect::<Vec<_>>());

    // i64 products stay exact while they fit in an f64 mantissa.
    let (a, b) = (ints(DType::I64, &[3_000_000_000, -40_000]), ints(DType::I64, &[1_000_000, 40_000]));
    assert_eq!(binary(BinaryOp::Mul, &a, &b).data, [3e15, -1.6e9]);

    let (a, b) = (rand(DType::I32, &[30], 10), rand(DType::I32, &[30], 11));
    let got = binary(BinaryOp::Mul, nondegenerate(&a), nondegenerate(&b));
    let want: Vec<f64> = a.data.iter().zip(&b.data).map(|(x, y)| x * y).collect();
    assert_eq!(got.data, want);
}

#[test]
fn casts() {
    let f = Tensor::new(DType::F32, vec![7], vec![-2.75, 2.75, 3e9, -3e9, f64::NAN, 0.0, -0.5]);
    assert_eq!(
        apply(Op::Cast { dtype: DType::I32 }, &[&f]).data,
        [-2.0, 2.0, 2147483647.0, -2147483648.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(apply(Op::Cast { dtype: DType::Bool }, &[&f]).data, [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0]);
    let i = ints(DType::I64, &[(1 << 32) + 5, -1, 1 << 31]);
    assert_eq!(apply(Op::Cast { dtype: DType::I32 }, &[&i]).data, [5.0, -1.0, -2147483648.0]);
    let b = Tensor::new(DType::Bool, vec![2], vec![1.0, 0.0]);
    assert_eq!(apply(Op::Cast { dtype: DType::F16 }, &[&b]).data, [1.0, 0.0]);
    let x = rand(DType::F64, &[20], 12);
    for dt in [DType::F32, DType::F16, DType::BF16] {
        let got = apply(Op::Cast { dtype: dt }, &[&x]);
        assert_eq!(got.dtype, dt);
        assert_eq!(got.data, x.data.iter().map(|&v| round_to(dt, v)).collect::<Vec<_>>());
    }
}

#[test]
fn low_precision_results_are_the_rounded_f64_results() {
    for dt in [DType::F16, DType::BF16] {
        let (a, b) = (rand(dt, &[64], 13), rand(dt, &[64], 14));
        for op in [BinaryOp::Add, BinaryOp::Mul, BinaryOp::Div] {
            let got = binary(op, &a, &b);
            let exact: Vec<f64> = a
                .data
                .iter()
                .zip(&b.data)
                .map(|(&x, &y)| match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Mul => x * y,
                    _ => x / y,
                })
                .collect();
            let want: Vec<f64> = exact.iter().map(|&v| round_to(dt, v)).collect();
            assert_eq!(got.data, want, "{dt} {}", op.name());
            // Rounding really happened somewhere, and every result is representable.
            assert!(got.data.iter().zip(&exact).any(|(g, e)| g != e));
            assert!(got.data.iter().all(|&g| round_to(dt, g) == g));
        }
        let e = unary(UnaryOp::Exp, &a);
        assert_eq!(e.data, a.data.iter().map(|&v| round_to(dt, v.exp())).collect::<Vec<_>>());
    }
    // Concrete ties: 1 + 2^-11 is halfway between f16 neighbours and rounds to even (1.0).
    let one = Tensor::scalar(DType::F16, 1.0);
    let eps = Tensor::scalar(DType::F16, 2f64.powi(-11));
    assert_eq!(binary(BinaryOp::Add, &one, &eps).data, [1.0]);
    let one = Tensor::scalar(DType::BF16, 1.0);
    let eps = Tensor::scalar(DType::BF16, 2f64.powi(-8));
    assert_eq!(binary(BinaryOp::Add, &one, &eps).data, [1.0]);
    let three = Tensor::scalar(DType::BF16, 3.0 * 2f64.powi(-8));
    assert_eq!(binary(BinaryOp::Add, &one, &three).data, [1.0 + 2f64.powi(-6)]);
}

#[test]
fn select_picks_by_condition() {
    let c = rand(DType::Bool, &[5, 4], 15);
    let (a, b) = (rand(DType::F32, &[5, 4], 16), rand(DType::F32, &[5, 4], 17));
    let got = apply(Op::Select, &[&c, &a, &b]);
    let want: Vec<f64> = (0..20).map(|i| if c.data[i] != 0.0 { a.data[i] } else { b.data[i] }).collect();
    assert_eq!(got.data, want);
    assert!(c.data.contains(&0.0) && c.data.contains(&1.0));
}

#[test]
fn scalars_and_empty_tensors() {
    let s = Tensor::scalar(DType::F32, 0.5);
    assert_eq!(unary(UnaryOp::Exp, &s), Tensor::scalar(DType::F32, 0.5f64.exp()));
    assert_eq!(binary(BinaryOp::Add, &s, &s).shape, Vec::<usize>::new());
    let e = Tensor::zeros(DType::F32, vec![3, 0]);
    assert_eq!(binary(BinaryOp::Mul, &e, &e), e);
    assert_eq!(apply(Op::Cast { dtype: DType::I64 }, &[&e]).shape, vec![3, 0]);
    let z = Tensor::zeros(DType::I32, vec![0]);
    // No element divides by zero, so an empty integer division succeeds.
    assert!(try_apply(Op::Binary { op: BinaryOp::Div }, &[&z, &z]).is_ok());
}
