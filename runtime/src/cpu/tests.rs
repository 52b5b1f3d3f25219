//! The CPU backend against the kernel-IR evaluator: hand-built kernels launched through
//! `KernelBackend` (one thread and several) and whole lowered graphs through `Executable`.

use std::collections::HashMap;

use irc_codegen::kir::{Access, BinOp, BufferArg, Expr, Kernel, Stmt};
use irc_ir::{DType, UnaryOp};

use super::{CpuBackend, chunks, row_chunks};
use crate::backend::{EvalBackend, HostBackend, HostBuffer};
use crate::exec::Executable;
use crate::{Rng, Tensor, init_params, random_inputs};

fn buffer(k: &mut Kernel, name: &str, dtype: DType, access: Access) -> usize {
    k.buffers.push(BufferArg { name: name.into(), dtype, access });
    k.buffers.len() - 1
}

fn v(x: irc_codegen::kir::VarId) -> Expr {
    Expr::Var(x)
}

fn add(a: Expr, b: Expr) -> Expr {
    Expr::binary(BinOp::Add, a, b)
}

fn mul(a: Expr, b: Expr) -> Expr {
    Expr::binary(BinOp::Mul, a, b)
}

/// `c = a @ b` over sizes M, N, K, with a tanh epilogue.
fn matmul() -> Kernel {
    let mut k = Kernel::new("matmul_tanh");
    k.sizes = vec!["M".into(), "N".into(), "K".into()];
    let (a, b) = (buffer(&mut k, "a", DType::F32, Access::Read), buffer(&mut k, "b", DType::F32, Access::Read));
    let c = buffer(&mut k, "c", DType::F32, Access::Write);
    let (i, j, p, acc) =
        (k.var("i", DType::I64), k.var("j", DType::I64), k.var("p", DType::I64), k.var("acc", DType::F32));
    k.grid = vec![(i, Expr::Size(0)), (j, Expr::Size(1))];
    let x = Expr::load(a, add(mul(v(i), Expr::Size(2)), v(p)));
    let y = Expr::load(b, add(mul(v(p), Expr::Size(1)), v(j)));
    k.body = vec![
        Stmt::Let { var: acc, value: Expr::constant(0.0, DType::F32) },
        Stmt::Loop {
            var: p,
            extent: Expr::Size(2),
            body: vec![Stmt::Assign { var: acc, value: add(v(acc), mul(x, y)) }],
        },
        Stmt::Store { buf: c, index: add(mul(v(i), Expr::Size(1)), v(j)), value: Expr::unary(UnaryOp::Tanh, v(acc)) },
    ];
    k
}

/// `out = f16(exp(x) * 0.5)` elementwise from f32 to f16.
fn exp_to_f16() -> Kernel {
    let mut k = Kernel::new("exp_f16");
    k.sizes = vec!["n".into()];
    let x = buffer(&mut k, "x", DType::F32, Access::Read);
    let out = buffer(&mut k, "out", DType::F16, Access::Write);
    let i = k.var("i", DType::I64);
    k.grid = vec![(i, Expr::Size(0))];
    let value = mul(Expr::unary(UnaryOp::Exp, Expr::load(x, v(i))), Expr::constant(0.5, DType::F32));
    k.body = vec![Stmt::Store { buf: out, index: v(i), value: Expr::cast(DType::F16, value) }];
    k
}

fn random_buffer(dtype: DType, shape: Vec<usize>, rng: &mut Rng) -> HostBuffer {
    let n = shape.iter().product();
    HostBuffer::from_tensor(&Tensor::new(dtype, shape, (0..n).map(|_| rng.normal()).collect()))
}

/// Launches `k` on copies of `bufs` with `backend`; returns the buffers after.
/// The `matmul` kernel with random `a: [m, p]`, `b: [p, n]`, a zeroed `c` and its sizes.
fn matmul_case(m: usize, n: usize, p: usize, rng: &mut Rng) -> (Kernel, [HostBuffer; 3], [i64; 3]) {
    let bufs = [
        random_buffer(DType::F32, vec![m, p], rng),
        random_buffer(DType::F32, vec![p, n], rng),
        HostBuffer::zeros(DType::F32, vec![m, n]),
    ];
    (matmul(), bufs, [m as i64, n as i64, p as i64])
}

fn launch<B: HostBackend>(backend: &B, k: &Kernel, bufs: &[HostBuffer], sizes: &[i64]) -> Vec<HostBuffer> {
    let compiled = backend.compile(k).unwrap();
    let mut bufs = bufs.to_vec();
    let views: Vec<_> = bufs.iter_mut().map(HostBuffer::view).collect();
    // SAFETY: each view is a distinct live buffer sized for the kernel at these sizes.
    unsafe { backend.launch_views(&compiled, k, &views, sizes) }.unwrap();
    bufs
}

#[test]
fn kernels_match_the_evaluator_on_any_thread_count() {
    let mut rng = Rng::new(7);
    let (m, n) = (48, 37);
    let (k, bufs, sizes) = matmul_case(m, n, 256, &mut rng);
    let want = launch(&EvalBackend, &k, &bufs, &sizes);
    let many = CpuBackend::new(4);
    assert!(many.threads_for(&k, &sizes, (m * n) as i64) > 1, "the test should exercise threads");
    for backend in [CpuBackend::new(1).exact(), many.exact()] {
        // The f32 tanh is inline: within 1.33 ulp of the true value, so at most 1 ulp from the
        // evaluator's correctly rounded result (docs/CPU.md).
        let got = launch(&backend, &k, &bufs, &sizes);
        assert_ulps(got[2].bytes(), want[2].bytes(), 4, 1, &format!("{backend:?}"));
    }
    // With fused multiply-adds (where the host has them) results differ from the evaluator's, but not
    // between thread counts.
    let one = launch(&CpuBackend::new(1), &k, &bufs, &sizes);
    assert_eq!(launch(&many, &k, &bufs, &sizes)[2].bytes(), one[2].bytes());

    let k = exp_to_f16();
    let len = 1000;
    let bufs = [random_buffer(DType::F32, vec![len], &mut rng), HostBuffer::zeros(DType::F16, vec![len])];
    let want = launch(&EvalBackend, &k, &bufs, &[len as i64]);
    // The inline f32 exp is at most 1 f32 ulp from the evaluator's, which can move the f16 rounding by 1.
    let got = launch(&CpuBackend::new(3), &k, &bufs, &[len as i64]);
    assert_ulps(got[1].bytes(), want[1].bytes(), 2, 1, "exp_f16");
}

#[test]
fn launches_from_several_threads_share_the_workers() {
    // Six launches at once from six threads, each over four chunks (more than this machine may have
    // cores): every one gives the single-threaded result.
    let (m, n) = (64, 48);
    let (k, bufs, sizes) = matmul_case(m, n, 1024, &mut Rng::new(11));
    let want = launch(&CpuBackend::new(1), &k, &bufs, &sizes);
    let four = CpuBackend::new(4);
    assert_eq!(four.threads_for(&k, &sizes, (m * n) as i64), 4, "the test should use four chunks");
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..6).map(|_| s.spawn(|| launch(&four, &k, &bufs, &sizes))).collect();
        for run in runs {
            assert_eq!(run.join().unwrap()[2].bytes(), want[2].bytes());
        }
    });
}

/// Asserts that two buffers of little-endian floats `width` bytes wide (finite, of one sign per pair)
/// differ by at most `ulps` units in the last place element by element.
fn assert_ulps(got: &[u8], want: &[u8], width: usize, ulps: u64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let bits = |c: &[u8]| c.iter().rev().fold(0u64, |acc, &b| acc << 8 | b as u64);
    for (i, (a, b)) in got.chunks(width).zip(want.chunks(width)).enumerate() {
        let (a, b) = (bits(a), bits(b));
        let sign = 1u64 << (width * 8 - 1);
        let close = a == b || ((a ^ b) & sign == 0 && a.abs_diff(b) <= ulps);
        assert!(close, "{what}: element {i}: {a:#x} vs {b:#x}");
    }
}

#[test]
fn thread_count_follows_the_work() {
    let backend = CpuBackend::new(8);
    let k = matmul();
    assert_eq!(backend.threads_for(&k, &[2, 2, 2], 4), 1);
    assert_eq!(backend.threads_for(&k, &[512, 512, 512], 512 * 512), 8);
    assert_eq!(CpuBackend::new(1).threads_for(&k, &[512, 512, 512], 512 * 512), 1);
    // Never more threads than grid indices.
    assert_eq!(backend.threads_for(&k, &[1, 3, 1 << 30], 3), 3);
    assert_eq!(CpuBackend::new(0).threads, 1);
    assert!(CpuBackend::default().threads >= 1);
}

#[test]
fn chunks_cover_the_grid_once() {
    for (total, n) in [(10, 3), (1, 1), (7, 7), (1000, 16), (5, 2), (i64::MAX, 3)] {
        let c = chunks(total, n);
        assert_eq!(c.len(), n);
        assert_eq!(c[0].start, 0);
        assert_eq!(c[n - 1].end, total);
        assert!(c.windows(2).all(|w| w[0].end == w[1].start));
        assert!(c.iter().all(|r| r.end - r.start >= total / n as i64));
    }
}

#[test]
fn row_chunks_split_at_row_boundaries() {
    for (total, n, row, aligned) in [(64 * 100, 2, 64, true), (12, 2, 4, true), (12, 5, 4, false), (10, 3, 1, false)] {
        let c = row_chunks(total, n, row);
        assert_eq!(c.len(), n);
        assert_eq!((c[0].start, c[n - 1].end), (0, total));
        assert!(c.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(c.iter().all(|r| r.start % row == 0), aligned || row == 1, "{c:?}");
    }
}

#[test]
fn mismatched_views_are_errors() {
    let k = exp_to_f16();
    let backend = CpuBackend::new(1);
    let compiled = backend.compile(&k).unwrap();
    let mut x = HostBuffer::zeros(DType::F32, vec![4]);
    let mut wrong = HostBuffer::zeros(DType::F32, vec![4]);
    // SAFETY: the launch is rejected before any view is used.
    let err = unsafe { backend.launch_views(&compiled, &k, &[x.view(), wrong.view()], &[4]) }.unwrap_err();
    assert!(err.to_string().contains("buffer `out` is f32, expected f16"), "{err}");
    // SAFETY: as above.
    let err = unsafe { backend.launch_views(&compiled, &k, &[x.view()], &[4]) }.unwrap_err();
    assert!(err.to_string().contains("expected 2 buffer arguments, got 1"), "{err}");
    // SAFETY: as above.
    let err = unsafe { backend.launch_views(&compiled, &k, &[x.view(), wrong.view()], &[]) }.unwrap_err();
    assert!(err.to_string().contains("exp_f16"), "{err}");
}

#[test]
fn lowered_graphs_match_the_evaluator() {
    let g = irc_ir::parse(include_str!("../../../tests/data/all_ops.irc")).unwrap();
    let sizes: HashMap<String, usize> = [("B".to_string(), 3), ("T".to_string(), 5)].into();
    let inputs = random_inputs(&g, &sizes, 11).unwrap();
    let params = init_params(&g, 11).unwrap();
    let want = Executable::compile(&g, EvalBackend).unwrap().run(&inputs, &params).unwrap();
    for threads in [1, 4] {
        let got = Executable::compile(&g, CpuBackend::new(threads).exact()).unwrap().run(&inputs, &params).unwrap();
        assert_eq!(got.len(), want.len());
        for (a, b) in got.iter().zip(&want) {
            let same =
                a.shape == b.shape && a.data.iter().zip(&b.data).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()));
            assert!(same, "threads={threads}:\n{a:?}\n{b:?}");
        }
    }
}

/// `run_updating` feeds a run's outputs back as the next run's params without the host: two steps of
/// `p <- p * s + x` (and `q <- p`, an update read from another param's old value) against the formula.
#[test]
fn updates_stay_resident_between_runs() {
    let g = irc_ir::parse(
        "graph step {
          %0 = input \"x\" : f32[3]
          %1 = param \"p\" : f32[3]
          %2 = param \"q\" : f32[3]
          %3 = const 0.5 : f32[]
          %4 = expand %3 shape=[3] : f32[3]
          %5 = mul %1, %4 : f32[3]
          %6 = add %5, %0 : f32[3]
          %7 = reduce_sum %2 axes=[0] : f32[1]
          output \"next/p\" = %6
          output \"next/q\" = %1
          output \"sum_q\" = %7
        }",
    )
    .unwrap();
    let mut rng = Rng::new(5);
    let mut rand = || Tensor::new(DType::F32, vec![3], (0..3).map(|_| rng.normal()).collect());
    let (x, p0, q0) = (rand(), rand(), rand());
    let mut exe = Executable::compile(&g, CpuBackend::new(2)).unwrap();
    exe.try_set_params(&HashMap::from([("p".to_string(), p0.clone()), ("q".to_string(), q0.clone())])).unwrap();
    let updates = HashMap::from([("next/p".to_string(), "p".to_string()), ("next/q".to_string(), "q".to_string())]);
    let inputs = HashMap::from([("x".to_string(), x.clone())]);
    let f32 = |v: f64| v as f32 as f64;
    let (mut p, mut q) = (p0.data.clone(), q0.data.clone());
    for step in 0..2 {
        let rest = exe.run_updating(&inputs, &updates).unwrap();
        let want_sum = q.iter().map(|v| f32(*v)).sum::<f64>();
        assert_eq!(rest.len(), 1, "only the non-update output comes back");
        assert_eq!(rest[0].0, "sum_q");
        assert!((rest[0].1.data[0] - want_sum).abs() < 1e-5, "step {step}: {:?} vs {want_sum}", rest[0].1);
        q = p.clone();
        p = p.iter().zip(&x.data).map(|(p, x)| f32(f32(f32(*p) * 0.5) + f32(*x))).collect();
        let (got_p, got_q) = (exe.resident_param("p").unwrap().unwrap(), exe.resident_param("q").unwrap().unwrap());
        assert_eq!(got_p.data, p, "step {step}");
        assert_eq!(
            got_q.data.iter().map(|v| f32(*v)).collect::<Vec<_>>(),
            q.iter().map(|v| f32(*v)).collect::<Vec<_>>()
        );
    }
}
