//! `irc compile`: the graph in text, JSON or DOT; its fused kernels; kernel dumps and cost explanations.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use irc_codegen::kir::{Kernel, Program, print_expr, print_kernel, print_program};
use irc_codegen::{LowerOptions, lower_with, plan_program, ptx};
use irc_ir::Graph;
use serde_json::json;

use crate::cli::{CompileArgs, Emit, Target};
use crate::commands::{symbol_sizes, write_text};
use crate::error::{CliError, Result};
use crate::load::{load_model, train_step};
use crate::opt::maybe_optimize;

/// The program in the target's schedule: serial for the CPU, blocks of lanes for PTX and WGSL.
fn lowered(g: &Graph, args: &CompileArgs) -> Result<Program> {
    let base = match args.target {
        Target::Cpu => LowerOptions::cpu(irc_codegen::cranelift::CompileOptions::default()),
        Target::Ptx => LowerOptions::gpu(irc_runtime::cuda::MAX_LANES),
        Target::Wgsl => LowerOptions::gpu(irc_runtime::wgpu::MAX_LANES),
    };
    lower_with(g, &LowerOptions { fuse: !args.no_fuse, ..base }).map_err(|e| CliError::Run(e.to_string()))
}

pub fn compile(args: &CompileArgs) -> Result<()> {
    let mut g = match args.train {
        true => train_step(&args.model.file, &args.model.config)?,
        false => load_model(&args.model.file, &args.model.config)?,
    };
    if args.specialize {
        let given = symbol_sizes(&Graph::new("none"), &args.dims, &HashMap::new())?;
        g = irc_ir::specialize(&g, &given).map_err(|e| CliError::Usage(format!("--specialize: {e}")))?;
    }
    let emit = match args.emit {
        Some(e) => Some(e),
        None if args.explain || args.dump_kernels.is_some() => None,
        None => Some(Emit::Ir),
    };
    let needs_program = emit == Some(Emit::Kernels) || args.explain || args.dump_kernels.is_some();
    let needs_opt = needs_program || emit == Some(Emit::Optimized);
    let sizes = symbol_sizes(&g, &args.dims, &HashMap::new())?;
    let (opt, report) = if needs_opt { maybe_optimize(&g, !args.no_opt, &sizes)? } else { (g.clone(), None) };
    let program = if needs_program { Some(lowered(&opt, args)?) } else { None };
    if let (Some(dir), Some(p)) = (&args.dump_kernels, &program) {
        dump_kernels(p, args.target, dir)?;
    }
    if let Some(p) = program.as_ref().filter(|_| args.explain) {
        print!("{}", explain(p, &sizes));
        match &report {
            Some(r) => print!("{r}"),
            None => println!("optimizer: off (--no-opt)"),
        }
    }
    let text = match emit {
        None => return Ok(()),
        Some(Emit::Ir) => irc_ir::print(&g),
        Some(Emit::Optimized) => irc_ir::print(&opt),
        Some(Emit::Json) => g.to_json() + "\n",
        Some(Emit::Dot) => irc_ir::to_dot(&g),
        Some(Emit::Kernels) => print_program(program.as_ref().expect("lowered above")),
    };
    write_text(args.output.as_deref(), &text)
}

/// Values of a kernel's sizes under `bindings` (symbols with offsets are resolved by name).
fn kernel_sizes(k: &Kernel, bindings: &HashMap<String, usize>) -> Vec<i64> {
    k.sizes.iter().map(|s| bindings.get(s).map_or(0, |&v| v as i64)).collect()
}

fn human_bytes(b: f64) -> String {
    match b {
        b if b >= 1e9 => format!("{:.2} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.2} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kB", b / 1e3),
        b => format!("{b:.0} B"),
    }
}

/// Per kernel: source nodes, bytes and flops at the given sizes; then the memory plan.
fn explain(p: &Program, bindings: &HashMap<String, usize>) -> String {
    let mut out = String::new();
    let mut sizes: Vec<_> = bindings.iter().collect();
    sizes.sort();
    let shown: Vec<String> = sizes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        out,
        "{} kernels ({})",
        p.launches.len(),
        if shown.is_empty() { "static".into() } else { shown.join(", ") }
    );
    let _ = writeln!(out, "{:<4} {:<36} {:>6} {:>12} {:>12}  source nodes", "#", "kernel", "nodes", "bytes", "flops");
    let (mut total_bytes, mut total_flops) = (0i64, 0i64);
    for (i, l) in p.launches.iter().enumerate() {
        let k = &p.kernels[l.kernel];
        let s = kernel_sizes(k, bindings);
        let eval = |e: &Option<irc_codegen::kir::Expr>| e.as_ref().and_then(|e| e.eval_size(&s)).unwrap_or(0);
        let (bytes, flops) = (eval(&k.info.bytes), eval(&k.info.flops));
        total_bytes += bytes;
        total_flops += flops;
        let nodes: Vec<String> = k.info.nodes.iter().take(8).map(|n| n.to_string()).collect();
        let more = if k.info.nodes.len() > 8 { " ..." } else { "" };
        let _ = writeln!(
            out,
            "{i:<4} {:<36} {:>6} {:>12} {:>12}  {}{more}",
            k.name,
            k.info.nodes.len(),
            human_bytes(bytes as f64),
            flops,
            nodes.join(" ")
        );
    }
    let _ = writeln!(out, "total: {} moved, {total_flops} flops", human_bytes(total_bytes as f64));
    let plan = plan_program(p, bindings);
    let unplanned: usize = (0..p.buffers.len())
        .filter(|&b| plan.offsets[b].is_some())
        .map(|b| {
            p.buffers[b].bytes(bindings).unwrap_or(0).div_ceil(irc_codegen::plan::ALIGN) * irc_codegen::plan::ALIGN
        })
        .sum();
    let _ = writeln!(
        out,
        "memory: intermediates need {} planned by liveness (peak live {}, {:.2}x of it; {} without reuse)",
        human_bytes(plan.arena_bytes as f64),
        human_bytes(plan.live_peak as f64),
        plan.arena_bytes as f64 / plan.live_peak.max(1) as f64,
        human_bytes(unplanned as f64),
    );
    out
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CliError {
    let path = path.display().to_string();
    move |source| CliError::Io { path, source }
}

/// How a runtime launches a PTX kernel (`irc_codegen::ptx::launch_shape` computes it for given sizes).
fn ptx_launch(k: &Kernel) -> serde_json::Value {
    let entry = ptx::entry_names(std::slice::from_ref(k)).remove(0);
    let (block, ctas) = match k.lanes {
        Some(l) => (l.count, "one per grid point"),
        None => (ptx::BLOCK, "ceil(grid points / block)"),
    };
    json!({"entry": entry, "block": [block, 1, 1], "grid_x": ctas, "params": "one .u64 pointer per buffer, then one .s64 per size"})
}

/// Writes `NN_name.kir` and the target code for each kernel, and `manifest.json`.
fn dump_kernels(p: &Program, target: Target, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut entries = Vec::new();
    for (i, k) in p.kernels.iter().enumerate() {
        let stem = format!("{i:02}_{}", k.name);
        let kir_path = dir.join(format!("{stem}.kir"));
        std::fs::write(&kir_path, print_kernel(k)).map_err(io(&kir_path))?;
        let code_path = match target {
            Target::Cpu => {
                let compiled =
                    irc_codegen::cranelift::compile_kernel_listing(k).map_err(|e| CliError::Run(e.to_string()))?;
                let path = dir.join(format!("{stem}.clif"));
                std::fs::write(&path, compiled.clif_text()).map_err(io(&path))?;
                if let Some(asm) = compiled.disasm() {
                    let asm_path = dir.join(format!("{stem}.s"));
                    std::fs::write(&asm_path, asm).map_err(io(&asm_path))?;
                }
                path
            }
            Target::Ptx => {
                let ptx = ptx::emit_kernel(k, ptx::Gpu::Sm90).map_err(|e| CliError::Run(e.to_string()))?;
                let path = dir.join(format!("{stem}.ptx"));
                std::fs::write(&path, ptx).map_err(io(&path))?;
                path
            }
            Target::Wgsl => {
                let plan = irc_codegen::wgsl::BindingPlan::per_arg(k, false);
                let shader = irc_codegen::wgsl::compile_wgsl(k, &plan).map_err(|e| CliError::Run(e.to_string()))?;
                let path = dir.join(format!("{stem}.wgsl"));
                std::fs::write(&path, shader.source).map_err(io(&path))?;
                path
            }
        };
        let show = |e: &Option<irc_codegen::kir::Expr>| e.as_ref().map(|e| print_expr(k, e));
        let launches: Vec<Vec<usize>> = p.launches.iter().filter(|l| l.kernel == i).map(|l| l.args.clone()).collect();
        entries.push(json!({
            "index": i,
            "name": k.name,
            "source_nodes": k.info.nodes.iter().map(|n| n.0).collect::<Vec<_>>(),
            "buffers": k.buffers.iter().map(|b| json!({
                "name": b.name, "dtype": b.dtype.name(), "access": format!("{:?}", b.access).to_lowercase()
            })).collect::<Vec<_>>(),
            "program_buffers": launches,
            "sizes": k.sizes,
            "grid": k.grid.iter().map(|(_, e)| print_expr(k, e)).collect::<Vec<_>>(),
            "bytes": show(&k.info.bytes),
            "flops": show(&k.info.flops),
            "kernel_ir": kir_path.file_name().map(|f| f.to_string_lossy().to_string()),
            "target_code": code_path.file_name().map(|f| f.to_string_lossy().to_string()),
            "launch": (target == Target::Ptx).then(|| ptx_launch(k)),
        }));
    }
    let buffers: Vec<_> = p
        .buffers
        .iter()
        .enumerate()
        .map(|(i, b)| json!({"index": i, "dtype": b.dtype.name(), "shape": b.shape.to_string(), "kind": format!("{:?}", b.kind).split('(').next().unwrap_or("").to_lowercase()}))
        .collect();
    let manifest = json!({"program": p.name, "target": format!("{target:?}").to_lowercase(), "buffers": buffers, "kernels": entries});
    let path = dir.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).expect("json values serialize");
    std::fs::write(&path, text + "\n").map_err(io(&path))
}
