//! The PTX backend's own checks: ptxas errors come back with the kernel and line, malformed kernels are
//! typed errors, launch shapes follow the contract, and a golden dump of softmax in the GPU schedule
//! (`IRC_BLESS=1` rewrites it) shows what the PTX looks like.

use irc_codegen::kir::{Access, BufferArg, Expr, Kernel, Lanes, Stmt, VarId};
use irc_codegen::ptx::{Gpu, LaunchShape, PtxError, check_with_ptxas, emit_kernel, launch_shape, ptxas_or_skip};
use irc_codegen::{LowerOptions, lower_with};
use irc_ir::DType;

fn have_ptxas(test: &str) -> bool {
    ptxas_or_skip(test).unwrap_or_else(|e| panic!("{e}"))
}

fn softmax_gpu() -> Kernel {
    let g = irc_ir::parse(
        "graph softmax {
          %0 = input \"x\" : f32[R, 8]
          %1 = reduce_max %0 axes=[1] : f32[R, 1]
          %2 = expand %1 shape=[R, 8] : f32[R, 8]
          %3 = sub %0, %2 : f32[R, 8]
          %4 = exp %3 : f32[R, 8]
          %5 = reduce_sum %4 axes=[1] : f32[R, 1]
          %6 = expand %5 shape=[R, 8] : f32[R, 8]
          %7 = div %4, %6 : f32[R, 8]
          output \"y\" = %7
        }",
    )
    .unwrap();
    let mut p = lower_with(&g, &LowerOptions::gpu(256)).unwrap();
    assert_eq!(p.kernels.len(), 1);
    p.kernels.remove(0)
}

#[test]
fn a_ptxas_error_names_the_kernel_and_the_line() {
    if !have_ptxas("a_ptxas_error_names_the_kernel_and_the_line") {
        return;
    }
    let good = emit_kernel(&softmax_gpu(), Gpu::Sm90).unwrap();
    check_with_ptxas(&good, Gpu::Sm90).unwrap();
    // A second entry with an unknown instruction on its 4th body line.
    let broken = format!(
        "{good}\n.visible .entry broken_kernel(\n\t.param .u64 p_b0\n)\n{{\n\t.reg .f32 %f<3>;\n\tfrobnicate.f32 %f1, %f2;\n\tret;\n}}\n"
    );
    let bad_line = broken.lines().position(|l| l.contains("frobnicate")).unwrap() + 1;
    for gpu in Gpu::ALL {
        match check_with_ptxas(&broken, gpu) {
            Err(PtxError::Ptxas { kernel, line, text, message, gpu: g }) => {
                assert_eq!(kernel, "broken_kernel");
                assert_eq!(line, bad_line);
                assert_eq!(text, "frobnicate.f32 %f1, %f2;");
                assert_eq!(g, gpu.name());
                assert!(!message.is_empty());
            }
            other => panic!("expected a ptxas error, got {other:?}"),
        }
    }
    let shown = check_with_ptxas(&broken, Gpu::Sm80).unwrap_err().to_string();
    assert!(shown.contains("broken_kernel") && shown.contains(&format!("line {bad_line}")), "{shown}");
}

#[test]
fn golden_softmax_in_the_gpu_schedule() {
    let k = softmax_gpu();
    let got = emit_kernel(&k, Gpu::Sm90).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ptx_softmax_gpu.ptx");
    if std::env::var("IRC_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(got == want, "PTX differs from {} (IRC_BLESS=1 rewrites it); got:\n{got}", path.display());
    // What a reader looks for: the block, its shared partials, the barriers, the kernel-IR comments.
    assert!(got.contains(".maxntid 32, 1, 1"), "{got}");
    assert!(got.contains(".shared .align 8 .f32 sh0[32]"), "{got}");
    assert!(got.contains("bar.sync 0"), "{got}");
    assert!(got.contains("max.NaN.f32"), "{got}");
    assert!(got.contains("// for "), "{got}");
    assert_eq!(launch_shape(&k, &[5]).unwrap(), LaunchShape { grid: [5, 1, 1], block: [32, 1, 1] });
    if have_ptxas("golden_softmax_in_the_gpu_schedule") {
        for gpu in Gpu::ALL {
            check_with_ptxas(&emit_kernel(&k, gpu).unwrap(), gpu).unwrap();
        }
    }
}

/// `out[i] = x[i]` over a grid of `n` (a size).
fn copy_kernel() -> Kernel {
    let mut k = Kernel::new("copy");
    k.buffers.push(BufferArg { name: "x".into(), dtype: DType::F32, access: Access::Read });
    k.buffers.push(BufferArg { name: "out".into(), dtype: DType::F32, access: Access::Write });
    k.sizes.push("n".into());
    let i = k.var("i", DType::I64);
    k.grid.push((i, Expr::Size(0)));
    k.body.push(Stmt::Store { buf: 1, index: Expr::Var(i), value: Expr::load(0, Expr::Var(i)) });
    k
}

#[test]
fn launch_shapes_follow_the_contract() {
    let k = copy_kernel();
    assert_eq!(launch_shape(&k, &[1000]).unwrap(), LaunchShape { grid: [4, 1, 1], block: [256, 1, 1] });
    assert_eq!(launch_shape(&k, &[0]).unwrap().grid[0], 0);
    assert_eq!(launch_shape(&k, &[-3]).unwrap().grid[0], 0);
    assert!(matches!(launch_shape(&k, &[1 << 50]), Err(PtxError::Launch { .. })));
    assert!(matches!(launch_shape(&k, &[]), Err(PtxError::Launch { .. })));
}

#[test]
fn malformed_kernels_are_errors_not_panics() {
    let mut k = copy_kernel();
    k.body.push(Stmt::Store { buf: 7, index: Expr::index(0), value: Expr::constant(1.0, DType::F32) });
    assert!(matches!(emit_kernel(&k, Gpu::Sm90), Err(PtxError::Invalid { .. })));
    let mut k = copy_kernel();
    k.body.push(Stmt::Let { var: VarId(99), value: Expr::index(0) });
    assert!(matches!(emit_kernel(&k, Gpu::Sm90), Err(PtxError::Invalid { .. })));
    let mut k = copy_kernel();
    let lane = k.var("lane", DType::I64);
    k.lanes = Some(Lanes { var: lane, count: 4096 });
    assert!(matches!(emit_kernel(&k, Gpu::Sm90), Err(PtxError::Unsupported { .. })));
    let mut k = copy_kernel();
    k.body.push(Stmt::Barrier);
    assert!(matches!(emit_kernel(&k, Gpu::Sm90), Err(PtxError::Invalid { .. })));
    let mut k = copy_kernel();
    k.body.push(Stmt::Store {
        buf: 1,
        index: Expr::index(0),
        value: Expr::binary(irc_codegen::kir::BinOp::Add, Expr::constant(1.0, DType::F32), Expr::index(1)),
    });
    assert!(matches!(emit_kernel(&k, Gpu::Sm90), Err(PtxError::Invalid { .. })));
}

#[test]
fn a_missing_ptxas_says_how_to_install_it() {
    let e = PtxError::PtxasMissing { searched: "PATH".into() };
    let text = e.to_string();
    assert!(text.contains("pip install --no-deps nvidia-cuda-nvcc==13.0.88") && text.contains("IRC_PTXAS"), "{text}");
}
