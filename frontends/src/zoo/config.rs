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
