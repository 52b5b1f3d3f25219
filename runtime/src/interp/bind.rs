//! Binding symbolic dims to sizes. Only run-time inputs define symbols; parameters and every node's
//! declared type are then resolved under those bindings, so a symbol no input defines is an error.

use std::collections::HashMap;

use irc_ir::{DType, Dim, Graph, Shape, TensorType};

use super::RunError;
use crate::Tensor;

pub(crate) type Bindings = HashMap<String, usize>;

/// What the checks need to know about a value: its dtype, shape and number of stored elements. Lets
/// callers that hold values in another form than a [`Tensor`] (the executor's resident buffers) share
/// the checks.
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub len: usize,
}

impl From<&Tensor> for Meta {
    fn from(t: &Tensor) -> Meta {
        Meta { dtype: t.dtype, shape: t.shape.clone(), len: t.data.len() }
    }
}

fn show(dtype: DType, shape: &[usize]) -> String {
    format!("{dtype}{shape:?}")
}

/// The concrete size of `dim` under `b`; errors are reported at `at` (a node or a param).
pub(crate) fn resolve(dim: &Dim, b: &Bindings, at: &str) -> Result<usize, RunError> {
    match dim {
        Dim::Static(n) => Ok(*n),
        Dim::Sym { name, offset } => {
            let &value = b.get(name).ok_or_else(|| RunError::UnboundSymbol { at: at.into(), symbol: name.clone() })?;
            i64::try_from(value)
                .ok()
                .and_then(|v| v.checked_add(*offset))
                .and_then(|s| usize::try_from(s).ok())
                .ok_or_else(|| RunError::NegativeDim {
                    at: at.into(),
                    dim: dim.to_string(),
                    symbol: name.clone(),
                    value,
                })
        }
    }
}

pub(crate) fn resolve_shape(shape: &Shape, b: &Bindings, at: &str) -> Result<Vec<usize>, RunError> {
    shape.dims().iter().map(|d| resolve(d, b, at)).collect()
}

fn listing(declared: &[(&str, &TensorType)]) -> String {
    if declared.is_empty() {
        return "none".into();
    }
    declared.iter().map(|(n, t)| format!("{n}: {t}")).collect::<Vec<_>>().join(", ")
}

fn check_present(
    kind: &'static str,
    declared: &[(&str, &TensorType)],
    given: impl Fn(&str) -> bool,
) -> Result<(), RunError> {
    match declared.iter().find(|(n, _)| !given(n)) {
        Some((name, _)) => Err(RunError::Missing { kind, name: name.to_string(), expected: listing(declared) }),
        None => Ok(()),
    }
}

/// Checks what does not depend on bindings: the value count, the dtype and the rank.
fn check_tensor(kind: &'static str, name: &str, ty: &TensorType, t: &Meta) -> Result<(), RunError> {
    let need = t.shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
    if need != Some(t.len) {
        return Err(RunError::MalformedTensor {
            kind,
            name: name.into(),
            shape: t.shape.clone(),
            need: need.map_or("more than usize::MAX".into(), |n| n.to_string()),
            len: t.len,
        });
    }
    let got = show(t.dtype, &t.shape);
    if t.dtype != ty.dtype {
        return Err(RunError::DTypeMismatch { kind, name: name.into(), expected: ty.to_string(), got });
    }
    if t.shape.len() != ty.rank() {
        return Err(RunError::ShapeMismatch { kind, name: name.into(), expected: ty.to_string(), got });
    }
    Ok(())
}

/// Checks `inputs` and `params` against the graph's declarations and returns the symbol bindings.
/// Params the graph does not use are ignored: a weights file may hold more tensors than one graph needs.
pub(super) fn bind(
    g: &Graph,
    inputs: &HashMap<String, Tensor>,
    params: &HashMap<String, Tensor>,
) -> Result<Bindings, RunError> {
    bind_with(g, inputs, |name| params.get(name).map(Meta::from))
}

/// [`bind`] with params looked up by `param`, which gives what the checks need of a param's value.
pub(crate) fn bind_with(
    g: &Graph,
    inputs: &HashMap<String, Tensor>,
    param: impl Fn(&str) -> Option<Meta>,
) -> Result<Bindings, RunError> {
    let declared: Vec<(&str, &TensorType)> = g.inputs().map(|(_, n, t)| (n, t)).collect();
    let declared_params: Vec<(&str, &TensorType)> = g.params().map(|(_, n, t)| (n, t)).collect();
    check_present("input", &declared, |n| inputs.contains_key(n))?;
    let mut extra: Vec<&String> = inputs.keys().filter(|k| !declared.iter().any(|(n, _)| n == k)).collect();
    extra.sort();
    if let Some(name) = extra.first() {
        let expected = declared.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
        let expected = if expected.is_empty() { "none".into() } else { expected };
        return Err(RunError::UnexpectedInput { name: name.to_string(), expected });
    }
    check_present("param", &declared_params, |n| param(n).is_some())?;

    let mut b = Bindings::new();
    let mut origin: HashMap<&str, String> = HashMap::new();
    for &(name, ty) in &declared {
        let t = &inputs[name];
        check_tensor("input", name, ty, &Meta::from(t))?;
        for (axis, (dim, &size)) in ty.shape.dims().iter().zip(&t.shape).enumerate() {
            let mismatch = || RunError::ShapeMismatch {
                kind: "input",
                name: name.into(),
                expected: ty.to_string(),
                got: show(t.dtype, &t.shape),
            };
            match dim {
                Dim::Static(n) if *n != size => return Err(mismatch()),
                Dim::Static(_) => {}
                Dim::Sym { name: sym, offset } => {
                    // size = value + offset, so value = size - offset, which must not be negative.
                    let value = i64::try_from(size)
                        .ok()
                        .and_then(|s| s.checked_sub(*offset))
                        .and_then(|v| usize::try_from(v).ok())
                        .ok_or_else(mismatch)?;
                    let here = format!("input `{name}` (axis {axis})");
                    match b.get(sym) {
                        Some(&first) if first != value => {
                            return Err(RunError::SymbolConflict {
                                symbol: sym.clone(),
                                first,
                                first_at: origin[sym.as_str()].clone(),
                                second: value,
                                second_at: here,
                            });
                        }
                        Some(_) => {}
                        None => {
                            b.insert(sym.clone(), value);
                            origin.insert(sym, here);
                        }
                    }
                }
            }
        }
    }

    for &(name, ty) in &declared_params {
        let t = param(name).expect("checked present above");
        check_tensor("param", name, ty, &t)?;
        let want = resolve_shape(&ty.shape, &b, &format!("param `{name}`"))?;
        if want != t.shape {
            let got = show(t.dtype, &t.shape);
            let expected =
                if ty.shape.is_static() { ty.to_string() } else { format!("{ty} (= {})", show(ty.dtype, &want)) };
            return Err(RunError::ShapeMismatch { kind: "param", name: name.into(), expected, got });
        }
    }
    Ok(b)
}
