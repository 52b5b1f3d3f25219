//! The Cranelift backend's elementwise ops, casts and selects, against values computed in Rust. Every
//! kernel runs with and without SIMD (see `cranelift_util::run`).

mod cranelift_util;

use cranelift_util::*;
use irc_codegen::kir::{BinOp, Expr};
use irc_ir::{DType, UnaryOp};

const UNARY: [UnaryOp; 9] = [
    UnaryOp::Neg,
    UnaryOp::Exp,
    UnaryOp::Log,
    UnaryOp::Sqrt,
    UnaryOp::Recip,
    UnaryOp::Sin,
    UnaryOp::Cos,
    UnaryOp::Tanh,
    UnaryOp::Abs,
];

fn unary_f64(op: UnaryOp, x: f64) -> f64 {
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Recip => 1.0 / x,
        UnaryOp::Sin => x.sin(),
        UnaryOp::Cos => x.cos(),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Abs => x.abs(),
    }
}

/// f32 results: native ops in f32, transcendentals in f64 rounded once (as the backend documents).
fn unary_f32(op: UnaryOp, x: f32) -> f32 {
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Recip => 1.0 / x,
        UnaryOp::Abs => x.abs(),
        _ => unary_f64(op, x as f64) as f32,
    }
}

#[test]
fn unary_ops_f32_and_f64() {
    let xs32 = f32_inputs();
    let xs64 = f64_inputs();
    for op in UNARY {
        let k =
            elementwise(&format!("{}_f32", op.name()), &[DType::F32], DType::F32, |a| Expr::unary(op, a[0].clone()));
        let out = run(&k, &[Data::F32(xs32.clone()), Data::zeros(DType::F32, xs32.len())], &[xs32.len() as i64]);
        for (x, y) in xs32.iter().zip(out[1].f32()) {
            assert!(same_f32(*y, unary_f32(op, *x)), "{}({x}) = {y}, want {}", op.name(), unary_f32(op, *x));
        }
        let k =
            elementwise(&format!("{}_f64", op.name()), &[DType::F64], DType::F64, |a| Expr::unary(op, a[0].clone()));
        let out = run(&k, &[Data::F64(xs64.clone()), Data::zeros(DType::F64, xs64.len())], &[xs64.len() as i64]);
        for (x, y) in xs64.iter().zip(out[1].f64()) {
            assert!(same_f64(*y, unary_f64(op, *x)), "{}({x}) = {y}, want {}", op.name(), unary_f64(op, *x));
        }
    }
}

const ARITH: [BinOp; 8] =
    [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div, BinOp::Max, BinOp::Min, BinOp::Pow, BinOp::Rem];
const COMPARE: [BinOp; 4] = [BinOp::Lt, BinOp::Le, BinOp::Eq, BinOp::Ne];

fn binary_f64(op: BinOp, a: f64, b: f64) -> f64 {
    let nan = a.is_nan() || b.is_nan();
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        // numpy's maximum/minimum: NaN wins.
        BinOp::Max if nan => f64::NAN,
        BinOp::Min if nan => f64::NAN,
        BinOp::Max => a.max(b),
        BinOp::Min => a.min(b),
        BinOp::Pow => a.powf(b),
        BinOp::Rem => a % b,
        BinOp::Lt => (a < b) as u8 as f64,
        BinOp::Le => (a <= b) as u8 as f64,
        BinOp::Eq => (a == b) as u8 as f64,
        BinOp::Ne => (a != b) as u8 as f64,
    }
}

fn binary_f32(op: BinOp, a: f32, b: f32) -> f32 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        _ => binary_f64(op, a as f64, b as f64) as f32,
    }
}

/// All pairs of `xs`, as two columns.
fn pairs<T: Copy>(xs: &[T]) -> (Vec<T>, Vec<T>) {
    xs.iter().flat_map(|&a| xs.iter().map(move |&b| (a, b))).unzip()
}

#[test]
fn binary_ops_f32_and_f64() {
    let (a32, b32) = pairs(&f32_inputs());
    let (a64, b64) = pairs(&f64_inputs());
    let n = a32.len();
    for op in ARITH.into_iter().chain(COMPARE) {
        let out_dtype = |d| if op.is_comparison() { DType::Bool } else { d };
        let k = elementwise(&format!("{}_f32", op.name()), &[DType::F32; 2], out_dtype(DType::F32), |x| {
            bin(op, x[0].clone(), x[1].clone())
        });
        let bufs = [Data::F32(a32.clone()), Data::F32(b32.clone()), Data::zeros(out_dtype(DType::F32), n)];
        let out = run(&k, &bufs, &[n as i64]);
        for j in 0..n {
            let want = binary_f32(op, a32[j], b32[j]);
            let got = if op.is_comparison() { out[2].bools()[j] as f32 } else { out[2].f32()[j] };
            assert!(same_f32(got, want), "{}({}, {}) = {got}, want {want}", op.name(), a32[j], b32[j]);
        }
        let k = elementwise(&format!("{}_f64", op.name()), &[DType::F64; 2], out_dtype(DType::F64), |x| {
            bin(op, x[0].clone(), x[1].clone())
        });
        let bufs = [Data::F64(a64.clone()), Data::F64(b64.clone()), Data::zeros(out_dtype(DType::F64), n)];
        let out = run(&k, &bufs, &[n as i64]);
        for j in 0..n {
            let want = binary_f64(op, a64[j], b64[j]);
            let got = if op.is_comparison() { out[2].bools()[j] as f64 } else { out[2].f64()[j] };
            assert!(same_f64(got, want), "{}({}, {}) = {got}, want {want}", op.name(), a64[j], b64[j]);
        }
    }
}

/// Integer semantics: wrapping arithmetic, truncating division, `x / 0 == x % 0 == 0`, `MIN / -1 == MIN`.
fn binary_i64(op: BinOp, a: i64, b: i64) -> i64 {
    match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::Div if b == 0 => 0,
        BinOp::Rem if b == 0 => 0,
        BinOp::Div => a.wrapping_div(b),
        BinOp::Rem => a.wrapping_rem(b),
        BinOp::Max => a.max(b),
        BinOp::Min => a.min(b),
        BinOp::Lt => (a < b) as i64,
        BinOp::Le => (a <= b) as i64,
        BinOp::Eq => (a == b) as i64,
        BinOp::Ne => (a != b) as i64,
        BinOp::Pow => unreachable!(),
    }
}

const INT_OPS: [BinOp; 11] = [
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
    BinOp::Rem,
    BinOp::Max,
    BinOp::Min,
    BinOp::Lt,
    BinOp::Le,
    BinOp::Eq,
    BinOp::Ne,
];

#[test]
fn integer_ops_i32_and_i64() {
    let xs64 = [0, 1, -1, 2, -2, 7, -7, 13, 1 << 40, i64::MAX, i64::MIN, i64::MIN + 1];
    let xs32 = [0, 1, -1, 2, -2, 7, -7, 13, 1 << 20, i32::MAX, i32::MIN, i32::MIN + 1];
    let (a64, b64) = pairs(&xs64);
    let (a32, b32) = pairs(&xs32);
    let n = a64.len();
    for op in INT_OPS {
        let out_dtype = |d| if op.is_comparison() { DType::Bool } else { d };
        let k = elementwise(&format!("{}_i64", op.name()), &[DType::I64; 2], out_dtype(DType::I64), |x| {
            bin(op, x[0].clone(), x[1].clone())
        });
        let out = run(
            &k,
            &[Data::I64(a64.clone()), Data::I64(b64.clone()), Data::zeros(out_dtype(DType::I64), n)],
            &[n as i64],
        );
        for j in 0..n {
            let got = if op.is_comparison() { out[2].bools()[j] as i64 } else { out[2].i64()[j] };
            assert_eq!(got, binary_i64(op, a64[j], b64[j]), "{}({}, {})", op.name(), a64[j], b64[j]);
        }
        let k = elementwise(&format!("{}_i32", op.name()), &[DType::I32; 2], out_dtype(DType::I32), |x| {
            bin(op, x[0].clone(), x[1].clone())
        });
        let out = run(
            &k,
            &[Data::I32(a32.clone()), Data::I32(b32.clone()), Data::zeros(out_dtype(DType::I32), n)],
            &[n as i64],
        );
        for j in 0..n {
            let (a, b) = (a32[j], b32[j]);
            let want = match op {
                BinOp::Div | BinOp::Rem if b == -1 || b == 0 => binary_i64(op, a as i64, b as i64) as i32,
                _ if op.is_comparison() => binary_i64(op, a as i64, b as i64) as i32,
                _ => binary_i64(op, a as i64, b as i64) as i32,
            };
            let got = if op.is_comparison() { out[2].bools()[j] as i32 } else { out[2].i32()[j] };
            assert_eq!(got, want, "{}({a}, {b})", op.name());
        }
    }
    // Constant divisors take the unguarded path.
    for c in [3i64, -3, 1, 8] {
        for op in [BinOp::Div, BinOp::Rem] {
            let k = elementwise("div_const", &[DType::I64], DType::I64, |x| bin(op, x[0].clone(), Expr::index(c)));
            let out = run(&k, &[Data::I64(xs64.to_vec()), Data::zeros(DType::I64, xs64.len())], &[xs64.len() as i64]);
            for (a, got) in xs64.iter().zip(out[1].i64()) {
                assert_eq!(*got, binary_i64(op, *a, c), "{}({a}, {c})", op.name());
            }
        }
    }
    // Neg and abs wrap.
    for (op, f) in [(UnaryOp::Neg, i64::wrapping_neg as fn(i64) -> i64), (UnaryOp::Abs, i64::wrapping_abs)] {
        let k = elementwise("int_unary", &[DType::I64], DType::I64, |x| Expr::unary(op, x[0].clone()));
        let out = run(&k, &[Data::I64(xs64.to_vec()), Data::zeros(DType::I64, xs64.len())], &[xs64.len() as i64]);
        let want: Vec<i64> = xs64.iter().map(|&x| f(x)).collect();
        assert_eq!(out[1].i64(), want);
    }
}

fn cast_kernel(from: DType, to: DType) -> irc_codegen::kir::Kernel {
    elementwise(&format!("cast_{from}_{to}"), &[from], to, |x| Expr::cast(to, x[0].clone()))
}

#[test]
fn float_to_int_casts_truncate_and_saturate() {
    let xs = vec![0.0f32, -0.0, 1.9, -1.9, 3e9, -3e9, 1e20, -1e20, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 65504.5];
    let out = run(
        &cast_kernel(DType::F32, DType::I32),
        &[Data::F32(xs.clone()), Data::zeros(DType::I32, xs.len())],
        &[xs.len() as i64],
    );
    assert_eq!(out[1].i32(), xs.iter().map(|&x| x as i32).collect::<Vec<_>>());
    let out = run(
        &cast_kernel(DType::F32, DType::I64),
        &[Data::F32(xs.clone()), Data::zeros(DType::I64, xs.len())],
        &[xs.len() as i64],
    );
    assert_eq!(out[1].i64(), xs.iter().map(|&x| x as i64).collect::<Vec<_>>());
    let ys: Vec<f64> = xs.iter().map(|&x| x as f64).chain([1e300, -1e300, 2.5e9]).collect();
    let out = run(
        &cast_kernel(DType::F64, DType::I32),
        &[Data::F64(ys.clone()), Data::zeros(DType::I32, ys.len())],
        &[ys.len() as i64],
    );
    assert_eq!(out[1].i32(), ys.iter().map(|&x| x as i32).collect::<Vec<_>>());
}

#[test]
fn numeric_casts() {
    let ints = vec![0i64, 1, -1, 1 << 31, (1 << 53) + 1, i64::MAX, i64::MIN, 123456789];
    let n = ints.len() as i64;
    let out = run(
        &cast_kernel(DType::I64, DType::I32),
        &[Data::I64(ints.clone()), Data::zeros(DType::I32, ints.len())],
        &[n],
    );
    assert_eq!(out[1].i32(), ints.iter().map(|&x| x as i32).collect::<Vec<_>>());
    let out = run(
        &cast_kernel(DType::I64, DType::F64),
        &[Data::I64(ints.clone()), Data::zeros(DType::F64, ints.len())],
        &[n],
    );
    assert_eq!(out[1].f64(), ints.iter().map(|&x| x as f64).collect::<Vec<_>>());
    let out = run(
        &cast_kernel(DType::I64, DType::F32),
        &[Data::I64(ints.clone()), Data::zeros(DType::F32, ints.len())],
        &[n],
    );
    assert_eq!(out[1].f32(), ints.iter().map(|&x| x as f32).collect::<Vec<_>>());
    let i32s: Vec<i32> = ints.iter().map(|&x| x as i32).collect();
    let out = run(
        &cast_kernel(DType::I32, DType::I64),
        &[Data::I32(i32s.clone()), Data::zeros(DType::I64, ints.len())],
        &[n],
    );
    assert_eq!(out[1].i64(), i32s.iter().map(|&x| x as i64).collect::<Vec<_>>());
    let out = run(
        &cast_kernel(DType::I32, DType::F32),
        &[Data::I32(i32s.clone()), Data::zeros(DType::F32, ints.len())],
        &[n],
    );
    assert_eq!(out[1].f32(), i32s.iter().map(|&x| x as f32).collect::<Vec<_>>());

    let xs = f64_inputs();
    let n = xs.len() as i64;
    let out =
        run(&cast_kernel(DType::F64, DType::F32), &[Data::F64(xs.clone()), Data::zeros(DType::F32, xs.len())], &[n]);
    for (x, y) in xs.iter().zip(out[1].f32()) {
        assert!(same_f32(*y, *x as f32), "{x} -> {y}");
    }
    let xs = f32_inputs();
    let out = run(
        &cast_kernel(DType::F32, DType::F64),
        &[Data::F32(xs.clone()), Data::zeros(DType::F64, xs.len())],
        &[xs.len() as i64],
    );
    for (x, y) in xs.iter().zip(out[1].f64()) {
        assert!(same_f64(*y, *x as f64), "{x} -> {y}");
    }
}

#[test]
fn bool_casts() {
    let xs = vec![0.0f32, -0.0, 1.0, -2.0, f32::NAN, 1e-40];
    let n = xs.len();
    let out =
        run(&cast_kernel(DType::F32, DType::Bool), &[Data::F32(xs.clone()), Data::zeros(DType::Bool, n)], &[n as i64]);
    assert_eq!(out[1].bools(), [0, 0, 1, 1, 1, 1]);
    let ints = vec![0i32, 5, -1, 0];
    let out = run(&cast_kernel(DType::I32, DType::Bool), &[Data::I32(ints), Data::zeros(DType::Bool, 4)], &[4]);
    assert_eq!(out[1].bools(), [0, 1, 1, 0]);
    let bools = Data::Bool(vec![0, 1, 1, 0]);
    let out = run(&cast_kernel(DType::Bool, DType::F32), &[bools.clone(), Data::zeros(DType::F32, 4)], &[4]);
    assert_eq!(out[1].f32(), [0.0, 1.0, 1.0, 0.0]);
    let out = run(&cast_kernel(DType::Bool, DType::I64), &[bools.clone(), Data::zeros(DType::I64, 4)], &[4]);
    assert_eq!(out[1].i64(), [0, 1, 1, 0]);
    let out = run(&cast_kernel(DType::Bool, DType::F16), &[bools, Data::zeros(DType::F16, 4)], &[4]);
    assert_eq!(out[1].bits(), [0, 0x3c00, 0x3c00, 0]);
}

#[test]
fn select_on_comparisons_and_bool_buffers() {
    let (a, b) = pairs(&f32_inputs());
    let n = a.len();
    // min by select: NaN comparisons are false, so NaN in `a` picks `b`.
    let k = elementwise("select_lt", &[DType::F32; 2], DType::F32, |x| {
        Expr::select(bin(BinOp::Lt, x[0].clone(), x[1].clone()), x[0].clone(), x[1].clone())
    });
    let out = run(&k, &[Data::F32(a.clone()), Data::F32(b.clone()), Data::zeros(DType::F32, n)], &[n as i64]);
    for j in 0..n {
        let want = if a[j] < b[j] { a[j] } else { b[j] };
        assert!(same_f32(out[2].f32()[j], want));
    }
    let k = elementwise("select_bool", &[DType::Bool, DType::I32, DType::I32], DType::I32, |x| {
        Expr::select(x[0].clone(), x[1].clone(), x[2].clone())
    });
    let bufs = [
        Data::Bool(vec![1, 0, 0, 1, 1]),
        Data::I32(vec![1, 2, 3, 4, 5]),
        Data::I32(vec![-1, -2, -3, -4, -5]),
        Data::zeros(DType::I32, 5),
    ];
    let out = run(&k, &bufs, &[5]);
    assert_eq!(out[3].i32(), [1, -2, -3, 4, 5]);
    // Comparisons of bools and bool max/min (or/and).
    for (op, want) in [(BinOp::Lt, [0u8, 1, 0, 0]), (BinOp::Max, [0, 1, 1, 1]), (BinOp::Min, [0, 0, 0, 1])] {
        let k = elementwise("bool_ops", &[DType::Bool; 2], DType::Bool, |x| bin(op, x[0].clone(), x[1].clone()));
        let bufs = [Data::Bool(vec![0, 0, 1, 1]), Data::Bool(vec![0, 1, 0, 1]), Data::zeros(DType::Bool, 4)];
        assert_eq!(run(&k, &bufs, &[4])[2].bools(), want, "{}", op.name());
    }
}

#[test]
fn f16_and_bf16_loads_are_exact() {
    let all: Vec<u16> = (0..=u16::MAX).collect();
    let n = all.len();
    for dtype in [DType::F16, DType::BF16] {
        let k = cast_kernel(dtype, DType::F32);
        let out = run(&k, &[Data::Half(all.clone()), Data::zeros(DType::F32, n)], &[n as i64]);
        for (&h, &y) in all.iter().zip(out[1].f32()) {
            let want =
                if dtype == DType::F16 { half::f16::from_bits(h).to_f32() } else { half::bf16::from_bits(h).to_f32() };
            assert!(
                same_f32(y, want) && (want.is_nan() || y.to_bits() == want.to_bits()),
                "{dtype} {h:#06x}: {y} vs {want}"
            );
        }
    }
}

/// f32 values around every f16 value: the value, the midpoints to its neighbours (ties) and just off
/// them, plus overflow, underflow and specials.
fn rounding_inputs() -> Vec<f32> {
    let mut xs = Vec::new();
    for h in 0..0x7c00u16 {
        let lo = half::f16::from_bits(h).to_f32();
        let hi = half::f16::from_bits(h + 1).to_f32();
        let mid = (lo as f64 + hi as f64) / 2.0;
        for x in
            [lo, mid as f32, f32::from_bits((mid as f32).to_bits() + 1), f32::from_bits((mid as f32).to_bits() - 1)]
        {
            xs.extend([x, -x]);
        }
    }
    xs.extend([65520.0, 65519.99, 1e10, f32::INFINITY, f32::NAN, 1e-10, 2.9e-8, 3.0e-8, f32::MAX, f32::MIN_POSITIVE]);
    // bf16 ties live at other places: add some random bit patterns.
    let mut s = 0x2545f4914f6cdd1du64;
    for _ in 0..20000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        xs.push(f32::from_bits((s >> 32) as u32));
    }
    xs
}

#[test]
fn f16_and_bf16_stores_round_to_nearest_even() {
    let xs = rounding_inputs();
    let n = xs.len();
    for dtype in [DType::F16, DType::BF16] {
        let k = cast_kernel(DType::F32, dtype);
        let out = run(&k, &[Data::F32(xs.clone()), Data::zeros(dtype, n)], &[n as i64]);
        for (&x, &h) in xs.iter().zip(out[1].bits()) {
            let want =
                if dtype == DType::F16 { half::f16::from_f32(x).to_bits() } else { half::bf16::from_f32(x).to_bits() };
            if x.is_nan() {
                let back = if dtype == DType::F16 {
                    half::f16::from_bits(h).is_nan()
                } else {
                    half::bf16::from_bits(h).is_nan()
                };
                assert!(back, "{dtype}: NaN stored as {h:#06x}");
            } else {
                assert_eq!(h, want, "{dtype}: {x:e} ({:#010x}) stored as {h:#06x}, want {want:#06x}", x.to_bits());
            }
        }
        // A cast to f16 inside a kernel rounds even when the value stays in f32.
        let k = elementwise("round_trip", &[DType::F32], DType::F32, |x| {
            Expr::cast(DType::F32, Expr::cast(dtype, x[0].clone()))
        });
        let out = run(&k, &[Data::F32(xs.clone()), Data::zeros(DType::F32, n)], &[n as i64]);
        for (&x, &y) in xs.iter().zip(out[1].f32()) {
            let want =
                if dtype == DType::F16 { half::f16::from_f32(x).to_f32() } else { half::bf16::from_f32(x).to_f32() };
            assert!(same_f32(y, want), "{dtype}: {x:e} -> {y:e}, want {want:e}");
        }
    }
}

#[test]
fn half_arithmetic_rounds_after_every_op() {
    // Random finite f16 and bf16 bit patterns; each op rounds to the dtype, as the kernel-IR evaluator does.
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 48) as u16
    };
    for dtype in [DType::F16, DType::BF16] {
        let to_f32 = |h: u16| {
            if dtype == DType::F16 { half::f16::from_bits(h).to_f32() } else { half::bf16::from_bits(h).to_f32() }
        };
        let round = |x: f32| {
            if dtype == DType::F16 { half::f16::from_f32(x).to_f32() } else { half::bf16::from_f32(x).to_f32() }
        };
        let bits = |x: f32| {
            if dtype == DType::F16 { half::f16::from_f32(x).to_bits() } else { half::bf16::from_f32(x).to_bits() }
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        while a.len() < 4000 {
            let (x, y) = (next(), next());
            if to_f32(x).is_finite() && to_f32(y).is_finite() {
                a.push(x);
                b.push(y);
            }
        }
        let k = elementwise("half_ops", &[dtype; 2], dtype, |x| {
            let prod = mul(x[0].clone(), x[1].clone());
            add(
                bin(BinOp::Div, prod, add(x[1].clone(), Expr::constant(3.0, dtype))),
                Expr::unary(UnaryOp::Sqrt, x[0].clone()),
            )
        });
        let n = a.len();
        let out = run(&k, &[Data::Half(a.clone()), Data::Half(b.clone()), Data::zeros(dtype, n)], &[n as i64]);
        for j in 0..n {
            let (x, y) = (to_f32(a[j]), to_f32(b[j]));
            let want = bits(round(round(round(x * y) / round(y + 3.0)) + round(x.sqrt())));
            let got = out[2].bits()[j];
            let nan = to_f32(got).is_nan() && to_f32(want).is_nan();
            assert!(got == want || nan, "{dtype}: x={x} y={y}: {got:#06x} vs {want:#06x}");
        }
    }
}

/// The correctly rounded f16/bf16 bits of finite or infinite `x`: the nearest of the neighbours of
/// `half`'s answer (which may be one off: it ignores low f64 bits), ties to even, overflow to infinity.
fn round_f64_to_half(dtype: DType, x: f64) -> u16 {
    let value =
        |h: u16| if dtype == DType::F16 { half::f16::from_bits(h).to_f64() } else { half::bf16::from_bits(h).to_f64() };
    let guess = if dtype == DType::F16 { half::f16::from_f64(x).to_bits() } else { half::bf16::from_f64(x).to_bits() };
    let sign = guess & 0x8000;
    let mag = guess & 0x7fff;
    let inf = if dtype == DType::F16 { 0x7c00 } else { 0x7f80 };
    let candidates = [mag.saturating_sub(1), mag, (mag + 1).min(inf)];
    let best = candidates
        .into_iter()
        .filter(|&m| m < inf)
        .min_by(|&a, &b| {
            let (da, db) = ((value(a) - x.abs()).abs(), (value(b) - x.abs()).abs());
            da.partial_cmp(&db).unwrap().then((a & 1).cmp(&(b & 1)))
        })
        .unwrap();
    // Past the largest finite value by at least half an ulp: infinity.
    let max = inf - 1;
    let half_ulp = (value(max) - value(max - 1)) / 2.0;
    if x.abs() >= value(max) + half_ulp { sign | inf } else { sign | best }
}

#[test]
fn casts_to_half_round_once() {
    // f64 values just off an f16/bf16 rounding midpoint, where rounding through f32 first (or ignoring
    // the low bits, as `half` does) would land on the midpoint and round the wrong way.
    let mut xs = Vec::new();
    for h in [0x3c00u16, 0x3c01, 0x4000, 0x5555, 0x0001, 0x03ff, 0x7bfe] {
        let lo = half::f16::from_bits(h).to_f64();
        let hi = half::f16::from_bits(h + 1).to_f64();
        let mid = (lo + hi) / 2.0;
        xs.extend([mid, mid * (1.0 + 1e-12), mid * (1.0 - 1e-12), -mid * (1.0 + 1e-12)]);
        let lo = half::bf16::from_bits(h).to_f64();
        let hi = half::bf16::from_bits(h + 1).to_f64();
        let mid = (lo + hi) / 2.0;
        xs.extend([mid, mid * (1.0 + 1e-12), mid * (1.0 - 1e-12)]);
    }
    xs.extend([1e300, -1e300, 1e-300, f64::INFINITY, 65519.99999, 65520.0, 65504.0, 3.0e38, 3.4e38]);
    let n = xs.len();
    for dtype in [DType::F16, DType::BF16] {
        let out = run(&cast_kernel(DType::F64, dtype), &[Data::F64(xs.clone()), Data::zeros(dtype, n)], &[n as i64]);
        for (x, &h) in xs.iter().zip(out[1].bits()) {
            let want = round_f64_to_half(dtype, *x);
            assert!(h == want, "{dtype}: {x:e} -> {h:#06x}, want {want:#06x}");
        }
    }
    let ints: Vec<i64> = vec![0, 1, -1, 2049, 65519, 65520, 1 << 40, (1 << 24) + 1, 16_777_217 * 3, i64::MAX, i64::MIN];
    let n = ints.len();
    for dtype in [DType::F16, DType::BF16] {
        let out = run(&cast_kernel(DType::I64, dtype), &[Data::I64(ints.clone()), Data::zeros(dtype, n)], &[n as i64]);
        for (x, &h) in ints.iter().zip(out[1].bits()) {
            let want = round_f64_to_half(dtype, *x as f64);
            assert_eq!(h, want, "{dtype}: {x}");
        }
    }
}
