//! Reverse-mode automatic differentiation as a graph-to-graph pass: the result is an ordinary IR graph
//! that computes the original outputs and the gradients, so it is optimized and fused like any other.

mod rules;

use irc_ir::{Graph, IrError, NodeId, Op};
use thiserror::Error;

use crate::emit::Emitter;

#[derive(Debug, Error)]
pub enum AutodiffError {
    #[error("no output named `{0}` to differentiate")]
    UnknownLoss(String),
    #[error("loss `{name}` must be a single floating-point value, but it is {ty}")]
    BadLoss { name: String, ty: String },
    #[error("no input or param named `{0}` to differentiate with respect to")]
    UnknownParam(String),
    #[error("cannot differentiate with respect to `{name}`: its type {ty} is not floating-point")]
    NotFloat { name: String, ty: String },
    #[error("node %{node} ({op}): no gradient: {why}")]
    NoGradient { node: usize, op: &'static str, why: String },
    #[error("internal error while building the gradient graph: {0}")]
    Ir(#[from] IrError),
}

/// The name of the output that holds the gradient of `param`.
pub fn grad_output_name(param: &str) -> String {
    format!("grad/{param}")
}

/// A graph computing every output of `g` and, for each name in `wrt` (a param or input), the gradient of
/// the scalar output `loss` as an output named by [`grad_output_name`]. A leaf the loss does not depend on
/// gets a zero gradient.
pub fn differentiate(g: &Graph, loss: &str, wrt: &[&str]) -> Result<Graph, AutodiffError> {
    // A fused op's gradient is its expansion's: differentiate the primitives.
    if g.has_fused() {
        return differentiate(&irc_ir::expand_fused(g)?, loss, wrt);
    }
    let loss_id =
        g.outputs().iter().find(|o| o.name == loss).ok_or_else(|| AutodiffError::UnknownLoss(loss.into()))?.node;
    let loss_ty = g.ty(loss_id);
    if !loss_ty.dtype.is_float() || loss_ty.shape.numel() != Some(1) {
        return Err(AutodiffError::BadLoss { name: loss.into(), ty: loss_ty.to_string() });
    }
    let leaves = wrt.iter().map(|&name| find_leaf(g, name)).collect::<Result<Vec<_>, _>>()?;

    // Only nodes between the chosen leaves and the loss need adjoints.
    let mut depends = vec![false; g.len()];
    for &l in &leaves {
        depends[l.0] = true;
    }
    for (id, node) in g.nodes().iter().enumerate() {
        if node.ty.dtype.is_float() && node.inputs.iter().any(|i| depends[i.0]) {
            depends[id] = true;
        }
    }

    let mut out = g.clone();
    let mut e = Emitter { g: &mut out };
    let mut adjoint: Vec<Option<NodeId>> = vec![None; g.len()];
    adjoint[loss_id.0] = Some(e.fill_like(1.0, loss_id)?);
    for id in (0..=loss_id.0).rev() {
        let Some(gy) = adjoint[id] else { continue };
        let node = g.nodes()[id].clone();
        let needed: Vec<bool> = node.inputs.iter().map(|i| depends[i.0] && g.ty(*i).dtype.is_float()).collect();
        if !needed.contains(&true) {
            continue;
        }
        let contributions = rules::vjp(&mut e, &node, NodeId(id), gy, &needed)?;
        for ((input, contribution), need) in node.inputs.iter().zip(contributions).zip(needed) {
            let Some(c) = contribution.filter(|_| need) else { continue };
            adjoint[input.0] = Some(match adjoint[input.0] {
                Some(prev) => e.add(prev, c)?,
                None => c,
            });
        }
    }
    for (&leaf, name) in leaves.iter().zip(wrt) {
        let grad = match adjoint[leaf.0] {
            Some(a) => a,
            None => e.fill_like(0.0, leaf)?,
        };
        e.g.add_output(grad_output_name(name), grad)?;
    }
    Ok(crate::eliminate_dead_code(&out))
}

fn find_leaf(g: &Graph, name: &str) -> Result<NodeId, AutodiffError> {
    let (id, _, ty) = g
        .params()
        .chain(g.inputs())
        .find(|(_, n, _)| *n == name)
        .ok_or_else(|| AutodiffError::UnknownParam(name.into()))?;
    if !ty.dtype.is_float() {
        return Err(AutodiffError::NotFloat { name: name.into(), ty: ty.to_string() });
    }
    debug_assert!(matches!(g.node(id).op, Op::Param { .. } | Op::Input { .. }));
    Ok(id)
}
