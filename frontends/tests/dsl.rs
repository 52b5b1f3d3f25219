//! DSL structure and error handling: no panics, first error wins, poisoned handles, scopes,
//! broadcasting rules. Numeric checks are in `dsl_numeric.rs`.

use irc_frontends::dsl::{DslError, ModelBuilder, where_};
use irc_ir::{DType, Dim, Init, Op, Shape};

fn ty(v: &irc_frontends::Var) -> String {
    v.ty().to_string()
}

#[test]
fn matmul_mismatch_is_an_error_not_a_panic() {
    let b = ModelBuilder::new("bad");
    let x = b.input("x", DType::F32, ["B", "T", "64"]);
    let w = b.param("w", DType::F32, [32, 16], Init::Zeros);
    let y = x.matmul(&w);
    assert!(y.is_poisoned());
    let err = b.finish(&[("y", &y)]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("matmul: inner dimensions differ: 64 vs 32; inputs: f32[B, T, 64], f32[32, 16]"), "{msg}");
    assert_eq!(err.op(), Some("matmul"));
    // The location is the call in this file.
    assert!(msg.contains("tests/dsl.rs:"), "{msg}");
}

#[test]
fn first_error_wins_and_poison_propagates() {
    let b = ModelBuilder::new("bad");
    let x = b.input("x", DType::F32, [4, 8]);
    let y = b.input("y", DType::F32, [3, 8]);
    let bad = &x + &y; // first error
    let z = (bad.exp() * 2.0 + 1.0).sum(-1, false).matmul(&x); // all no-ops
    assert!(bad.is_poisoned() && z.is_poisoned());
    let _also_bad = x.reshape([5, 5]); // a second error, not recorded
    let err = b.check().unwrap_err();
    assert!(err.to_string().starts_with("add: shapes [4, 8] and [3, 8] do not broadcast"), "{err}");
    assert_eq!(b.finish(&[("z", &z)]).unwrap_err(), err);
}

#[test]
fn check_is_ok_on_a_good_model() {
    let b = ModelBuilder::new("ok");
    let x = b.input("x", DType::F32, ["B", "3"]);
    let y = x.relu();
    b.check().unwrap();
    let g = b.finish(&[("y", &y)]).unwrap();
    g.verify().unwrap();
    assert_eq!(g.name, "ok");
}

#[test]
fn error_context_names_scope_and_composite() {
    let b = ModelBuilder::new("ctx");
    let x = b.input("x", DType::F32, ["B", "T"]);
    let y = b.scope("blocks.0", |_| irc_frontends::nn::layer_norm("ln1", &x, 1e-5));
    let err = b.finish(&[("y", &y)]).unwrap_err();
    match &err {
        DslError::Op { op, ctx, .. } => {
            assert_eq!(op, "layer_norm");
            assert_eq!(ctx.scope, "blocks.0.ln1");
            assert_eq!(ctx.via, vec!["layer_norm".to_string()]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("needs a static size on axis -1, got T"), "{err}");
}

#[test]
fn duplicate_names_are_errors() {
    let b = ModelBuilder::new("dup");
    b.scope("attn", |b| {
        let _ = b.param("weight", DType::F32, [2], Init::Zeros);
        let _ = b.param("weight", DType::F32, [2], Init::Zeros);
    });
    let err = b.check().unwrap_err();
    assert!(matches!(&err, DslError::DuplicateName { kind: "param", name, .. } if name == "attn.weight"), "{err}");
    assert!(err.to_string().starts_with("param name `attn.weight` is used twice"));

    let b = ModelBuilder::new("dup");
    let x = b.input("x", DType::F32, [2]);
    let x2 = b.input("x", DType::F32, [2]);
    assert!(x2.is_poisoned());
    assert!(matches!(b.finish(&[("x", &x)]), Err(DslError::DuplicateName { kind: "input", .. })));

    // An input and a param may share a name; outputs may not repeat.
    let b = ModelBuilder::new("dup");
    let x = b.input("x", DType::F32, [2]);
    let p = b.param("x", DType::F32, [2], Init::Zeros);
    let s = &x + &p;
    assert!(matches!(b.finish(&[("s", &s), ("s", &x)]), Err(DslError::Graph(_))));
}

#[test]
fn scopes_nest_and_pop() {
    let b = ModelBuilder::new("scopes");
    let x = b.input("x", DType::F32, ["B", "4"]);
    let y = b.scope("blocks", |b| {
        b.scope("0", |_| irc_frontends::nn::linear("q", &x, 4));
        let _g = b.enter("1");
        assert_eq!(b.scope_path(), "blocks.1");
        irc_frontends::nn::linear("q", &x, 4)
    });
    assert_eq!(b.scope_path(), "");
    let top = b.param("head", DType::F32, [4], Init::Zeros);
    let g = b.finish(&[("y", &(&y + &top))]).unwrap();
    let names: Vec<&str> = g.params().map(|(_, n, _)| n).collect();
    assert_eq!(names, ["blocks.0.q.weight", "blocks.0.q.bias", "blocks.1.q.weight", "blocks.1.q.bias", "head"]);
}

#[test]
fn broadcasting_follows_numpy() {
    let b = ModelBuilder::new("bc");
    let x = b.input("x", DType::F32, ["B", "T", "8"]);
    let row = b.input("row", DType::F32, [8]);
    let col = b.input("col", DType::F32, ["T", "1"]);
    assert_eq!(ty(&(&x + &row)), "f32[B, T, 8]");
    assert_eq!(ty(&(&col * &row)), "f32[T, 8]");
    assert_eq!(ty(&(&x - &col)), "f32[B, T, 8]");
    assert_eq!(ty(&(1.0 - &x)), "f32[B, T, 8]");
    assert_eq!(ty(&(&x / 2)), "f32[B, T, 8]");
    assert_eq!(ty(&x.lt(&row)), "bool[B, T, 8]");
    assert_eq!(ty(&x.gt(0.0).select(&x, 0.0)), "f32[B, T, 8]");
    assert_eq!(ty(&where_(&col.ge(&row), 1.0, &x)), "f32[B, T, 8]");
    let g = b.finish(&[("y", &(&x + &row))]).unwrap();
    // The row is expanded explicitly; the add sees identical types.
    let expand = g.nodes().iter().find(|n| matches!(n.op, Op::Expand { .. })).unwrap();
    assert_eq!(expand.ty.shape, Shape(vec![Dim::sym("B"), Dim::sym("T"), Dim::Static(8)]));
}

#[test]
fn incompatible_broadcasts_and_dtypes_fail() {
    let b = ModelBuilder::new("bc");
    let x = b.input("x", DType::F32, ["B", "8"]);
    let y = b.input("y", DType::F32, ["T", "8"]);
    let _ = &x * &y;
    assert!(b.check().unwrap_err().to_string().contains("dimension B vs T"));

    let b = ModelBuilder::new("dt");
    let x = b.input("x", DType::F32, [8]);
    let i = b.input("i", DType::I32, [8]);
    let _ = &x + &i;
    let err = b.check().unwrap_err().to_string();
    assert!(err.starts_with("add: dtypes differ: f32 vs i32 (cast one explicitly); inputs: f32[8], i32[8]"), "{err}");

    // A scalar takes the tensor's dtype; a fractional one cannot be an integer.
    let b = ModelBuilder::new("int");
    let i = b.input("i", DType::I32, [8]);
    assert_eq!(ty(&(&i * 2)), "i32[8]");
    let _ = &i * 0.5;
    assert!(b.check().unwrap_err().to_string().contains("constant 0.5 is not a valid i32"));
}

#[test]
fn bad_arguments_are_errors() {
    type Case = (&'static str, Box<dyn Fn(&irc_frontends::Var) -> irc_frontends::Var>);
    let cases: Vec<Case> = vec![
        ("axis 3 is out of range for rank 2", Box::new(|x| x.sum(3, true))),
        ("axis -3 is out of range for rank 2", Box::new(|x| x.cumsum(-3))),
        ("name one axis twice", Box::new(|x| x.sum([1, -1], true))),
        ("element counts differ", Box::new(|x| x.reshape([3, 3]))),
        ("bad dimension", Box::new(|x| x.reshape(["B", "4x"]))),
        ("dimension -2 is negative", Box::new(|x| x.slice(1, 0, -2))),
        ("exceeds dimension", Box::new(|x| x.slice(1, 0, 9))),
        ("not a permutation", Box::new(|x| x.permute(&[0, 0]))),
        ("do not broadcast (dimension 4 vs 3)", Box::new(|x| x.expand(["B", "3"]))),
        ("expects a floating-point dtype", Box::new(|x| x.cast(DType::I32).mean(-1, true))),
        ("index must be i32 or i64", Box::new(|x| x.gather(1, x))),
        ("condition must be bool", Box::new(|x| x.select(x, x))),
    ];
    for (want, f) in cases {
        let b = ModelBuilder::new("args");
        let x = b.input("x", DType::F32, ["B", "4"]);
        let y = f(&x);
        assert!(y.is_poisoned(), "{want}");
        let err = b.finish(&[("y", &y)]).unwrap_err().to_string();
        assert!(err.contains(want), "expected `{want}` in `{err}`");
    }
}

#[test]
fn handles_from_another_builder_are_rejected() {
    let a = ModelBuilder::new("a");
    let b = ModelBuilder::new("b");
    let x = a.input("x", DType::F32, [2]);
    let y = b.input("y", DType::F32, [2]);
    let z = &x + &y;
    assert!(z.is_poisoned());
    assert!(matches!(a.check(), Err(DslError::ForeignHandle { .. })));
    b.check().unwrap();
}

#[test]
fn builder_is_closed_after_finish() {
    let b = ModelBuilder::new("done");
    let x = b.input("x", DType::F32, [2]);
    b.finish(&[("x", &x)]).unwrap();
    let y = x.exp();
    assert!(y.is_poisoned());
    assert!(matches!(b.finish(&[("y", &y)]), Err(DslError::Finished { .. })));
}

#[test]
fn empty_and_concat_edge_cases() {
    let b = ModelBuilder::new("e");
    assert!(matches!(b.finish(&[]), Err(DslError::Graph(irc_ir::IrError::NoOutputs))));

    let b = ModelBuilder::new("c");
    let none: [&irc_frontends::Var; 0] = [];
    assert!(b.concat(&none, 0).is_poisoned());
    assert!(b.check().unwrap_err().to_string().contains("needs at least one tensor"));

    let b = ModelBuilder::new("c");
    let x = b.input("x", DType::F32, ["T", "2"]);
    let y = b.input("y", DType::F32, [3, 2]);
    assert_eq!(ty(&b.concat(&[&x, &y], 0)), "f32[T+3, 2]");
    assert_eq!(ty(&b.concat(&[x.clone(), x.clone()], -1)), "f32[T, 4]");
    let _ = b.concat(&[&x, &x], 0);
    assert!(b.check().unwrap_err().to_string().contains("adds two symbolic dims"));
}

#[test]
fn shape_helpers_and_accessors() {
    let b = ModelBuilder::new("s");
    let x = b.input("x", DType::F32, ["B", "T", "6"]);
    assert_eq!(x.dim(-1), Some(Dim::Static(6)));
    assert_eq!(x.dim(3), None);
    assert_eq!(x.dtype(), DType::F32);
    assert_eq!(x.rank(), 3);
    assert_eq!(ty(&x.sum(-1, false)), "f32[B, T]");
    assert_eq!(ty(&x.mean([0, 1], true)), "f32[1, 1, 6]");
    assert_eq!(ty(&x.var(.., false)), "f32[]");
    assert_eq!(ty(&x.amax(1, false)), "f32[B, 6]");
    assert_eq!(ty(&x.reshape(["B", "T", "2", "3"])), "f32[B, T, 2, 3]");
    assert_eq!(ty(&x.transpose(0, -1)), "f32[6, T, B]");
    assert_eq!(ty(&x.permute(&[1, 2, 0])), "f32[T, 6, B]");
    assert_eq!(ty(&x.pad(1, 2, 0)), "f32[B, T+2, 6]");
    assert_eq!(ty(&x.pad(1, 2, 0).slice(1, 1, "T+1")), "f32[B, T, 6]");
    assert_eq!(ty(&x.unsqueeze(-1)), "f32[B, T, 6, 1]");
    assert_eq!(ty(&x.unsqueeze(0)), "f32[1, B, T, 6]");
    assert_eq!(ty(&x.expand(["B", "T", "6"])), "f32[B, T, 6]");
    assert_eq!(ty(&x.slice(2, 0, 3).broadcast_to(["2", "B", "T", "3"])), "f32[2, B, T, 3]");
    assert_eq!(ty(&x.pow(2.0)), "f32[B, T, 6]");
    assert_eq!(ty(&x.cast(DType::F16)), "f16[B, T, 6]");
    assert_eq!(ty(&b.iota(DType::I32, ["T", "4"], -1)), "i32[T, 4]");
    assert_eq!(ty(&b.full(0.0, DType::F32, ["T"])), "f32[T]");
    assert_eq!(ty(&b.literal(DType::F32, [2], vec![1.0, 2.0])), "f32[2]");
    let idx = b.input("idx", DType::I64, ["B", "T", "2"]);
    assert_eq!(ty(&x.gather(-1, &idx)), "f32[B, T, 2]");
    assert_eq!(ty(&x.gather(-1, &idx).scatter_add(2, &idx, 6)), "f32[B, T, 6]");
    b.check().unwrap();
    // Poisoned handles report a placeholder type and no node.
    let p = x.reshape([7]);
    assert_eq!((p.node(), ty(&p)), (None, "f32[]".to_string()));
    assert!(format!("{p:?}").contains("poisoned"));
}
