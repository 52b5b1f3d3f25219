//! `irc bench SUITE`: times each workload of a suite on a backend and puts it next to the roofline floor.

use std::time::Instant;

use irc_frontends::bench::{SUITES, Workload, suite};
use irc_runtime::{BackendKind, CudaBackend, Engine, init_params, median, random_inputs};

use crate::cli::BenchArgs;
use crate::commands::symbol_sizes;
use crate::error::{CliError, Result};
use crate::load::{load_model, train_step};

/// Bytes per second of a large copy on this machine (read + written) using every core, best of a few:
/// the memory roofline.
fn copy_bandwidth() -> f64 {
    let n = 32 << 20; // 32M f32 = 128 MiB each way
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let src = vec![1.0f32; n];
    let mut dst = vec![0.0f32; n];
    let chunk = n.div_ceil(threads);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        std::thread::scope(|s| {
            for (d, src) in dst.chunks_mut(chunk).zip(src.chunks(chunk)) {
                s.spawn(move || d.copy_from_slice(src));
            }
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&dst);
    (2 * 4 * n) as f64 / best
}

/// What one workload measured.
struct Row {
    /// Kernel count and planned intermediate bytes, for backends that compile.
    compiled: Option<(usize, usize)>,
    compile_s: f64,
    /// The median run's seconds, or with `--min` the fastest run's.
    time_s: f64,
    /// With `--profile`: each launch.
    launches: Vec<Launch>,
}

/// One kernel launch under `--profile`: the kernel's name, its median time, its estimated bytes and
/// flops (when static).
struct Launch {
    name: String,
    seconds: f64,
    bytes: Option<i64>,
    flops: Option<i64>,
}

/// Per launch of `engine`'s program: name, median seconds, estimated bytes and flops.
fn profile(
    engine: &Engine,
    inputs: &std::collections::HashMap<String, irc_runtime::Tensor>,
    params: &std::collections::HashMap<String, irc_runtime::Tensor>,
    runs: usize,
) -> std::result::Result<Vec<Launch>, irc_runtime::RunError> {
    let (Some(times), Some(p)) = (engine.profile_launches(inputs, params, 2, runs), engine.program()) else {
        return Ok(Vec::new());
    };
    let times = times?;
    Ok(p.launches
        .iter()
        .zip(times)
        .map(|(l, t)| {
            let k = &p.kernels[l.kernel];
            let est = |e: &Option<irc_codegen::kir::Expr>| e.as_ref().and_then(|e| e.eval_size(&[]));
            Launch { name: k.name.clone(), seconds: t, bytes: est(&k.info.bytes), flops: est(&k.info.flops) }
        })
        .collect())
}

fn measure(w: &Workload, args: &BenchArgs) -> Result<Row> {
    let (backend, runs, opt) = (args.backend, args.runs.max(1), !args.no_opt);
    let err = |e: irc_runtime::RunError| CliError::Run(format!("{}: {e}", w.name));
    let t = Instant::now();
    let (graph, _) = crate::opt::maybe_optimize(&w.graph, opt, &Default::default())?;
    let engine = Engine::new(&graph, backend).map_err(err)?;
    let compile = t.elapsed().as_secs_f64();
    let inputs = random_inputs(&w.graph, &Default::default(), 0).map_err(err)?;
    let params = init_params(&w.graph, 0).map_err(err)?;
    // The interpreter compiles nothing: a few whole runs instead.
    let times = match engine.time_kernels(&inputs, &params, 2, runs) {
        Some(times) => times.map_err(err)?,
        None => (0..runs.min(3))
            .map(|_| {
                let t = Instant::now();
                engine.run(&inputs, &params).map(|_| t.elapsed().as_secs_f64())
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(err)?,
    };
    let compiled =
        engine.program().map(|p| (p.launches.len(), irc_codegen::plan_program(p, &Default::default()).arena_bytes));
    let launches = if args.profile { profile(&engine, &inputs, &params, runs).map_err(err)? } else { Vec::new() };
    let time_s = if args.min { times.iter().copied().fold(f64::INFINITY, f64::min) } else { median(times) };
    Ok(Row { compiled, compile_s: compile, time_s, launches })
}

/// A model file or `zoo:NAME` as a one-workload suite, specialized to the `--dim` sizes (8 for the
/// others); its floor is its inputs, params and outputs moved once, its flops the kernels' estimates.
fn model_workload(args: &BenchArgs) -> Result<Workload> {
    let g = if args.train { train_step(&args.suite, &args.config)? } else { load_model(&args.suite, &args.config)? };
    let sizes = symbol_sizes(&g, &args.dims, &Default::default())?;
    let graph = irc_ir::specialize(&g, &sizes).map_err(|e| CliError::Usage(format!("--dim: {e}")))?;
    let static_bytes = |t: &irc_ir::TensorType| {
        t.shape.as_static().map_or(0, |s| s.iter().product::<usize>() * t.dtype.size_bytes()) as u64
    };
    let io: u64 = graph.inputs().chain(graph.params()).map(|(_, _, t)| static_bytes(t)).sum::<u64>()
        + graph.outputs().iter().map(|o| static_bytes(graph.ty(o.node))).sum::<u64>();
    let program = irc_codegen::lower(&graph).map_err(|e| CliError::Run(e.to_string()))?;
    let flops = program.kernels.iter().filter_map(|k| k.info.flops.as_ref()?.eval_size(&[])).sum::<i64>();
    let name = if args.train { format!("{} train step", args.suite) } else { args.suite.clone() };
    Ok(Workload { name, graph, min_bytes: io.max(1), flops: flops.max(0) as u64 })
}

pub fn bench(args: &BenchArgs) -> Result<()> {
    let workloads = match suite(&args.suite) {
        Some(w) => w.map_err(|e| CliError::Run(e.to_string()))?,
        None if args.suite.starts_with("zoo:") || args.suite.contains('.') => vec![model_workload(args)?],
        None => {
            let names: Vec<&str> = SUITES.iter().map(|(n, _)| *n).collect();
            return Err(CliError::Usage(format!(
                "unknown suite `{}` (suites: {}; or a model file, or zoo:NAME)",
                args.suite,
                names.join(", ")
            )));
        }
    };
    // The roofline of the memory the kernels use: the device's for cuda, the host's otherwise.
    let (bw, on) = match args.backend {
        BackendKind::Cuda => {
            let gpu = CudaBackend::shared().map_err(|e| CliError::Run(e.to_string()))?;
            (gpu.copy_bandwidth().map_err(|e| CliError::Run(e.to_string()))?, gpu.device_name())
        }
        _ => (copy_bandwidth(), format!("{} threads", std::thread::available_parallelism().map_or(1, |n| n.get()))),
    };
    println!(
        "suite {} on {} ({on}); copy roofline {:.1} GB/s; {} of {} runs",
        args.suite,
        args.backend,
        bw / 1e9,
        if args.min { "fastest" } else { "median" },
        args.runs
    );
    let wide = workloads.iter().map(|w| w.name.len()).max().unwrap_or(0).max(8);
    println!(
        "{:<wide$} {:>7} {:>9} {:>10} {:>10} {:>10} {:>8} {:>8} {:>9}",
        "workload", "kernels", "temps MB", "compile ms", "time ms", "floor ms", "% floor", "GB/s", "GFLOP/s"
    );
    for w in &workloads {
        let Row { compiled, compile_s: compile, time_s: t, launches } = measure(w, args)?;
        let floor = w.min_bytes as f64 / bw;
        let show = |f: &dyn Fn((usize, usize)) -> String| compiled.map_or("-".to_string(), f);
        println!(
            "{:<wide$} {:>7} {:>9} {:>10.1} {:>10.3} {:>10.3} {:>7.0}% {:>8.1} {:>9.1}",
            &w.name,
            show(&|(k, _)| k.to_string()),
            show(&|(_, b)| format!("{:.2}", b as f64 / 1e6)),
            compile * 1e3,
            t * 1e3,
            floor * 1e3,
            100.0 * floor / t,
            w.min_bytes as f64 / t / 1e9,
            w.flops as f64 / t / 1e9,
        );
        print_launches(&launches);
    }
    Ok(())
}

/// The `--profile` lines of one workload, indented under it.
fn print_launches(launches: &[Launch]) {
    let total: f64 = launches.iter().map(|l| l.seconds).sum();
    let rate = |n: Option<i64>, t: f64| n.map_or("-".to_string(), |n| format!("{:.1}", n as f64 / t / 1e9));
    for l in launches {
        println!(
            "    {:<44} {:>9.3} ms {:>5.1}% {:>8} GB/s {:>8} GFLOP/s",
            l.name,
            l.seconds * 1e3,
            100.0 * l.seconds / total.max(f64::MIN_POSITIVE),
            rate(l.bytes, l.seconds),
            rate(l.flops, l.seconds)
        );
    }
}
