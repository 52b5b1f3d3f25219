//! Matmul tiles in the host's widest vectors: Rust functions that generated code calls for the `k` loop
//! of a register-tiled matmul, where the host has vectors wider than Cranelift's 128 bits.
//!
//! Cranelift 0.135 emits 128-bit vectors only; an AVX-512 core multiplies and adds four times as many
//! f32 per instruction. A tile function computes `ROWS x cols` dot products over the whole `k` loop
//! and leaves them in a buffer on the caller's stack, from which the generated epilogue reads them
//! (`wide.rs`): the kernel IR, the fusion and the epilogue stay Cranelift's, only the inner loop runs
//! here. Each accumulator takes `acc = fma(a[k], b[k], acc)` for `k` in order from `init`, which is
//! what the generated f32x4 code computes with contraction on, so the results are the same bits. f16 and
//! bf16 operands (a half-precision model's matmuls, which accumulate in f32) are widened to f32 exactly
//! on load, as the generated code widens them.

use irc_ir::DType;

/// Rows of a tile: the register-tiled matmul's rows per grid point on hosts with a tile function
/// (`LowerOptions::wide_tile`). Six rows by four AVX-512 vectors keep 24 accumulators, four `B`
/// vectors and a broadcast of `A` in 32 registers; with AVX2, six rows by two vectors fill 15 of 16.
pub const ROWS: usize = 6;

/// `B` rows ahead of the current one to prefetch into L1: `B`'s rows are a packed row stride apart, so
/// the hardware's streams miss them (a 1024^3 matmul on one thread: 123 -> 150 GFLOP/s).
const PREFETCH_ROWS: usize = 8;

/// What a tile function computes: `k[0]` outer steps of `k[1]` inner steps each (one step when the
/// matmul's `k` loop is plain; two when its operands read `k` as `k / c` and `k % c`, heads packed into
/// the reduction axis). Row `r`'s `A` element of a step is `rows[r]` advanced by `a_step[1]` per inner
/// and `a_step[0]` per outer step (from the outer step's first); `B`'s likewise from `b`, its row of
/// `cols` elements contiguous. `ROWS` row pointers: a tile of fewer rows repeats its last. Laid out for
/// generated code to fill (`wide.rs`).
#[repr(C)]
pub struct TileArgs {
    /// Element addresses, of the operands' dtype.
    pub rows: [*const u8; ROWS],
    pub a_step: [i64; 2],
    pub b: *const u8,
    pub b_step: [i64; 2],
    pub k: [i64; 2],
    /// Every accumulator's initial value.
    pub init: f32,
}

/// `tile(args, out)`: writes accumulator `(r, c)` to `out[r * cols + c]`.
pub type TileFn = unsafe extern "C" fn(*const TileArgs, *mut f32);

/// A tile function and its shape.
#[derive(Clone, Copy, Debug)]
pub struct Microkernel {
    /// The symbol generated code imports it by.
    pub name: &'static str,
    /// Columns per call: a multiple of 4 (the f32x4 groups of the epilogue).
    pub cols: usize,
    /// The instruction set it needs: `"avx512f"`, or `"avx2"` with FMA and F16C.
    pub isa: &'static str,
    /// The dtype of both operands (f32, f16 or bf16); accumulators are f32.
    pub dtype: DType,
    pub func: TileFn,
}

macro_rules! tile_fn {
    (avx512, $name:ident, $cols:literal, $elem:ty, load = |$p:ident| $load:expr, widen = |$x:ident| $widen:expr) => {
        tile_fn!(@ $name, "avx512f", $elem, __m512, 16, $cols, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps,
            |$p| $load, |$x| $widen);
    };
    (avx2, $name:ident, $cols:literal, $elem:ty, load = |$p:ident| $load:expr, widen = |$x:ident| $widen:expr) => {
        tile_fn!(@ $name, "avx2,fma,f16c", $elem, __m256, 8, $cols, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps,
            |$p| $load, |$x| $widen);
    };
    (@ $name:ident, $feature:literal, $elem:ty, $vec:ty, $lanes:literal, $cols:literal,
     $splat:ident, $fma:ident, $store:ident, |$p:ident| $load:expr, |$x:ident| $widen:expr) => {
        /// # Safety
        /// The host has the target features; the pointers hold what `TileArgs` describes.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feature)]
        unsafe extern "C" fn $name(args: *const TileArgs, out: *mut f32) {
            #[allow(unused_imports)]
            use std::arch::x86_64::*;
            const V: usize = $cols / $lanes;
            // SAFETY: the caller passes what `TileArgs` describes; prefetches never fault.
            unsafe {
                let t = &*args;
                let mut acc = [[$splat(t.init); V]; ROWS];
                let (mut a, mut b) = (t.rows.map(|p| p as *const $elem), t.b as *const $elem);
                for _ in 0..t.k[0] {
                    let (mut ai, mut bi) = (a, b);
                    for _ in 0..t.k[1] {
                        let ahead = bi.wrapping_offset(PREFETCH_ROWS as isize * t.b_step[1] as isize);
                        for c in 0..V {
                            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(c * $lanes) as *const i8);
                        }
                        let bv: [$vec; V] = std::array::from_fn(|c| {
                            let $p = bi.add(c * $lanes);
                            $load
                        });
                        for r in 0..ROWS {
                            let $x = *ai[r];
                            let x = $widen;
                            for c in 0..V {
                                acc[r][c] = $fma(x, bv[c], acc[r][c]);
                            }
                            ai[r] = ai[r].offset(t.a_step[1] as isize);
                        }
                        bi = bi.offset(t.b_step[1] as isize);
                    }
                    for p in &mut a {
                        *p = p.wrapping_offset(t.a_step[0] as isize);
                    }
                    b = b.wrapping_offset(t.b_step[0] as isize);
                }
                for r in 0..ROWS {
                    for c in 0..V {
                        $store(out.add((r * V + c) * $lanes), acc[r][c]);
                    }
                }
            }
        }
    };
}

// f32 operands: vector loads and broadcasts. f16: `vcvtph2ps` widens 16 (or 8) halves, and a broadcast
// half widened is a broadcast f32. bf16: the upper half of an f32, so a shift widens it. Half-precision
// operands get 16-column tiles only: the epilogue rounds each lane to f16 or bf16 in scalar code, and 64
// columns of it made compiling an f16 `gpt-tiny` step take 5.1 s (2.0 s with 16 columns, 1.2 s without
// tile functions).
tile_fn!(avx512, irc_tile_avx512, 64, f32, load = |p| _mm512_loadu_ps(p), widen = |x| _mm512_set1_ps(x));
tile_fn!(avx512, irc_tile_avx512_narrow, 16, f32, load = |p| _mm512_loadu_ps(p), widen = |x| _mm512_set1_ps(x));
tile_fn!(
    avx512,
    irc_tile_avx512_narrow_f16,
    16,
    u16,
    load = |p| _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())),
    widen = |x| _mm512_cvtph_ps(_mm256_set1_epi16(x as i16))
);
tile_fn!(
    avx512,
    irc_tile_avx512_narrow_bf16,
    16,
    u16,
    load = |p| _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(_mm256_loadu_si256(p.cast())))),
    widen = |x| _mm512_set1_ps(f32::from_bits(u32::from(x) << 16))
);
tile_fn!(avx2, irc_tile_avx2, 16, f32, load = |p| _mm256_loadu_ps(p), widen = |x| _mm256_set1_ps(x));
tile_fn!(
    avx2,
    irc_tile_avx2_f16,
    16,
    u16,
    load = |p| _mm256_cvtph_ps(_mm_loadu_si128(p.cast())),
    widen = |x| _mm256_cvtph_ps(_mm_set1_epi16(x as i16))
);
tile_fn!(
    avx2,
    irc_tile_avx2_bf16,
    16,
    u16,
    load = |p| _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(_mm_loadu_si128(p.cast())))),
    widen = |x| _mm256_set1_ps(f32::from_bits(u32::from(x) << 16))
);

/// Every tile function this build has (whether or not the host can run it), widest first and, for one
/// width, the preferred first: six rows of 16 columns are six AVX-512 accumulators (a matmul of one
/// attention head of 16) or twelve AVX2 ones.
pub fn all() -> Vec<Microkernel> {
    #[cfg(target_arch = "x86_64")]
    {
        let m = |name, cols, isa, dtype, func| Microkernel { name, cols, isa, dtype, func };
        vec![
            m("irc_tile_avx512", 64, "avx512f", DType::F32, irc_tile_avx512 as TileFn),
            m("irc_tile_avx512_narrow", 16, "avx512f", DType::F32, irc_tile_avx512_narrow),
            m("irc_tile_avx512_narrow_f16", 16, "avx512f", DType::F16, irc_tile_avx512_narrow_f16),
            m("irc_tile_avx512_narrow_bf16", 16, "avx512f", DType::BF16, irc_tile_avx512_narrow_bf16),
            m("irc_tile_avx2", 16, "avx2", DType::F32, irc_tile_avx2),
            m("irc_tile_avx2_f16", 16, "avx2", DType::F16, irc_tile_avx2_f16),
            m("irc_tile_avx2_bf16", 16, "avx2", DType::BF16, irc_tile_avx2_bf16),
        ]
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

/// Whether the host can run `m`.
pub fn supported(m: &Microkernel) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match m.isa {
            "avx512f" => std::arch::is_x86_feature_detected!("avx512f"),
            _ => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("f16c")
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = m;
        false
    }
}

/// The tile functions the host runs, one per width and dtype, widest first (none without AVX2 and FMA).
pub fn host() -> Vec<Microkernel> {
    let mut chosen: Vec<Microkernel> = Vec::new();
    for m in all().into_iter().filter(supported) {
        if !chosen.iter().any(|c| c.cols == m.cols && c.dtype == m.dtype) {
            chosen.push(m);
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every supported tile function against `f32::mul_add` in `k` order on the widened operands, on odd
    /// strides, a repeated row and two levels of steps: the same bits.
    #[test]
    fn tiles_match_scalar_fma_bit_for_bit() {
        let (outer, inner) = (3usize, 13usize);
        let (a_in, a_out, b_in, b_out) = (3usize, 50usize, 70usize, 1000usize);
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut rand = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        };
        let a_row = outer * a_out;
        let a: Vec<f32> = (0..8 * a_row).map(|_| rand()).collect();
        let b: Vec<f32> = (0..outer * b_out + 64).map(|_| rand()).collect();
        // Each dtype's bytes, and the f32 values they widen to.
        let stored = |x: &[f32], dtype: DType| -> (Vec<u8>, Vec<f32>) {
            match dtype {
                DType::F16 => {
                    let h: Vec<half::f16> = x.iter().map(|&v| half::f16::from_f32(v)).collect();
                    (h.iter().flat_map(|v| v.to_le_bytes()).collect(), h.iter().map(|v| v.to_f32()).collect())
                }
                DType::BF16 => {
                    let h: Vec<half::bf16> = x.iter().map(|&v| half::bf16::from_f32(v)).collect();
                    (h.iter().flat_map(|v| v.to_le_bytes()).collect(), h.iter().map(|v| v.to_f32()).collect())
                }
                _ => (x.iter().flat_map(|v| v.to_le_bytes()).collect(), x.to_vec()),
            }
        };
        let tested: Vec<Microkernel> = all().into_iter().filter(supported).collect();
        assert!(tested.is_empty() || tested.iter().any(|m| m.dtype == DType::F16), "f16 tiles where f32 ones run");
        for m in tested {
            let (a_bytes, a_val) = stored(&a, m.dtype);
            let (b_bytes, b_val) = stored(&b, m.dtype);
            let size = m.dtype.size_bytes();
            // Rows 0, 2, 4, 5, 7, 7 of `A` (a partial tile repeats its last row).
            let starts = [0usize, 2, 4, 5, 7, 7];
            let args = TileArgs {
                rows: starts.map(|r| a_bytes[r * a_row * size..].as_ptr()),
                a_step: [a_out as i64, a_in as i64],
                b: b_bytes[3 * size..].as_ptr(),
                b_step: [b_out as i64, b_in as i64],
                k: [outer as i64, inner as i64],
                init: 0.25,
            };
            let mut out = vec![0f32; ROWS * m.cols];
            // SAFETY: the host supports `m`; every pointer stays inside `a_bytes`, `b_bytes` and `out`.
            unsafe { (m.func)(&args, out.as_mut_ptr()) };
            for (r, &start) in starts.iter().enumerate() {
                for c in 0..m.cols {
                    let mut acc = 0.25f32;
                    for o in 0..outer {
                        for i in 0..inner {
                            let x = a_val[start * a_row + o * a_out + i * a_in];
                            acc = x.mul_add(b_val[3 + o * b_out + i * b_in + c], acc);
                        }
                    }
                    assert_eq!(out[r * m.cols + c].to_bits(), acc.to_bits(), "{} row {r} col {c}", m.name);
                }
            }
        }
    }
}
