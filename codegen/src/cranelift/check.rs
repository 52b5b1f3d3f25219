//! Validation before code generation: every index in range, dtypes consistent, variables defined before
//! use. After it passes, code generation may index the kernel's tables and call `Kernel::dtype_of`
//! freely.

use std::collections::HashSet;

use irc_ir::{DType, UnaryOp};

use super::CodegenError;
use crate::kir::{Access, BinOp, Expr, Kernel, Stmt, VarId};

pub(super) fn check_kernel(k: &Kernel) -> Result<(), CodegenError> {
    let mut c = Checker { k, defined: HashSet::new(), index_vars: HashSet::new() };
    if k.lanes.is_some() || !k.shared.is_empty() {
        return Err(c.unsupported(
            "block lanes and shared arrays (GPU schedules); the CPU backend runs kernels lowered with lanes = 1".into(),
        ));
    }
    for (var, extent) in &k.grid {
        c.var_dtype(*var)?;
        if !size_only(extent) {
            return Err(c.invalid(format!("grid extent {extent:?} may only use constants and sizes")));
        }
        c.expect(extent, DType::I64, "grid extent")?;
        c.define_index(*var)?;
    }
    c.stmts(&k.body)
}

/// True when `e` depends on nothing but constants and sizes (no variables, no loads).
pub(super) fn size_only(e: &Expr) -> bool {
    match e {
        Expr::Const { .. } | Expr::Size(_) => true,
        Expr::Var(_) | Expr::Load { .. } | Expr::SharedLoad { .. } => false,
        Expr::Unary { arg, .. } | Expr::Cast { arg, .. } => size_only(arg),
        Expr::Binary { lhs, rhs, .. } => size_only(lhs) && size_only(rhs),
        Expr::Select { cond, a, b } => size_only(cond) && size_only(a) && size_only(b),
    }
}

struct Checker<'a> {
    k: &'a Kernel,
    defined: HashSet<VarId>,
    /// Grid and loop variables in scope: read-only.
    index_vars: HashSet<VarId>,
}

impl Checker<'_> {
    fn invalid(&self, msg: String) -> CodegenError {
        CodegenError::Invalid { kernel: self.k.name.clone(), msg }
    }

    fn unsupported(&self, msg: String) -> CodegenError {
        CodegenError::Unsupported { kernel: self.k.name.clone(), msg }
    }

    fn var_dtype(&self, v: VarId) -> Result<DType, CodegenError> {
        self.k
            .vars
            .get(v.0 as usize)
            .map(|d| d.dtype)
            .ok_or_else(|| self.invalid(format!("undeclared variable #{}", v.0)))
    }

    fn var_name(&self, v: VarId) -> &str {
        self.k.vars.get(v.0 as usize).map_or("?", |d| d.name.as_str())
    }

    fn buffer(&self, buf: usize) -> Result<&crate::kir::BufferArg, CodegenError> {
        self.k.buffers.get(buf).ok_or_else(|| self.invalid(format!("buffer argument {buf} does not exist")))
    }

    fn define_index(&mut self, v: VarId) -> Result<(), CodegenError> {
        if self.var_dtype(v)? != DType::I64 {
            return Err(self.invalid(format!("index variable `{}` must be i64", self.var_name(v))));
        }
        if !self.index_vars.insert(v) {
            return Err(self.invalid(format!("index variable `{}` is already in scope", self.var_name(v))));
        }
        self.defined.insert(v);
        Ok(())
    }

    fn expect(&self, e: &Expr, want: DType, what: &str) -> Result<(), CodegenError> {
        let got = self.dtype(e)?;
        if got != want {
            return Err(self.invalid(format!("{what} must be {want}, got {got}")));
        }
        Ok(())
    }

    fn assignable(&self, v: VarId, value: &Expr) -> Result<(), CodegenError> {
        if self.index_vars.contains(&v) {
            return Err(self.invalid(format!("index variable `{}` is assigned", self.var_name(v))));
        }
        let want = self.var_dtype(v)?;
        self.expect(value, want, &format!("value of `{}`", self.var_name(v)))
    }

    fn stmts(&mut self, body: &[Stmt]) -> Result<(), CodegenError> {
        for s in body {
            match s {
                Stmt::Let { var, value } => {
                    self.assignable(*var, value)?;
                    self.defined.insert(*var);
                }
                Stmt::Assign { var, value } => {
                    self.assignable(*var, value)?;
                    if !self.defined.contains(var) {
                        return Err(self.invalid(format!("`{}` is assigned before it is defined", self.var_name(*var))));
                    }
                }
                Stmt::Loop { var, extent, body } => {
                    self.expect(extent, DType::I64, "loop extent")?;
                    let (defined, index_vars) = (self.defined.clone(), self.index_vars.clone());
                    self.define_index(*var)?;
                    self.stmts(body)?;
                    // Variables defined inside the loop are not visible after it.
                    (self.defined, self.index_vars) = (defined, index_vars);
                }
                Stmt::If { cond, body } => {
                    self.expect(cond, DType::Bool, "condition")?;
                    let (defined, index_vars) = (self.defined.clone(), self.index_vars.clone());
                    self.stmts(body)?;
                    (self.defined, self.index_vars) = (defined, index_vars);
                }
                Stmt::SharedStore { .. } | Stmt::Barrier => {
                    return Err(self.unsupported("shared arrays and barriers (GPU schedules)".into()));
                }
                Stmt::Store { buf, index, value } => {
                    let b = self.buffer(*buf)?;
                    if b.access != Access::Write {
                        return Err(self.invalid(format!("store to read-only buffer `{}`", b.name)));
                    }
                    let dtype = b.dtype;
                    self.expect(index, DType::I64, "store index")?;
                    self.expect(value, dtype, &format!("value stored to `{}`", b.name))?;
                }
            }
        }
        Ok(())
    }

    /// The dtype of `e`, checking it on the way.
    fn dtype(&self, e: &Expr) -> Result<DType, CodegenError> {
        Ok(match e {
            Expr::Const { dtype, .. } => *dtype,
            Expr::Var(v) => {
                let dtype = self.var_dtype(*v)?;
                if !self.defined.contains(v) {
                    return Err(self.invalid(format!("`{}` is used before it is defined", self.var_name(*v))));
                }
                dtype
            }
            Expr::Size(i) => {
                if *i >= self.k.sizes.len() {
                    return Err(self.invalid(format!("size {i} does not exist")));
                }
                DType::I64
            }
            Expr::Load { buf, index } => {
                let dtype = self.buffer(*buf)?.dtype;
                self.expect(index, DType::I64, "load index")?;
                dtype
            }
            Expr::Unary { op, arg } => {
                let t = self.dtype(arg)?;
                let ok = t.is_float() || (t.is_int() && matches!(op, UnaryOp::Neg | UnaryOp::Abs));
                if !ok {
                    return Err(self.invalid(format!("{} on {t}", op.name())));
                }
                t
            }
            Expr::Binary { op, lhs, rhs } => {
                let (a, b) = (self.dtype(lhs)?, self.dtype(rhs)?);
                if a != b {
                    return Err(self.invalid(format!("{} of {a} and {b}", op.name())));
                }
                if op.is_comparison() {
                    DType::Bool
                } else if a == DType::Bool && !matches!(op, BinOp::Max | BinOp::Min) {
                    return Err(self.unsupported(format!("{} on bool", op.name())));
                } else if a.is_int() && *op == BinOp::Pow {
                    return Err(self.unsupported(format!("pow on {a}")));
                } else {
                    a
                }
            }
            Expr::Select { cond, a, b } => {
                self.expect(cond, DType::Bool, "select condition")?;
                let (ta, tb) = (self.dtype(a)?, self.dtype(b)?);
                if ta != tb {
                    return Err(self.invalid(format!("select between {ta} and {tb}")));
                }
                ta
            }
            Expr::Cast { dtype, arg } => {
                self.dtype(arg)?;
                *dtype
            }
            Expr::SharedLoad { .. } => return Err(self.unsupported("shared arrays (GPU schedules)".into())),
        })
    }
}
