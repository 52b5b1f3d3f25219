use thiserror::Error;

/// Everything the CLI reports; each prints as one line after `error: `.
#[derive(Debug, Error)]
pub enum CliError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{msg}")]
    Parse { path: String, msg: String },
    #[error("{0}")]
    Ir(#[from] irc_ir::IrError),
    #[error("{0}")]
    Zoo(String),
    #[error("{0}")]
    Run(String),
    #[error("{0}")]
    Usage(String),
    #[error("optimizer: {0}")]
    Opt(#[from] irc_passes::opt::OptError),
}

pub type Result<T> = std::result::Result<T, CliError>;

/// Parses a `key=value` argument.
pub fn split_kv<'a>(arg: &'a str, what: &str) -> Result<(&'a str, &'a str)> {
    arg.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| CliError::Usage(format!("expected {what} as KEY=VALUE, got `{arg}`")))
}
