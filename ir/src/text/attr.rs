//! Op attributes as `key=value` pairs. Keys are the `Op` field names; the printer, the parser and DOT all
//! go through [`op_attrs`], so an op's attribute list is written down once.

use std::fmt;

use crate::{DType, Dim, Init, Op, Shape};

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Attr {
    Int(usize),
    Ints(Vec<usize>),
    Dim(Dim),
    Shape(Shape),
    DType(DType),
    Bool(bool),
    Float(f64),
    Floats(Vec<f64>),
    Init(Init),
}

/// The syntax of an attribute's value, fixed by its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AttrKind {
    Int,
    Ints,
    Dim,
    Shape,
    DType,
    Bool,
    Float,
    Floats,
    Init,
}

/// Every attribute key and its value syntax. A key means the same thing on every op that takes it.
pub(crate) const KEYS: [(&str, AttrKind); 17] = [
    ("axis", AttrKind::Int),
    ("axes", AttrKind::Ints),
    ("start", AttrKind::Int),
    ("end", AttrKind::Dim),
    ("before", AttrKind::Int),
    ("after", AttrKind::Int),
    ("perm", AttrKind::Ints),
    ("shape", AttrKind::Shape),
    ("dtype", AttrKind::DType),
    ("reverse", AttrKind::Bool),
    ("size", AttrKind::Dim),
    ("value", AttrKind::Float),
    ("data", AttrKind::Floats),
    ("init", AttrKind::Init),
    ("scale", AttrKind::Float),
    ("causal", AttrKind::Bool),
    ("fill", AttrKind::Float),
];

pub(crate) fn key_kind(key: &str) -> Option<AttrKind> {
    KEYS.iter().find(|(k, _)| *k == key).map(|(_, kind)| *kind)
}

/// Shortest text that parses back to the same `f64` (Rust's `{:?}`), with NaN spelled `nan` like `inf`.
pub(crate) fn fmt_f64(v: f64) -> String {
    if v.is_nan() { "nan".to_string() } else { format!("{v:?}") }
}

fn list<T>(f: &mut fmt::Formatter<'_>, items: &[T], item: impl Fn(&T) -> String) -> fmt::Result {
    f.write_str("[")?;
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        f.write_str(&item(x))?;
    }
    f.write_str("]")
}

impl fmt::Display for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attr::Int(n) => write!(f, "{n}"),
            Attr::Ints(v) => list(f, v, |n| n.to_string()),
            Attr::Dim(d) => write!(f, "{d}"),
            Attr::Shape(s) => write!(f, "{s}"),
            Attr::DType(d) => write!(f, "{d}"),
            Attr::Bool(b) => write!(f, "{b}"),
            Attr::Float(v) => f.write_str(&fmt_f64(*v)),
            Attr::Floats(v) => list(f, v, |x| fmt_f64(*x)),
            Attr::Init(Init::Zeros) => f.write_str("zeros"),
            Attr::Init(Init::Ones) => f.write_str("ones"),
            Attr::Init(Init::Normal { std }) => write!(f, "normal({})", fmt_f64(*std)),
            Attr::Init(Init::Uniform { bound }) => write!(f, "uniform({})", fmt_f64(*bound)),
        }
    }
}

/// The attributes of `op` in field order. Leaf names and types are not attributes: a name is written as a
/// quoted operand and a type after `:`. A const's `value` is listed here but printed as a bare operand.
pub(crate) fn op_attrs(op: &Op) -> Vec<(&'static str, Attr)> {
    match op {
        Op::Input { .. } | Op::Unary { .. } | Op::Binary { .. } | Op::Select | Op::MatMul | Op::Monarch => vec![],
        Op::Param { init, .. } => vec![("init", Attr::Init(*init))],
        Op::Const { value, .. } => vec![("value", Attr::Float(*value))],
        Op::Literal { data, .. } => vec![("data", Attr::Floats(data.clone()))],
        Op::Iota { axis, .. } | Op::Concat { axis } | Op::Gather { axis } => vec![("axis", Attr::Int(*axis))],
        Op::Cast { dtype } => vec![("dtype", Attr::DType(*dtype))],
        Op::Reduce { axes, .. } => vec![("axes", Attr::Ints(axes.clone()))],
        Op::Cumsum { axis, reverse } => vec![("axis", Attr::Int(*axis)), ("reverse", Attr::Bool(*reverse))],
        Op::Reshape { shape } | Op::Expand { shape } => vec![("shape", Attr::Shape(shape.clone()))],
        Op::Permute { perm } => vec![("perm", Attr::Ints(perm.clone()))],
        Op::Slice { axis, start, end } => {
            vec![("axis", Attr::Int(*axis)), ("start", Attr::Int(*start)), ("end", Attr::Dim(end.clone()))]
        }
        Op::Pad { axis, before, after } => {
            vec![("axis", Attr::Int(*axis)), ("before", Attr::Int(*before)), ("after", Attr::Int(*after))]
        }
        Op::ScatterAdd { axis, size } => vec![("axis", Attr::Int(*axis)), ("size", Attr::Dim(size.clone()))],
        Op::Attention { scale, causal, fill } => {
            vec![("scale", Attr::Float(*scale)), ("causal", Attr::Bool(*causal)), ("fill", Attr::Float(*fill))]
        }
    }
}

/// Attributes a node may leave out, with the value they then take.
pub(crate) fn default_attr(key: &str) -> Option<Attr> {
    match key {
        "reverse" => Some(Attr::Bool(false)),
        "init" => Some(Attr::Init(Init::default())),
        _ => None,
    }
}
