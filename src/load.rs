//! Loading a model named on the command line: `zoo:NAME`, a `.irc` text file or a `.json` graph.

use irc_ir::Graph;

use crate::error::{CliError, Result, split_kv};

pub fn read_file(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| CliError::Io { path: path.to_string(), source })
}

/// Parses `key=value` zoo settings.
pub fn parse_config(config: &[String]) -> Result<Vec<(String, String)>> {
    config.iter().map(|kv| split_kv(kv, "a zoo setting").map(|(k, v)| (k.to_string(), v.to_string()))).collect()
}

/// Loads and verifies the model named by `file`.
pub fn load_model(file: &str, config: &[String]) -> Result<Graph> {
    if let Some(name) = file.strip_prefix("zoo:") {
        return irc_frontends::zoo::build(name, &parse_config(config)?).map_err(|e| CliError::Zoo(e.to_string()));
    }
    if !config.is_empty() {
        return Err(CliError::Usage("--config applies to zoo models only (zoo:NAME)".into()));
    }
    let text = read_file(file)?;
    let graph = if file.ends_with(".json") {
        Graph::from_json(&text).map_err(|msg| CliError::Parse { path: file.to_string(), msg: format!(" {msg}") })?
    } else {
        irc_ir::parse(&text).map_err(|e| CliError::Parse { path: file.to_string(), msg: e.to_string() })?
    };
    graph.verify()?;
    Ok(graph)
}

/// The training step graph of a model (`--train` of `bench` and `compile`): its scalar output `loss`
/// minimized by AdamW with the gradient norm clipped to 1 (`irc train`'s defaults); zoo models get
/// `loss=true` unless the config sets it. The step's inputs are the model's, the learning rate and the
/// step number.
pub fn train_step(file: &str, config: &[String]) -> Result<Graph> {
    let mut config = config.to_vec();
    if let Some(name) = file.strip_prefix("zoo:")
        && irc_frontends::zoo::model_info(name).is_some_and(|m| m.all_keys().any(|k| k.name == "loss"))
        && !parse_config(&config)?.iter().any(|(k, _)| k == "loss")
    {
        config.push("loss=true".into());
    }
    let g = load_model(file, &config)?;
    if !g.outputs().iter().any(|o| o.name == "loss" && g.ty(o.node).shape.numel() == Some(1)) {
        return Err(CliError::Usage(format!("--train: `{file}` has no scalar output `loss`")));
    }
    let step = irc_passes::build_train_step(&g, "loss", irc_passes::Optimizer::adamw(), Some(1.0))
        .map_err(|e| CliError::Run(e.to_string()))?;
    Ok(step.graph)
}
