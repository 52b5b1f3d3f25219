//! Register-tiled matmul kernels (`codegen/src/lower/tile.rs`) at sizes that are not multiples of the tile
//! (4 rows by the CPU backend's 8 vector columns), with broadcast batch dims, symbolic rows and fused
//! epilogues.
//!
//! Against the interpreter the usual f32 tolerance applies (`lower_common`: the kernels accumulate in f32
//! where the interpreter accumulates in f64). Tiling itself changes no arithmetic: each output element is
//! still one f32 dot product in `k` order, so the Cranelift kernels must equal the kernel-IR evaluator bit
//! for bit, on any thread count.

mod lower_common;

use irc_codegen::kir::Stmt;
use irc_runtime::{CpuBackend, EvalBackend, Executable};
use lower_common::{check_on, data, sizes};

const SIZES: [usize; 5] = [1, 3, 5, 17, 33];

fn graph(lines: &str) -> irc_ir::Graph {
    let src = format!("graph t {{\n{lines}\n}}");
    irc_ir::parse(&src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

fn matmul(a: &str, b: &str, out: &str) -> irc_ir::Graph {
    graph(&format!(
        "%0 = input \"a\" : f32{a}\n%1 = input \"b\" : f32{b}\n%2 = matmul %0, %1 : f32{out}\noutput \"y\" = %2"
    ))
}

/// The interpreter within tolerance (evaluator and CPU), and CPU kernels without reassociated reductions
/// (`CpuBackend::exact`) bit-identical to the evaluator with one and two threads.
fn check_all(g: &irc_ir::Graph, binding: &[(&str, usize)], seed: u64) {
    let sizes = sizes(binding);
    check_on(EvalBackend, g, &sizes, seed);
    check_on(CpuBackend::new(2), g, &sizes, seed);
    let (inputs, params) = data(g, &sizes, seed);
    let want = Executable::compile(g, EvalBackend).unwrap().run(&inputs, &params).unwrap();
    for threads in [1, 2] {
        let got = Executable::compile(g, CpuBackend::new(threads).exact()).unwrap().run(&inputs, &params).unwrap();
        for (w, t) in want.iter().zip(&got) {
            let same = w.data.iter().zip(&t.data).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "cpu ({threads} threads) differs from the evaluator\n{}", irc_ir::print(g));
        }
    }
}

#[test]
fn sizes_off_the_tile() {
    let mut seed = 0;
    for m in SIZES {
        for n in SIZES {
            for k in SIZES {
                seed += 1;
                check_all(&matmul(&format!("[{m}, {k}]"), &format!("[{k}, {n}]"), &format!("[{m}, {n}]")), &[], seed);
            }
        }
    }
}

#[test]
fn broadcast_batch_dims() {
    for (m, n, k) in [(5, 17, 3), (17, 5, 33), (3, 33, 1), (33, 3, 5)] {
        let cases = [
            (format!("[2, {m}, {k}]"), format!("[{k}, {n}]"), format!("[2, {m}, {n}]")),
            (format!("[2, 1, {m}, {k}]"), format!("[3, {k}, {n}]"), format!("[2, 3, {m}, {n}]")),
            (format!("[1, {m}, {k}]"), format!("[2, {k}, {n}]"), format!("[2, {m}, {n}]")),
        ];
        for (i, (a, b, out)) in cases.iter().enumerate() {
            check_all(&matmul(a, b, out), &[], i as u64);
        }
    }
}

#[test]
fn symbolic_rows_and_epilogues() {
    // Rows `B` bound at run time (a partial last tile for 1, 3, 5, 17, 33), a transposed weight, and an
    // epilogue (bias, square) stored row by row. (No transcendentals: the backend's inline versions are
    // not bit-identical to the evaluator's.)
    let g = graph(
        "%0 = input \"x\" : f32[B, 17]\n%1 = param \"w\" : f32[9, 17]\n%2 = permute %1 perm=[1, 0] : f32[17, 9]\n\
         %3 = matmul %0, %2 : f32[B, 9]\n%4 = param \"b\" : f32[9]\n%5 = expand %4 shape=[B, 9] : f32[B, 9]\n\
         %6 = add %3, %5 : f32[B, 9]\n%7 = mul %6, %6 : f32[B, 9]\noutput \"y\" = %7",
    );
    let batched = matmul("[B, T, 5]", "[5, 33]", "[B, T, 33]");
    for (i, rows) in SIZES.into_iter().enumerate() {
        check_all(&g, &[("B", rows)], i as u64);
        check_all(&batched, &[("B", 2), ("T", rows)], i as u64);
    }
}

#[test]
fn matmul_kernels_are_tiled_and_vectorized() {
    let g = matmul("[B, 64]", "[64, 32]", "[B, 32]");
    let p = irc_codegen::lower(&g).unwrap();
    let k = &p.kernels[0];
    let accumulators = |body: &[Stmt]| {
        body.iter()
            .filter_map(|s| match s {
                Stmt::Loop { body, .. } => Some(body.iter().filter(|s| matches!(s, Stmt::Assign { .. })).count()),
                _ => None,
            })
            .sum::<usize>()
    };
    assert_eq!(accumulators(&k.body), 4, "{}", irc_codegen::kir::print_kernel(k));
    let compiled = irc_codegen::cranelift::compile_kernel(k).unwrap();
    assert!(compiled.simd_loops() > 0);
}

/// The pack kernels of a lowered graph (`codegen/src/lower/pack.rs`).
fn packs(g: &irc_ir::Graph) -> usize {
    irc_codegen::lower(g).unwrap().kernels.iter().filter(|k| k.name.ends_with("_pack")).count()
}

#[test]
fn packed_b_operands() {
    // `N` a multiple of 256 (rows of `B` 1 KiB apart) and a transposed weight are packed; a contiguous
    // `B` of another width, a batched `B` and narrow ones are not. Rows and depths off the tile.
    for (i, (m, k)) in [(1, 1), (3, 33), (17, 5), (6, 64)].into_iter().enumerate() {
        let g = matmul(&format!("[{m}, {k}]"), &format!("[{k}, 256]"), &format!("[{m}, 256]"));
        assert_eq!(packs(&g), usize::from(m >= 4), "m = {m}, k = {k}");
        check_all(&g, &[], i as u64);
    }
    for (i, n) in [8, 33, 65].into_iter().enumerate() {
        let g = graph(&format!(
            "%0 = input \"x\" : f32[B, 17]\n%1 = param \"w\" : f32[{n}, 17]\n\
             %2 = permute %1 perm=[1, 0] : f32[17, {n}]\n%3 = matmul %0, %2 : f32[B, {n}]\noutput \"y\" = %3"
        ));
        assert_eq!(packs(&g), 1, "n = {n}");
        for rows in [1, 5, 33] {
            check_all(&g, &[("B", rows)], (i * 3 + rows) as u64);
        }
    }
    assert_eq!(packs(&matmul("[8, 5]", "[5, 33]", "[8, 33]")), 0);
    assert_eq!(packs(&matmul("[2, 8, 5]", "[2, 5, 256]", "[2, 8, 256]")), 0);
    assert_eq!(packs(&matmul("[8, 5]", "[5, 3]", "[8, 3]")), 0);
    // A bias, an activation and a residual after a packed matmul (the gpt-block MLP's shape).
    let g = graph(
        "%0 = input \"x\" : f32[B, 256]\n%1 = param \"w\" : f32[256, 256]\n%2 = matmul %0, %1 : f32[B, 256]\n\
         %3 = param \"b\" : f32[256]\n%4 = expand %3 shape=[B, 256] : f32[B, 256]\n%5 = add %2, %4 : f32[B, 256]\n\
         %6 = mul %5, %0 : f32[B, 256]\noutput \"y\" = %6",
    );
    assert_eq!(packs(&g), 1);
    for rows in [4, 7] {
        check_all(&g, &[("B", rows)], rows as u64);
    }
}

/// Heads written packed into the output's last axis (`[B, H, T, D]` products permuted and reshaped to
/// `[B, T, H·D]`, as attention does): the kernel reads its operands at `n / D` and `n % D`, so the CPU
/// schedule splits `n` into `h` and `d` (`codegen/src/lower/split.rs`), and the results are unchanged.
#[test]
fn heads_packed_in_the_output_split_the_column_axis() {
    let g = graph(
        "%0 = input \"a\" : f32[B, 4, T, 8]
         %1 = input \"b\" : f32[B, 4, 8, 16]
         %2 = matmul %0, %1 : f32[B, 4, T, 16]
         %3 = permute %2 perm=[0, 2, 1, 3] : f32[B, T, 4, 16]
         %4 = reshape %3 shape=[B, T, 64] : f32[B, T, 64]
         output \"y\" = %4",
    );
    let p = irc_codegen::lower(&g).unwrap();
    let k = p.kernels.iter().find(|k| k.name.contains("matmul") && !k.name.ends_with("_pack")).unwrap();
    let grid: Vec<&str> = k.grid.iter().map(|(v, _)| k.vars[v.0 as usize].name.as_str()).collect();
    assert_eq!(grid.len(), 4, "{}", irc_codegen::kir::print_kernel(k));
    assert!(grid[1].ends_with("_hi") && grid[3].ends_with("_lo"), "{grid:?}");
    let compiled = irc_codegen::cranelift::compile_kernel(k).unwrap();
    assert!(compiled.simd_loops() > 0);
    for t in [1, 5, 17] {
        check_all(&g, &[("B", 2), ("T", t)], t as u64);
    }
}

/// Heads packed into the rows of `A` (`[B, H, K, D]` permuted and reshaped to `[B, H·D, K]`, as in the
/// gradient of a projection): the row axis `m` is read as `m / D` and `m % D`, and is split too, with
/// the register tile on `d`.
#[test]
fn heads_packed_in_the_rows_split_the_row_axis() {
    let g = graph(
        "%0 = input \"a\" : f32[B, 4, K, 16]
         %1 = permute %0 perm=[0, 1, 3, 2] : f32[B, 4, 16, K]
         %2 = reshape %1 shape=[B, 64, K] : f32[B, 64, K]
         %3 = input \"b\" : f32[B, K, 24]
         %4 = matmul %2, %3 : f32[B, 64, 24]
         output \"y\" = %4",
    );
    let p = irc_codegen::lower(&g).unwrap();
    let k = p.kernels.iter().find(|k| k.name.contains("matmul") && !k.name.ends_with("_pack")).unwrap();
    let text = irc_codegen::kir::print_kernel(k);
    assert!(!text.contains(" / 16") && !text.contains(" % 16"), "{text}");
    for (b, kk) in [(1, 3), (2, 9)] {
        check_all(&g, &[("B", b), ("K", kk)], kk as u64);
    }
}
