//! The model zoo: named models with configurable sizes, built with the DSL and [`nn`](crate::nn).
//!
//! ```
//! let cfg = vec![("layers".to_string(), "1".to_string()), ("d".to_string(), "32".to_string())];
//! let g = irc_frontends::zoo::build("gpt-tiny", &cfg).unwrap();
//! assert_eq!(g.ty(g.outputs()[0].node).to_string(), "f32[B, T, 256]");
//! ```

mod config;
mod lm;
mod models;

use irc_ir::Graph;
use thiserror::Error;

use crate::dsl::DslError;
pub use config::ConfigKey;

/// Why a zoo model could not be built.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ZooError {
    #[error("unknown model `{name}`; known models: {known}")]
    UnknownModel { name: String, known: String },
    #[error("model `{model}` has no config key `{key}`; valid keys: {valid}")]
    UnknownKey { model: String, key: String, valid: String },
    #[error("model `{model}`: bad value `{value}` for `{key}`: {reason}")]
    BadValue { model: String, key: String, value: String, reason: String },
    #[error("model `{model}`: {source}")]
    Dsl { model: String, source: DslError },
}

/// A zoo entry: its name, a one-line description, and its configuration keys (besides the common
/// `dtype`).
#[derive(Clone, Copy, Debug)]
pub struct ModelInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub keys: &'static [ConfigKey],
    build: models::BuildFn,
}

impl ModelInfo {
    /// All configuration keys, the common ones included.
    pub fn all_keys(&self) -> impl Iterator<Item = &'static ConfigKey> {
        self.keys.iter().chain(&config::COMMON_KEYS)
    }
}

/// Every zoo model.
pub fn zoo_models() -> &'static [ModelInfo] {
    &models::ZOO
}

/// `(name, one-line description)` of every zoo model.
pub fn zoo_names() -> Vec<(&'static str, &'static str)> {
    models::ZOO.iter().map(|m| (m.name, m.description)).collect()
}

/// The zoo entry called `name`.
pub fn model_info(name: &str) -> Option<&'static ModelInfo> {
    models::ZOO.iter().find(|m| m.name == name)
}

/// Builds zoo model `name` with `config` (`key`, `value`) pairs; missing keys take their defaults.
/// The graph is verified.
pub fn build(name: &str, config: &[(String, String)]) -> Result<Graph, ZooError> {
    let Some(info) = model_info(name) else {
        let known = models::ZOO.iter().map(|m| m.name).collect::<Vec<_>>().join(", ");
        return Err(ZooError::UnknownModel { name: name.to_string(), known });
    };
    let cfg = config::Config::new(info.name, info.keys, config)?;
    (info.build)(&cfg)
}
