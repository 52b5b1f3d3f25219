//! The model builder: owns the graph being built, the first error, and the parameter scope stack.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;

use irc_ir::{DType, Graph, Init, IrError, NodeId, Op, Shape, TensorType};

use super::error::{DslError, ErrorContext};
use super::spec::{ShapeSpec, axis_index};
use super::var::Var;

struct Inner {
    graph: Graph,
    error: Option<DslError>,
    scopes: Vec<String>,
    frames: Vec<String>,
    inputs: HashSet<String>,
    params: HashSet<String>,
    finished: bool,
}

/// Builds one [`Graph`]. Cloning gives another handle to the same builder; every [`Var`] also holds
/// one, so ops on handles add nodes here.
///
/// The builder never panics on bad models: the first failed call is recorded, returns a poisoned
/// handle, and is reported by [`check`](ModelBuilder::check) and [`finish`](ModelBuilder::finish).
#[derive(Clone)]
pub struct ModelBuilder {
    inner: Rc<RefCell<Inner>>,
}

impl fmt::Debug for ModelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.borrow();
        f.debug_struct("ModelBuilder")
            .field("graph", &inner.graph.name)
            .field("nodes", &inner.graph.len())
            .field("scope", &inner.scopes.join("."))
            .field("error", &inner.error)
            .finish()
    }
}

/// Pops what [`ModelBuilder::enter`] or [`ModelBuilder::frame`] pushed, when dropped.
#[must_use = "the scope ends when the guard is dropped"]
pub struct ScopeGuard {
    b: ModelBuilder,
    scope: bool,
    frame: bool,
}

impl fmt::Debug for ScopeGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeGuard").field("scope", &self.scope).field("frame", &self.frame).finish()
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        let mut inner = self.b.inner.borrow_mut();
        if self.scope {
            inner.scopes.pop();
        }
        if self.frame {
            inner.frames.pop();
        }
    }
}

fn describe(inputs: &[&Var]) -> String {
    if inputs.is_empty() {
        return "none".to_string();
    }
    inputs.iter().map(|v| v.ty().to_string()).collect::<Vec<_>>().join(", ")
}

impl ModelBuilder {
    /// A builder for a graph called `name`.
    pub fn new(name: impl Into<String>) -> ModelBuilder {
        ModelBuilder {
            inner: Rc::new(RefCell::new(Inner {
                graph: Graph::new(name),
                error: None,
                scopes: Vec::new(),
                frames: Vec::new(),
                inputs: HashSet::new(),
                params: HashSet::new(),
                finished: false,
            })),
        }
    }

    pub(crate) fn same(&self, other: &ModelBuilder) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// The first error so far, if any.
    pub fn error(&self) -> Option<DslError> {
        self.inner.borrow().error.clone()
    }

    /// `Err` with the first error so far: lets model code stop early with `?`.
    pub fn check(&self) -> Result<(), DslError> {
        self.error().map_or(Ok(()), Err)
    }

    /// The current parameter scope, dot-joined (`blocks.0.attn`).
    pub fn scope_path(&self) -> String {
        self.inner.borrow().scopes.join(".")
    }

    /// Runs `f` with `name` pushed on the parameter scope: params created inside are called
    /// `<outer>.<name>.<param>`.
    pub fn scope<R>(&self, name: &str, f: impl FnOnce(&ModelBuilder) -> R) -> R {
        let _guard = self.enter(name);
        f(self)
    }

    /// Pushes `name` on the parameter scope until the guard is dropped.
    pub fn enter(&self, name: &str) -> ScopeGuard {
        self.inner.borrow_mut().scopes.push(name.to_string());
        ScopeGuard { b: self.clone(), scope: true, frame: false }
    }

    /// Records that a composite call (`layer_norm`, ...) is in progress, so errors inside it say so.
    pub fn frame(&self, call: &str) -> ScopeGuard {
        self.inner.borrow_mut().frames.push(call.to_string());
        ScopeGuard { b: self.clone(), scope: false, frame: true }
    }

    /// [`enter`](Self::enter) and [`frame`](Self::frame) at once: what a composite with parameters does.
    pub fn module(&self, name: &str, call: &str) -> ScopeGuard {
        let mut inner = self.inner.borrow_mut();
        inner.scopes.push(name.to_string());
        inner.frames.push(call.to_string());
        ScopeGuard { b: self.clone(), scope: true, frame: true }
    }

    fn context(&self, location: &Location<'_>) -> Box<ErrorContext> {
        let inner = self.inner.borrow();
        Box::new(ErrorContext {
            via: inner.frames.clone(),
            scope: inner.scopes.join("."),
            location: location.to_string(),
        })
    }

    fn poisoned(&self) -> Var {
        Var::poisoned(self.clone())
    }

    /// Keeps `err` if it is the first error, and returns a poisoned handle.
    pub(crate) fn record(&self, err: DslError) -> Var {
        let mut inner = self.inner.borrow_mut();
        if inner.error.is_none() {
            inner.error = Some(err);
        }
        drop(inner);
        self.poisoned()
    }

    /// Records a failed call `op` on `inputs` with reason `msg` (kept only if it is the first error)
    /// and returns a poisoned handle: how a custom composite rejects bad arguments.
    #[track_caller]
    pub fn fail(&self, op: &str, msg: impl Into<String>, inputs: &[&Var]) -> Var {
        let ctx = self.context(Location::caller());
        self.record(DslError::Op { op: op.to_string(), msg: msg.into(), inputs: describe(inputs), ctx })
    }

    /// `Some(poisoned)` if call `op` cannot proceed: an input is poisoned or from another builder,
    /// or the builder is finished. Records a new error only for the last two. Custom composites
    /// call it first so they do nothing on poisoned inputs.
    #[track_caller]
    pub fn guard(&self, op: &str, inputs: &[&Var]) -> Option<Var> {
        if inputs.iter().any(|v| v.is_poisoned()) {
            return Some(self.poisoned());
        }
        if inputs.iter().any(|v| !self.same(v.builder())) {
            let ctx = self.context(Location::caller());
            return Some(self.record(DslError::ForeignHandle { op: op.to_string(), ctx }));
        }
        if self.inner.borrow().finished {
            let ctx = self.context(Location::caller());
            return Some(self.record(DslError::Finished { op: op.to_string(), ctx }));
        }
        None
    }

    /// Adds `op` applied to `inputs`; the DSL call is named `name` in errors.
    #[track_caller]
    pub(crate) fn push(&self, name: &str, op: Op, inputs: &[&Var]) -> Var {
        if let Some(bad) = self.guard(name, inputs) {
            return bad;
        }
        let ids: Vec<NodeId> = inputs.iter().filter_map(|v| v.node()).collect();
        let pushed = self.inner.borrow_mut().graph.push(op, &ids);
        match pushed {
            Ok(id) => {
                let ty = self.inner.borrow().graph.ty(id).clone();
                Var::new(self.clone(), id, ty)
            }
            Err(IrError::Type { msg, .. }) => self.fail(name, msg, inputs),
            Err(e) => self.fail(name, e.to_string(), inputs),
        }
    }

    /// Parses a shape argument, recording a failure of `op` if it is malformed.
    #[track_caller]
    pub(crate) fn shape_arg(&self, op: &str, shape: &(impl ShapeSpec + ?Sized), inputs: &[&Var]) -> Option<Shape> {
        shape.to_shape().map_err(|msg| self.fail(op, msg, inputs)).ok()
    }

    /// A run-time input. Its shape may use symbols (`["B", "T", 64]`), bound when the graph runs.
    #[track_caller]
    pub fn input(&self, name: &str, dtype: DType, shape: impl ShapeSpec) -> Var {
        let Some(shape) = self.shape_arg("input", &shape, &[]) else { return self.poisoned() };
        if !self.inner.borrow_mut().inputs.insert(name.to_string()) {
            let ctx = self.context(Location::caller());
            return self.record(DslError::DuplicateName { kind: "input", name: name.to_string(), ctx });
        }
        self.push("input", Op::Input { name: name.to_string(), ty: TensorType::new(dtype, shape) }, &[])
    }

    /// A trainable parameter called `<scope>.<name>`, starting from `init` when no weights are loaded.
    #[track_caller]
    pub fn param(&self, name: &str, dtype: DType, shape: impl ShapeSpec, init: Init) -> Var {
        let Some(shape) = self.shape_arg("param", &shape, &[]) else { return self.poisoned() };
        let full = {
            let inner = self.inner.borrow();
            inner
                .scopes
                .iter()
                .map(String::as_str)
                .chain([name])
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(".")
        };
        if !self.inner.borrow_mut().params.insert(full.clone()) {
            let ctx = self.context(Location::caller());
            return self.record(DslError::DuplicateName { kind: "param", name: full, ctx });
        }
        self.push("param", Op::Param { name: full, ty: TensorType::new(dtype, shape), init }, &[])
    }

    /// A 0-d constant.
    #[track_caller]
    pub fn scalar(&self, value: f64, dtype: DType) -> Var {
        self.push("const", Op::Const { value, dtype }, &[])
    }

    /// A tensor of `shape` filled with `value` (a constant broadcast with `expand`).
    #[track_caller]
    pub fn full(&self, value: f64, dtype: DType, shape: impl ShapeSpec) -> Var {
        let Some(shape) = self.shape_arg("full", &shape, &[]) else { return self.poisoned() };
        let c = self.scalar(value, dtype);
        if shape.rank() == 0 { c } else { self.push("full", Op::Expand { shape }, &[&c]) }
    }

    /// A constant tensor of static `shape` with row-major `data`.
    #[track_caller]
    pub fn literal(&self, dtype: DType, shape: impl ShapeSpec, data: Vec<f64>) -> Var {
        let Some(shape) = self.shape_arg("literal", &shape, &[]) else { return self.poisoned() };
        self.push("literal", Op::Literal { ty: TensorType::new(dtype, shape), data }, &[])
    }

    /// `out[i_0, .., i_n] = i_axis` for a tensor of `shape`: positions, masks, one-hot.
    #[track_caller]
    pub fn iota(&self, dtype: DType, shape: impl ShapeSpec, axis: i32) -> Var {
        let Some(shape) = self.shape_arg("iota", &shape, &[]) else { return self.poisoned() };
        match axis_index(axis, shape.rank()) {
            Ok(axis) => self.push("iota", Op::Iota { axis, ty: TensorType::new(dtype, shape) }, &[]),
            Err(msg) => self.fail("iota", msg, &[]),
        }
    }

    /// `parts` joined along `axis`; the other dims must agree.
    #[track_caller]
    pub fn concat<V: std::borrow::Borrow<Var>>(&self, parts: &[V], axis: i32) -> Var {
        let parts: Vec<&Var> = parts.iter().map(|p| p.borrow()).collect();
        let Some(first) = parts.first() else { return self.fail("concat", "needs at least one tensor", &[]) };
        match axis_index(axis, first.ty().rank()) {
            Ok(axis) => self.push("concat", Op::Concat { axis }, &parts),
            Err(msg) => self.fail("concat", msg, &parts),
        }
    }

    /// Ends the build: names the outputs, verifies the graph and returns it, or the first error.
    /// The builder cannot be used afterwards.
    #[track_caller]
    pub fn finish(&self, outputs: &[(&str, &Var)]) -> Result<Graph, DslError> {
        let vars: Vec<&Var> = outputs.iter().map(|(_, v)| *v).collect();
        let _ = self.guard("finish", &vars);
        if self.inner.borrow().finished {
            let _ = self.guard("finish", &[]);
        }
        self.check()?;
        let mut inner = self.inner.borrow_mut();
        inner.finished = true;
        let mut graph = std::mem::take(&mut inner.graph);
        drop(inner);
        for (name, var) in outputs {
            // Every poisoned handle comes with a recorded error, so `check` has already returned.
            if let Some(node) = var.node() {
                graph.add_output(*name, node)?;
            }
        }
        graph.verify()?;
        Ok(graph)
    }
}
