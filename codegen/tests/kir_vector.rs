//! Vector loops (`Kernel::vector`): the evaluator checks every claim a vector loop makes.

use irc_codegen::kir::{Access, BinOp, BufferArg, EvalError, Expr, Kernel, Stmt, eval_kernel};
use irc_ir::DType;

/// `out[q * 4 + j] = x[index(q, j)]` for `q` in `0..2`, `j` a vector loop of width 4 (extent `extent`).
fn kernel(extent: i64, index: impl Fn(Expr, Expr) -> Expr) -> Kernel {
    let mut k = Kernel::new("vec");
    k.buffers.push(BufferArg { name: "x".into(), dtype: DType::F32, access: Access::Read });
    k.buffers.push(BufferArg { name: "out".into(), dtype: DType::F32, access: Access::Write });
    let (q, j) = (k.var("q", DType::I64), k.var("j", DType::I64));
    k.grid.push((q, Expr::index(2)));
    let at = Expr::binary(BinOp::Add, Expr::binary(BinOp::Mul, Expr::Var(q), Expr::index(4)), Expr::Var(j));
    let load = Expr::load(0, index(Expr::Var(q), Expr::Var(j)));
    k.body = vec![Stmt::Loop {
        var: j,
        extent: Expr::index(extent),
        body: vec![Stmt::Store { buf: 1, index: at, value: load }],
    }];
    k.vector.push((j, 4));
    k
}

fn run(k: &Kernel) -> Result<(), EvalError> {
    let (mut x, mut out) = (vec![0u8; 4 * 16], vec![0u8; 4 * 8]);
    eval_kernel(k, &mut [&mut x, &mut out], &[])
}

fn add(a: Expr, b: i64) -> Expr {
    Expr::binary(BinOp::Add, a, Expr::index(b))
}

fn mul(a: Expr, b: i64) -> Expr {
    Expr::binary(BinOp::Mul, a, Expr::index(b))
}

#[test]
fn aligned_consecutive_and_broadcast_accesses_pass() {
    run(&kernel(4, |q, j| add(mul(q, 4), 0).add_var(j))).unwrap();
    run(&kernel(4, |q, j| add(mul(q, 8), 4).add_var(j))).unwrap();
    run(&kernel(4, |q, _| q)).unwrap();
}

#[test]
fn misaligned_strided_and_wrong_extent_are_reported() {
    let msg = |k: Kernel| run(&k).unwrap_err().to_string();
    assert!(msg(kernel(4, |q, j| add(mul(q, 4), 1).add_var(j))).contains("aligned consecutive"));
    assert!(msg(kernel(4, |q, j| add(mul(j, 2), 0).add_var(q))).contains("aligned consecutive"));
    assert!(msg(kernel(3, |q, j| mul(q, 4).add_var(j))).contains("extent 3, not its width 4"));
}

#[test]
fn iterations_touching_one_element_they_store_are_reported() {
    // Every iteration stores out[q * 4]: the claim of independence fails.
    let mut k = kernel(4, |q, _| q);
    let Stmt::Loop { body, .. } = &mut k.body[0] else { unreachable!() };
    let Stmt::Store { index, .. } = &mut body[0] else { unreachable!() };
    *index = mul(Expr::Var(irc_codegen::kir::VarId(0)), 4);
    assert!(run(&k).unwrap_err().to_string().contains("both touch element"));
}

trait AddVar {
    fn add_var(self, v: Expr) -> Expr;
}

impl AddVar for Expr {
    fn add_var(self, v: Expr) -> Expr {
        Expr::binary(BinOp::Add, self, v)
    }
}
