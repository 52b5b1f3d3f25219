//! Buffer addresses, split so that x86 addressing modes absorb most of the arithmetic, with the
//! loop-invariant part computed once per loop.
//!
//! An index is a sum of terms times integer coefficients plus a constant (`Affine`). A variable whose
//! value is `x + c` (a vector group's first iteration, a gather lane) counts as `x` plus a constant, so
//! the groups of an unrolled vector loop load from one address register at different offsets, and the
//! constant becomes the load's or store's immediate offset.
//!
//! Cranelift 0.135 does not hoist pure instructions out of loops (its egraph places them at their uses,
//! so `buf + row * stride * size` was recomputed for every load), so loops hoist their address bases
//! themselves: before a loop, `hoist_bases` computes `buf + Σ invariant terms · size` for every access in
//! its body whose terms are variables or sizes the body does not assign, and carries it as a loop
//! variable (redefined at the back edge, which makes it a block parameter that the egraph cannot sink).
//! `address_of` then starts from the largest hoisted base whose terms it contains and adds the rest. All
//! arithmetic wraps, so any grouping of the sum gives the same address. An access whose stride in the
//! loop variable is no x86 scale (1, 2, 4 or 8 bytes; a packed matmul operand's row) gets an induction
//! base that also holds the loop variable's term and grows by the loop's step at each back edge,
//! instead of a multiply per iteration.
//!
//! Float kernel variables a loop reads but does not assign (a row's mean and inverse deviation in the
//! normalizing loop of a layer norm) are carried the same way: otherwise the egraph places the
//! divisions and square roots that compute them inside the loop, once per iteration.

use std::collections::HashSet;

use cranelift_codegen::ir::{InstBuilder, InstructionData, Opcode, Value, ValueDef, types};
use cranelift_frontend::Variable;
use irc_ir::DType;

use super::expr::Tx;
use crate::kir::{Affine, BinOp, Expr, Stmt, VarId};

/// A leaf term of an index that a hoisted base may cover.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Leaf {
    Var(VarId),
    Size(usize),
}

/// `buf + Σ x · coeff · size` over its terms, computed before a loop and carried through it in `var`.
pub(super) struct Base {
    buf: usize,
    /// (leaf, coefficient, x, c): the leaf's value before the loop was `x + c` (`peel`), and the base
    /// holds `x · coefficient`, sorted by (leaf, coefficient).
    terms: Vec<BaseTerm>,
    var: Variable,
    /// An induction base also holds the loop variable's term, `loop var · coefficient · size` with a
    /// coefficient no x86 scale covers (a matmul's `B[k, n]` row stride): `step` is its bytes per unit
    /// of the loop variable, added at each back edge, so the loop needs no multiply per iteration.
    induction: Option<(VarId, i64)>,
}

/// (leaf, coefficient, x, c) of a hoisted base (see `Base::terms`).
type BaseTerm = (Leaf, i64, Value, i64);

/// A hoisted base found for an access: its variable, terms and induction (see `Base`).
type Hoisted = (Variable, Vec<BaseTerm>, Option<(VarId, i64)>);

fn leaf(e: &Expr) -> Option<Leaf> {
    match e {
        Expr::Var(u) => Some(Leaf::Var(*u)),
        Expr::Size(i) => Some(Leaf::Size(*i)),
        _ => None,
    }
}

impl Tx<'_, '_> {
    /// The address of element `index` of `buf`, as a base value and an immediate byte offset.
    pub fn address_of(&mut self, buf: usize, index: &Expr) -> (Value, i32) {
        let size = self.k.buffers[buf].dtype.size_bytes() as i64;
        let affine = Affine::of(index);
        let mut constant = affine.constant;
        let mut rest = affine.terms;
        let mut base = self.bufs[buf];
        if let Some((var, covered, induction)) = self.hoisted_base(buf, &mut rest) {
            base = self.b.use_var(var);
            for (leaf, coeff, x0, c0) in covered {
                // A variable the loop does not assign is `x0 + c0` here too (its value may be a header
                // parameter that the SSA builder has yet to resolve); a vector loop's variable is its
                // group's or lane's offset from the group base `x0` (vector code hoists after
                // `enter_group(0)`).
                // An induction base follows the loop variable: inside the body that is the iteration's
                // value plus a constant (an unrolled copy's), which is the offset.
                let c = match leaf {
                    Leaf::Var(u) if induction.is_some_and(|(v, _)| v == u) => {
                        let value = self.b.use_var(self.vars[u.0 as usize]);
                        self.peel(value).1
                    }
                    Leaf::Var(u) => {
                        let value = self.b.use_var(self.vars[u.0 as usize]);
                        let (x, c) = self.peel(value);
                        if x == x0 { c } else { c0 }
                    }
                    Leaf::Size(_) => c0,
                };
                constant = constant.wrapping_add(c.wrapping_mul(coeff));
            }
        }
        let mut terms = Vec::new();
        for (e, coeff) in rest {
            let value = self.expr(e);
            let (v, c) = self.peel(value);
            constant = constant.wrapping_add(c.wrapping_mul(coeff));
            terms.push((v, coeff));
        }
        let bytes = constant.wrapping_mul(size);
        let offset = i32::try_from(bytes).ok();
        if offset.is_none() {
            // Too far for an immediate: an element count, scaled with the other terms.
            let k = self.b.ins().iconst(types::I64, constant);
            terms.push((k, 1));
        }
        if let Some(sum) = self.scaled_sum(&terms, size) {
            base = self.b.ins().iadd(base, sum);
        }
        (base, offset.unwrap_or(0))
    }

    /// The hoisted base of `buf` with the most terms, all of which `terms` contains: removes those from
    /// `terms` and returns the base's variable and terms.
    fn hoisted_base(&self, buf: usize, terms: &mut Vec<(&Expr, i64)>) -> Option<Hoisted> {
        let leaves: Vec<Option<(Leaf, i64)>> = terms.iter().map(|&(e, c)| leaf(e).map(|l| (l, c))).collect();
        let mut best: Option<(&Base, Vec<usize>)> = None;
        for base in self.bases.iter().flatten().filter(|b| b.buf == buf) {
            let mut used: Vec<usize> = Vec::new();
            let contained = base.terms.iter().all(|&(l, c, ..)| {
                match (0..leaves.len()).find(|i| !used.contains(i) && leaves[*i] == Some((l, c))) {
                    Some(i) => {
                        used.push(i);
                        true
                    }
                    None => false,
                }
            });
            if contained && best.as_ref().is_none_or(|(b, _)| base.terms.len() > b.terms.len()) {
                best = Some((base, used));
            }
        }
        let (base, mut used) = best?;
        used.sort_unstable();
        for i in used.into_iter().rev() {
            terms.remove(i);
        }
        Some((base.var, base.terms.clone(), base.induction))
    }

    /// Before a loop over `var` with `body`: computes the invariant bases of the body's accesses (see the
    /// module docs) and opens their scope; `close_bases` ends it after the loop.
    /// `lanes` holds the variables that live as vectors in the loop (a vector loop's locals): they
    /// are neither scalars to carry nor divisors with a scalar reciprocal.
    /// With `lo`, the loop variable's value before the loop, accesses whose stride in it is no x86
    /// scale get induction bases (see `Base::induction`).
    pub fn hoist_bases(&mut self, var: VarId, lo: Option<Value>, body: &[Stmt], lanes: &dyn Fn(VarId) -> bool) {
        let mut assigned = HashSet::from([var]);
        let mut accesses = Vec::new();
        collect(body, &mut assigned, &mut accesses);
        let mut scope: Vec<Base> = Vec::new();
        for (buf, index) in &accesses {
            let size = self.k.buffers[*buf].dtype.size_bytes() as i64;
            let affine = Affine::of(index);
            let mut terms = Vec::new();
            let mut induction = None;
            for (e, coeff) in affine.terms {
                let (l, value) = match (leaf(e), lo) {
                    (Some(l @ Leaf::Var(u)), _) if !assigned.contains(&u) => {
                        (l, self.b.use_var(self.vars[u.0 as usize]))
                    }
                    (Some(l @ Leaf::Size(i)), _) => (l, self.sizes[i]),
                    (Some(l @ Leaf::Var(u)), Some(lo))
                        if u == var && induction.is_none() && !matches!(coeff.wrapping_mul(size), 1 | 2 | 4 | 8) =>
                    {
                        induction = Some((var, coeff.wrapping_mul(size)));
                        (l, lo)
                    }
                    _ => continue,
                };
                // The induction term holds `lo` itself: the loop variable's offsets count from it.
                let (x, c) = if l == Leaf::Var(var) { (value, 0) } else { self.peel(value) };
                terms.push((l, coeff, x, c));
            }
            terms.sort_unstable_by_key(|&(l, c, ..)| (l, c));
            let same =
                |b: &Base| b.buf == *buf && b.terms.iter().map(|t| (t.0, t.1)).eq(terms.iter().map(|t| (t.0, t.1)));
            if terms.is_empty() || scope.iter().any(same) {
                continue;
            }
            let values: Vec<(Value, i64)> = terms.iter().map(|&(_, c, x, _)| (x, c)).collect();
            let Some(sum) = self.scaled_sum(&values, size) else { continue };
            let value = self.b.ins().iadd(self.bufs[*buf], sum);
            let var = self.b.declare_var(types::I64);
            self.b.def_var(var, value);
            scope.push(Base { buf: *buf, terms, var, induction });
        }
        self.bases.push(scope);

        let mut read = HashSet::new();
        reads(body, &mut read);
        let mut carried: Vec<VarId> = read.difference(&assigned).copied().filter(|&u| !lanes(u)).collect();
        carried.sort_unstable();
        carried.retain(|&u| {
            let value = self.b.use_var(self.vars[u.0 as usize]);
            self.b.func.dfg.value_type(value).is_float()
        });
        let mut floats: Vec<Variable> = carried.iter().map(|u| self.vars[u.0 as usize]).collect();
        // x / d for an invariant f32 d becomes x * (1 / d) with relaxed rounding (`contract`): at most
        // one more rounding, and no division per element.
        let mut recips = Vec::new();
        if self.options.contract {
            let mut divisors = HashSet::new();
            divided_by(body, &mut divisors);
            // f32 only: f16 and bf16 values live as f32 but round every result.
            let f32s = carried.iter().filter(|&&u| self.k.dtype_of(&Expr::Var(u)) == DType::F32);
            let divisors: Vec<VarId> = f32s.filter(|u| divisors.contains(u)).copied().collect();
            for u in divisors {
                let d = self.b.use_var(self.vars[u.0 as usize]);
                let one = self.b.ins().f32const(1.0);
                let r = self.b.ins().fdiv(one, d);
                let var = self.b.declare_var(types::F32);
                self.b.def_var(var, r);
                recips.push((u, var));
                floats.push(var);
            }
        }
        self.carried.push(floats);
        self.recips.push(recips);
    }

    pub fn close_bases(&mut self) {
        self.bases.pop();
        self.carried.pop();
        self.recips.pop();
    }

    /// At the end of a loop body that advances the loop variable by `step`: redefines the innermost
    /// scope's bases as themselves plus zero, so that each becomes a parameter of the loop header (which
    /// the egraph simplifies back to a plain copy, but cannot move into the loop), and induction bases
    /// as themselves plus `step` strides.
    pub fn carry_bases(&mut self, step: i64) {
        let vars: Vec<(Variable, i64)> = self
            .bases
            .last()
            .map(|s| s.iter().map(|b| (b.var, b.induction.map_or(0, |(_, stride)| stride * step))).collect())
            .unwrap_or_default();
        for (var, bytes) in vars {
            let v = self.b.use_var(var);
            let next = self.b.ins().iadd_imm_s(v, bytes);
            self.b.def_var(var, next);
        }
        // `-(-x)` is `x` bit for bit (NaN payloads included); the egraph folds it to a copy.
        let floats = self.carried.last().cloned().unwrap_or_default();
        for var in floats {
            let v = self.b.use_var(var);
            let neg = self.b.ins().fneg(v);
            let same = self.b.ins().fneg(neg);
            self.b.def_var(var, same);
        }
    }

    /// `v` as `(x, c)` with `v = x + c`, looking through adds of constants (`iadd_imm_s`).
    fn peel(&self, v: Value) -> (Value, i64) {
        let dfg = &self.b.func.dfg;
        let iconst = |v: Value| match dfg.value_def(v) {
            ValueDef::Result(inst, 0) => match dfg.insts[inst] {
                InstructionData::UnaryImm { opcode: Opcode::Iconst, imm } if dfg.value_type(v) == types::I64 => {
                    Some(imm.bits())
                }
                _ => None,
            },
            _ => None,
        };
        if let ValueDef::Result(inst, 0) = dfg.value_def(v)
            && let InstructionData::Binary { opcode: Opcode::Iadd, args: [x, y] } = dfg.insts[inst]
            && let Some(c) = iconst(y)
        {
            let (x, d) = self.peel(x);
            return (x, d.wrapping_add(c));
        }
        (v, 0)
    }

    /// `Σ value · coeff · size` (terms of one coefficient summed before scaling), or `None` for no terms.
    fn scaled_sum(&mut self, terms: &[(Value, i64)], size: i64) -> Option<Value> {
        let mut coeffs: Vec<i64> = terms.iter().map(|&(_, c)| c).filter(|&c| c != 0).collect();
        coeffs.sort_unstable();
        coeffs.dedup();
        let mut total: Option<Value> = None;
        for c in coeffs {
            let mut sum: Option<Value> = None;
            for &(v, _) in terms.iter().filter(|&&(_, k)| k == c) {
                sum = Some(match sum {
                    None => v,
                    Some(s) => self.b.ins().iadd(s, v),
                });
            }
            let sum = sum?;
            let scale = c.wrapping_mul(size);
            let scaled = if scale > 0 && scale.count_ones() == 1 {
                self.b.ins().ishl_imm_u(sum, scale.trailing_zeros() as i64)
            } else {
                self.b.ins().imul_imm_s(sum, scale)
            };
            total = Some(match total {
                None => scaled,
                Some(t) => self.b.ins().iadd(t, scaled),
            });
        }
        total
    }
}

/// The variables `body` assigns (added to `assigned`) and its buffer accesses (loads and stores).
fn collect(body: &[Stmt], assigned: &mut HashSet<VarId>, accesses: &mut Vec<(usize, Expr)>) {
    let loads = |e: &Expr, accesses: &mut Vec<(usize, Expr)>| {
        e.visit(&mut |x| {
            if let Expr::Load { buf, index } = x {
                accesses.push((*buf, (**index).clone()));
            }
        })
    };
    for s in body {
        match s {
            Stmt::Let { var, value } | Stmt::Assign { var, value } => {
                assigned.insert(*var);
                loads(value, accesses);
            }
            Stmt::Store { buf, index, value } => {
                accesses.push((*buf, index.clone()));
                loads(index, accesses);
                loads(value, accesses);
            }
            Stmt::Loop { var, extent, body } => {
                assigned.insert(*var);
                loads(extent, accesses);
                collect(body, assigned, accesses);
            }
            Stmt::If { cond, body } => {
                loads(cond, accesses);
                collect(body, assigned, accesses);
            }
            Stmt::SharedStore { .. } | Stmt::Barrier => {}
        }
    }
}

/// The kernel variables `body` reads.
fn reads(body: &[Stmt], out: &mut HashSet<VarId>) {
    Stmt::visit_exprs(body, &mut |e| {
        if let Expr::Var(u) = e {
            out.insert(*u);
        }
    });
}

/// The kernel variables `body` divides by (`x / u`).
fn divided_by(body: &[Stmt], out: &mut HashSet<VarId>) {
    Stmt::visit_exprs(body, &mut |e| {
        if let Expr::Binary { op: BinOp::Div, rhs, .. } = e
            && let Expr::Var(u) = **rhs
        {
            out.insert(u);
        }
    });
}
