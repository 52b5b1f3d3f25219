//! Differential checks: a graph run on a backend must give the reference interpreter's outputs on the
//! same random inputs and params (never zeros).
//!
//! Tolerances: f64 and integer results match to 1e-12 (the kernels do the same operations in the same
//! order as the interpreter, which also accumulates in f64). f32 kernels accumulate reductions, matmuls,
//! prefix sums and scatter-adds in f32 where the interpreter uses f64: relative 1e-4 plus 1e-5 of the
//! tensor's largest magnitude. f16/bf16 kernels compute in f32 and round only when storing, where the
//! interpreter rounds every op: 2e-2 relative plus 2e-2 of the largest magnitude. NaN matches NaN and
//! infinities match infinities of the same sign.

use std::collections::HashMap;

use irc_codegen::LowerOptions;
use irc_ir::{DType, Graph, Node, Op, TensorType};
use irc_runtime::{Executable, KernelBackend, RunError, Tensor, init_params, interpret, random_inputs};

use crate::random::{Choice, GenConfig, MIN_BINDING, build_graph};
use irc_ir::Rng;

pub fn sizes(pairs: &[(&str, usize)]) -> HashMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// A graph's inputs and params by name.
pub type Data = (HashMap<String, Tensor>, HashMap<String, Tensor>);

/// Random inputs (in-range indices) and random params: normal values, never the init's ones and zeros.
pub fn try_data(g: &Graph, sizes: &HashMap<String, usize>, seed: u64) -> Result<Data, String> {
    let inputs = random_inputs(g, sizes, seed).map_err(|e| format!("inputs: {e}"))?;
    let mut params = init_params(g, seed).map_err(|e| format!("params: {e}"))?;
    let mut rng = irc_runtime::Rng::new(seed ^ 0x5eed);
    // In name order, so a seed gives the same values in every run (a map's order changes between runs).
    let mut names: Vec<String> = params.keys().cloned().collect();
    names.sort();
    for name in names {
        let t = params.get_mut(&name).expect("a key of this map");
        let data = t.data.iter().map(|_| 0.5 * rng.normal()).collect();
        *t = Tensor::new(t.dtype, t.shape.clone(), data);
    }
    Ok((inputs, params))
}

/// [`try_data`] for graphs known to take random data (static params, bound symbols).
#[track_caller]
pub fn data(g: &Graph, sizes: &HashMap<String, usize>, seed: u64) -> Data {
    try_data(g, sizes, seed).unwrap_or_else(|e| panic!("{e}"))
}

fn tolerance(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F32 => (1e-4, 1e-5),
        DType::F16 | DType::BF16 => (2e-2, 2e-2),
        _ => (1e-12, 1e-12),
    }
}

/// Whether `got` matches `want` within the dtype's tolerance; `Err` names the first differing element.
pub fn close(name: &str, want: &Tensor, got: &Tensor) -> Result<(), String> {
    if want.dtype != got.dtype || want.shape != got.shape {
        return Err(format!("{name}: want {}{:?}, got {}{:?}", want.dtype, want.shape, got.dtype, got.shape));
    }
    let (rtol, atol) = tolerance(want.dtype);
    let scale = want.data.iter().filter(|v| v.is_finite()).fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (&a, &b)) in want.data.iter().zip(&got.data).enumerate() {
        let ok = if a.is_nan() || b.is_nan() {
            a.is_nan() && b.is_nan()
        } else if a.is_infinite() || b.is_infinite() {
            a == b
        } else {
            (a - b).abs() <= rtol * a.abs() + atol * (1.0 + scale)
        };
        if !ok {
            return Err(format!("{name}[{i}] (flat): want {a}, got {b} ({} {:?})", want.dtype, want.shape));
        }
    }
    Ok(())
}

/// Runs `g` both ways on the given values and compares. When the interpreter rejects the values, the
/// executor must reject them with the same kind of error, except for value-dependent errors (integer
/// division by zero, an index out of range) that compiled kernels define instead (docs/KERNELS.md).
pub fn compare_on<B: KernelBackend>(
    backend: B,
    g: &Graph,
    inputs: &HashMap<String, Tensor>,
    params: &HashMap<String, Tensor>,
    opts: &LowerOptions,
) -> Result<(), String> {
    let want = interpret(g, inputs, params);
    let exe = Executable::compile_with(g, backend, opts).map_err(|e| format!("compile: {e}"))?;
    let got = exe.run(inputs, params);
    let (want, got) = match (want, got) {
        (Ok(w), Ok(t)) => (w, t),
        (Err(RunError::DivisionByZero { .. } | RunError::IndexOutOfRange { .. }), _) => return Ok(()),
        (Err(a), Err(b)) if std::mem::discriminant(&a) == std::mem::discriminant(&b) => return Ok(()),
        (Err(a), b) => return Err(format!("interpreter: {a}; executor: {:?}", b.map(|_| "ok"))),
        (Ok(_), Err(b)) => return Err(format!("run: {b}")),
    };
    for ((o, w), t) in g.outputs().iter().zip(&want).zip(&got) {
        close(&o.name, w, t)?;
    }
    Ok(())
}

/// Random data for `g` under `sizes`, compared on `backend` with fusion on and off.
pub fn compare_with<B: KernelBackend + Clone>(
    backend: B,
    g: &Graph,
    sizes: &HashMap<String, usize>,
    seed: u64,
) -> Result<(), String> {
    let opts = backend.lower_options();
    let (inputs, params) = try_data(g, sizes, seed)?;
    compare_on(backend.clone(), g, &inputs, &params, &opts)?;
    compare_on(backend, g, &inputs, &params, &LowerOptions { fuse: false, ..opts }).map_err(|e| format!("unfused: {e}"))
}

/// `n` random graphs of `cfg` from fixed seeds, floats widened to f64, each with symbol bindings of at
/// least `MIN_BINDING` and its seed.
pub fn random_graphs(cfg: &GenConfig, n: u64) -> impl Iterator<Item = (Graph, HashMap<String, usize>, u64)> + '_ {
    random_graphs_from(cfg, 0..n).map(|(g, b, seed)| (to_f64(&g), b, seed))
}

/// The random graphs of `cfg` from `seeds`, in their own dtypes (f32 floats), with bindings and seed.
pub fn random_graphs_from(
    cfg: &GenConfig,
    seeds: std::ops::Range<u64>,
) -> impl Iterator<Item = (Graph, HashMap<String, usize>, u64)> + '_ {
    seeds.map(move |seed| {
        let mut rng = Rng::new(seed);
        let len = 1 + rng.below(cfg.max_nodes);
        let choices: Vec<(Choice, u64)> = (0..len).map(|_| (*rng.pick(&Choice::ALL), rng.next_u64())).collect();
        (build_graph(cfg, &choices), bindings(&mut rng), seed)
    })
}

/// Bindings for the random graphs' symbols `B` and `T`.
pub fn bindings(rng: &mut Rng) -> HashMap<String, usize> {
    let b = MIN_BINDING + rng.below(3);
    let t = MIN_BINDING + rng.below(4);
    sizes(&[("B", b), ("T", t)])
}

/// `g` with every float dtype replaced by f64 (so differential checks of random graphs are exact).
pub fn to_f64(g: &Graph) -> Graph {
    with_floats(g, DType::F64)
}

/// `g` with every float dtype replaced by `float`.
pub fn with_floats(g: &Graph, float: DType) -> Graph {
    let f = |d: DType| if d.is_float() { float } else { d };
    let ty = |t: &TensorType| TensorType::new(f(t.dtype), t.shape.clone());
    let nodes = g
        .nodes()
        .iter()
        .map(|n| {
            let op = match &n.op {
                Op::Input { name, ty: t } => Op::Input { name: name.clone(), ty: ty(t) },
                Op::Param { name, ty: t, init } => Op::Param { name: name.clone(), ty: ty(t), init: *init },
                Op::Literal { ty: t, data } => Op::Literal { ty: ty(t), data: data.clone() },
                Op::Iota { axis, ty: t } => Op::Iota { axis: *axis, ty: ty(t) },
                Op::Const { value, dtype } => Op::Const { value: *value, dtype: f(*dtype) },
                Op::Cast { dtype } => Op::Cast { dtype: f(*dtype) },
                op => op.clone(),
            };
            Node { op, inputs: n.inputs.clone(), ty: ty(&n.ty) }
        })
        .collect();
    Graph::from_parts(g.name.clone(), nodes, g.outputs().to_vec()).expect("same graph in another float dtype")
}
