//! Statements and control flow. Loops and conditionals become labels and predicated branches; every
//! statement is preceded by a comment with its kernel-IR form, so a dump reads alongside the kernel IR.

use irc_ir::DType;

use super::PtxError;
use super::entry::Emit;
use super::types::mov_type;
use crate::kir::{Expr, Stmt, print_expr};

impl Emit<'_> {
    pub fn stmts(&mut self, body: &[Stmt]) -> Result<(), PtxError> {
        body.iter().try_for_each(|s| self.stmt(s))
    }

    /// `value` as dtype `to` (the dtype of the variable, buffer or array it goes to).
    fn value_as(&mut self, value: &Expr, to: DType) -> Result<String, PtxError> {
        let from = self.dtype(value);
        if from == to && to != DType::Bool {
            return self.operand(value);
        }
        let v = self.expr(value)?;
        Ok(self.cast(from, to, &v))
    }

    fn stmt(&mut self, s: &Stmt) -> Result<(), PtxError> {
        let k = self.k;
        match s {
            Stmt::Let { var, value } | Stmt::Assign { var, value } => {
                let decl = &k.vars[var.0 as usize];
                let kw = if matches!(s, Stmt::Let { .. }) { "let " } else { "" };
                self.a.comment(&format!("{kw}{} = {}", decl.name, print_expr(k, value)));
                let v = self.value_as(value, decl.dtype)?;
                let reg = self.vars[var.0 as usize].clone();
                if v != reg {
                    self.a.ins(format!("mov.{} {reg}, {v}", mov_type(decl.dtype)));
                }
            }
            Stmt::Store { buf, index, value } => {
                let b = &k.buffers[*buf];
                self.a.comment(&format!("{}[{}] = {}", b.name, print_expr(k, index), print_expr(k, value)));
                let i = self.index(index)?;
                let v = self.value_as(value, b.dtype)?;
                self.store_global(*buf, &i, &v);
            }
            Stmt::SharedStore { arr, index, value } => {
                let a = &k.shared[*arr];
                self.a.comment(&format!("{}[{}] = {}", a.name, print_expr(k, index), print_expr(k, value)));
                let i = self.index(index)?;
                let v = self.value_as(value, a.dtype)?;
                self.store_shared(*arr, &i, &v);
            }
            Stmt::Loop { var, extent, body } => {
                let name = &k.vars[var.0 as usize].name;
                if k.vars[var.0 as usize].dtype != DType::I64 {
                    return Err(self.invalid(format!("loop variable `{name}` is not i64")));
                }
                self.a.comment(&format!("for {name} in 0..{}", print_expr(k, extent)));
                let n = self.index(extent)?;
                let i = self.vars[var.0 as usize].clone();
                let (head, end) = (self.a.label("loop"), self.a.label("end_loop"));
                self.a.ins(format!("mov.b64 {i}, 0"));
                self.a.place(&head);
                let done = self.ins(super::types::Class::Pred, "setp.ge.s64", &[&i, &n]);
                self.a.ins(format!("@{done} bra {end}"));
                self.stmts(body)?;
                self.a.ins(format!("add.s64 {i}, {i}, 1"));
                self.a.ins(format!("bra {head}"));
                self.a.place(&end);
                self.a.comment(&format!("end for {name}"));
            }
            Stmt::If { cond, body } => {
                if self.dtype(cond) != DType::Bool {
                    return Err(self.invalid("a condition that is not bool"));
                }
                self.a.comment(&format!("if {}", print_expr(k, cond)));
                let c = self.expr(cond)?;
                let end = self.a.label("end_if");
                self.a.ins(format!("@!{c} bra {end}"));
                self.stmts(body)?;
                self.a.place(&end);
            }
            Stmt::Barrier => {
                self.a.comment("barrier");
                self.a.ins("bar.sync 0");
            }
        }
        Ok(())
    }
}
