//! Vectorized f32 reductions (`CompileOptions::reassociate`): lengths that leave every kind of tail,
//! NaN and -inf in max (exact in any order), and sums within the documented bound of the exact sum.

mod cranelift_util;

use cranelift_util::*;
use irc_codegen::cranelift::{CompileOptions, compile_kernel_with};
use irc_codegen::kir::{BinOp, Expr, Kernel, Stmt, VarId};
use irc_ir::{DType, UnaryOp};

const ON: CompileOptions = CompileOptions { simd: true, reassociate: true, contract: false, wide: false };
const OFF: CompileOptions = CompileOptions::EXACT;
const LENGTHS: [usize; 12] = [0, 1, 3, 4, 5, 7, 8, 9, 16, 17, 33, 4096 + 3];

/// The term folded into the accumulator.
#[derive(Clone, Copy)]
enum Term {
    /// `x[k]`, with the accumulator as the right operand (`op(x[k], acc)`).
    Plain,
    /// `let d = x[k] - s[i]; exp(d)` (softmax's sum).
    Exp,
    /// `let d = x[k] - s[i]; d * d` (layer norm's variance).
    Square,
}

/// `out[i] = fold(init, op, term(k))` over `k in 0..cols` for each row `i`.
fn row_reduce(op: BinOp, init: f32, term: Term) -> Kernel {
    let mut b = Builder::new("row_reduce");
    let (rows, cols) = (b.size("rows"), b.size("cols"));
    let x = b.input("x", DType::F32);
    let s = b.input("s", DType::F32);
    let out = b.output("out", DType::F32);
    let i = b.grid("i", rows);
    let k = b.var("k", DType::I64);
    let acc = b.var("acc", DType::F32);
    let d = b.var("d", DType::F32);
    let xk = Expr::load(x, add(mul(var(i), cols.clone()), var(k)));
    let diff = Stmt::Let { var: d, value: bin(BinOp::Sub, xk.clone(), Expr::load(s, var(i))) };
    let body = match term {
        Term::Plain => vec![Stmt::Assign { var: acc, value: bin(op, xk, var(acc)) }],
        Term::Exp => vec![diff, Stmt::Assign { var: acc, value: bin(op, var(acc), Expr::unary(UnaryOp::Exp, var(d))) }],
        Term::Square => vec![diff, Stmt::Assign { var: acc, value: bin(op, var(acc), mul(var(d), var(d))) }],
    };
    b.k.body = vec![
        Stmt::Let { var: acc, value: Expr::constant(init as f64, DType::F32) },
        Stmt::Loop { var: k, extent: cols, body },
        // A store index that is not affine in `i` (`4i / 2`, every other element) keeps the grid row
        // scalar: rows of a vectorized grid row would reduce lane by lane, in order.
        store(out, bin(BinOp::Div, mul(var(i), Expr::index(4)), Expr::index(2)), var(acc)),
    ];
    b.k
}

/// Runs `k` on rows of `x` (`cols` wide) with row shifts `s`, one grid index per call (as any thread
/// chunk might); returns each row's result.
fn reduce_rows(k: &Kernel, options: CompileOptions, x: &[f32], s: &[f32], cols: usize) -> Vec<f32> {
    let rows = s.len();
    let compiled = compile_kernel_with(k, options).unwrap();
    let mut bufs = [Data::F32(x.to_vec()), Data::F32(s.to_vec()), Data::zeros(DType::F32, 2 * rows)];
    let ptrs: Vec<*mut u8> = bufs.iter_mut().map(Data::ptr).collect();
    for r in 0..rows as i64 {
        // SAFETY: x holds rows * cols values, s and out one per row.
        unsafe { compiled.run(&ptrs, &[rows as i64, cols as i64], r..r + 1) }.unwrap();
    }
    bufs[2].f32().iter().step_by(2).copied().collect()
}

/// Mixed-sign values over several binades, so that the order of a sum matters.
fn mixed(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|j| {
            let h = (j as u32).wrapping_mul(2654435761).wrapping_add(seed.wrapping_mul(40503));
            ((h % 2001) as f32 - 1000.0) * (2.0f32).powi(((h >> 12) % 12) as i32 - 6)
        })
        .collect()
}

/// The documented bound (docs/CPU.md): a vectorized sum of `n` terms and an initial value rounds each
/// term at most `m = n / 8 + 7` times, so it is within `gamma_m * (|init| + sum |t|)` of the exact sum,
/// `gamma_m = m u / (1 - m u)`, `u = 2^-24`.
fn bound(n: usize, abs_sum: f64) -> f64 {
    let u = f64::from(f32::EPSILON) / 2.0;
    let m = (n / 8 + 7) as f64;
    m * u / (1.0 - m * u) * abs_sum
}

#[test]
fn reductions_vectorize_and_gathers_do_not() {
    for term in [Term::Plain, Term::Exp, Term::Square] {
        let k = row_reduce(BinOp::Add, 0.0, term);
        assert_eq!(compile_kernel_with(&k, ON).unwrap().simd_loops(), 1);
        assert_eq!(compile_kernel_with(&k, OFF).unwrap().simd_loops(), 0);
    }
    // A column sum reads x with a symbolic stride in k: a gather, left scalar.
    let mut k = row_reduce(BinOp::Add, 0.0, Term::Plain);
    let Stmt::Loop { body, .. } = &mut k.body[1] else { unreachable!() };
    let Stmt::Assign { value: Expr::Binary { lhs, .. }, .. } = &mut body[0] else { unreachable!() };
    let Expr::Load { index, .. } = &mut **lhs else { unreachable!() };
    // Variables in creation order: i, k, acc, d; sizes: rows, cols.
    **index = add(mul(Expr::Var(VarId(1)), Expr::Size(1)), Expr::Var(VarId(0)));
    assert_eq!(compile_kernel_with(&k, ON).unwrap().simd_loops(), 0);
}

/// A row kernel whose output is strided (`out[2i]`) and whose rows gather across the grid keeps its
/// grid row scalar and vectorizes each row's own sum: a launch over all rows gives each row the bits
/// of a launch over that row alone.
#[test]
fn a_strided_row_output_keeps_the_rows_scalar() {
    let mut k = row_reduce(BinOp::Add, 0.0, Term::Plain);
    let Stmt::Store { index, .. } = &mut k.body[2] else { unreachable!() };
    *index = mul(Expr::Var(VarId(0)), Expr::index(2));
    let (rows, n) = (6, 37);
    let x: Vec<f32> = mixed(rows * n, 7).iter().map(|v| v / 3.0).collect();
    let one_by_one = reduce_rows(&k, ON, &x, &[0.0; 6], n);
    let bufs = [Data::F32(x.clone()), Data::F32(vec![0.0; rows]), Data::zeros(DType::F32, 2 * rows)];
    let whole = run_with(&k, &bufs, &[rows as i64, n as i64], ON);
    for (r, row) in one_by_one.iter().enumerate() {
        assert_eq!(whole[2].f32()[2 * r].to_bits(), row.to_bits(), "row {r}");
    }
    let sequential = reduce_rows(&k, OFF, &x, &[0.0; 6], n);
    assert!((0..rows).any(|r| sequential[r].to_bits() != one_by_one[r].to_bits()), "the sums were reassociated");
}

/// A row reduction with a contiguous output (`out[i]`, one sum per row, as `reduce_sum` over the last
/// axis lowers) vectorizes each row's own loop, not the grid: rows as lanes would gather four rows'
/// elements per step and sum each row in order. The sums are reassociated, with the bits of a launch
/// per row.
#[test]
fn a_contiguous_row_output_vectorizes_along_the_rows() {
    for op in [BinOp::Add, BinOp::Max] {
        let mut k = row_reduce(op, 0.0, Term::Plain);
        let Stmt::Store { index, .. } = &mut k.body[2] else { unreachable!() };
        *index = Expr::Var(VarId(0));
        let (rows, n) = (9, 37);
        let x: Vec<f32> = mixed(rows * n, 11).iter().map(|v| v / 3.0).collect();
        let run = |options, range: std::ops::Range<i64>| {
            let bufs = [Data::F32(x.clone()), Data::F32(vec![0.0; rows]), Data::zeros(DType::F32, rows)];
            let compiled = compile_kernel_with(&k, options).unwrap();
            let mut bufs = bufs;
            let ptrs: Vec<*mut u8> = bufs.iter_mut().map(Data::ptr).collect();
            for r in range.clone() {
                // SAFETY: x holds rows * n values, s and out one per row.
                unsafe { compiled.run(&ptrs, &[rows as i64, n as i64], r..r + 1) }.unwrap();
            }
            if range.is_empty() {
                // SAFETY: as above.
                unsafe { compiled.run(&ptrs, &[rows as i64, n as i64], 0..rows as i64) }.unwrap();
            }
            bufs[2].f32().to_vec()
        };
        let whole = run(ON, 0..0);
        let one_by_one = run(ON, 0..rows as i64);
        let sequential = run(OFF, 0..0);
        for r in 0..rows {
            assert_eq!(whole[r].to_bits(), one_by_one[r].to_bits(), "row {r}");
            let want =
                x[r * n..(r + 1) * n].iter().fold(0.0f32, |a, &t| if op == BinOp::Max { a.max(t) } else { a + t });
            if op == BinOp::Max {
                assert_eq!(whole[r].to_bits(), want.to_bits(), "row {r}");
            }
        }
        if op == BinOp::Add {
            assert!((0..rows).any(|r| whole[r].to_bits() != sequential[r].to_bits()), "the sums were reassociated");
        }
    }
}

/// A nested loop that gathers across the grid row but cannot vectorize on its own (two accumulators:
/// a sum and a sum of squares) keeps the grid row vectorized, rows as lanes, each summed in order.
#[test]
fn rows_that_do_not_vectorize_alone_stay_lanes_of_the_grid() {
    let mut b = Builder::new("two_sums");
    let (rows, cols) = (b.size("rows"), b.size("cols"));
    let x = b.input("x", DType::F32);
    let out = b.output("out", DType::F32);
    let squares = b.output("squares", DType::F32);
    let i = b.grid("i", rows);
    let k = b.var("k", DType::I64);
    let (s, q) = (b.var("s", DType::F32), b.var("q", DType::F32));
    let xk = Expr::load(x, add(mul(var(i), cols.clone()), var(k)));
    b.k.body = vec![
        Stmt::Let { var: s, value: Expr::constant(0.0, DType::F32) },
        Stmt::Let { var: q, value: Expr::constant(0.0, DType::F32) },
        Stmt::Loop {
            var: k,
            extent: cols,
            body: vec![
                Stmt::Assign { var: s, value: bin(BinOp::Add, var(s), xk.clone()) },
                Stmt::Assign { var: q, value: bin(BinOp::Add, var(q), mul(xk.clone(), xk)) },
            ],
        },
        store(out, var(i), var(s)),
        store(squares, var(i), var(q)),
    ];
    let k = b.k;
    assert_eq!(compile_kernel_with(&k, ON).unwrap().simd_loops(), 1);
    let (rows, n) = (9, 37);
    let x: Vec<f32> = mixed(rows * n, 13).iter().map(|v| v / 3.0).collect();
    let bufs = [Data::F32(x.clone()), Data::zeros(DType::F32, rows), Data::zeros(DType::F32, rows)];
    let got = run_with(&k, &bufs, &[rows as i64, n as i64], ON);
    for r in 0..rows {
        let row = &x[r * n..(r + 1) * n];
        assert_eq!(got[1].f32()[r].to_bits(), row.iter().fold(0.0f32, |a, &t| a + t).to_bits(), "row {r}");
        assert_eq!(got[2].f32()[r].to_bits(), row.iter().fold(0.0f32, |a, &t| a + t * t).to_bits(), "row {r}");
    }
}

#[test]
fn sums_of_mixed_signs_stay_within_the_bound() {
    for &n in &LENGTHS {
        let rows = 3;
        let x = mixed(rows * n, n as u32);
        let init = [0.0f32, -0.0, 1.5];
        for (r, &init) in init.iter().enumerate() {
            let k = row_reduce(BinOp::Add, init, Term::Plain);
            let got = reduce_rows(&k, ON, &x, &[0.0; 3], n)[r];
            let seq = reduce_rows(&k, OFF, &x, &[0.0; 3], n)[r];
            // One launch over all rows (a different chunking) gives the same bits.
            let bufs = [Data::F32(x.clone()), Data::F32(vec![0.0; 3]), Data::zeros(DType::F32, 2 * rows)];
            let whole = run_with(&k, &bufs, &[rows as i64, n as i64], ON)[2].f32()[2 * r];
            assert_eq!(whole.to_bits(), got.to_bits());
            let terms = &x[r * n..(r + 1) * n];
            assert_eq!(seq.to_bits(), terms.iter().fold(init, |a, &t| a + t).to_bits());
            let exact = terms.iter().fold(f64::from(init), |a, &t| a + f64::from(t));
            let abs_sum = terms.iter().fold(f64::from(init).abs(), |a, &t| a + f64::from(t).abs());
            let err = (f64::from(got) - exact).abs();
            assert!(err <= bound(n, abs_sum), "n = {n}, init {init}: {got} vs exact {exact} (error {err})");
            // And so within about n eps sum|t| of the sequential sum.
            let eps = f64::from(f32::EPSILON);
            assert!((f64::from(got) - f64::from(seq)).abs() <= n as f64 * eps * abs_sum, "n = {n}: {got} vs {seq}");
            if n < 4 {
                // No vector part: the sequential sum exactly, signed zeros included.
                assert_eq!(got.to_bits(), seq.to_bits(), "n = {n}, init {init}");
            }
        }
    }
}

#[test]
fn softmax_and_variance_sums_stay_within_the_bound() {
    for &n in &LENGTHS {
        let rows = 4;
        let x = mixed(rows * n, 7 + n as u32).iter().map(|v| v / 4096.0).collect::<Vec<_>>();
        let s = [0.5f32, -1.0, 2.0, 0.0];
        for term in [Term::Exp, Term::Square] {
            let k = row_reduce(BinOp::Add, 0.0, term);
            let got = reduce_rows(&k, ON, &x, &s, n);
            let seq = reduce_rows(&k, OFF, &x, &s, n);
            for r in 0..rows {
                // Both fold the same f32 terms (the inline exp is the same code in both): only the order differs.
                let terms: Vec<f64> = x[r * n..(r + 1) * n]
                    .iter()
                    .map(|&v| {
                        let d = v - s[r];
                        match term {
                            Term::Exp => f64::from(d).exp(),
                            _ => f64::from(d * d),
                        }
                    })
                    .collect();
                let abs_sum: f64 = terms.iter().map(|t| t.abs()).sum::<f64>() * (1.0 + 1e-6);
                let diff = (f64::from(got[r]) - f64::from(seq[r])).abs();
                let eps = f64::from(f32::EPSILON);
                assert!(diff <= n as f64 * eps * abs_sum, "n = {n}: {} vs {}", got[r], seq[r]);
            }
        }
    }
}

#[test]
fn max_is_exact_with_nan_and_infinities() {
    for &n in &LENGTHS {
        // Row 0: ordinary values; then a NaN at each of several positions (main part, the one-group
        // part, the tail); then all -inf; then -inf mixed with ordinary values; then signed zeros.
        let mut rows: Vec<Vec<f32>> = vec![mixed(n, 3)];
        for p in [0, 1, 3, 4, 5, 7, 8, 11, 12, n / 2, n.saturating_sub(1)] {
            if p < n {
                let mut row = mixed(n, 5);
                row[p] = f32::NAN;
                rows.push(row);
            }
        }
        rows.push(vec![f32::NEG_INFINITY; n]);
        rows.push((0..n).map(|j| if j % 3 == 1 { -(j as f32) } else { f32::NEG_INFINITY }).collect());
        rows.push((0..n).map(|j| if j % 2 == 0 { -0.0 } else { 0.0 }).collect());
        rows.push(vec![-0.0; n]);
        // One +0 among -0s, in each of the four vector chains and the tail.
        for p in [2, 6, 10, 14, n.saturating_sub(1)] {
            if p < n {
                let mut row = vec![-0.0; n];
                row[p] = 0.0;
                rows.push(row);
            }
        }
        let x: Vec<f32> = rows.concat();
        for init in [f32::NEG_INFINITY, 1.0] {
            let k = row_reduce(BinOp::Max, init, Term::Plain);
            let s = vec![0.0; rows.len()];
            let got = reduce_rows(&k, ON, &x, &s, n);
            let seq = reduce_rows(&k, OFF, &x, &s, n);
            for (r, row) in rows.iter().enumerate() {
                let want = row.iter().fold(init, |a, &t| if a.is_nan() || t.is_nan() { f32::NAN } else { a.max(t) });
                assert!(same_f32(got[r], want), "n = {n}, row {r}: {} vs {want}", got[r]);
                // Bit for bit with the sequential loop, signed zeros included (fmax orders -0 below +0).
                assert!(same_f32(got[r], seq[r]) && (got[r].is_nan() || got[r].to_bits() == seq[r].to_bits()));
            }
        }
    }
}
