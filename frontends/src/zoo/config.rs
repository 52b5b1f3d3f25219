//! Model configuration: `key=value` pairs checked against a model's declared keys and defaults.

use std::collections::HashMap;
use std::str::FromStr;

use irc_ir::DType;

use super::ZooError;
use crate::nn::Activation;

/// One configuration key of a zoo model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigKey {
    pub name: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

pub(crate) const fn key(name: &'static str, default: &'static str, help: &'static str) -> ConfigKey {
    ConfigKey { name, default, help }
}

/// The keys every model takes besides its own.
pub(crate) const COMMON_KEYS: [ConfigKey; 1] =
    [ConfigKey { name: "dtype", default: "f32", help: "floating-point type of activations and params" }];

/// A model's configuration after checking the given keys: lookups fall back to defaults.
pub(crate) struct Config<'a> {
    model: &'static str,
    keys: Vec<ConfigKey>,
    given: HashMap<&'a str, &'a str>,
}

impl<'a> Config<'a> {
    pub(crate) fn new(
        model: &'static str,
        keys: &[ConfigKey],
        pairs: &'a [(String, String)],
    ) -> Result<Self, ZooError> {
        let keys: Vec<ConfigKey> = keys.iter().chain(&COMMON_KEYS).copied().collect();
        let mut given = HashMap::new();
        for (k, v) in pairs {
            if !keys.iter().any(|c| c.name == k) {
                let valid = keys.iter().map(|c| format!("{} (default {})", c.name, c.default)).collect::<Vec<_>>();
                return Err(ZooError::UnknownKey { model: model.to_string(), key: k.clone(), valid: valid.join(", ") });
            }
            if given.insert(k.as_str(), v.as_str()).is_some() {
                return Err(bad(model, k, v, "the key is given twice"));
            }
        }
        Ok(Config { model, keys, given })
    }

    /// The given or default text of `key`.
    fn raw(&self, key: &str) -> &str {
        let default = self.keys.iter().find(|c| c.name == key).map_or("", |c| c.default);
        self.given.get(key).copied().unwrap_or(default)
    }

    fn parse<T: FromStr>(&self, key: &str, expected: &str) -> Result<T, ZooError> {
        let text = self.raw(key);
        text.trim().parse().map_err(|_| bad(self.model, key, text, &format!("expected {expected}")))
    }

    /// A size: a positive integer.
    pub(crate) fn size(&self, key: &str) -> Result<usize, ZooError> {
        match self.parse::<usize>(key, "a positive integer")? {
            0 => Err(self.invalid(key, "expected a positive integer")),
            n => Ok(n),
        }
    }

    pub(crate) fn flag(&self, key: &str) -> Result<bool, ZooError> {
        self.parse(key, "true or false")
    }

    pub(crate) fn act(&self, key: &str) -> Result<Activation, ZooError> {
        let text = self.raw(key);
        text.trim().parse().map_err(|e: String| bad(self.model, key, text, &e))
    }

    /// One value per layer: a single value for every layer, or `layers` comma-separated values
    /// (`attn=softmax,gla`), each parsed with `T`'s `FromStr`.
    pub(crate) fn per_layer<T: FromStr<Err = String> + Clone>(
        &self,
        key: &str,
        layers: usize,
    ) -> Result<Vec<T>, ZooError> {
        let text = self.raw(key);
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        if parts.len() != 1 && parts.len() != layers {
            let reason =
                format!("expected one value or {layers} comma-separated values (one per layer), got {}", parts.len());
            return Err(bad(self.model, key, text, &reason));
        }
        let values = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.parse::<T>().map_err(|e| {
                    let reason = if parts.len() == 1 { e } else { format!("layer {i}: {e}") };
                    bad(self.model, key, text, &reason)
                })
            })
            .collect::<Result<Vec<T>, ZooError>>()?;
        Ok(if values.len() == 1 { vec![values[0].clone(); layers] } else { values })
    }

    /// Whether the model declares `key`.
    pub(crate) fn has_key(&self, key: &str) -> bool {
        self.keys.iter().any(|c| c.name == key)
    }

    /// The model's name.
    pub(crate) fn model(&self) -> &'static str {
        self.model
    }

    pub(crate) fn float_dtype(&self) -> Result<DType, ZooError> {
        let (key, text) = ("dtype", self.raw("dtype"));
        match text.trim().parse::<DType>() {
            Ok(d) if d.is_float() => Ok(d),
            Ok(_) => Err(bad(self.model, key, text, "expected a floating-point dtype (f32, f16, bf16, f64)")),
            Err(e) => Err(bad(self.model, key, text, &e)),
        }
    }

    /// A `BadValue` error for `key`'s current value.
    pub(crate) fn invalid(&self, key: &str, reason: &str) -> ZooError {
        let text = self.raw(key);
        bad(self.model, key, text, reason)
    }
}

fn bad(model: &str, key: &str, value: &str, reason: &str) -> ZooError {
    ZooError::BadValue {
        model: model.to_string(),
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}
