//! Shared by the PTX tests: lowering graphs in both schedules and assembling the kernels with ptxas for
//! every target, many kernels per ptxas run. Without ptxas a test prints a notice and passes, unless
//! `IRC_REQUIRE_PTXAS=1` (CI sets it), where it fails.

#![allow(dead_code)] // each test file uses part of this module

use irc_codegen::kir::Kernel;
use irc_codegen::ptx::{Gpu, PtxError, check_with_ptxas_at, emit_module};
use irc_codegen::{LowerOptions, lower_with};
use irc_ir::Graph;

/// Whether ptxas can be run; `false` (after a notice) means the caller should return.
pub fn ptxas_or_skip(test: &str) -> bool {
    irc_codegen::ptx::ptxas_or_skip(test).unwrap_or_else(|e| panic!("{e}"))
}

/// Both schedules: the CPU one (one thread per grid point) and the GPU one (blocks of up to 256 lanes).
pub fn schedules() -> [LowerOptions; 2] {
    [LowerOptions::default(), LowerOptions::gpu(256)]
}

/// The kernels of `g` in both schedules.
pub fn kernels(g: &Graph) -> Vec<Kernel> {
    schedules()
        .iter()
        .flat_map(|o| lower_with(g, o).unwrap_or_else(|e| panic!("lowering: {e}\n{}", irc_ir::print(g))).kernels)
        .collect()
}

/// `kernels` without repeats: kernels equal but for their name and provenance (the same elementwise
/// kernel in both schedules, say) give the same PTX.
fn distinct(kernels: &[Kernel]) -> Vec<Kernel> {
    let mut seen: Vec<Kernel> = Vec::new();
    for k in kernels {
        let mut bare = k.clone();
        bare.name.clear();
        bare.info = Default::default();
        if !seen.contains(&bare) {
            seen.push(bare);
        }
    }
    seen.into_iter().enumerate().map(|(i, k)| Kernel { name: format!("k{i}"), ..k }).collect()
}

/// Emits `kernels` as one module per target and assembles both (in parallel) with ptxas at
/// optimization level `opt` (0: the same checks, faster, for large sweeps); panics with the first error.
pub fn assemble(kernels: &[Kernel], opt: u8) {
    let kernels = &distinct(kernels);
    std::thread::scope(|s| {
        let runs: Vec<_> = Gpu::ALL.map(|gpu| s.spawn(move || assemble_for(kernels, gpu, opt))).into();
        for r in runs {
            if let Err(e) = r.join() {
                std::panic::resume_unwind(e);
            }
        }
    });
}

fn assemble_for(kernels: &[Kernel], gpu: Gpu, opt: u8) {
    {
        let t = std::time::Instant::now();
        let ptx = emit_module(kernels, gpu).unwrap_or_else(|e| panic!("emitting PTX: {e}"));
        let emitted = t.elapsed();
        if let Err(e) = check_with_ptxas_at(&ptx, gpu, opt) {
            panic!("{e}\n{}", context(&ptx, &e));
        }
        eprintln!(
            "{} kernels, {} PTX lines for {gpu} (-O{opt}): emitted in {emitted:.2?}, ptxas {:.2?}",
            kernels.len(),
            ptx.lines().count(),
            t.elapsed() - emitted
        );
    }
}

/// The PTX lines around a ptxas error.
fn context(ptx: &str, e: &PtxError) -> String {
    let PtxError::Ptxas { line, .. } = e else { return String::new() };
    let lines: Vec<&str> = ptx.lines().collect();
    let from = line.saturating_sub(15);
    (from..(*line + 3).min(lines.len())).map(|i| format!("{:5} {}\n", i + 1, lines[i])).collect()
}
