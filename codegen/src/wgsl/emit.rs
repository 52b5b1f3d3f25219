//! Kernel IR to WGSL text: the entry point (grid walk), statements and expressions.

use std::fmt::Write;

use irc_ir::{DType, UnaryOp};

use super::prelude::PRELUDE;
use super::{BindingPlan, UniformLayout, WORKGROUP_SIZE, WgslError};
use crate::kir::{BinOp, Expr, Kernel, Stmt, VarId};

/// How a kernel-IR dtype is held in WGSL values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Repr {
    F32,
    I32,
    Bool,
}

fn repr(kernel: &str, t: DType) -> Result<Repr, WgslError> {
    Ok(match t {
        DType::F32 | DType::F16 | DType::BF16 => Repr::F32,
        DType::I32 | DType::I64 => Repr::I32,
        DType::Bool => Repr::Bool,
        DType::F64 => {
            return Err(WgslError::Unsupported { kernel: kernel.into(), msg: "f64 (WGSL has no f64)".into() });
        }
    })
}

fn type_name(r: Repr) -> &'static str {
    match r {
        Repr::F32 => "f32",
        Repr::I32 => "i32",
        Repr::Bool => "bool",
    }
}

struct Emitter<'a> {
    k: &'a Kernel,
    plan: &'a BindingPlan,
    uniforms: UniformLayout,
    out: String,
}

pub(super) fn emit_kernel(k: &Kernel, plan: &BindingPlan) -> Result<String, WgslError> {
    let fits = plan.arg_slot.len() == k.buffers.len()
        && plan.half.len() == plan.writable.len()
        && plan
            .arg_slot
            .iter()
            .zip(&k.buffers)
            .all(|(&s, b)| s < plan.writable.len() && (!plan.half[s] || b.dtype == DType::F16));
    if !fits {
        return Err(WgslError::Invalid { kernel: k.name.clone(), msg: "binding plan does not fit the kernel".into() });
    }
    for b in &k.buffers {
        repr(&k.name, b.dtype)?;
    }
    for v in &k.vars {
        repr(&k.name, v.dtype)?;
    }
    for a in &k.shared {
        repr(&k.name, a.dtype)?;
    }
    let mut e = Emitter { k, plan, uniforms: UniformLayout::of(k), out: String::new() };
    e.header();
    e.entry()?;
    Ok(e.out)
}

impl Emitter<'_> {
    fn invalid(&self, msg: String) -> WgslError {
        WgslError::Invalid { kernel: self.k.name.clone(), msg }
    }

    fn header(&mut self) {
        let k = self.k;
        if self.plan.half.contains(&true) {
            let _ = writeln!(self.out, "enable f16;");
        }
        let _ = writeln!(self.out, "// kernel {}", k.name);
        for (i, b) in k.buffers.iter().enumerate() {
            let _ = writeln!(self.out, "// arg {i}: {} {} in binding s{}", b.name, b.dtype, self.plan.arg_slot[i]);
        }
        let _ = writeln!(self.out, "\nstruct Uniforms {{ u: array<vec4<i32>, {}> }}", self.uniforms.entries() / 4);
        let _ = writeln!(self.out, "@group(0) @binding(0) var<uniform> params: Uniforms;");
        for (s, (&w, &half)) in self.plan.writable.iter().zip(&self.plan.half).enumerate() {
            let access = if w { "read_write" } else { "read" };
            let elem = if half { "f16" } else { "u32" };
            let _ = writeln!(self.out, "@group(0) @binding({}) var<storage, {access}> s{s}: array<{elem}>;", s + 1);
        }
        for (i, a) in k.shared.iter().enumerate() {
            // Workgroup memory holds bools as u32, like storage.
            let t = match repr(&k.name, a.dtype) {
                Ok(Repr::Bool) => "u32",
                Ok(r) => type_name(r),
                Err(_) => "f32",
            };
            let _ = writeln!(self.out, "var<workgroup> sh{i}: array<{t}, {}>;", a.len.max(1));
        }
        self.out.push_str(PRELUDE);
    }

    /// Uniform entry `i` as an i32 expression.
    fn uniform(&self, i: usize) -> String {
        format!("params.u[{}][{}]", i / 4, i % 4)
    }

    fn entry(&mut self) -> Result<(), WgslError> {
        let k = self.k;
        let total = self.uniform(self.uniforms.total_entry());
        match k.lanes {
            // One workgroup per grid point: the id is uniform across the workgroup, so the early return
            // keeps barriers in uniform control flow.
            Some(lanes) => {
                let _ = writeln!(
                    self.out,
                    "\n@compute @workgroup_size({})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, \
                     @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{",
                    lanes.count
                );
                let _ = writeln!(self.out, "  let id = i32(wid.x + wid.y * nwg.x);");
                let _ = writeln!(self.out, "  if (id >= {total}) {{ return; }}");
                let _ = writeln!(self.out, "  let {} = i32(lid);", self.var(lanes.var)?);
            }
            None => {
                let _ = writeln!(
                    self.out,
                    "\n@compute @workgroup_size({WORKGROUP_SIZE})\nfn main(@builtin(global_invocation_id) gid: vec3<u32>, \
                     @builtin(num_workgroups) nwg: vec3<u32>) {{"
                );
                let _ = writeln!(self.out, "  let id = i32(gid.x + gid.y * nwg.x * {WORKGROUP_SIZE}u);");
                let _ = writeln!(self.out, "  if (id >= {total}) {{ return; }}");
            }
        }
        // Unravel the flat id over the grid, innermost last.
        let _ = writeln!(self.out, "  var rest = id;");
        for (i, (var, extent)) in k.grid.iter().enumerate().rev() {
            let ext = self.expr(extent)?;
            let name = self.var(*var)?;
            if i == 0 {
                let _ = writeln!(self.out, "  let {name} = rest;");
            } else {
                let _ = writeln!(self.out, "  let {name} = rest % max({ext}, 1);\n  rest = rest / max({ext}, 1);");
            }
        }
        self.stmts(&k.body, 1)?;
        self.out.push_str("}\n");
        Ok(())
    }

    fn var(&self, v: VarId) -> Result<String, WgslError> {
        if (v.0 as usize) < self.k.vars.len() {
            Ok(format!("v{}", v.0))
        } else {
            Err(self.invalid(format!("undeclared variable #{}", v.0)))
        }
    }

    fn dtype_of(&self, e: &Expr) -> Result<DType, WgslError> {
        // `Kernel::dtype_of` indexes tables: check the indices it reads first.
        match e {
            Expr::Var(v) => {
                self.var(*v)?;
            }
            Expr::Load { buf, .. } if *buf >= self.k.buffers.len() => {
                return Err(self.invalid(format!("load of buffer argument {buf}")));
            }
            Expr::SharedLoad { arr, .. } if *arr >= self.k.shared.len() => {
                return Err(self.invalid(format!("load of shared array {arr}")));
            }
            Expr::Unary { arg, .. } => {
                self.dtype_of(arg)?;
            }
            Expr::Binary { lhs, .. } => {
                self.dtype_of(lhs)?;
            }
            Expr::Select { a, .. } => {
                self.dtype_of(a)?;
            }
            _ => {}
        }
        Ok(self.k.dtype_of(e))
    }

    fn stmts(&mut self, body: &[Stmt], depth: usize) -> Result<(), WgslError> {
        for s in body {
            self.stmt(s, depth)?;
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt, depth: usize) -> Result<(), WgslError> {
        let pad = "  ".repeat(depth);
        match s {
            Stmt::Let { var, value } => {
                let (name, t) = (self.var(*var)?, self.k.vars[var.0 as usize].dtype);
                let value = self.expr(value)?;
                let _ = writeln!(self.out, "{pad}var {name}: {} = {value};", type_name(repr(&self.k.name, t)?));
            }
            Stmt::Assign { var, value } => {
                let (name, value) = (self.var(*var)?, self.expr(value)?);
                let _ = writeln!(self.out, "{pad}{name} = {value};");
            }
            Stmt::Loop { var, extent, body } => {
                let (name, extent) = (self.var(*var)?, self.expr(extent)?);
                let _ = writeln!(
                    self.out,
                    "{pad}{{\n{pad}let n{} = {extent};\n{pad}for (var {name}: i32 = 0; {name} < n{}; {name} = {name} + 1) {{",
                    var.0, var.0
                );
                self.stmts(body, depth + 1)?;
                let _ = writeln!(self.out, "{pad}}}\n{pad}}}");
            }
            Stmt::If { cond, body } => {
                let cond = self.expr(cond)?;
                let _ = writeln!(self.out, "{pad}if ({cond}) {{");
                self.stmts(body, depth + 1)?;
                let _ = writeln!(self.out, "{pad}}}");
            }
            Stmt::Barrier => {
                let _ = writeln!(self.out, "{pad}workgroupBarrier();");
            }
            Stmt::SharedStore { arr, index, value } => {
                let a = self.k.shared.get(*arr).ok_or_else(|| self.invalid(format!("shared array {arr}")))?;
                let value = match repr(&self.k.name, a.dtype)? {
                    Repr::Bool => format!("select(0u, 1u, {})", self.expr(value)?),
                    _ => self.expr(value)?,
                };
                let _ = writeln!(self.out, "{pad}sh{arr}[{}] = {value};", self.expr(index)?);
            }
            Stmt::Store { buf, index, value } => {
                let arg = self.k.buffers.get(*buf).ok_or_else(|| self.invalid(format!("store to buffer {buf}")))?;
                let word = match repr(&self.k.name, arg.dtype)? {
                    // The value is an f16 value held in f32 (every f16 result is rounded), so the
                    // conversion is exact.
                    _ if self.half(*buf) => format!("f16({})", self.expr(value)?),
                    Repr::F32 => format!("bitcast<u32>({})", self.expr(value)?),
                    Repr::I32 => format!("bitcast<u32>({})", self.expr(value)?),
                    Repr::Bool => format!("select(0u, 1u, {})", self.expr(value)?),
                };
                let at = self.address(*buf, index)?;
                let _ = writeln!(self.out, "{pad}{at} = {word};");
            }
        }
        Ok(())
    }

    /// Whether buffer argument `buf` lives in an `array<f16>` binding.
    fn half(&self, buf: usize) -> bool {
        self.plan.half[self.plan.arg_slot[buf]]
    }

    /// The storage element of element `index` of buffer argument `buf`: a word, or an f16.
    fn address(&self, buf: usize, index: &Expr) -> Result<String, WgslError> {
        let slot = self.plan.arg_slot[buf];
        let offset = self.uniform(self.uniforms.offset_entry(buf));
        Ok(format!("s{slot}[u32({offset} + {})]", self.expr(index)?))
    }

    fn expr(&self, e: &Expr) -> Result<String, WgslError> {
        Ok(match e {
            Expr::Const { value, dtype } => constant(&self.k.name, *value, *dtype)?,
            Expr::Var(v) => self.var(*v)?,
            Expr::Size(i) => {
                if *i >= self.k.sizes.len() {
                    return Err(self.invalid(format!("size #{i} out of range")));
                }
                self.uniform(self.uniforms.size_entry(*i))
            }
            Expr::Load { buf, index } => {
                let t = self.dtype_of(e)?;
                let word = self.address(*buf, index)?;
                match repr(&self.k.name, t)? {
                    _ if self.half(*buf) => format!("f32({word})"),
                    Repr::F32 => format!("bitcast<f32>({word})"),
                    Repr::I32 => format!("bitcast<i32>({word})"),
                    Repr::Bool => format!("({word} != 0u)"),
                }
            }
            Expr::SharedLoad { arr, index } => {
                let a = self.k.shared.get(*arr).ok_or_else(|| self.invalid(format!("shared array {arr}")))?;
                let at = format!("sh{arr}[{}]", self.expr(index)?);
                match repr(&self.k.name, a.dtype)? {
                    Repr::Bool => format!("({at} != 0u)"),
                    _ => at,
                }
            }
            Expr::Unary { op, arg } => {
                let t = self.dtype_of(arg)?;
                let a = self.expr(arg)?;
                let r = match (repr(&self.k.name, t)?, op) {
                    (Repr::F32, UnaryOp::Neg) => format!("(-{a})"),
                    (Repr::F32, UnaryOp::Exp) => format!("exp({a})"),
                    (Repr::F32, UnaryOp::Log) => format!("log({a})"),
                    (Repr::F32, UnaryOp::Sqrt) => format!("sqrt({a})"),
                    (Repr::F32, UnaryOp::Recip) => format!("(1.0 / {a})"),
                    (Repr::F32, UnaryOp::Sin) => format!("sin({a})"),
                    (Repr::F32, UnaryOp::Cos) => format!("cos({a})"),
                    (Repr::F32, UnaryOp::Tanh) => format!("irc_tanh({a})"),
                    (Repr::F32, UnaryOp::Abs) => format!("abs({a})"),
                    (Repr::I32, UnaryOp::Neg) => format!("(-{a})"),
                    (Repr::I32, UnaryOp::Abs) => format!("abs({a})"),
                    _ => return Err(self.invalid(format!("{} on {t}", op.name()))),
                };
                round(t, r)
            }
            Expr::Binary { op, lhs, rhs } => {
                let t = self.dtype_of(lhs)?;
                let (a, b) = (self.expr(lhs)?, self.expr(rhs)?);
                let r = binary(*op, repr(&self.k.name, t)?, &a, &b)
                    .ok_or_else(|| self.invalid(format!("{} on {t}", op.name())))?;
                if op.is_comparison() { r } else { round(t, r) }
            }
            Expr::Select { cond, a, b } => {
                format!("select({}, {}, {})", self.expr(b)?, self.expr(a)?, self.expr(cond)?)
            }
            Expr::Cast { dtype, arg } => {
                let from = self.dtype_of(arg)?;
                let a = self.expr(arg)?;
                let r = match (repr(&self.k.name, from)?, repr(&self.k.name, *dtype)?) {
                    (Repr::F32, Repr::F32) | (Repr::I32, Repr::I32) | (Repr::Bool, Repr::Bool) => a,
                    (Repr::F32, Repr::I32) => format!("irc_f2i({a})"),
                    (Repr::F32, Repr::Bool) => format!("irc_fne({a}, 0.0)"),
                    (Repr::I32, Repr::F32) => format!("f32({a})"),
                    (Repr::I32, Repr::Bool) => format!("({a} != 0)"),
                    (Repr::Bool, Repr::F32) => format!("select(0.0, 1.0, {a})"),
                    (Repr::Bool, Repr::I32) => format!("select(0, 1, {a})"),
                };
                if *dtype == from { r } else { round(*dtype, r) }
            }
        })
    }
}

/// `value` rounded to `t` when `t` is narrower than its f32 representation.
fn round(t: DType, value: String) -> String {
    match t {
        DType::F16 => format!("irc_round_f16({value})"),
        DType::BF16 => format!("irc_round_bf16({value})"),
        _ => value,
    }
}

fn binary(op: BinOp, r: Repr, a: &str, b: &str) -> Option<String> {
    let infix = |o: &str| format!("({a} {o} {b})");
    Some(match (r, op) {
        (_, BinOp::Lt) if r != Repr::Bool => infix("<"),
        (_, BinOp::Le) if r != Repr::Bool => infix("<="),
        (_, BinOp::Eq) => infix("=="),
        (Repr::F32, BinOp::Ne) => format!("irc_fne({a}, {b})"),
        (_, BinOp::Ne) => infix("!="),
        (Repr::Bool, BinOp::Lt) => format!("(!{a} && {b})"),
        (Repr::Bool, BinOp::Le) => format!("(!{a} || {b})"),
        (Repr::Bool, BinOp::Max) => infix("||"),
        (Repr::Bool, BinOp::Min) => infix("&&"),
        (Repr::Bool, _) => return None,
        (_, BinOp::Add) => infix("+"),
        (_, BinOp::Sub) => infix("-"),
        (_, BinOp::Mul) => infix("*"),
        (Repr::F32, BinOp::Div) => infix("/"),
        (Repr::F32, BinOp::Rem) => infix("%"),
        (Repr::F32, BinOp::Max) => format!("irc_fmax({a}, {b})"),
        (Repr::F32, BinOp::Min) => format!("irc_fmin({a}, {b})"),
        (Repr::F32, BinOp::Pow) => format!("irc_pow({a}, {b})"),
        (Repr::I32, BinOp::Div) => format!("irc_idiv({a}, {b})"),
        (Repr::I32, BinOp::Rem) => format!("irc_irem({a}, {b})"),
        (Repr::I32, BinOp::Max) => format!("max({a}, {b})"),
        (Repr::I32, BinOp::Min) => format!("min({a}, {b})"),
        (Repr::I32, BinOp::Pow) => return None,
        (_, BinOp::Lt | BinOp::Le) => unreachable!("handled by the guards above"),
    })
}

/// A constant of `dtype` as a WGSL expression. Floats that the shortest decimal does not round-trip
/// through a normal f32 literal (infinities, NaN, subnormals) are written as their bits. Integer
/// constants saturate to i32: device integers are i32, so an i64 reduction identity like `i64::MIN`
/// acts as `i32::MIN` on values that all fit i32 (checked on upload).
fn constant(kernel: &str, value: f64, dtype: DType) -> Result<String, WgslError> {
    Ok(match repr(kernel, dtype)? {
        Repr::F32 => {
            // An f16 or bf16 constant is that format's value (the evaluator rounds it when it is stored).
            let v = irc_ir::round_to(dtype, value) as f32;
            if v.is_normal() || v == 0.0 {
                let text = format!("{v:?}");
                let text = if text.contains(['.', 'e']) { text } else { format!("{text}.0") };
                if v.is_sign_negative() { format!("({text}f)") } else { format!("{text}f") }
            } else {
                format!("bitcast<f32>({}u)", v.to_bits())
            }
        }
        Repr::I32 => {
            let v = (value as i64).clamp(i32::MIN as i64, i32::MAX as i64);
            if v == i32::MIN as i64 { "i32(-2147483648)".to_string() } else { format!("({v}i)") }
        }
        Repr::Bool => (value != 0.0).to_string(),
    })
}
