//! `irc selftest`: the differential suite built into the binary, so that a machine without a Rust
//! toolchain (a GPU machine given a release binary) can check a backend. Every case runs on the chosen
//! backend and on the reference interpreter with the same fresh random inputs and params, and compares
//! them with the tolerances of [`crate::compare`]:
//!
//! - `ops/CASE/N`: every primitive op in every dtype the backend holds ([`crate::ops::OP_CASES`]), fused
//!   and unfused (`--quick`: fused only);
//! - `patterns/NAME/DTYPE`: the fusion patterns in f32, f16, bf16 (and f64 where the backend holds it);
//! - `zoo/MODEL`: every zoo model's forward pass at small settings (and `zoo-default/MODEL` at its default
//!   settings, unless `--quick`);
//! - `random/KIND/SEED`: seeded random graphs in f32, and in f64 (exact) where the backend holds f64;
//! - `special/values`: signed zeros, f16 extremes and subnormals, infinities and NaN ([`crate::special`]);
//! - `train/gpt-tiny`: a few AdamW steps of a small GPT against the interpreter's (losses and params).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Instant;

use irc_frontends::zoo::zoo_models;
use irc_ir::{DType, Graph};
use irc_passes::Optimizer;
use irc_runtime::{
    BackendKind, CpuBackend, CudaBackend, EvalBackend, Executable, KernelBackend, RunError, Trainer, WgpuBackend,
};

use crate::compare::{compare_on, compare_with, random_graphs_from, sizes, to_f64, try_data, with_floats};
use crate::fixtures::small_zoo_config;
use crate::ops::{OP_CASES, Runner};
use crate::patterns::{fusion_patterns, optimized_patterns};
use crate::random::GenConfig;
use crate::training::{batch, tiny_gpt};

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub backend: BackendKind,
    /// A smaller suite (fused kernels only, fewer random graphs, one training step): for slow tools such
    /// as compute-sanitizer.
    pub quick: bool,
    /// Only cases whose name contains this.
    pub filter: Option<String>,
    /// Write the graph of each failing case here as `.irc` text.
    pub save_failures: Option<PathBuf>,
}

/// How a case ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

/// One case's result, reported as soon as it is known.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub outcome: Outcome,
    pub seconds: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// What a backend holds (as the op cases' [`Runner`] needs to know).
#[derive(Clone, Copy)]
struct Caps {
    f64: bool,
    wide_ints: bool,
}

/// The device or engine a backend runs on, for the report's first line.
pub fn describe(kind: BackendKind) -> Result<String, RunError> {
    Ok(match kind {
        BackendKind::Reference => "the kernel-IR evaluator".into(),
        BackendKind::Cpu => format!("{} threads", std::thread::available_parallelism().map_or(1, |n| n.get())),
        BackendKind::Wgpu => WgpuBackend::new()?.adapter_name(),
        BackendKind::Cuda => CudaBackend::shared()?.device_name(),
    })
}

/// Runs the suite on `opts.backend`, calling `report` after each case. Fails only when the backend cannot
/// start (no adapter, no driver); mismatches are counted in the summary.
pub fn run(opts: &Options, report: &mut dyn FnMut(&Case)) -> Result<Summary, RunError> {
    Ok(match opts.backend {
        // The interpreter is the oracle: its suite checks the lowering on the kernel-IR evaluator.
        BackendKind::Reference => run_on(&EvalBackend, Caps { f64: true, wide_ints: true }, opts, report),
        BackendKind::Cpu => run_on(&CpuBackend::default(), Caps { f64: true, wide_ints: true }, opts, report),
        // WGSL has no f64 and holds i64 as i32 (docs/WGPU.md).
        BackendKind::Wgpu => run_on(&WgpuBackend::new()?, Caps { f64: false, wide_ints: false }, opts, report),
        BackendKind::Cuda => run_on(&CudaBackend::shared()?, Caps { f64: true, wide_ints: true }, opts, report),
    })
}

/// The kernel cases on `backend`, then the training case on `opts.backend`.
fn run_on<B: KernelBackend + Clone>(backend: &B, caps: Caps, opts: &Options, report: &mut dyn FnMut(&Case)) -> Summary {
    let s = Suite { opts, report: RefCell::new(report), summary: Cell::default() };
    s.kernels(backend, caps);
    s.training(opts.backend);
    s.summary.get()
}

/// A case's graph, symbol sizes and data seed, written out when it fails.
type Replay<'g> = (&'g Graph, &'g HashMap<String, usize>, u64);

struct Suite<'a> {
    opts: &'a Options,
    report: RefCell<&'a mut dyn FnMut(&Case)>,
    summary: Cell<Summary>,
}

impl Suite<'_> {
    fn wanted(&self, name: &str) -> bool {
        self.opts.filter.as_deref().is_none_or(|f| name.contains(f))
    }

    fn finish(&self, name: &str, outcome: Outcome, seconds: f64) {
        let mut s = self.summary.get();
        match outcome {
            Outcome::Pass => s.passed += 1,
            Outcome::Fail(_) => s.failed += 1,
            Outcome::Skip(_) => s.skipped += 1,
        }
        self.summary.set(s);
        (self.report.borrow_mut())(&Case { name: name.into(), outcome, seconds });
    }

    /// Runs case `name` unless filtered out; a panic inside it is a failure, not the end of the suite.
    fn case(&self, name: &str, graph: Option<Replay>, f: impl FnOnce() -> Result<(), String>) {
        if !self.wanted(name) {
            return;
        }
        let start = Instant::now();
        let outcome = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(())) => Outcome::Pass,
            Ok(Err(e)) => Outcome::Fail(e),
            Err(p) => {
                let msg =
                    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
                Outcome::Fail(format!("panicked: {}", msg.unwrap_or_default()))
            }
        };
        if let (Outcome::Fail(why), Some(dir), Some((g, sizes, seed))) = (&outcome, &self.opts.save_failures, graph) {
            let path = dir.join(format!("{}.irc", name.replace('/', "_")));
            let mut dims: Vec<String> = sizes.iter().map(|(k, v)| format!("--dim {k}={v}")).collect();
            dims.sort();
            let first = why.lines().next().unwrap_or_default();
            let text = format!(
                "# irc selftest case {name} on {} (data seed {seed}): {first}\n# irc run FILE --backend {} {}\n{}",
                self.opts.backend,
                self.opts.backend,
                dims.join(" "),
                irc_ir::print(g)
            );
            if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, text)) {
                eprintln!("could not save {}: {e}", path.display());
            }
        }
        self.finish(name, outcome, start.elapsed().as_secs_f64());
    }

    fn skip(&self, name: &str, why: &str) {
        if self.wanted(name) {
            self.finish(name, Outcome::Skip(why.into()), 0.0);
        }
    }

    /// Case `name`: `g` on `backend` against the interpreter, fused and unfused (fused only with `--quick`).
    fn check<B: KernelBackend + Clone>(
        &self,
        name: &str,
        backend: &B,
        g: &Graph,
        sizes: &HashMap<String, usize>,
        seed: u64,
    ) {
        self.case(name, Some((g, sizes, seed)), || {
            if self.opts.quick {
                let (inputs, params) = try_data(g, sizes, seed)?;
                compare_on(backend.clone(), g, &inputs, &params, &backend.lower_options())
            } else {
                compare_with(backend.clone(), g, sizes, seed)
            }
        });
    }

    /// Every case that runs compiled kernels.
    fn kernels<B: KernelBackend + Clone>(&self, backend: &B, caps: Caps) {
        for (case, f) in OP_CASES {
            let n = Cell::new(0);
            let next = || {
                n.set(n.get() + 1);
                format!("ops/{case}/{}", n.get() - 1)
            };
            let check = |g: &Graph, sizes: &HashMap<String, usize>, seed: u64| {
                self.check(&next(), backend, g, sizes, seed);
            };
            // A graph with f64 on a backend without f64 must be refused with an error, not run.
            let reject = |g: &Graph| {
                self.case(&next(), Some((g, &HashMap::new(), 0)), || match Executable::compile(g, backend.clone()) {
                    Err(_) => Ok(()),
                    Ok(_) => Err("a graph with f64 compiled on a backend that holds no f64".into()),
                })
            };
            f(&Runner { check: &check, f64: caps.f64, wide_ints: caps.wide_ints, reject: &reject });
        }
        let mut dtypes = vec![DType::F32, DType::F16, DType::BF16];
        if caps.f64 {
            dtypes.push(DType::F64);
        }
        let bt = sizes(&[("B", 2), ("T", 5)]);
        for &dtype in &dtypes {
            for (name, g) in fusion_patterns(dtype) {
                self.check(&format!("patterns/{name}/{dtype}"), backend, &g, &bt, 11);
            }
        }
        for (name, g) in optimized_patterns() {
            self.check(&format!("optimized/{name}"), backend, &g, &HashMap::new(), 13);
        }
        for (k, m) in zoo_models().iter().enumerate() {
            let mut configs = vec![("zoo", small_zoo_config(m.name, "f32"))];
            if !self.opts.quick {
                configs.push(("zoo-default", Vec::new()));
            }
            for (group, config) in configs {
                let name = format!("{group}/{}", m.name);
                match irc_frontends::build(m.name, &config) {
                    Ok(g) => self.check(&name, backend, &g, &bt, k as u64),
                    Err(e) => self.case(&name, None, || Err(format!("building the model: {e}"))),
                }
            }
        }
        self.random_graphs(backend, caps);
        self.case("special/values", None, || crate::special::special_values(backend.clone()));
    }

    /// Seeded random graphs: in f32 (as every device backend computes), and widened to f64, where the
    /// kernels must match the interpreter to rounding.
    fn random_graphs<B: KernelBackend + Clone>(&self, backend: &B, caps: Caps) {
        let n = if self.opts.quick { 8 } else { 25 };
        let configs = [
            ("static", GenConfig::static_dims(16)),
            ("symbolic", GenConfig { max_nodes: 16, symbolic: true, zero_size: true }),
        ];
        for (kind, cfg) in &configs {
            for (g, sizes, seed) in random_graphs_from(cfg, 0..n) {
                self.check(&format!("random/{kind}-f32/{seed}"), backend, &with_floats(&g, DType::F32), &sizes, seed);
            }
            if caps.f64 {
                for (g, sizes, seed) in random_graphs_from(cfg, 1000..1000 + 2 * n) {
                    self.check(&format!("random/{kind}-f64/{seed}"), backend, &to_f64(&g), &sizes, seed);
                }
            } else {
                self.skip(&format!("random/{kind}-f64"), "the backend holds no f64");
            }
        }
    }

    /// A small GPT trained a few steps on the backend and by the interpreter from the same weights.
    fn training(&self, kind: BackendKind) {
        let steps = if self.opts.quick { 1 } else { 3 };
        let (lr, name) = (1e-2, "train/gpt-tiny");
        if kind == BackendKind::Reference {
            self.skip(name, "the interpreter is the reference");
            return;
        }
        self.case(name, None, || {
            let new = |k| {
                Trainer::on(k, tiny_gpt(), "loss", Optimizer::adamw(), Some(1.0), 5).map_err(|e| format!("{k}: {e}"))
            };
            let (mut reference, mut other) = (new(BackendKind::Reference)?, new(kind)?);
            for step in 1..=steps {
                let a = reference.step(batch(step), lr).map_err(|e| format!("reference step {step}: {e}"))?;
                let b = other.step(batch(step), lr).map_err(|e| format!("{kind} step {step}: {e}"))?;
                if (a - b).abs() > 1e-4 * a.abs() {
                    return Err(format!("step {step}: loss {a} (reference) vs {b} ({kind})"));
                }
            }
            // As in tests/tests/train.rs: Adam moves a param whose gradient is pure rounding noise (the key
            // bias, to which softmax is invariant) by up to lr per step.
            let params = |tr: &Trainer, name: &str| tr.params().map_err(|e| format!("{name} params: {e}"));
            let (pr, po) = (params(&reference, "reference")?, params(&other, kind.name())?);
            for (pname, t) in &pr {
                let bound = if pname.ends_with("attn.k.bias") { steps as f64 * lr } else { 1e-3 };
                for (i, (x, y)) in t.data.iter().zip(&po[pname].data).enumerate() {
                    if (x - y).abs() > bound || x.is_nan() != y.is_nan() {
                        return Err(format!("after {steps} steps, {pname}[{i}]: {x} (reference) vs {y} ({kind})"));
                    }
                }
            }
            Ok(())
        });
    }
}

#[cfg(test)]
#[path = "selftest_tests.rs"]
mod tests;
