//! Command-line syntax.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use irc_runtime::BackendKind;

#[derive(Parser, Debug)]
#[command(name = "irc", version, about = "irc: a tensor compiler", propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse and verify a model; print a summary of its inputs, params and outputs.
    Check(ModelArgs),
    /// Compile a model and emit it in a chosen form.
    Compile(CompileArgs),
    /// Run a model on inputs (random ones where none are given) and print each output's shape and checksum.
    Run(RunArgs),
    /// Time a benchmark suite on a backend, next to the memory roofline.
    Bench(BenchArgs),
    /// Train a language model on a byte-level corpus (the bundled one by default).
    Train(TrainArgs),
    /// Search per-layer architecture variants of a zoo language model: train each candidate briefly,
    /// keep the Pareto front of validation loss and step time.
    Search(SearchArgs),
    /// The model zoo.
    #[command(subcommand)]
    Zoo(ZooCommand),
    /// Check a backend against the reference interpreter: every primitive op, the fusion patterns, every
    /// zoo model, seeded random graphs and a few training steps, on fresh random inputs. Prints a line per
    /// case and a summary; exits non-zero on any mismatch (docs/CUDA.md).
    Selftest(SelftestArgs),
}

#[derive(Args, Debug)]
pub struct SelftestArgs {
    /// The backend to check: `cpu`, `wgpu`, `cuda`, or `reference` (the lowering on the kernel-IR evaluator).
    #[arg(long, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
    /// A smaller suite: fused kernels only, fewer random graphs, one training step (for slow tools such as
    /// compute-sanitizer).
    #[arg(long)]
    pub quick: bool,
    /// Only the cases whose name contains this (e.g. `ops/matmul`, `zoo/`, `train`).
    #[arg(long)]
    pub filter: Option<String>,
    /// Write the graph of each failing case to this folder as `.irc` text (to replay with `irc run`).
    #[arg(long, value_name = "DIR")]
    pub save_failures: Option<PathBuf>,
    /// Print only failures and the summary.
    #[arg(long)]
    pub failures_only: bool,
}

/// `irc train`: the model must take i32 `tokens` and `targets` of shape [B, T] and output a scalar `loss`
/// (zoo models that have a `loss` setting get `loss=true` automatically).
#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Optimizer steps.
    #[arg(long, default_value_t = 300)]
    pub steps: u64,
    /// Sequences per batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Tokens (bytes) per sequence.
    #[arg(long, default_value_t = 64)]
    pub seq: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Linear warmup steps (default: a tenth of the steps, at most 100).
    #[arg(long)]
    pub warmup: Option<u64>,
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adamw)]
    pub optimizer: OptimizerKind,
    /// Decoupled weight decay (AdamW) or L2 coefficient (SGD), applied to matrices only.
    #[arg(long, default_value_t = 0.1)]
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value (0 turns clipping off).
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    /// Seed for the initial weights and the batches.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A text file to train on instead of the bundled corpus (its last 10% is the validation split).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Measure validation loss every this many steps (default: a tenth of the steps).
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Batches in each validation measurement.
    #[arg(long, default_value_t = 4)]
    pub eval_batches: usize,
    /// Where to execute: `cpu` (compiled kernels), `wgpu` (WGSL kernels on a WebGPU adapter), `cuda` (PTX
    /// kernels on an NVIDIA GPU) or `reference` (the interpreter).
    #[arg(long, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
    /// Save params and optimizer state here at the end.
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Continue from a checkpoint written by --save (same model and optimizer settings).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Folder for the loss log (loss.csv) and chart (loss.svg).
    #[arg(long, default_value = "irc-train")]
    pub out: PathBuf,
}

/// `irc search`: the model must be a zoo language model with per-layer `attn`, `ssmax`, `act` and `mlp`
/// settings (`lm`, `primer`, `monarch-lm`, `linear-lm`, `gla-lm`); its settings are the starting point.
#[derive(Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Candidates to train and measure, the starting model included.
    #[arg(long, default_value_t = 12)]
    pub budget: usize,
    /// Candidates kept alive by the evolution.
    #[arg(long, default_value_t = 4)]
    pub population: usize,
    /// Candidates sampled to pick each parent (the one with the lowest validation loss wins).
    #[arg(long, default_value_t = 2)]
    pub tournament: usize,
    /// Training steps per candidate.
    #[arg(long, default_value_t = 60)]
    pub steps: u64,
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    #[arg(long, default_value_t = 32)]
    pub seq: usize,
    /// Peak learning rate (AdamW, warmup over a tenth of the steps, cosine decay).
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Batches in the validation measurement.
    #[arg(long, default_value_t = 4)]
    pub eval_batches: usize,
    /// Seed of the search, the weights and the batches.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to train: `cpu`, `wgpu`, `cuda` or `reference`.
    #[arg(long, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
    /// Folder for results.csv, front.svg and each candidate's training graph (candidates/N.irc).
    #[arg(long, default_value = "irc-search")]
    pub out: PathBuf,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerKind {
    Adamw,
    Sgd,
}

/// Where a model comes from.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// A `.irc` text file, a `.json` graph, or `zoo:NAME`.
    pub file: String,
    /// Zoo model settings, `key=value` (only with `zoo:NAME`).
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
    pub config: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// What to emit: the graph as given (ir, json, dot), the optimized graph (optimized) or the fused
    /// kernels of the optimized graph (kernels). Default: ir, unless
    /// --explain or --dump-kernels is given.
    #[arg(long, value_enum)]
    pub emit: Option<Emit>,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The target whose code `--dump-kernels` writes.
    #[arg(long, value_enum, default_value_t = Target::Cpu)]
    pub target: Target,
    /// Write each kernel's IR, its target code and a manifest.json into this folder.
    #[arg(long, value_name = "DIR")]
    pub dump_kernels: Option<PathBuf>,
    /// Print each kernel's source nodes, bytes and flops, the memory plan, and the optimizer's
    /// report (rules fired, e-graph size, time, estimated cost before and after).
    #[arg(long)]
    pub explain: bool,
    /// Size of a symbolic dimension for --explain, `SYM=N` (unset ones default to 8).
    #[arg(long = "dim", short = 'd', value_name = "SYM=N")]
    pub dims: Vec<String>,
    /// Compile for the sizes given with --dim: those symbols become static dims, so rewrites that
    /// need a static size (causal linear attention in chunks) can apply.
    #[arg(long)]
    pub specialize: bool,
    /// Lower without fusion (one kernel per op), for comparison.
    #[arg(long)]
    pub no_fuse: bool,
    /// Do not run the e-graph optimizer before lowering.
    #[arg(long)]
    pub no_opt: bool,
    /// Compile the model's training step instead (forward, backward and AdamW with clipping, as
    /// `irc train` and `irc bench --train` run it); zoo models get `loss=true`.
    #[arg(long)]
    pub train: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Native code through Cranelift.
    Cpu,
    /// PTX for NVIDIA GPUs (sm_90), from the GPU schedule (docs/PTX.md).
    Ptx,
    /// WGSL compute shaders (validated with naga), for the wgpu backend.
    Wgsl,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// An input as `name=path.npy`; repeat for each input.
    #[arg(long = "input", short = 'i', value_name = "NAME=PATH")]
    pub inputs: Vec<String>,
    /// Parameters from a safetensors file (random ones from --seed otherwise).
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// Size of a symbolic dimension for random inputs, `SYM=N` (unset ones default to 8).
    #[arg(long = "dim", short = 'd', value_name = "SYM=N")]
    pub dims: Vec<String>,
    /// Seed for random inputs and parameters.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to execute: `cpu` (compiled kernels), `wgpu` (WGSL kernels on a WebGPU adapter), `cuda` (PTX
    /// kernels on an NVIDIA GPU) or `reference` (the interpreter).
    #[arg(long, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
    /// Save outputs: a `.npy` file (one output) or a `.safetensors` file (all outputs by name).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Do not run the e-graph optimizer first.
    #[arg(long)]
    pub no_opt: bool,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The suite (`cpu`, `cpu-small`, `blocks`, `blocks-small`), or a model: an `.irc`/`.json`/`.onnx`
    /// file or `zoo:NAME`, timed at the `--dim` sizes.
    #[arg(default_value = "cpu")]
    pub suite: String,
    /// Zoo model settings, `key=value` (with `zoo:NAME`).
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Size of a symbolic dimension of a model, `SYM=N` (unset ones are 8).
    #[arg(long = "dim", short = 'd', value_name = "SYM=N")]
    pub dims: Vec<String>,
    /// Where to run: `cpu`, `wgpu`, `cuda` or `reference`.
    #[arg(long, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
    /// Timed runs per workload (after two warm-up runs).
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Do not run the e-graph optimizer on the workloads.
    #[arg(long)]
    pub no_opt: bool,
    /// After each workload, time every kernel launch on its own (the backend synchronized after
    /// each): name, milliseconds, share of the workload, GB/s and GFLOP/s from the kernel's estimates.
    #[arg(long)]
    pub profile: bool,
    /// Time a whole training step of the model (forward, backward and AdamW with clipping, as `irc train`
    /// runs it) instead of its forward pass; zoo models get `loss=true`.
    #[arg(long)]
    pub train: bool,
    /// Report each workload's fastest run instead of the median: for comparing two builds on a
    /// shared machine, where other load only ever adds time (best with `taskset -c N` for one thread).
    #[arg(long)]
    pub min: bool,
}

#[derive(Subcommand, Debug)]
pub enum ZooCommand {
    /// List the zoo's models with their settings.
    List,
    /// Print a zoo model as `.irc` text.
    Export {
        name: String,
        #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
        config: Vec<String>,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// `.irc` text.
    Ir,
    /// JSON, for tools.
    Json,
    /// Graphviz DOT.
    Dot,
    /// The fused kernels, as kernel IR.
    Kernels,
    /// The graph after the e-graph optimizer, as `.irc` text.
    Optimized,
}
