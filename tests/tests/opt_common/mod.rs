//! Shared checks for the optimizer tests: an optimized graph must keep the interface, verify, and
//! compute the original's outputs under the reference interpreter on fresh random data.
//!
//! Tolerances, by rule group: the exact simplifications give bit-identical results (`-0.0` and
//! `+0.0` compare equal, NaN matches NaN). Reassociating groups (matmul chains, float algebra) are
//! compared with a relative tolerance (`rtol`) plus `atol` times the output's largest finite
//! magnitude; where the original output is not finite (random graphs overflow), the optimized one
//! must not be finite either; for the float-algebra group (`Tol::Real`), which removes overflow
//! (`log(exp x) = x`), anything is accepted there.

#![allow(dead_code)] // each test file uses part of this module

use std::collections::HashMap;

use irc_ir::Graph;
use irc_passes::opt::{OptOptions, OptReport, optimize};
use irc_runtime::{RunError, Tensor, interpret};

/// How close the optimized outputs must be.
#[derive(Clone, Copy, Debug)]
pub enum Tol {
    Exact,
    Close {
        rtol: f64,
        atol: f64,
    },
    /// As `Close` where the original is finite; anything where it is not (real-arithmetic
    /// identities such as `log(exp x) = x` remove overflow).
    Real {
        rtol: f64,
        atol: f64,
    },
}

/// Matmul reassociation in f64 graphs.
pub const REASSOC_F64: Tol = Tol::Close { rtol: 1e-9, atol: 1e-9 };
/// Matmul reassociation in f32 graphs (the interpreter rounds each op's result to f32).
pub const REASSOC_F32: Tol = Tol::Close { rtol: 1e-4, atol: 1e-5 };

pub use irc_check::compare::{data, sizes};

fn close(name: &str, want: &Tensor, got: &Tensor, tol: Tol) -> Result<(), String> {
    if want.dtype != got.dtype || want.shape != got.shape {
        return Err(format!("{name}: want {}{:?}, got {}{:?}", want.dtype, want.shape, got.dtype, got.shape));
    }
    let scale = want.data.iter().filter(|v| v.is_finite()).fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (&a, &b)) in want.data.iter().zip(&got.data).enumerate() {
        let ok = match tol {
            Tol::Exact => a == b || (a.is_nan() && b.is_nan()),
            Tol::Close { rtol, atol } if a.is_finite() => (a - b).abs() <= rtol * a.abs() + atol * (1.0 + scale),
            Tol::Close { .. } => !b.is_finite(),
            Tol::Real { rtol, atol } => !a.is_finite() || (a - b).abs() <= rtol * a.abs() + atol * (1.0 + scale),
        };
        if !ok {
            return Err(format!("{name}[{i}] (flat): want {a}, got {b}"));
        }
    }
    Ok(())
}

/// Checks the interface is kept: inputs and params in order, output names and types.
pub fn same_interface(g: &Graph, h: &Graph) -> Result<(), String> {
    h.verify().map_err(|e| format!("optimized graph does not verify: {e}"))?;
    let io = |g: &Graph| -> Vec<(String, String)> {
        g.inputs()
            .map(|(_, n, t)| (n.to_string(), t.to_string()))
            .chain(g.params().map(|(_, n, t)| (format!("param {n}"), t.to_string())))
            .collect()
    };
    if io(g) != io(h) {
        return Err(format!("inputs/params changed: {:?} vs {:?}", io(g), io(h)));
    }
    let outs = |g: &Graph| -> Vec<(String, String)> {
        g.outputs().iter().map(|o| (o.name.clone(), g.ty(o.node).to_string())).collect()
    };
    if outs(g) != outs(h) {
        return Err(format!("outputs changed: {:?} vs {:?}", outs(g), outs(h)));
    }
    Ok(())
}

/// Runs both graphs on the same random data and compares.
pub fn same_values(g: &Graph, h: &Graph, sizes: &HashMap<String, usize>, seed: u64, tol: Tol) -> Result<(), String> {
    let (inputs, params) = data(g, sizes, seed);
    // The interpreter runs dead nodes too, and the optimizer drops them (a dead node may fail, e.g.
    // on a symbol no input binds): the reference is the original without its dead code.
    let want = interpret(&irc_passes::eliminate_dead_code(g), &inputs, &params);
    let got = interpret(h, &inputs, &params);
    let (want, got) = match (want, got) {
        (Ok(w), Ok(t)) => (w, t),
        (Err(_), Err(_)) => return Ok(()),
        // Folding may remove the only use of a symbol no input binds (a gather from a broadcast
        // constant): the optimized graph then runs where the original could not size a node.
        (Err(RunError::UnboundSymbol { .. }), Ok(_)) => return Ok(()),
        (Err(a), Ok(_)) => return Err(format!("the original fails ({a}) but the optimized graph runs")),
        (Ok(_), Err(b)) => return Err(format!("the optimized graph fails: {b}")),
    };
    for ((o, w), t) in g.outputs().iter().zip(&want).zip(&got) {
        close(&o.name, w, t, tol)?;
    }
    Ok(())
}

/// Optimizes `g` with `opts` and checks interface, values and that the estimated cost did not grow;
/// returns the result and report.
#[track_caller]
pub fn check(g: &Graph, opts: &OptOptions, sizes: &HashMap<String, usize>, seed: u64, tol: Tol) -> (Graph, OptReport) {
    let (h, report) = optimize(g, opts).unwrap_or_else(|e| panic!("optimize: {e}\n{}", irc_ir::print(g)));
    let res = same_interface(g, &h).and_then(|_| same_values(g, &h, sizes, seed, tol)).and_then(|_| {
        // Extraction also starts from the input's own selection: never costlier under the model.
        let worse = report.cost_after > report.cost_before * (1.0 + 1e-9) + 1e-9;
        if worse { Err("the optimized graph costs more than the original".to_string()) } else { Ok(()) }
    });
    if let Err(e) = res {
        panic!("{e}\n\noriginal:\n{}\noptimized:\n{}\n{report}", irc_ir::print(g), irc_ir::print(&h));
    }
    (h, report)
}
