//! Fused multiply-adds (`CompileOptions::contract`): on a host with FMA, f32 `a * b + c` rounds once, in
//! scalar and vector code alike (so a lane computes what its scalar iteration would, wherever a thread's
//! chunk starts); without the option, or without FMA, it rounds twice as the evaluator does.

mod cranelift_util;

use cranelift_util::*;
use irc_codegen::cranelift::{CompileOptions, compile_kernel_with};
use irc_codegen::kir::{Expr, Kernel, Stmt};
use irc_ir::DType;

const FUSED: CompileOptions = CompileOptions { simd: true, reassociate: false, contract: true, wide: false };
const FUSED_SCALAR: CompileOptions = CompileOptions { simd: false, reassociate: false, contract: true, wide: false };

fn host_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Inputs whose products are not exact in f32, so fused and unfused results differ often.
fn inputs(n: usize) -> [Vec<f32>; 3] {
    let a = (0..n).map(|i| 1.0 + (i as f32 * 0.754_877_7).fract() / 3.0).collect();
    let b = (0..n).map(|i| 1.0 + (i as f32 * 0.569_840_3).fract() / 7.0).collect();
    let c = (0..n).map(|i| -1.0 - (i as f32 * 0.421_357_3).fract()).collect();
    [a, b, c]
}

#[test]
fn elementwise_multiply_adds_round_once_where_the_host_has_fma() {
    let k = elementwise("fma", &[DType::F32; 3], DType::F32, |x| add(x[2].clone(), mul(x[0].clone(), x[1].clone())));
    for n in [1usize, 3, 4, 5, 8, 9, 17, 33, 65] {
        let [a, b, c] = inputs(n);
        let bufs = [Data::F32(a.clone()), Data::F32(b.clone()), Data::F32(c.clone()), Data::zeros(DType::F32, n)];
        let vector = run_with(&k, &bufs, &[n as i64], FUSED);
        let scalar = run_with(&k, &bufs, &[n as i64], FUSED_SCALAR);
        let exact = run_with(&k, &bufs, &[n as i64], CompileOptions::EXACT);
        assert!(same_bits(&vector[3], &scalar[3]), "n = {n}: vector and scalar contraction differ");
        for i in 0..n {
            let fused = if host_fma() { a[i].mul_add(b[i], c[i]) } else { a[i] * b[i] + c[i] };
            assert!(same_f32(vector[3].f32()[i], fused), "n = {n}, i = {i}");
            assert!(same_f32(exact[3].f32()[i], a[i] * b[i] + c[i]), "n = {n}, i = {i}");
        }
    }
}

/// `out[i] = sum_k x[i * K + k] * y[k]`, accumulated through an outer variable, so that the vector
/// reduction (`reassociate`) fuses its partial sums.
fn dot_rows() -> Kernel {
    let mut b = Builder::new("dots");
    let (rows, cols) = (b.size("rows"), b.size("cols"));
    let x = b.input("x", DType::F32);
    let y = b.input("y", DType::F32);
    let out = b.output("out", DType::F32);
    let i = b.grid("i", rows);
    let k = b.var("k", DType::I64);
    let acc = b.var("acc", DType::F32);
    let term = mul(Expr::load(x, add(mul(var(i), cols.clone()), var(k))), Expr::load(y, var(k)));
    b.k.body = vec![
        Stmt::Let { var: acc, value: Expr::constant(0.0, DType::F32) },
        Stmt::Loop { var: k, extent: cols, body: vec![Stmt::Assign { var: acc, value: add(var(acc), term) }] },
        store(out, var(i), var(acc)),
    ];
    b.k
}

#[test]
fn fused_reductions_stay_within_the_sum_bound() {
    let k = dot_rows();
    let all = CompileOptions::default();
    assert!(compile_kernel_with(&k, all).unwrap().simd_loops() > 0);
    for cols in [1usize, 3, 7, 8, 9, 17, 33, 65, 1027] {
        let rows = 3;
        let [x, _, _] = inputs(rows * cols);
        let [_, y, _] = inputs(cols);
        let bufs = [Data::F32(x.clone()), Data::F32(y.clone()), Data::zeros(DType::F32, rows)];
        let got = run_with(&k, &bufs, &[rows as i64, cols as i64], all);
        for r in 0..rows {
            let terms = (0..cols).map(|c| x[r * cols + c] as f64 * y[c] as f64);
            let (exact, abs) = terms.fold((0.0, 0.0), |(s, a), t| (s + t, a + t.abs()));
            let bound = cols as f64 * f32::EPSILON as f64 * abs;
            let err = (got[2].f32()[r] as f64 - exact).abs();
            assert!(err <= bound, "cols = {cols}, row {r}: error {err} above {bound}");
        }
    }
}
