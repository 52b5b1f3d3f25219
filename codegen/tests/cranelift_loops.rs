//! The Cranelift backend's control flow: grids over symbolic sizes, loops with accumulators, matmul,
//! index math, SIMD loops with tails, partial ranges, threads, and typed errors.

mod cranelift_util;

use cranelift_util::*;
use irc_codegen::cranelift::{
    CodegenError, CompileOptions, compile_kernel, compile_kernel_listing, compile_kernel_with,
};
use irc_codegen::kir::{BinOp, Expr, Kernel, Stmt, VarId};
use irc_ir::{DType, UnaryOp};

fn f32s(n: usize, seed: u32) -> Vec<f32> {
    (0..n).map(|j| ((j as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 250.0 - 2.0).collect()
}

/// `out[i] = sum_j x[i * cols + j]` with an f32 accumulator.
fn row_sum() -> Kernel {
    let mut b = Builder::new("row_sum");
    let (rows, cols) = (b.size("rows"), b.size("cols"));
    let x = b.input("x", DType::F32);
    let out = b.output("out", DType::F32);
    let i = b.grid("i", rows);
    let j = b.var("j", DType::I64);
    let acc = b.var("acc", DType::F32);
    b.k.body = vec![
        Stmt::Let { var: acc, value: Expr::constant(0.0, DType::F32) },
        Stmt::Loop {
            var: j,
            extent: cols.clone(),
            body: vec![Stmt::Assign { var: acc, value: add(var(acc), Expr::load(x, add(mul(var(i), cols), var(j)))) }],
        },
        store(out, var(i), var(acc)),
    ];
    b.k
}

#[test]
fn reduction_with_an_accumulator() {
    let (rows, cols) = (23, 37);
    let x = f32s(rows * cols, 1);
    let out = run(&row_sum(), &[Data::F32(x.clone()), Data::zeros(DType::F32, rows)], &[rows as i64, cols as i64]);
    for r in 0..rows {
        let want = x[r * cols..(r + 1) * cols].iter().fold(0.0f32, |a, &v| a + v);
        assert_eq!(out[1].f32()[r], want);
    }
    // A zero-length reduction leaves the initial value.
    let out = run(&row_sum(), &[Data::F32(vec![]), Data::F32(vec![9.0; 3])], &[3, 0]);
    assert_eq!(out[1].f32(), [0.0; 3]);
}

/// `c[i, j] = sum_k a[i, k] * b[k, j]` over symbolic M, N, K.
fn matmul(dtype: DType) -> Kernel {
    let mut b = Builder::new("matmul");
    let (m, n, kk) = (b.size("M"), b.size("N"), b.size("K"));
    let a = b.input("a", dtype);
    let bb = b.input("b", dtype);
    let c = b.output("c", dtype);
    let i = b.grid("i", m);
    let j = b.grid("j", n.clone());
    let k = b.var("k", DType::I64);
    let acc = b.var("acc", dtype);
    let prod =
        mul(Expr::load(a, add(mul(var(i), kk.clone()), var(k))), Expr::load(bb, add(mul(var(k), n.clone()), var(j))));
    b.k.body = vec![
        Stmt::Let { var: acc, value: Expr::constant(0.0, dtype) },
        Stmt::Loop { var: k, extent: kk, body: vec![Stmt::Assign { var: acc, value: add(var(acc), prod) }] },
        store(c, add(mul(var(i), n), var(j)), var(acc)),
    ];
    b.k
}

#[test]
fn matmul_loop_nest() {
    let (m, n, k) = (7, 21, 13);
    let a = f32s(m * k, 3);
    let b = f32s(k * n, 4);
    let out = run(
        &matmul(DType::F32),
        &[Data::F32(a.clone()), Data::F32(b.clone()), Data::zeros(DType::F32, m * n)],
        &[m as i64, n as i64, k as i64],
    );
    for i in 0..m {
        for j in 0..n {
            let want = (0..k).fold(0.0f32, |acc, p| acc + a[i * k + p] * b[p * n + j]);
            assert_eq!(out[2].f32()[i * n + j], want, "c[{i}, {j}]");
        }
    }
    let a64: Vec<f64> = a.iter().map(|&v| v as f64 / 3.0).collect();
    let b64: Vec<f64> = b.iter().map(|&v| v as f64 * 1.7).collect();
    let out = run(
        &matmul(DType::F64),
        &[Data::F64(a64.clone()), Data::F64(b64.clone()), Data::zeros(DType::F64, m * n)],
        &[m as i64, n as i64, k as i64],
    );
    for i in 0..m {
        for j in 0..n {
            let want = (0..k).fold(0.0f64, |acc, p| acc + a64[i * k + p] * b64[p * n + j]);
            assert_eq!(out[2].f64()[i * n + j], want);
        }
    }
}

/// A transpose over a flat grid of `R * C`, unravelled by hand with div and rem on sizes.
#[test]
fn index_math_with_div_and_rem_on_sizes() {
    let mut b = Builder::new("transpose_flat");
    let (r, c) = (b.size("R"), b.size("C"));
    let x = b.input("x", DType::I32);
    let out = b.output("out", DType::I32);
    let t = b.grid("t", mul(r.clone(), c.clone()));
    // out[t] = x[(t % R) * C + t / R]: out is the C x R transpose of the R x C input.
    let src = add(mul(bin(BinOp::Rem, var(t), r), c), bin(BinOp::Div, var(t), Expr::Size(0)));
    b.k.body = vec![store(out, var(t), Expr::load(x, src))];
    let (rr, cc) = (6usize, 11usize);
    let xs: Vec<i32> = (0..(rr * cc) as i32).collect();
    let res = run(&b.k, &[Data::I32(xs.clone()), Data::zeros(DType::I32, rr * cc)], &[rr as i64, cc as i64]);
    for j in 0..cc {
        for i in 0..rr {
            assert_eq!(res[1].i32()[j * rr + i], xs[i * cc + j]);
        }
    }
}

/// A 3-D grid over symbolic sizes with an i32 accumulator and a Let of an index.
#[test]
fn three_d_grid_and_integer_variables() {
    let mut b = Builder::new("grid3");
    let (d0, d1, d2) = (b.size("A"), b.size("B"), b.size("C"));
    let out = b.output("out", DType::I64);
    let i = b.grid("i", d0);
    let j = b.grid("j", d1.clone());
    let k = b.grid("k", d2.clone());
    let flat = b.var("flat", DType::I64);
    let n = b.var("n", DType::I32);
    let l = b.var("l", DType::I64);
    b.k.body = vec![
        Stmt::Let { var: flat, value: add(mul(add(mul(var(i), d1), var(j)), d2), var(k)) },
        Stmt::Let { var: n, value: Expr::constant(0.0, DType::I32) },
        Stmt::Loop {
            var: l,
            extent: add(var(k), Expr::index(1)),
            body: vec![Stmt::Assign { var: n, value: add(var(n), Expr::cast(DType::I32, var(l))) }],
        },
        store(out, var(flat), add(mul(var(flat), Expr::index(1000)), Expr::cast(DType::I64, var(n)))),
    ];
    let (a, bb, c) = (3, 4, 5);
    let res = run(&b.k, &[Data::zeros(DType::I64, a * bb * c)], &[a as i64, bb as i64, c as i64]);
    for f in 0..a * bb * c {
        let k = (f % c) as i64;
        assert_eq!(res[0].i64()[f], f as i64 * 1000 + k * (k + 1) / 2);
    }
}

/// `out[0] = max_j |x[j]|`, with no grid: a reduction into a variable outside the loop.
fn max_abs(dtype: DType) -> Kernel {
    let mut b = Builder::new("max_abs");
    let n = b.size("n");
    let x = b.input("x", dtype);
    let out = b.output("out", dtype);
    let j = b.var("j", DType::I64);
    let acc = b.var("acc", dtype);
    b.k.body = vec![
        Stmt::Let { var: acc, value: Expr::constant(0.0, dtype) },
        Stmt::Loop {
            var: j,
            extent: n,
            body: vec![Stmt::Assign {
                var: acc,
                value: bin(BinOp::Max, var(acc), Expr::unary(UnaryOp::Abs, Expr::load(x, var(j)))),
            }],
        },
        store(out, Expr::index(0), var(acc)),
    ];
    b.k
}

#[test]
fn a_kernel_without_grid_runs_once() {
    let k = max_abs(DType::F64);
    let compiled = compile_kernel(&k).unwrap();
    assert_eq!(compiled.grid_total(&[4]).unwrap(), 1);
    let res = run(&k, &[Data::F64(vec![1.0, -7.5, 3.0, 2.0]), Data::zeros(DType::F64, 1)], &[4]);
    assert_eq!(res[1].f64(), [7.5]);
}

/// `out[r * n + j] = f(a[r * n + j], bias[j], scale)` with an inner loop over `j`: SIMD-eligible.
fn simd_kernel(f: impl Fn(Expr, Expr, Expr) -> Expr) -> Kernel {
    let mut b = Builder::new("simd_rows");
    let (rows, n) = (b.size("rows"), b.size("n"));
    let a = b.input("a", DType::F32);
    let bias = b.input("bias", DType::F32);
    let scale = b.input("scale", DType::F32);
    let out = b.output("out", DType::F32);
    let r = b.grid("r", rows);
    let j = b.var("j", DType::I64);
    let t = b.var("t", DType::F32);
    let s = b.var("s", DType::F32);
    let at = add(mul(var(r), n.clone()), var(j));
    b.k.body = vec![
        // An invariant outer variable, splatted in the vector loop.
        Stmt::Let { var: s, value: Expr::load(scale, Expr::index(0)) },
        Stmt::Loop {
            var: j,
            extent: n,
            body: vec![
                Stmt::Let { var: t, value: f(Expr::load(a, at.clone()), Expr::load(bias, var(j)), var(s)) },
                store(out, at, var(t)),
            ],
        },
    ];
    b.k
}

#[test]
fn simd_loops_with_tails() {
    type F = fn(Expr, Expr, Expr) -> Expr;
    type G = fn(f32, f32, f32) -> f32;
    // The expected values round exact results; the case with the inline exp may be 1 ulp off.
    let cases: [(F, G, u32); 4] = [
        (|a, b, s| add(mul(a, s), b), |a, b, s| a * s + b, 0),
        (
            |a, b, _| bin(BinOp::Max, Expr::unary(UnaryOp::Exp, a), Expr::unary(UnaryOp::Sqrt, b)),
            |a, b, _| {
                let e = (a as f64).exp() as f32;
                if e.is_nan() || b.sqrt().is_nan() { f32::NAN } else { e.max(b.sqrt()) }
            },
            1,
        ),
        (
            |a, b, s| Expr::select(bin(BinOp::Lt, a.clone(), b.clone()), mul(a, s), Expr::unary(UnaryOp::Neg, b)),
            |a, b, s| if a < b { a * s } else { -b },
            0,
        ),
        (
            |a, b, _| bin(BinOp::Pow, Expr::unary(UnaryOp::Abs, a), b),
            |a, b, _| (a.abs() as f64).powf(b as f64) as f32,
            0,
        ),
    ];
    for (f, g, ulps) in cases {
        let k = simd_kernel(f);
        let compiled = compile_kernel(&k).unwrap();
        assert_eq!(compiled.simd_loops(), 1, "{}", compiled.clif_text());
        assert!(compiled.clif_text().contains("f32x4"));
        for n in [0usize, 1, 3, 4, 7, 8, 13] {
            let rows = 3;
            let (a, bias, scale) = (f32s(rows * n, 7), f32s(n, 9), vec![1.5f32]);
            let bufs =
                [Data::F32(a.clone()), Data::F32(bias.clone()), Data::F32(scale), Data::zeros(DType::F32, rows * n)];
            let out = run(&k, &bufs, &[rows as i64, n as i64]);
            for r in 0..rows {
                for j in 0..n {
                    let (got, want) = (out[3].f32()[r * n + j], g(a[r * n + j], bias[j], 1.5));
                    assert!(near_f32(got, want, ulps), "n={n} [{r}, {j}]: {got} vs {want}");
                }
            }
        }
    }
}

#[test]
fn elementwise_grids_vectorize_their_rows() {
    let k = elementwise("axpy", &[DType::F32; 2], DType::F32, |x| {
        add(mul(x[0].clone(), Expr::constant(2.0, DType::F32)), x[1].clone())
    });
    assert_eq!(compile_kernel(&k).unwrap().simd_loops(), 1);
    assert_eq!(compile_kernel_with(&k, CompileOptions::SCALAR).unwrap().simd_loops(), 0);
    // Dot products per output run four outputs at a time (the inner loops stay sequential per lane).
    // (The rows left after groups of four reduce sequentially too, as the lanes do.)
    assert_eq!(compile_kernel(&row_sum()).unwrap().simd_loops(), 1);
    assert_eq!(compile_kernel(&matmul(DType::F32)).unwrap().simd_loops(), 1);
    // A reduction into a variable of the enclosing scope vectorizes only when it may be reassociated.
    assert_eq!(compile_kernel(&max_abs(DType::F32)).unwrap().simd_loops(), 1);
    let exact = CompileOptions::EXACT;
    assert_eq!(compile_kernel_with(&max_abs(DType::F32), exact).unwrap().simd_loops(), 0);
    // A strided store vectorizes, stored lane by lane.
    let mut strided = elementwise("strided", &[DType::F32], DType::F32, |x| x[0].clone());
    if let Stmt::Store { index, .. } = &mut strided.body[0] {
        *index = mul(index.clone(), Expr::index(2));
    }
    assert_eq!(compile_kernel(&strided).unwrap().simd_loops(), 1);
    let x = f32s(11, 9);
    let got = run(&strided, &[Data::F32(x.clone()), Data::zeros(DType::F32, 22)], &[11]);
    let want: Vec<f32> = x.iter().flat_map(|&v| [v, 0.0]).collect();
    assert_eq!(got[1].f32(), &want[..]);
    // Not eligible: f64 values, a loop-carried read.
    let k64 = elementwise("f64", &[DType::F64], DType::F64, |x| x[0].clone());
    assert_eq!(compile_kernel(&k64).unwrap().simd_loops(), 0);
    let mut carried = Builder::new("carried");
    let n = carried.size("n");
    let o = carried.output("o", DType::F32);
    let i = carried.grid("i", n);
    carried.k.body = vec![store(o, add(var(i), Expr::index(1)), Expr::load(o, var(i)))];
    assert_eq!(compile_kernel(&carried.k).unwrap().simd_loops(), 0);
    // And it still runs right: a prefix copy of o[0] along the buffer.
    let res = run(&carried.k, &[Data::F32(vec![5.0, 0.0, 0.0, 0.0, 0.0, 0.0])], &[5]);
    assert_eq!(res[0].f32(), [5.0; 6]);
}

/// Any split of the flattened grid into ranges, in any order, computes the same as one call.
#[test]
fn partial_ranges_and_clamping() {
    let k = matmul(DType::F32);
    let (m, n, kk) = (5i64, 6, 4);
    let sizes = [m, n, kk];
    let a = f32s((m * kk) as usize, 1);
    let b = f32s((kk * n) as usize, 2);
    // With the default options (fused multiply-adds where the host has them): chunks compute as one call.
    let fast = CompileOptions::default();
    let whole = run_with(
        &k,
        &[Data::F32(a.clone()), Data::F32(b.clone()), Data::zeros(DType::F32, (m * n) as usize)],
        &sizes,
        fast,
    );
    let compiled = compile_kernel(&k).unwrap();
    let total = compiled.grid_total(&sizes).unwrap();
    assert_eq!(total, m * n);
    for cuts in [vec![0, 1, 7, 13, 29, 30], vec![0, 30], vec![-100, 4, 5, 6, 1000]] {
        let mut bufs = [Data::F32(a.clone()), Data::F32(b.clone()), Data::zeros(DType::F32, (m * n) as usize)];
        let ptrs: Vec<*mut u8> = bufs.iter_mut().map(Data::ptr).collect();
        for w in cuts.windows(2).rev() {
            // SAFETY: the buffers hold every element of the M x K, K x N and M x N operands.
            unsafe { compiled.run(&ptrs, &sizes, w[0]..w[1]) }.unwrap();
        }
        assert_eq!(bufs[2], whole[2], "cuts {cuts:?}");
    }
    // Rows wider than a column block (64): whole rows walk block by block, partial rows at the ends of
    // a range as usual.
    let (m, n, kk) = (5i64, 150, 3);
    let sizes = [m, n, kk];
    let (a2, b2) = (f32s((m * kk) as usize, 3), f32s((kk * n) as usize, 4));
    let fresh = || [Data::F32(a2.clone()), Data::F32(b2.clone()), Data::zeros(DType::F32, (m * n) as usize)];
    let whole = run_with(&k, &fresh(), &sizes, fast);
    for cuts in [vec![0, 750], vec![0, 77, 151, 600, 750], vec![0, 149, 300, 301, 750], vec![10, 20, 0, 10, 20, 750]] {
        let mut bufs = fresh();
        let ptrs: Vec<*mut u8> = bufs.iter_mut().map(Data::ptr).collect();
        for w in cuts.windows(2).filter(|w| w[0] < w[1]) {
            // SAFETY: as above.
            unsafe { compiled.run(&ptrs, &sizes, w[0]..w[1]) }.unwrap();
        }
        assert_eq!(bufs[2], whole[2], "cuts {cuts:?}");
    }
    // Empty and inverted ranges do nothing.
    let (m, n) = (5i64, 6);
    let sizes = [m, n, 4];
    let mut bufs = [Data::F32(a), Data::F32(b), Data::zeros(DType::F32, (m * n) as usize)];
    let ptrs: Vec<*mut u8> = bufs.iter_mut().map(Data::ptr).collect();
    let inverted = std::ops::Range { start: 10, end: 3 };
    // SAFETY: as above.
    unsafe { compiled.run(&ptrs, &sizes, inverted) }.unwrap();
    assert_eq!(bufs[2], Data::zeros(DType::F32, (m * n) as usize));
}

#[test]
fn non_positive_extents_give_an_empty_grid() {
    let compiled = compile_kernel(&matmul(DType::F32)).unwrap();
    assert_eq!(compiled.grid_total(&[0, 5, 5]).unwrap(), 0);
    assert_eq!(compiled.grid_total(&[-2, -3, 5]).unwrap(), 0);
    let mut out = Data::zeros(DType::F32, 1);
    let ptrs = [std::ptr::null_mut(), std::ptr::null_mut(), out.ptr()];
    // SAFETY: with a negative extent the grid is empty, so no buffer is touched (even null ones).
    unsafe { compiled.run(&ptrs, &[-2, -3, 5], 0..6) }.unwrap();
}

#[test]
fn threads_share_one_compiled_kernel() {
    let k = matmul(DType::F32);
    let (m, n, kk) = (33i64, 17, 9);
    let sizes = [m, n, kk];
    let a = f32s((m * kk) as usize, 5);
    let b = f32s((kk * n) as usize, 6);
    let single = run_with(
        &k,
        &[Data::F32(a.clone()), Data::F32(b.clone()), Data::zeros(DType::F32, (m * n) as usize)],
        &sizes,
        CompileOptions::default(),
    );
    let compiled = compile_kernel(&k).unwrap();
    let mut bufs = [Data::F32(a), Data::F32(b), Data::zeros(DType::F32, (m * n) as usize)];
    let ptrs: Vec<usize> = bufs.iter_mut().map(|d| d.ptr() as usize).collect();
    let total = compiled.grid_total(&sizes).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (compiled, ptrs) = (&compiled, &ptrs);
            s.spawn(move || {
                let ptrs: Vec<*mut u8> = ptrs.iter().map(|&p| p as *mut u8).collect();
                let (lo, hi) = (total * t / 4, total * (t + 1) / 4);
                // SAFETY: the buffers outlive the scope, and the threads write disjoint ranges of `c`.
                unsafe { compiled.run(&ptrs, &sizes, lo..hi) }.unwrap();
            });
        }
    });
    assert_eq!(bufs[2], single[2]);
}

fn expect_err(k: &Kernel, needle: &str) {
    match compile_kernel(k) {
        Ok(_) => panic!("kernel {} compiled, expected an error mentioning {needle:?}", k.name),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(&k.name) && msg.contains(needle), "{msg}");
        }
    }
}

#[test]
fn malformed_kernels_are_errors_not_panics() {
    let good = || elementwise("bad_kernel", &[DType::F32], DType::F32, |x| x[0].clone());
    let mut k = good();
    k.body = vec![store(7, Expr::index(0), Expr::constant(1.0, DType::F32))];
    expect_err(&k, "buffer argument 7");
    let mut k = good();
    k.body = vec![store(1, Expr::index(0), Expr::Size(3))];
    expect_err(&k, "size 3");
    let mut k = good();
    let v = k.var("undefined", DType::F32);
    k.body = vec![store(1, Expr::index(0), var(v))];
    expect_err(&k, "used before it is defined");
    let mut k = good();
    k.body = vec![store(1, Expr::index(0), Expr::constant(1.0, DType::F64))];
    expect_err(&k, "must be f32");
    let mut k = good();
    k.body = vec![store(0, Expr::index(0), Expr::constant(1.0, DType::F32))];
    expect_err(&k, "read-only");
    let mut k = good();
    k.body = vec![store(1, Expr::constant(0.0, DType::I32), Expr::constant(1.0, DType::F32))];
    expect_err(&k, "store index must be i64");
    let mut k = good();
    k.grid[0].1 = Expr::load(0, Expr::index(0));
    expect_err(&k, "grid extent");
    let mut k = good();
    let g = k.grid[0].0;
    k.body = vec![Stmt::Assign { var: g, value: Expr::index(0) }];
    expect_err(&k, "index variable");
    let mut k = good();
    k.body = vec![store(1, Expr::index(0), bin(BinOp::Add, Expr::constant(1.0, DType::F32), Expr::index(1)))];
    expect_err(&k, "add of f32 and i64");
    let k = elementwise("bad_kernel", &[DType::I32; 2], DType::I32, |x| bin(BinOp::Pow, x[0].clone(), x[1].clone()));
    expect_err(&k, "pow on i32");
    let k = elementwise("bad_kernel", &[DType::I32], DType::I32, |x| Expr::unary(UnaryOp::Exp, x[0].clone()));
    expect_err(&k, "exp on i32");
    let mut k = good();
    let l = k.var("l", DType::I64);
    let g = k.grid[0].0;
    k.body = vec![Stmt::Loop {
        var: l,
        extent: Expr::index(2),
        body: vec![Stmt::Loop { var: g, extent: Expr::index(2), body: vec![] }],
    }];
    expect_err(&k, "already in scope");
}

#[test]
fn wrong_argument_counts_are_errors() {
    let k = elementwise("args", &[DType::F32], DType::F32, |x| x[0].clone());
    let compiled = compile_kernel(&k).unwrap();
    let err = compiled.grid_total(&[]).unwrap_err();
    assert!(matches!(err, CodegenError::Arity { expected: 1, got: 0, .. }), "{err}");
    // SAFETY: the call is rejected before any pointer is used.
    let err = unsafe { compiled.run(&[std::ptr::null_mut()], &[4], 0..4) }.unwrap_err();
    assert!(err.to_string().contains("expected 2 buffer arguments, got 1"), "{err}");
}

#[test]
fn clif_text_shows_both_functions() {
    let compiled = compile_kernel(&row_sum()).unwrap();
    let text = compiled.clif_text();
    assert_eq!(text.matches("function ").count(), 2, "{text}");
    assert_eq!(compiled.name(), "row_sum");
}

#[test]
fn listings_show_machine_code_when_asked() {
    assert!(compile_kernel(&row_sum()).unwrap().disasm().is_none());
    let compiled = compile_kernel_listing(&row_sum()).unwrap();
    let asm = compiled.disasm().unwrap();
    assert!(asm.contains("ret") && asm.lines().count() > 20, "{asm}");
}

/// A transpose: the store is contiguous in the inner grid variable, the load is strided, so the vector
/// loop gathers four scalars per step.
#[test]
fn strided_loads_are_gathered_in_simd_loops() {
    let mut b = Builder::new("transpose_f32");
    let (r, c) = (b.size("R"), b.size("C"));
    let x = b.input("x", DType::F32);
    let out = b.output("out", DType::F32);
    let j = b.grid("j", c.clone());
    let i = b.grid("i", r.clone());
    let value = mul(Expr::load(x, add(mul(var(i), c), var(j))), Expr::constant(-1.0, DType::F32));
    b.k.body = vec![store(out, add(mul(var(j), r), var(i)), value)];
    assert_eq!(compile_kernel(&b.k).unwrap().simd_loops(), 1);
    for (rr, cc) in [(1usize, 1usize), (5, 3), (9, 4), (2, 11)] {
        let xs = f32s(rr * cc, 2);
        let res = run(&b.k, &[Data::F32(xs.clone()), Data::zeros(DType::F32, rr * cc)], &[rr as i64, cc as i64]);
        for jj in 0..cc {
            for ii in 0..rr {
                assert_eq!(res[1].f32()[jj * rr + ii], -xs[ii * cc + jj]);
            }
        }
    }
}

/// A running sum down each column: the vector loop runs four columns, and stores inside the nested
/// loop (each lane its own column).
#[test]
fn column_cumsum_vectorizes_across_columns() {
    let mut b = Builder::new("cumsum_cols");
    let (r, c) = (b.size("R"), b.size("C"));
    let x = b.input("x", DType::F32);
    let out = b.output("out", DType::F32);
    let col = b.grid("c", c.clone());
    let row = b.var("r", DType::I64);
    let acc = b.var("acc", DType::F32);
    let at = add(mul(var(row), c), var(col));
    b.k.body = vec![
        Stmt::Let { var: acc, value: Expr::constant(0.0, DType::F32) },
        Stmt::Loop {
            var: row,
            extent: r,
            body: vec![
                Stmt::Assign { var: acc, value: add(var(acc), Expr::load(x, at.clone())) },
                store(out, at, var(acc)),
            ],
        },
    ];
    assert_eq!(compile_kernel(&b.k).unwrap().simd_loops(), 1);
    let (rr, cc) = (5usize, 11usize);
    let xs = f32s(rr * cc, 8);
    let res = run(&b.k, &[Data::F32(xs.clone()), Data::zeros(DType::F32, rr * cc)], &[rr as i64, cc as i64]);
    for j in 0..cc {
        let mut s = 0.0f32;
        for i in 0..rr {
            s += xs[i * cc + j];
            assert_eq!(res[1].f32()[i * cc + j], s);
        }
    }
}

/// A causal mask: the condition compares integer indices and a value is cast from an index, so both are
/// computed lane by lane inside the vector loop.
#[test]
fn integer_conditions_and_casts_in_simd_loops() {
    let mut b = Builder::new("causal");
    let (r, c) = (b.size("R"), b.size("C"));
    let x = b.input("x", DType::F32);
    let out = b.output("out", DType::F32);
    let i = b.grid("i", r);
    let j = b.grid("j", c.clone());
    let at = add(mul(var(i), c), var(j));
    let keep = bin(BinOp::Le, Expr::cast(DType::I32, var(j)), Expr::cast(DType::I32, var(i)));
    let masked = Expr::select(keep, Expr::load(x, at.clone()), Expr::constant(f64::NEG_INFINITY, DType::F32));
    b.k.body = vec![store(out, at, add(masked, Expr::cast(DType::F32, var(j))))];
    assert_eq!(compile_kernel(&b.k).unwrap().simd_loops(), 1);
    let (rr, cc) = (6usize, 13usize);
    let xs = f32s(rr * cc, 3);
    let res = run(&b.k, &[Data::F32(xs.clone()), Data::zeros(DType::F32, rr * cc)], &[rr as i64, cc as i64]);
    for ii in 0..rr {
        for jj in 0..cc {
            let want = if jj <= ii { xs[ii * cc + jj] + jj as f32 } else { f32::NEG_INFINITY };
            assert_eq!(res[1].f32()[ii * cc + jj], want, "[{ii}, {jj}]");
        }
    }
}

/// An index whose constant part is beyond an immediate offset (`(i + 10^9) - off` with `off = 10^9` at
/// run time) still addresses element `i`: the constant then joins the scaled terms.
#[test]
fn constants_beyond_immediate_offsets() {
    let mut b = Builder::new("far_constant");
    let (n, off) = (b.size("n"), b.size("off"));
    let x = b.input("x", DType::F32);
    let out = b.output("out", DType::F32);
    let i = b.grid("i", n);
    let far = Expr::constant(1e9, DType::I64);
    let index = bin(BinOp::Sub, add(var(i), far), off);
    b.k.body = vec![store(out, var(i), add(Expr::load(x, index), Expr::constant(1.0, DType::F32)))];
    let len = 37;
    let xs = f32s(len, 3);
    let got = run(&b.k, &[Data::F32(xs.clone()), Data::zeros(DType::F32, len)], &[len as i64, 1_000_000_000]);
    let want: Vec<f32> = xs.iter().map(|v| v + 1.0).collect();
    assert_eq!(got[1].f32(), &want[..]);
}

/// `out[i, j] = x[i, j] / sqrt(sum_j x[i, j])`: the scale is computed once per row, before the loop
/// that reads it (carried through it), not once per iteration of its vector and scalar parts. With
/// contraction (the default where the host has FMA) the division becomes a multiplication by the
/// reciprocal, also computed once per row; the exact options keep the division.
#[test]
fn a_value_computed_before_a_loop_stays_before_it() {
    let mut b = Builder::new("row_scale");
    let (rows, cols) = (b.size("rows"), b.size("cols"));
    let x = b.input("x", DType::F32);
    let out = b.output("out", DType::F32);
    let i = b.grid("i", rows);
    let (j, acc, s) = (b.var("j", DType::I64), b.var("acc", DType::F32), b.var("s", DType::F32));
    let at = |j: VarId| add(mul(var(i), cols.clone()), var(j));
    b.k.body = vec![
        Stmt::Let { var: acc, value: Expr::constant(0.0, DType::F32) },
        Stmt::Loop {
            var: j,
            extent: cols.clone(),
            body: vec![Stmt::Assign { var: acc, value: add(var(acc), Expr::load(x, at(j))) }],
        },
        Stmt::Let { var: s, value: Expr::Unary { op: UnaryOp::Sqrt, arg: Box::new(var(acc)) } },
        Stmt::Loop {
            var: j,
            extent: cols.clone(),
            body: vec![store(out, at(j), bin(BinOp::Div, Expr::load(x, at(j)), var(s)))],
        },
    ];
    let k = b.k;
    let asm = compile_kernel_listing(&k).unwrap().disasm().unwrap().to_string();
    assert_eq!(asm.matches("sqrt").count(), 1, "{asm}");
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("fma") {
        assert_eq!(asm.matches("vdiv").count(), 1, "one reciprocal per row:\n{asm}");
    }

    let (rows, cols) = (5, 23);
    let x: Vec<f32> = f32s(rows * cols, 3).iter().map(|v| v.abs() + 0.5).collect();
    let got = run(&k, &[Data::F32(x.clone()), Data::zeros(DType::F32, rows * cols)], &[rows as i64, cols as i64]);
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let s = row.iter().sum::<f32>().sqrt();
        for (c, v) in row.iter().enumerate() {
            assert!(near_f32(got[1].f32()[r * cols + c], v / s, 4), "row {r} col {c}");
        }
    }
    // The exact options divide: bit for bit the sequential sum's quotient.
    let bufs = [Data::F32(x.clone()), Data::zeros(DType::F32, rows * cols)];
    let exact = run_with(&k, &bufs, &[rows as i64, cols as i64], CompileOptions::EXACT);
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let s = row.iter().fold(0.0f32, |a, &v| a + v).sqrt();
        for (c, v) in row.iter().enumerate() {
            assert!(same_f32(exact[1].f32()[r * cols + c], v / s), "row {r} col {c}");
        }
    }
}

/// A causal mask, `out[i, j] = select(i32(j) <= i32(i), x[i, j], -1)`: the vector loop over `j`
/// compares the lanes' positions as an i32x4 (no lane-by-lane scalar compares) and matches the
/// definition.
#[test]
fn a_position_mask_is_compared_in_vector_lanes() {
    let mut b = Builder::new("mask");
    let (rows, cols) = (b.size("rows"), b.size("cols"));
    let x = b.input("x", DType::F32);
    let out = b.output("out", DType::F32);
    let i = b.grid("i", rows);
    let j = b.var("j", DType::I64);
    let at = add(mul(var(i), cols.clone()), var(j));
    let visible = bin(BinOp::Le, Expr::cast(DType::I32, var(j)), Expr::cast(DType::I32, var(i)));
    let value = Expr::select(visible, Expr::load(x, at.clone()), Expr::constant(-1.0, DType::F32));
    b.k.body = vec![Stmt::Loop { var: j, extent: cols, body: vec![store(out, at, value)] }];
    let k = b.k;
    let compiled = compile_kernel_listing(&k).unwrap();
    let asm = compiled.disasm().unwrap();
    assert!(compiled.simd_loops() > 0 && !asm.contains("pinsrd"), "{asm}");

    let (rows, cols) = (7, 13);
    let xs = f32s(rows * cols, 5);
    let got = run(&k, &[Data::F32(xs.clone()), Data::zeros(DType::F32, rows * cols)], &[rows as i64, cols as i64]);
    for r in 0..rows {
        for c in 0..cols {
            let want = if c <= r { xs[r * cols + c] } else { -1.0 };
            assert_eq!(got[1].f32()[r * cols + c], want, "({r}, {c})");
        }
    }
}

/// A loop reading a column (a stride of 13 elements per step, which no x86 addressing mode scales)
/// advances an induction address instead of multiplying (as many `imul`s as with a stride of 2
/// elements, which the addressing mode scales: the grid's own), and sums the column right.
#[test]
fn a_strided_column_walks_an_induction_address() {
    let column_sum = |stride: f64| {
        let mut b = Builder::new("column_sum");
        let rows = b.size("rows");
        let x = b.input("x", DType::F32);
        let out = b.output("out", DType::F32);
        let j = b.grid("j", Expr::constant(13.0, DType::I64));
        let (i, acc) = (b.var("i", DType::I64), b.var("acc", DType::F32));
        let at = add(mul(var(i), Expr::constant(stride, DType::I64)), var(j));
        b.k.body = vec![
            Stmt::Let { var: acc, value: Expr::constant(0.0, DType::F32) },
            Stmt::Loop {
                var: i,
                extent: rows,
                body: vec![Stmt::Assign { var: acc, value: add(var(acc), Expr::load(x, at)) }],
            },
            store(out, var(j), var(acc)),
        ];
        b.k
    };
    let imuls = |k: &Kernel| compile_kernel_listing(k).unwrap().disasm().unwrap().matches("imul").count();
    let k = column_sum(13.0);
    assert_eq!(imuls(&k), imuls(&column_sum(2.0)));

    for rows in [1, 2, 7, 40] {
        let x = f32s(rows * 13, 5);
        let got = run(&k, &[Data::F32(x.clone()), Data::zeros(DType::F32, 13)], &[rows as i64]);
        for c in 0..13 {
            let want = (0..rows).fold(0.0f32, |s, r| s + x[r * 13 + c]);
            assert_eq!(got[1].f32()[c].to_bits(), want.to_bits(), "rows {rows} column {c}");
        }
    }
}
