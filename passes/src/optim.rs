//! Training steps as IR graphs: forward, backward and optimizer update in one graph, so a backend runs
//! a whole step in one call and the update is fused and optimized like the rest.
//!
//! The step graph takes the model's inputs plus two f32 scalars, [`LR_INPUT`] (the learning rate of this
//! step, from a host-side schedule) and [`STEP_INPUT`] (the 1-based step number, for Adam's bias
//! correction). Params and optimizer state are graph params; for each of them the graph outputs its next
//! value under [`next_name`], and it outputs the loss. Updates and optimizer state of f16 and bf16
//! params are f32. A runtime keeps params and state resident and swaps
//! in the next values after each call.

use irc_ir::{BinaryOp, DType, Graph, NodeId, Op, ReduceOp, Shape, TensorType, UnaryOp};

use crate::emit::Emitter;
use crate::{AutodiffError, differentiate, grad_output_name};

pub const LR_INPUT: &str = "train.lr";
pub const STEP_INPUT: &str = "train.step";

/// The optimizer and its hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// `buf = momentum * buf + g + wd * p; p -= lr * buf` (weight decay as an L2 term).
    Sgd { momentum: f64, weight_decay: f64 },
    /// Adam with decoupled weight decay (Loshchilov & Hutter): `p -= lr * (m̂ / (sqrt(v̂) + eps) + wd * p)`
    /// with bias-corrected moments `m̂ = m / (1 - beta1^t)`, `v̂ = v / (1 - beta2^t)`.
    AdamW { beta1: f64, beta2: f64, eps: f64, weight_decay: f64 },
}

impl Optimizer {
    pub fn adamw() -> Optimizer {
        Optimizer::AdamW { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 }
    }

    pub fn sgd() -> Optimizer {
        Optimizer::Sgd { momentum: 0.9, weight_decay: 0.0 }
    }

    /// Names of the state slots each param carries.
    fn slots(&self) -> &'static [&'static str] {
        match self {
            Optimizer::Sgd { .. } => &["sgd.momentum"],
            Optimizer::AdamW { .. } => &["adamw.m", "adamw.v"],
        }
    }
}

/// Name of an optimizer state tensor: `adamw.m/blocks.0.attn.q.weight`.
pub fn state_name(slot: &str, param: &str) -> String {
    format!("{slot}/{param}")
}

/// Name of the output holding the next value of a param or state tensor.
pub fn next_name(name: &str) -> String {
    format!("next/{name}")
}

/// A built training step.
#[derive(Clone, Debug)]
pub struct TrainStep {
    pub graph: Graph,
    /// The model's params, in graph order.
    pub params: Vec<String>,
    /// Optimizer state tensors (start at zero), in graph order.
    pub state: Vec<String>,
}

/// Builds the training step of `model` minimizing its scalar output `loss` over all its params.
/// `clip` bounds the global gradient norm (the gradients are scaled by `min(1, clip / norm)`).
/// Weight decay applies to params of rank 2 or more (matrices, embeddings), not to biases and gains.
pub fn build_train_step(
    model: &Graph,
    loss: &str,
    opt: Optimizer,
    clip: Option<f64>,
) -> Result<TrainStep, AutodiffError> {
    let params: Vec<(String, TensorType)> = model.params().map(|(_, n, t)| (n.to_string(), t.clone())).collect();
    let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    let mut g = differentiate(model, loss, &names)?;
    let outputs = g.take_outputs();
    let find = |name: &str| outputs.iter().find(|o| o.name == name).expect("differentiate made this output").node;
    let loss_node = find(loss);
    let grads: Vec<NodeId> = names.iter().map(|n| find(&grad_output_name(n))).collect();
    let param_nodes: Vec<NodeId> = g.params().map(|(id, _, _)| id).collect();

    let mut e = Emitter { g: &mut g };
    let scalar_f32 = TensorType::new(DType::F32, Shape::scalar());
    let lr = e.op(Op::Input { name: LR_INPUT.into(), ty: scalar_f32.clone() }, &[])?;
    let step = e.op(Op::Input { name: STEP_INPUT.into(), ty: scalar_f32 }, &[])?;
    let scale = match clip {
        Some(c) => Some(clip_scale(&mut e, &grads, c)?),
        None => None,
    };

    let mut next = vec![("loss".to_string(), loss_node)];
    let mut state = Vec::new();
    for (((name, param_ty), &param), &grad) in params.iter().zip(&param_nodes).zip(&grads) {
        // Half-precision params update in f32, with f32 optimizer state: in f16, g² and Adam's eps (1e-8)
        // flush to zero and the first step divides by zero.
        let ty = &match param_ty.dtype {
            DType::F16 | DType::BF16 => TensorType::new(DType::F32, param_ty.shape.clone()),
            _ => param_ty.clone(),
        };
        let p = e.cast(param, ty.dtype)?;
        let grad = e.cast(grad, ty.dtype)?;
        let lr = broadcast(&mut e, lr, ty)?;
        let g = match scale {
            Some(s) => {
                let s = broadcast(&mut e, s, ty)?;
                e.mul(grad, s)?
            }
            None => grad,
        };
        let decays = ty.rank() >= 2;
        let slots: Vec<NodeId> = opt
            .slots()
            .iter()
            .map(|slot| {
                let sname = state_name(slot, name);
                state.push(sname.clone());
                e.op(Op::Param { name: sname, ty: ty.clone(), init: irc_ir::Init::Zeros }, &[])
            })
            .collect::<Result<_, _>>()?;
        let (new_p, new_slots) = match opt {
            Optimizer::Sgd { momentum, weight_decay } => {
                let g = if decays && weight_decay != 0.0 {
                    let wd = e.scale(p, weight_decay)?;
                    e.add(g, wd)?
                } else {
                    g
                };
                let buf = e.scale(slots[0], momentum)?;
                let buf = e.add(buf, g)?;
                let delta = e.mul(lr, buf)?;
                (e.binary(BinaryOp::Sub, p, delta)?, vec![buf])
            }
            Optimizer::AdamW { beta1, beta2, eps, weight_decay } => {
                let m = ema(&mut e, slots[0], g, beta1)?;
                let g2 = e.mul(g, g)?;
                let v = ema(&mut e, slots[1], g2, beta2)?;
                let m_hat = bias_correct(&mut e, m, step, beta1, ty)?;
                let v_hat = bias_correct(&mut e, v, step, beta2, ty)?;
                let root = e.unary(UnaryOp::Sqrt, v_hat)?;
                let eps = e.fill_like(eps, root)?;
                let denom = e.add(root, eps)?;
                let mut update = e.div(m_hat, denom)?;
                if decays && weight_decay != 0.0 {
                    let wd = e.scale(p, weight_decay)?;
                    update = e.add(update, wd)?;
                }
                let delta = e.mul(lr, update)?;
                (e.binary(BinaryOp::Sub, p, delta)?, vec![m, v])
            }
        };
        let new_p = e.cast(new_p, param_ty.dtype)?;
        next.push((next_name(name), new_p));
        for (slot, value) in opt.slots().iter().zip(new_slots) {
            next.push((next_name(&state_name(slot, name)), value));
        }
    }
    for (name, node) in next {
        g.add_output(name, node)?;
    }
    let graph = crate::eliminate_dead_code(&g);
    Ok(TrainStep { graph, params: names.iter().map(|n| n.to_string()).collect(), state })
}

/// `beta * s + (1 - beta) * x`.
fn ema(e: &mut Emitter, s: NodeId, x: NodeId, beta: f64) -> Result<NodeId, irc_ir::IrError> {
    let a = e.scale(s, beta)?;
    let b = e.scale(x, 1.0 - beta)?;
    e.add(a, b)
}

/// `x / (1 - beta^step)`.
fn bias_correct(
    e: &mut Emitter,
    x: NodeId,
    step: NodeId,
    beta: f64,
    ty: &TensorType,
) -> Result<NodeId, irc_ir::IrError> {
    let b = e.fill(beta, &TensorType::new(DType::F32, Shape::scalar()))?;
    let pow = e.binary(BinaryOp::Pow, b, step)?;
    let one = e.fill_like(1.0, pow)?;
    let c = e.binary(BinaryOp::Sub, one, pow)?;
    let c = broadcast(e, c, ty)?;
    e.div(x, c)
}

/// A 0-d f32 value cast and expanded to `ty`.
fn broadcast(e: &mut Emitter, x: NodeId, ty: &TensorType) -> Result<NodeId, irc_ir::IrError> {
    let x = e.cast(x, ty.dtype)?;
    if ty.rank() == 0 {
        return Ok(x);
    }
    e.op(Op::Expand { shape: ty.shape.clone() }, &[x])
}

/// `min(1, clip / (norm + 1e-6))` as a 0-d f32, where `norm` is the global L2 norm of all gradients.
fn clip_scale(e: &mut Emitter, grads: &[NodeId], clip: f64) -> Result<NodeId, irc_ir::IrError> {
    let mut total = e.fill(0.0, &TensorType::new(DType::F32, Shape::scalar()))?;
    for &g in grads {
        let sq = e.mul(g, g)?;
        let sq = e.cast(sq, DType::F32)?;
        let rank = e.ty(sq).rank();
        let s = if rank == 0 { sq } else { e.op(Op::Reduce { op: ReduceOp::Sum, axes: (0..rank).collect() }, &[sq])? };
        let s = e.reshape(s, &Shape::scalar())?;
        total = e.add(total, s)?;
    }
    let norm = e.unary(UnaryOp::Sqrt, total)?;
    let tiny = e.fill_like(1e-6, norm)?;
    let norm = e.add(norm, tiny)?;
    let c = e.fill_like(clip, norm)?;
    let ratio = e.div(c, norm)?;
    let one = e.fill_like(1.0, ratio)?;
    e.binary(BinaryOp::Min, ratio, one)
}
