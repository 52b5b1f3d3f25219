//! The reference interpreter: the oracle every backend is tested against, so it is written to be
//! obviously correct rather than fast. Each op is computed in f64 (integers in i64, see
//! `elementwise`) and rounded once to its output dtype.

mod acc;
pub(crate) mod bind;
mod elementwise;
mod error;
mod gather;
mod matmul;
mod movement;
mod reduce;

use std::collections::HashMap;

use irc_ir::{Graph, Node, Op};

use crate::Tensor;
use crate::index::tensor_from_fn;
use bind::{Bindings, resolve, resolve_shape};
pub use error::RunError;

/// Checks `inputs` and `params` against `g`'s declarations (names, dtypes, shapes, consistent
/// symbols) without running it: the errors `interpret` and every engine give for bad values.
pub fn check_values(
    g: &Graph,
    inputs: &HashMap<String, Tensor>,
    params: &HashMap<String, Tensor>,
) -> Result<(), RunError> {
    bind::bind(g, inputs, params).map(|_| ())
}

/// Runs `g` on `inputs` and `params` (by name) and returns the outputs in `g.outputs()` order.
///
/// Symbolic dims are bound by unifying each input's declared shape with the given tensor's shape.
/// Params the graph does not declare are ignored; inputs it does not declare are an error.
pub fn interpret(
    g: &Graph,
    inputs: &HashMap<String, Tensor>,
    params: &HashMap<String, Tensor>,
) -> Result<Vec<Tensor>, RunError> {
    // Graphs can be deserialized without verification; the ops below rely on verified types.
    g.verify()?;
    // A fused op means its expansion into primitives: the reference computes that.
    if g.has_fused() {
        return interpret(&irc_ir::expand_fused(g)?, inputs, params);
    }
    let b = bind::bind(g, inputs, params)?;
    let mut uses = g.use_counts();
    let mut values: Vec<Option<Tensor>> = Vec::with_capacity(g.len());
    for (id, node) in g.nodes().iter().enumerate() {
        let at = format!("node %{id} ({})", node.op.name());
        let args: Vec<&Tensor> =
            node.inputs.iter().map(|i| values[i.0].as_ref().expect("a value lives until its last use")).collect();
        let out = eval(node, &args, inputs, params, &b, &at)?;
        let want = resolve_shape(&node.ty.shape, &b, &at)?;
        assert!(out.dtype == node.ty.dtype && out.shape == want, "{at} produced {:?} for {}", out.shape, node.ty);
        // Free intermediates after their last use (dead nodes at once); outputs count as uses.
        values.push((uses[id] > 0).then_some(out));
        for i in &node.inputs {
            uses[i.0] -= 1;
            if uses[i.0] == 0 {
                values[i.0] = None;
            }
        }
    }
    Ok(g.outputs().iter().map(|o| values[o.node.0].clone().expect("outputs are never freed")).collect())
}

fn eval(
    node: &Node,
    args: &[&Tensor],
    inputs: &HashMap<String, Tensor>,
    params: &HashMap<String, Tensor>,
    b: &Bindings,
    at: &str,
) -> Result<Tensor, RunError> {
    let out_shape = || resolve_shape(&node.ty.shape, b, at);
    Ok(match &node.op {
        Op::Input { name, .. } => inputs[name].clone(),
        Op::Param { name, .. } => params[name].clone(),
        Op::Const { value, dtype } => Tensor::scalar(*dtype, *value),
        Op::Literal { ty, data } => Tensor::new(ty.dtype, out_shape()?, data.clone()),
        Op::Iota { axis, ty } => tensor_from_fn(ty.dtype, out_shape()?, |j| j[*axis] as f64),
        Op::Unary { op } => elementwise::unary(*op, args[0]),
        Op::Cast { dtype } => elementwise::cast(args[0], *dtype),
        Op::Binary { op } => elementwise::binary(*op, args[0], args[1], at)?,
        Op::Select => elementwise::select(args[0], args[1], args[2]),
        Op::Reduce { op, axes } => reduce::reduce(*op, axes, args[0]),
        Op::Cumsum { axis, reverse } => reduce::cumsum(args[0], *axis, *reverse),
        Op::Reshape { .. } => movement::reshape(args[0], out_shape()?),
        Op::Permute { perm } => movement::permute(args[0], perm),
        Op::Expand { .. } => movement::expand(args[0], out_shape()?),
        Op::Slice { axis, start, end } => {
            let end = resolve(end, b, at)?;
            movement::check_slice(args[0], *axis, *start, end, at)?;
            movement::slice(args[0], *axis, *start, end)
        }
        Op::Pad { axis, before, after } => movement::pad(args[0], *axis, *before, *after),
        Op::Concat { axis } => movement::concat(args, *axis),
        Op::MatMul => matmul::matmul(args[0], args[1], out_shape()?),
        Op::Gather { axis } => gather::gather(args[0], args[1], *axis, at)?,
        Op::ScatterAdd { axis, size } => {
            let size = resolve(size, b, at)?;
            gather::scatter_add(args[0], args[1], *axis, size, at)?
        }
        Op::Attention { .. } | Op::Monarch => unreachable!("fused ops are expanded before interpreting"),
    })
}
