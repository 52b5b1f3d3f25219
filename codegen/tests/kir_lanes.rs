//! Blocks of lanes in the kernel-IR evaluator: lanes share arrays and meet at barriers, and the evaluator
//! reports kernels whose result could depend on how a GPU interleaves its lanes.

use irc_codegen::kir::{
    Access, BinOp, BufferArg, EvalError, Expr, Kernel, Lanes, Scalar, SharedArray, Stmt, eval_kernel, read_scalar,
    write_scalar,
};
use irc_ir::DType;

const LANES: u32 = 8;

/// `out[row] = sum(x[row, 0..n])` in blocks of 8 lanes, with `tree` as the combine step after every lane
/// stored its partial sum into `part[lane]`.
fn block_sum(n: i64, tree: impl Fn(Expr) -> Vec<Stmt>) -> Kernel {
    let mut k = Kernel::new("block_sum");
    k.buffers.push(BufferArg { name: "x".into(), dtype: DType::F32, access: Access::Read });
    k.buffers.push(BufferArg { name: "out".into(), dtype: DType::F32, access: Access::Write });
    k.shared.push(SharedArray { name: "part".into(), dtype: DType::F32, len: LANES });
    let (row, lane, t, acc) =
        (k.var("row", DType::I64), k.var("lane", DType::I64), k.var("t", DType::I64), k.var("acc", DType::F32));
    k.grid.push((row, Expr::index(2)));
    k.lanes = Some(Lanes { var: lane, count: LANES });
    let l = Expr::Var(lane);
    let add = |a, b| Expr::binary(BinOp::Add, a, b);
    let mul = |a, b| Expr::binary(BinOp::Mul, a, b);
    // Lane l sums elements l, l + 8, ...
    let trips = Expr::binary(
        BinOp::Div,
        add(Expr::index(n + LANES as i64 - 1), Expr::binary(BinOp::Sub, Expr::index(0), l.clone())),
        Expr::index(LANES as i64),
    );
    let elem = add(mul(Expr::Var(t), Expr::index(LANES as i64)), l.clone());
    k.body = vec![
        Stmt::Let { var: acc, value: Expr::constant(0.0, DType::F32) },
        Stmt::Loop {
            var: t,
            extent: trips,
            body: vec![Stmt::Assign {
                var: acc,
                value: add(Expr::Var(acc), Expr::load(0, add(mul(Expr::Var(row), Expr::index(n)), elem))),
            }],
        },
        Stmt::SharedStore { arr: 0, index: l.clone(), value: Expr::Var(acc) },
    ];
    k.body.extend(tree(l.clone()));
    k.body.push(Stmt::If {
        cond: Expr::binary(BinOp::Eq, l, Expr::index(0)),
        body: vec![Stmt::Store { buf: 1, index: Expr::Var(row), value: Expr::shared_load(0, Expr::index(0)) }],
    });
    k
}

/// The halving tree, with or without its barriers.
fn tree(barriers: bool) -> impl Fn(Expr) -> Vec<Stmt> {
    move |l: Expr| {
        let mut out = Vec::new();
        let mut s = LANES as i64 / 2;
        if barriers {
            out.push(Stmt::Barrier);
        }
        while s > 0 {
            let pair = Expr::binary(
                BinOp::Add,
                Expr::shared_load(0, l.clone()),
                Expr::shared_load(0, Expr::binary(BinOp::Add, l.clone(), Expr::index(s))),
            );
            out.push(Stmt::If {
                cond: Expr::binary(BinOp::Lt, l.clone(), Expr::index(s)),
                body: vec![Stmt::SharedStore { arr: 0, index: l.clone(), value: pair }],
            });
            if barriers {
                out.push(Stmt::Barrier);
            }
            s /= 2;
        }
        out
    }
}

fn run(k: &Kernel, n: usize) -> Result<Vec<f64>, EvalError> {
    let mut x = vec![0u8; 2 * n * 4];
    for i in 0..2 * n {
        write_scalar(DType::F32, &mut x, i, Scalar::F(((i * 7 % 11) as f64) - 4.5));
    }
    let mut out = vec![0u8; 8];
    eval_kernel(k, &mut [&mut x, &mut out], &[])?;
    let want = (0..2).map(|r| (0..n).map(|i| (((r * n + i) * 7 % 11) as f64) - 4.5).sum::<f64>());
    let got: Vec<f64> = (0..2).map(|r| read_scalar(DType::F32, &out, r).to_f64()).collect();
    for (w, g) in want.zip(&got) {
        assert!((w - g).abs() < 1e-4, "want {w}, got {g}");
    }
    Ok(got)
}

#[test]
fn a_block_sum_with_barriers_is_correct_for_rows_shorter_and_longer_than_the_block() {
    for n in [1, 5, 8, 19, 64] {
        run(&block_sum(n as i64, tree(true)), n).unwrap();
    }
}

#[test]
fn a_tree_without_barriers_is_a_shared_memory_race() {
    let err = run(&block_sum(19, tree(false)), 19).unwrap_err();
    assert!(matches!(err, EvalError::SharedRace { .. }), "{err}");
    assert!(err.to_string().contains("shared `part`"), "{err}");
}

#[test]
fn a_barrier_inside_a_lane_dependent_branch_is_rejected() {
    let mut k = block_sum(8, tree(true));
    let lane = k.lanes.unwrap().var;
    k.body.insert(
        0,
        Stmt::If { cond: Expr::binary(BinOp::Lt, Expr::Var(lane), Expr::index(3)), body: vec![Stmt::Barrier] },
    );
    let err = run(&k, 8).unwrap_err();
    assert!(err.to_string().contains("barrier under a condition that differs between lanes"), "{err}");
}

#[test]
fn reading_shared_memory_nothing_wrote_is_reported() {
    let mut k = block_sum(8, tree(true));
    k.body.remove(2); // the partial-sum store
    let err = run(&k, 8).unwrap_err();
    assert!(err.to_string().contains("nothing in this block wrote"), "{err}");
}

#[test]
fn a_lane_reading_what_another_lane_stored_is_a_race() {
    // Every lane stores its lane index to out[lane], then reads out[(lane + 1) % 2].
    let mut k = Kernel::new("cross");
    k.buffers.push(BufferArg { name: "out".into(), dtype: DType::I64, access: Access::Write });
    let lane = k.var("lane", DType::I64);
    let v = k.var("v", DType::I64);
    k.lanes = Some(Lanes { var: lane, count: 2 });
    let other = Expr::binary(BinOp::Rem, Expr::binary(BinOp::Add, Expr::Var(lane), Expr::index(1)), Expr::index(2));
    k.body = vec![
        Stmt::Store { buf: 0, index: Expr::Var(lane), value: Expr::Var(lane) },
        Stmt::Barrier,
        Stmt::Let { var: v, value: Expr::load(0, other) },
    ];
    let mut out = vec![0u8; 16];
    let err = eval_kernel(&k, &mut [&mut out], &[]).unwrap_err();
    assert!(err.to_string().contains("lane 1 wrote"), "{err}");
}
