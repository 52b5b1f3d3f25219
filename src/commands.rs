//! What each subcommand does.

use std::collections::HashMap;
use std::path::Path;

use irc_ir::{Dim, Graph};
use irc_runtime::Tensor;

use crate::cli::{Cli, Command, RunArgs, ZooCommand};
use crate::error::{CliError, Result, split_kv};
use crate::load::{load_model, parse_config};

pub fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Check(m) => check(&load_model(&m.file, &m.config)?),
        Command::Compile(args) => crate::compile::compile(&args),
        Command::Run(args) => run(&args),
        Command::Train(args) => crate::train::train(&args),
        Command::Search(args) => crate::search::search(&args),
        Command::Bench(args) => crate::bench::bench(&args),
        Command::Selftest(args) => crate::selftest::selftest(&args),
        Command::Zoo(ZooCommand::List) => {
            for m in irc_frontends::zoo::zoo_models() {
                let keys: Vec<String> = m.all_keys().map(|k| format!("{}={}", k.name, k.default)).collect();
                println!("{:<12} {}", m.name, m.description);
                println!("{:<12} --config {}", "", keys.join(" "));
            }
            Ok(())
        }
        Command::Zoo(ZooCommand::Export { name, config, output }) => {
            let g =
                irc_frontends::zoo::build(&name, &parse_config(&config)?).map_err(|e| CliError::Zoo(e.to_string()))?;
            write_text(output.as_deref(), &irc_ir::print(&g))
        }
    }
}

pub fn write_text(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(p) => std::fs::write(p, text).map_err(|source| CliError::Io { path: p.display().to_string(), source }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn check(g: &Graph) -> Result<()> {
    let numel = |t: &irc_ir::TensorType| t.shape.numel().unwrap_or(0);
    let param_elems: usize = g.params().map(|(_, _, t)| numel(t)).sum();
    println!("ok: graph `{}`: {} nodes, {} params ({param_elems} values)", g.name, g.len(), g.params().count());
    for (_, name, ty) in g.inputs() {
        println!("  input  {name}: {ty}");
    }
    for o in g.outputs() {
        println!("  output {}: {}", o.name, g.ty(o.node));
    }
    Ok(())
}

/// Sizes for symbolic dims: those given with `--dim`, then those the given input files imply, then 8 for
/// any other symbol an input uses. (The interpreter checks that all of them agree.)
pub fn symbol_sizes(g: &Graph, dims: &[String], given: &HashMap<String, Tensor>) -> Result<HashMap<String, usize>> {
    let mut sizes = HashMap::new();
    for d in dims {
        let (k, v) = split_kv(d, "a dimension")?;
        let n = v.parse().map_err(|_| CliError::Usage(format!("--dim {k}: `{v}` is not a size")))?;
        sizes.insert(k.to_string(), n);
    }
    for (_, name, ty) in g.inputs() {
        let Some(t) = given.get(name).filter(|t| t.rank() == ty.rank()) else { continue };
        for (d, &n) in ty.shape.dims().iter().zip(&t.shape) {
            if let Dim::Sym { name, offset } = d
                && let Ok(v) = usize::try_from(n as i64 - offset)
            {
                sizes.entry(name.clone()).or_insert(v);
            }
        }
    }
    for (_, _, ty) in g.inputs() {
        for s in ty.shape.symbols() {
            sizes.entry(s.to_string()).or_insert(8);
        }
    }
    Ok(sizes)
}

fn run(args: &RunArgs) -> Result<()> {
    let g = load_model(&args.model.file, &args.model.config)?;
    let mut given = HashMap::new();
    for spec in &args.inputs {
        let (name, path) = split_kv(spec, "an input")?;
        let t = irc_runtime::read_npy(Path::new(path)).map_err(|e| CliError::Run(e.to_string()))?;
        given.insert(name.to_string(), t);
    }
    let sizes = symbol_sizes(&g, &args.dims, &given)?;
    let mut inputs = irc_runtime::random_inputs(&g, &sizes, args.seed).map_err(|e| CliError::Usage(e.to_string()))?;
    for (_, name, _) in g.inputs() {
        if let Some(t) = given.remove(name) {
            inputs.insert(name.to_string(), t);
        }
    }
    if let Some(extra) = given.keys().next() {
        let names: Vec<_> = g.inputs().map(|(_, n, _)| n).collect();
        return Err(CliError::Usage(format!("model has no input `{extra}` (inputs: {})", names.join(", "))));
    }
    let params = match &args.params {
        Some(p) => irc_runtime::load_safetensors(p).map_err(|e| CliError::Run(e.to_string()))?,
        None => irc_runtime::init_params(&g, args.seed).map_err(|e| CliError::Run(e.to_string()))?,
    };
    // Bad values are reported against the graph as declared (`f32[B, 16]`), then it is compiled for
    // the sizes it runs at: static dims let size-dependent rewrites apply.
    irc_runtime::check_values(&g, &inputs, &params).map_err(|e| CliError::Run(e.to_string()))?;
    let g = irc_ir::specialize(&g, &sizes).map_err(|e| CliError::Usage(format!("--dim: {e}")))?;
    let (exe_graph, _) = crate::opt::maybe_optimize(&g, !args.no_opt, &sizes)?;
    let engine = irc_runtime::Engine::new(&exe_graph, args.backend).map_err(|e| CliError::Run(e.to_string()))?;
    let outputs = engine.run(&inputs, &params).map_err(|e| CliError::Run(e.to_string()))?;
    for (o, t) in g.outputs().iter().zip(&outputs) {
        let sum = t.data.iter().fold(0.0, |a, v| a + v);
        let abs = t.data.iter().fold(0.0, |a, v| a + v.abs());
        println!("{}: {}{:?}  sum={sum:.6e}  sum|x|={abs:.6e}", o.name, t.dtype, t.shape);
    }
    if let Some(path) = &args.output {
        save_outputs(&g, outputs, path)?;
    }
    Ok(())
}

fn save_outputs(g: &Graph, outputs: Vec<Tensor>, path: &Path) -> Result<()> {
    let to_err = |e: irc_runtime::FormatError| CliError::Run(e.to_string());
    if path.extension().is_some_and(|e| e == "safetensors") {
        let named: HashMap<String, Tensor> = g.outputs().iter().map(|o| o.name.clone()).zip(outputs).collect();
        irc_runtime::save_safetensors(path, &named).map_err(to_err)
    } else if outputs.len() == 1 {
        irc_runtime::write_npy(path, &outputs[0]).map_err(to_err)
    } else {
        Err(CliError::Usage(format!(
            "the model has {} outputs: save them to a .safetensors file, not {}",
            outputs.len(),
            path.display()
        )))
    }
}
