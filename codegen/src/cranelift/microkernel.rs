//! Matmul tiles in the host's widest vectors: Rust functions that generated code calls for the `k` loop
//! of a register-tiled matmul, where the host has vectors wider than Cranelift's 128 bits.
//!
//! Cranelift 0.135 emits 128-bit vectors only; an AVX-512 core multiplies and adds four times as many
//! f32 per instruction. A tile function computes `ROWS x cols` dot products over the whole `k` loop
//! and leaves them in a buffer on the caller's stack, from which the generated epilogue reads them
//! (`wide.rs`): the kernel IR, the fusion and the epilogue stay Cranelift's, only the inner loop runs
//! here. Each accumulator takes `acc = fma(a[k], b[k], acc)` for `k` in order from `init`, which is
//! what the generated f32x4 code computes with contraction on, so the results are the same bits.

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
    pub rows: [*const f32; ROWS],
    pub a_step: [i64; 2],
    pub b: *const f32,
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
    /// The instruction set it needs: `"avx512f"`, or `"avx2"` with FMA.
    pub isa: &'static str,
    pub func: TileFn,
}

macro_rules! tile_fn {
    ($name:ident, $feature:literal, $vec:ty, $lanes:literal, $cols:literal,
     $splat:ident, $load:ident, $fma:ident, $store:ident) => {
        /// # Safety
        /// The host has the target feature; the pointers hold what `TileFn` describes.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feature)]
        unsafe extern "C" fn $name(args: *const TileArgs, out: *mut f32) {
            use std::arch::x86_64::*;
            const V: usize = $cols / $lanes;
            // SAFETY: the caller passes what `TileArgs` describes; prefetches never fault.
            unsafe {
                let t = &*args;
                let mut acc = [[$splat(t.init); V]; ROWS];
                let (mut a, mut b) = (t.rows, t.b);
                for _ in 0..t.k[0] {
                    let (mut ai, mut bi) = (a, b);
                    for _ in 0..t.k[1] {
                        let ahead = bi.wrapping_offset(PREFETCH_ROWS as isize * t.b_step[1] as isize);
                        for c in 0..V {
                            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(c * $lanes) as *const i8);
                        }
                        let bv: [$vec; V] = std::array::from_fn(|c| $load(bi.add(c * $lanes)));
                        for r in 0..ROWS {
                            let x = $splat(*ai[r]);
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

tile_fn!(
    irc_tile_avx512,
    "avx512f",
    __m512,
    16,
    64,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps
);
tile_fn!(
    irc_tile_avx512_narrow,
    "avx512f",
    __m512,
    16,
    16,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps
);
tile_fn!(irc_tile_avx2, "avx2,fma", __m256, 8, 16, _mm256_set1_ps, _mm256_loadu_ps, _mm256_fmadd_ps, _mm256_storeu_ps);

/// Every tile function this build has (whether or not the host can run it), widest first and, for one
/// width, the preferred first: six rows of 16 columns are six AVX-512 accumulators (a matmul of one
/// attention head of 16) or twelve AVX2 ones.
pub fn all() -> Vec<Microkernel> {
    #[cfg(target_arch = "x86_64")]
    {
        vec![
            Microkernel { name: "irc_tile_avx512", cols: 64, isa: "avx512f", func: irc_tile_avx512 },
            Microkernel { name: "irc_tile_avx512_narrow", cols: 16, isa: "avx512f", func: irc_tile_avx512_narrow },
            Microkernel { name: "irc_tile_avx2", cols: 16, isa: "avx2", func: irc_tile_avx2 },
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
            _ => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = m;
        false
    }
}

/// The tile functions the host runs, one per width, widest first (none without AVX2 and FMA).
pub fn host() -> Vec<Microkernel> {
    let mut chosen: Vec<Microkernel> = Vec::new();
    for m in all().into_iter().filter(supported) {
        if !chosen.iter().any(|c| c.cols == m.cols) {
            chosen.push(m);
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every supported tile function against `f32::mul_add` in `k` order, on odd strides, a repeated row
    /// and two levels of steps: the same bits.
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
        for m in all().iter().filter(|m| supported(m)) {
            // Rows 0, 2, 4, 5, 7, 7 of `A` (a partial tile repeats its last row).
            let starts = [0usize, 2, 4, 5, 7, 7];
            let args = TileArgs {
                rows: starts.map(|r| a[r * a_row..].as_ptr()),
                a_step: [a_out as i64, a_in as i64],
                b: b[3..].as_ptr(),
                b_step: [b_out as i64, b_in as i64],
                k: [outer as i64, inner as i64],
                init: 0.25,
            };
            let mut out = vec![0f32; ROWS * m.cols];
            // SAFETY: the host supports `m`; every pointer stays inside `a`, `b` and `out`.
            unsafe { (m.func)(&args, out.as_mut_ptr()) };
            for (r, &start) in starts.iter().enumerate() {
                for c in 0..m.cols {
                    let mut acc = 0.25f32;
                    for o in 0..outer {
                        for i in 0..inner {
                            let x = a[start * a_row + o * a_out + i * a_in];
                            acc = x.mul_add(b[3 + o * b_out + i * b_in + c], acc);
                        }
                    }
                    assert_eq!(out[r * m.cols + c].to_bits(), acc.to_bits(), "{} row {r} col {c}", m.name);
                }
            }
        }
    }
}
