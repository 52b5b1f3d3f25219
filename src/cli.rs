//! Command-line syntax.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    Compile {
        #[command(flatten)]
        model: ModelArgs,
        /// What to emit.
        #[arg(long, value_enum, default_value_t = Emit::Ir)]
        emit: Emit,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Run a model on inputs (random ones where none are given) and print each output's shape and checksum.
    Run(RunArgs),
    /// The model zoo.
    #[command(subcommand)]
    Zoo(ZooCommand),
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
    /// Where to execute.
    #[arg(long, value_enum, default_value_t = Backend::Reference)]
    pub backend: Backend,
    /// Save outputs: a `.npy` file (one output) or a `.safetensors` file (all outputs by name).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
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
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The reference interpreter: simple, exact, slow.
    Reference,
}
