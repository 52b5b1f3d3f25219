//! Facts about `i64` index expressions that code generators and schedules rely on: how an index moves
//! with a loop variable, whether it is a multiple of a constant, and its terms (`Affine`).

use irc_ir::{DType, UnaryOp};

use super::{BinOp, Expr, VarId};

/// The coefficient of `var` in the i64 expression `e` when `e` is `var * c + (the same in all
/// iterations)` with a constant `c`; `None` when it is not of that form ([`stride_expr`]'s coefficient is
/// not a constant, or it overflows). Variables for which `is_local` holds (defined inside the loop) are
/// not the same in all iterations.
pub fn stride(var: VarId, is_local: &dyn Fn(VarId) -> bool, e: &Expr) -> Option<i64> {
    constant(&stride_expr(var, is_local, e)?)
}

/// The divisors of `v` in `body` (`v / c`, `v % c`), each once: `Some(c)` for a constant, `None` for
/// any other.
pub fn divisors_of(v: VarId, body: &[super::Stmt]) -> Vec<Option<i64>> {
    let mut divisors = Vec::new();
    super::Stmt::visit_exprs(body, &mut |x| {
        if let Expr::Binary { op: BinOp::Div | BinOp::Rem, lhs, rhs } = x
            && **lhs == Expr::Var(v)
            && !divisors.contains(&constant(rhs))
        {
            divisors.push(constant(rhs));
        }
    });
    divisors
}

/// `x` with `v / c` as `h`, `v % c` as `d` and any other `v` as `h·c + d`: `v = c·h + d` split into two
/// variables (heads packed into one axis).
pub fn split_var(x: &mut Expr, v: VarId, c: i64, h: VarId, d: VarId) {
    match x {
        Expr::Binary { op: op @ (BinOp::Div | BinOp::Rem), lhs, rhs }
            if **lhs == Expr::Var(v) && constant(rhs) == Some(c) =>
        {
            *x = Expr::Var(if *op == BinOp::Div { h } else { d });
        }
        Expr::Var(u) if *u == v => {
            let high = Expr::binary(BinOp::Mul, Expr::Var(h), Expr::index(c));
            *x = Expr::binary(BinOp::Add, high, Expr::Var(d));
        }
        _ => x.for_each_child_mut(|y| split_var(y, v, c, h, d)),
    }
}

/// The coefficient of `var` in the i64 expression `e` as an expression of what stays the same in all
/// iterations (sizes, outer variables: a row stride `T * 16`), when `e` is `var * coefficient + (the
/// same in all iterations)`; `None` when it is not of that form. Constant parts are folded, so a
/// constant coefficient is a constant (what [`stride`] returns); a zero coefficient is the constant 0.
pub fn stride_expr(var: VarId, is_local: &dyn Fn(VarId) -> bool, e: &Expr) -> Option<Expr> {
    let s = |e: &Expr| stride_expr(var, is_local, e);
    let zero = || Expr::index(0);
    let is_zero = |e: &Expr| constant(e) == Some(0);
    let invariant = |parts: &[&Expr]| parts.iter().all(|p| s(p).is_some_and(|x| is_zero(&x))).then(zero);
    match e {
        Expr::Var(u) if *u == var => Some(Expr::index(1)),
        Expr::Var(u) if is_local(*u) => None,
        Expr::Var(_) | Expr::Const { .. } | Expr::Size(_) => Some(zero()),
        Expr::Binary { op: op @ (BinOp::Add | BinOp::Sub), lhs, rhs } => {
            let (a, b) = (s(lhs)?, s(rhs)?);
            Some(match (is_zero(&a), is_zero(&b)) {
                (_, true) => a,
                (true, false) if *op == BinOp::Add => b,
                _ => folded(*op, a, b),
            })
        }
        Expr::Binary { op: BinOp::Mul, lhs, rhs } => {
            let (a, b) = (s(lhs)?, s(rhs)?);
            Some(match (is_zero(&a), is_zero(&b)) {
                (true, true) => zero(),
                (false, true) => folded(BinOp::Mul, a, (**rhs).clone()),
                (true, false) => folded(BinOp::Mul, (**lhs).clone(), b),
                (false, false) => return None,
            })
        }
        Expr::Unary { op: UnaryOp::Neg, arg } => {
            let a = s(arg)?;
            Some(match constant(&a) {
                Some(c) => c.checked_neg().map_or_else(|| Expr::unary(UnaryOp::Neg, a.clone()), Expr::index),
                None => Expr::unary(UnaryOp::Neg, a),
            })
        }
        Expr::Load { index, .. } | Expr::SharedLoad { index, .. } => invariant(&[index]),
        Expr::Binary { lhs, rhs, .. } => invariant(&[lhs, rhs]),
        Expr::Unary { arg, .. } | Expr::Cast { arg, .. } => invariant(&[arg]),
        Expr::Select { cond, a, b } => invariant(&[cond, a, b]),
    }
}

/// `a op b` for `+`, `-` or `*`, computed when both are constants (and it does not overflow), and
/// without the factor when one side of a product is 1.
fn folded(op: BinOp, a: Expr, b: Expr) -> Expr {
    let value = match (constant(&a), constant(&b)) {
        (Some(x), Some(y)) => match op {
            BinOp::Add => x.checked_add(y),
            BinOp::Sub => x.checked_sub(y),
            _ => x.checked_mul(y),
        },
        _ => None,
    };
    match (value, op, constant(&a), constant(&b)) {
        (Some(v), ..) => Expr::index(v),
        (None, BinOp::Mul, Some(1), _) => b,
        (None, BinOp::Mul, _, Some(1)) => a,
        _ => Expr::binary(op, a, b),
    }
}

/// Whether the i64 expression `e` is a multiple of `m` whatever its variables and sizes are.
pub fn multiple_of(e: &Expr, m: i64) -> bool {
    match e {
        Expr::Const { .. } => constant(e).is_some_and(|c| c % m == 0),
        Expr::Binary { op: BinOp::Mul, lhs, rhs } => multiple_of(lhs, m) || multiple_of(rhs, m),
        Expr::Binary { op: BinOp::Add | BinOp::Sub | BinOp::Min | BinOp::Max, lhs, rhs } => {
            multiple_of(lhs, m) && multiple_of(rhs, m)
        }
        Expr::Unary { op: UnaryOp::Neg, arg } => multiple_of(arg, m),
        _ => false,
    }
}

fn constant(e: &Expr) -> Option<i64> {
    match e {
        Expr::Const { value, dtype: DType::I64 } => Some(*value as i64),
        _ => None,
    }
}

/// `index = Σ terms[i].0 · terms[i].1 + constant`, with the terms as expressions left to evaluate.
#[derive(Default)]
pub struct Affine<'e> {
    pub terms: Vec<(&'e Expr, i64)>,
    pub constant: i64,
}

impl<'e> Affine<'e> {
    /// `e` as terms and a constant.
    pub fn of(e: &'e Expr) -> Affine<'e> {
        let mut a = Affine::default();
        a.add(e, 1);
        a
    }

    /// Adds `e · coeff`, distributing over sums and constant factors.
    pub fn add(&mut self, e: &'e Expr, coeff: i64) {
        match e {
            Expr::Const { value, dtype: DType::I64 } => {
                self.constant = self.constant.wrapping_add((*value as i64).wrapping_mul(coeff));
            }
            Expr::Binary { op: BinOp::Add, lhs, rhs } => {
                self.add(lhs, coeff);
                self.add(rhs, coeff);
            }
            Expr::Binary { op: BinOp::Sub, lhs, rhs } => {
                self.add(lhs, coeff);
                self.add(rhs, coeff.wrapping_neg());
            }
            Expr::Binary { op: BinOp::Mul, lhs, rhs } => match (constant(lhs), constant(rhs)) {
                (_, Some(c)) => self.add(lhs, coeff.wrapping_mul(c)),
                (Some(c), _) => self.add(rhs, coeff.wrapping_mul(c)),
                _ => self.terms.push((e, coeff)),
            },
            _ => self.terms.push((e, coeff)),
        }
    }

    /// The terms with equal expressions combined and zero coefficients dropped.
    fn merged(&self) -> Vec<(&'e Expr, i64)> {
        let mut out: Vec<(&Expr, i64)> = Vec::new();
        for &(e, c) in &self.terms {
            match out.iter_mut().find(|(f, _)| *f == e) {
                Some((_, d)) => *d = d.wrapping_add(c),
                None => out.push((e, c)),
            }
        }
        out.retain(|&(_, c)| c != 0);
        out
    }
}

/// `a - b` when it is the same for every value of the variables (the two have the same terms).
pub fn constant_difference(a: &Expr, b: &Expr) -> Option<i64> {
    let (a, b) = (Affine::of(a), Affine::of(b));
    let (ta, tb) = (a.merged(), b.merged());
    let same = ta.len() == tb.len() && ta.iter().all(|t| tb.contains(t));
    same.then(|| a.constant.wrapping_sub(b.constant))
}
