//! Shapes with static and named symbolic dimensions, and tensor types.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

use crate::DType;

/// One dimension: a fixed size, or a named size bound when the graph runs (e.g. a sequence length `T`),
/// plus a constant offset so padding and slicing along a symbolic axis stay typed (`T+2`, `T-1`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Static(usize),
    Sym { name: String, offset: i64 },
}

impl Dim {
    pub fn sym(name: impl Into<String>) -> Dim {
        Dim::Sym { name: name.into(), offset: 0 }
    }

    pub fn as_static(&self) -> Option<usize> {
        match self {
            Dim::Static(n) => Some(*n),
            Dim::Sym { .. } => None,
        }
    }

    pub fn is_one(&self) -> bool {
        *self == Dim::Static(1)
    }

    /// This dim plus `k`; `None` if a static size would go negative.
    pub fn offset_by(&self, k: i64) -> Option<Dim> {
        match self {
            Dim::Static(n) => i64::try_from(*n)
                .ok()
                .and_then(|n| n.checked_add(k))
                .and_then(|v| usize::try_from(v).ok())
                .map(Dim::Static),
            Dim::Sym { name, offset } => offset.checked_add(k).map(|offset| Dim::Sym { name: name.clone(), offset }),
        }
    }

    /// The sum of two dims, if expressible (at most one is symbolic).
    pub fn plus(&self, other: &Dim) -> Option<Dim> {
        match (self, other) {
            (Dim::Static(a), b) | (b, Dim::Static(a)) => i64::try_from(*a).ok().and_then(|a| b.offset_by(a)),
            _ => None,
        }
    }

    /// `self - other`, if it does not depend on a binding (e.g. `(T+2) - 2 = T`, `T - T = 0`).
    pub fn minus(&self, other: &Dim) -> Option<Dim> {
        match (self, other) {
            (a, Dim::Static(b)) => i64::try_from(*b).ok().and_then(|b| a.offset_by(-b)),
            (Dim::Sym { name: a, offset: x }, Dim::Sym { name: b, offset: y }) if a == b => {
                x.checked_sub(*y).and_then(|d| usize::try_from(d).ok()).map(Dim::Static)
            }
            _ => None,
        }
    }

    /// The concrete size under `bindings`, or `None` if a symbol is unbound or the size is negative.
    pub fn bind(&self, bindings: &HashMap<String, usize>) -> Option<usize> {
        match self {
            Dim::Static(n) => Some(*n),
            Dim::Sym { name, offset } => bindings
                .get(name)
                .and_then(|&v| i64::try_from(v).ok()?.checked_add(*offset))
                .and_then(|v| usize::try_from(v).ok()),
        }
    }
}

impl From<usize> for Dim {
    fn from(n: usize) -> Dim {
        Dim::Static(n)
    }
}

impl From<&str> for Dim {
    /// A symbol name such as `"T"`; use [`Dim::from_str`](std::str::FromStr) for `"T+2"` or `"12"`.
    fn from(s: &str) -> Dim {
        Dim::sym(s)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Static(n) => write!(f, "{n}"),
            Dim::Sym { name, offset: 0 } => f.write_str(name),
            Dim::Sym { name, offset } if *offset > 0 => write!(f, "{name}+{offset}"),
            Dim::Sym { name, offset } => write!(f, "{name}{offset}"),
        }
    }
}

/// Whether `s` is a valid symbol name: a letter or `_`, then letters, digits or `_`.
pub fn is_symbol_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl std::str::FromStr for Dim {
    type Err = String;
    /// Parses `12`, `T`, `T+2` or `T-1`.
    fn from_str(s: &str) -> Result<Dim, String> {
        let s = s.trim();
        if let Ok(n) = s.parse::<usize>() {
            return Ok(Dim::Static(n));
        }
        let (name, offset) = match s.find(['+', '-']) {
            Some(i) => {
                let k: i64 = s[i + 1..].trim().parse().map_err(|_| format!("bad dimension `{s}`"))?;
                (s[..i].trim(), if &s[i..i + 1] == "-" { -k } else { k })
            }
            None => (s, 0),
        };
        if !is_symbol_name(name) {
            return Err(format!("bad dimension `{s}` (expected a size, a symbol like `T`, or `T+2`)"));
        }
        Ok(Dim::Sym { name: name.to_string(), offset })
    }
}

impl Serialize for Dim {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Dim::Static(n) => s.serialize_u64(*n as u64),
            Dim::Sym { .. } => s.serialize_str(&self.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Dim {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Dim, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Size(usize),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Size(n) => Ok(Dim::Static(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A list of dimensions, outermost first. The empty shape is a 0-d (scalar) tensor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    pub fn scalar() -> Shape {
        Shape(Vec::new())
    }

    pub fn of(dims: &[usize]) -> Shape {
        Shape(dims.iter().map(|&d| Dim::Static(d)).collect())
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn dims(&self) -> &[Dim] {
        &self.0
    }

    /// All dimensions as sizes, if none is symbolic.
    pub fn as_static(&self) -> Option<Vec<usize>> {
        self.0.iter().map(Dim::as_static).collect()
    }

    pub fn is_static(&self) -> bool {
        self.0.iter().all(|d| d.as_static().is_some())
    }

    /// Concrete sizes under `bindings`; `Err` names the first dimension that cannot be bound.
    pub fn bind(&self, bindings: &HashMap<String, usize>) -> Result<Vec<usize>, String> {
        self.0
            .iter()
            .map(|d| d.bind(bindings).ok_or_else(|| format!("dimension `{d}` is unbound or negative")))
            .collect()
    }

    /// The element count as (product of static dims, sorted symbol names). Two shapes hold the same
    /// number of elements for every binding iff these agree.
    pub fn numel_parts(&self) -> (usize, Vec<String>) {
        let mut prod = 1usize;
        let mut syms = Vec::new();
        for d in &self.0 {
            match d {
                Dim::Static(n) => prod = prod.saturating_mul(*n),
                Dim::Sym { .. } => syms.push(d.to_string()),
            }
        }
        syms.sort_unstable();
        (prod, syms)
    }

    /// Element count if the shape is static and the count fits in `usize`.
    pub fn numel(&self) -> Option<usize> {
        self.as_static().and_then(|d| d.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n)))
    }

    /// Symbol names used, in order.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|d| match d {
            Dim::Sym { name, .. } => Some(name.as_str()),
            Dim::Static(_) => None,
        })
    }
}

impl<D: Into<Dim>, const N: usize> From<[D; N]> for Shape {
    fn from(dims: [D; N]) -> Shape {
        Shape(dims.into_iter().map(Into::into).collect())
    }
}

impl From<Vec<Dim>> for Shape {
    fn from(dims: Vec<Dim>) -> Shape {
        Shape(dims)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// The type of a tensor value: element type and shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Shape,
}

impl TensorType {
    pub fn new(dtype: DType, shape: impl Into<Shape>) -> TensorType {
        TensorType { dtype, shape: shape.into() }
    }

    pub fn rank(&self) -> usize {
        self.shape.rank()
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, self.shape)
    }
}
