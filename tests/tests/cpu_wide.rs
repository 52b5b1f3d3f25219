//! Matmuls through the CPU backend's wide tile functions (`codegen/src/cranelift/wide.rs`): six-row tiles
//! whose `k` loops run in AVX-512 or AVX2 vectors where the host has them.
//!
//! Each accumulator is the same chain of fused multiply-adds in `k` order whether the tile function or
//! Cranelift's f32x4 code computes it, so the two (`CompileOptions::wide` on and off, contraction on
//! for both) must agree bit for bit, and both stay within the f32 tolerance of the interpreter. The
//! shapes put columns past the last whole call, rows past the last whole tile, `k` of 1 and heads packed
//! into `k`, with fused epilogues.

mod lower_common;

use irc_codegen::cranelift::{CompileOptions, compile_kernel_with, microkernel};
use irc_codegen::{LowerOptions, lower_with};
use irc_runtime::{CpuBackend, Executable};
use lower_common::{check_on, data, sizes};

fn graph(lines: &str) -> irc_ir::Graph {
    let src = format!("graph t {{\n{lines}\n}}");
    irc_ir::parse(&src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

fn matmul(m: usize, k: usize, n: usize) -> irc_ir::Graph {
    graph(&format!(
        "%0 = input \"a\" : f32[{m}, {k}]\n%1 = param \"b\" : f32[{k}, {n}]\n%2 = matmul %0, %1 : f32[{m}, {n}]\n\
         output \"y\" = %2"
    ))
}

/// `(x·W + b)²`, with `x` read as attention writes it (`[B, H, T, D]` as `[B, T, H·D]`: `k / D`
/// and `k % D` in the index), and the result written transposed per head (`[B, H, N/H, T]`, as for
/// `K^T`): both operand shapes of a GPT block's projections.
fn projection(t: &str, heads: usize, d: usize, n: usize) -> irc_ir::Graph {
    let hd = heads * d;
    let nd = n / heads;
    graph(&format!(
        "%0 = input \"x\" : f32[2, {heads}, {t}, {d}]\n\
         %1 = permute %0 perm=[0, 2, 1, 3] : f32[2, {t}, {heads}, {d}]\n\
         %2 = reshape %1 shape=[2, {t}, {hd}] : f32[2, {t}, {hd}]\n\
         %3 = param \"w\" : f32[{hd}, {n}]\n\
         %4 = matmul %2, %3 : f32[2, {t}, {n}]\n\
         %5 = param \"b\" : f32[{n}]\n\
         %6 = expand %5 shape=[2, {t}, {n}] : f32[2, {t}, {n}]\n\
         %7 = add %4, %6 : f32[2, {t}, {n}]\n\
         %8 = mul %7, %7 : f32[2, {t}, {n}]\n\
         %9 = reshape %8 shape=[2, {t}, {heads}, {nd}] : f32[2, {t}, {heads}, {nd}]\n\
         %10 = permute %9 perm=[0, 2, 3, 1] : f32[2, {heads}, {nd}, {t}]\n\
         output \"y\" = %10"
    ))
}

fn narrow(threads: usize) -> CpuBackend {
    CpuBackend { options: CompileOptions { wide: false, ..CompileOptions::default() }, ..CpuBackend::new(threads) }
}

/// Whether some kernel of `g`, lowered and compiled as the CPU backend does, calls the tile function.
fn calls_tile(g: &irc_ir::Graph) -> bool {
    let options = CompileOptions::default();
    let program = lower_with(g, &LowerOptions::cpu(options)).unwrap();
    program.kernels.iter().any(|k| compile_kernel_with(k, options).unwrap().calls_tile())
}

/// The interpreter within tolerance, and the wide and f32x4 kernels bit for bit on one to three threads
/// (chunks that end inside rows and inside column blocks).
fn check_wide(g: &irc_ir::Graph, seed: u64) {
    check_wide_at(g, &[], seed);
}

fn check_wide_at(g: &irc_ir::Graph, binding: &[(&str, usize)], seed: u64) {
    let bound = sizes(binding);
    check_on(CpuBackend::new(2), g, &bound, seed);
    let (inputs, params) = data(g, &bound, seed);
    let want = Executable::compile(g, narrow(1)).unwrap().run(&inputs, &params).unwrap();
    for threads in [1, 2, 3] {
        let got = Executable::compile(g, CpuBackend::new(threads)).unwrap().run(&inputs, &params).unwrap();
        for (w, t) in want.iter().zip(&got) {
            let same = w.data.iter().zip(&t.data).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "wide ({threads} threads) differs from f32x4\n{}", irc_ir::print(g));
        }
    }
}

/// Whether this host has a tile function; says so when it does not (the checks then compare the f32x4
/// code with itself).
fn host_has_tiles() -> bool {
    let host = microkernel::host();
    if host.is_empty() {
        eprintln!("no AVX-512 or AVX2 with FMA on this host: matmuls stay in Cranelift's f32x4 code");
    }
    !host.is_empty()
}

#[test]
fn plain_matmuls_match_the_f32x4_code() {
    let wide = host_has_tiles();
    let mut seed = 0;
    let shapes = [(6, 64, 64), (13, 7, 100), (8, 1, 130), (64, 300, 200), (23, 65, 129), (12, 33, 16), (7, 20, 48)];
    for (m, k, n) in shapes {
        seed += 1;
        let g = matmul(m, k, n);
        check_wide(&g, seed);
        // 16 columns make at least one call of the narrowest tile function (AVX-512 and AVX2 alike).
        assert_eq!(calls_tile(&g), wide, "{m}x{k}x{n}");
    }
}

#[test]
fn four_row_tiles_repeat_their_last_row() {
    // Lowered with the default four-row tiles and compiled with the tile function: the call passes the
    // fourth row again for rows five and six, and reads back only four.
    let wide = host_has_tiles();
    let default = LowerOptions::default();
    for (i, (m, k, n)) in [(8, 40, 64), (10, 17, 150)].into_iter().enumerate() {
        let g = matmul(m, k, n);
        let (inputs, params) = data(&g, &sizes(&[]), 30 + i as u64);
        let run = |backend: CpuBackend| {
            Executable::compile_with(&g, backend, &default).unwrap().run(&inputs, &params).unwrap()
        };
        let (want, got) = (run(narrow(1)), run(CpuBackend::new(2)));
        let same = want[0].data.iter().zip(&got[0].data).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{m}x{k}x{n}");
        let program = lower_with(&g, &default).unwrap();
        let calls =
            program.kernels.iter().any(|k| compile_kernel_with(k, CompileOptions::default()).unwrap().calls_tile());
        assert_eq!(calls, wide, "{m}x{k}x{n}");
    }
}

#[test]
fn few_rows_stay_in_f32x4_code() {
    // Fewer rows than a tile: the matmul is not tiled (a tile function would mostly repeat rows).
    for m in [1, 3, 5] {
        let g = matmul(m, 64, 128);
        check_wide(&g, m as u64);
        assert!(!calls_tile(&g), "{m} rows");
    }
}

#[test]
fn projections_with_heads_packed_into_k_and_transposed_outputs() {
    let wide = host_has_tiles();
    for (i, (t, heads, d, n)) in [("16", 4, 16, 64), ("13", 2, 32, 128), ("6", 4, 64, 256)].into_iter().enumerate() {
        let g = projection(t, heads, d, n);
        check_wide(&g, 10 + i as u64);
        assert_eq!(calls_tile(&g), wide, "t={t} heads={heads} d={d} n={n}");
    }
}

#[test]
fn narrow_matmuls_keep_four_row_tiles() {
    // 24 rows: six-row tiles make 4 grid rows, four-row tiles 6. Columns below the tile function's width
    // stay in f32x4 code, which runs four rows best.
    let options = LowerOptions::cpu(CompileOptions::default());
    let row_tiles = |n: usize| {
        let program = lower_with(&matmul(24, 32, n), &options).unwrap();
        let k = program.kernels.iter().find(|k| k.name.ends_with("matmul")).unwrap();
        k.grid[0].1.eval_size(&[]).unwrap()
    };
    assert_eq!(row_tiles(8), 6);
    match options.wide_tile {
        Some(w) => {
            assert_eq!(w.rows, 6);
            assert_eq!(row_tiles(w.cols as usize), 4);
            assert_eq!(row_tiles(w.cols as usize - 4), 6);
        }
        None => assert_eq!(row_tiles(256), 6),
    }
    assert!(host_has_tiles() == options.wide_tile.is_some());
}

#[test]
fn symbolic_strides_and_values_read_before_the_loop() {
    let wide = host_has_tiles();
    // Heads packed into `k` with `T` bound at run time: `A`'s stride per head is `16 T`.
    let g = projection("T", 4, 16, 256);
    for t in [1, 7, 30] {
        check_wide_at(&g, &[("T", t)], t as u64);
    }
    assert_eq!(calls_tile(&g), wide);
    // A residual sum the kernel reads before its `k` loop (a `let` ahead of the accumulators).
    let g = graph(
        "%0 = input \"a\" : f32[B, 24]\n%1 = param \"w\" : f32[24, 80]\n%2 = matmul %0, %1 : f32[B, 80]\n\
         %3 = input \"p\" : f32[B, 80]\n%4 = input \"q\" : f32[B, 80]\n%5 = add %3, %4 : f32[B, 80]\n\
         %6 = add %5, %2 : f32[B, 80]\noutput \"y\" = %6",
    );
    for b in [6, 11] {
        check_wide_at(&g, &[("B", b)], b as u64);
    }
    assert_eq!(calls_tile(&g), wide);
}

#[test]
fn half_precision_operands_widen_in_the_tile_function() {
    // f16 and bf16 matmuls accumulate in f32: the tile functions widen the operands as they load them
    // (exactly), and the epilogue rounds each lane to the output dtype as scalar code does. `B` is a
    // transposed weight, so it is packed (in its own dtype).
    let wide = host_has_tiles();
    for (i, dtype) in ["f16", "bf16"].into_iter().enumerate() {
        for (m, k, n) in [(13, 40, 48), (7, 9, 100)] {
            let g = graph(&format!(
                "%0 = input \"x\" : {dtype}[{m}, {k}]\n%1 = param \"w\" : {dtype}[{n}, {k}]\n\
                 %2 = permute %1 perm=[1, 0] : {dtype}[{k}, {n}]\n%3 = matmul %0, %2 : {dtype}[{m}, {n}]\n\
                 %4 = param \"b\" : {dtype}[{n}]\n%5 = expand %4 shape=[{m}, {n}] : {dtype}[{m}, {n}]\n\
                 %6 = add %3, %5 : {dtype}[{m}, {n}]\noutput \"y\" = %6"
            ));
            check_wide(&g, 40 + i as u64);
            assert_eq!(calls_tile(&g), wide, "{dtype} {m}x{k}x{n}");
            // And with `B` read in place.
            let g = graph(&format!(
                "%0 = input \"x\" : {dtype}[{m}, {k}]\n%1 = param \"w\" : {dtype}[{k}, {n}]\n\
                 %2 = matmul %0, %1 : {dtype}[{m}, {n}]\noutput \"y\" = %2"
            ));
            check_wide(&g, 50 + i as u64);
            assert_eq!(calls_tile(&g), wide, "{dtype} {m}x{k}x{n} in place");
        }
    }
}
