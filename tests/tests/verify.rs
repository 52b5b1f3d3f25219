//! The verifier and graph builders reject ill-formed graphs with a specific `IrError` whose message names
//! the node, its op and its input types.

use irc_ir::{DType, Dim, Graph, IrError, Node, NodeId, Op, Output, TensorType, UnaryOp};

fn input(name: &str, ty: TensorType) -> Op {
    Op::Input { name: name.into(), ty }
}

fn param(name: &str, ty: TensorType) -> Op {
    Op::Param { name: name.into(), ty, init: Default::default() }
}

fn leaf(op: Op) -> Node {
    let ty = op.leaf_type().unwrap();
    Node { op, inputs: vec![], ty }
}

fn out(name: &str, node: usize) -> Output {
    Output { name: name.into(), node: NodeId(node) }
}

fn f32t(dims: &[usize]) -> TensorType {
    TensorType::new(DType::F32, irc_ir::Shape::of(dims))
}

/// x: f32[B, 64], w: f32[64, 256], h = x @ w.
fn mlp() -> Graph {
    let mut g = Graph::new("mlp");
    let x = g.push(input("x", TensorType::new(DType::F32, [Dim::sym("B"), Dim::Static(64)])), &[]).unwrap();
    let w = g.push(param("w", f32t(&[64, 256])), &[]).unwrap();
    let h = g.push(Op::MatMul, &[x, w]).unwrap();
    g.add_output("h", h).unwrap();
    g
}

#[test]
fn matmul_with_mismatched_inner_dims() {
    let mut g = Graph::new("g");
    let x = g.push(input("x", TensorType::new(DType::F32, [Dim::sym("B"), Dim::Static(64)])), &[]).unwrap();
    let w = g.push(param("w", f32t(&[32, 256])), &[]).unwrap();
    let err = g.push(Op::MatMul, &[x, w]).unwrap_err();
    assert_eq!(
        err,
        IrError::Type {
            node: 2,
            op: "matmul",
            inputs: "f32[B, 64], f32[32, 256]".into(),
            msg: "inner dimensions differ: 64 vs 32".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "node %2 (matmul): inner dimensions differ: 64 vs 32; inputs: f32[B, 64], f32[32, 256]"
    );
    assert_eq!(g.len(), 2, "a rejected node is not added");
}

#[test]
fn json_with_a_declared_type_that_disagrees() {
    let json = mlp().to_json();
    assert_eq!(Graph::from_json(&json).unwrap(), mlp());
    // Change the matmul's declared type from [B, 256] to [B, 128].
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["nodes"][2]["ty"]["shape"][1] = 128.into();
    let err = Graph::from_json(&v.to_string()).unwrap_err();
    assert_eq!(err, "node %2 (matmul): declared type f32[B, 128] but the op produces f32[B, 256]");

    // A JSON graph whose op cannot take its inputs names the node, op and input types.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["nodes"][1]["op"]["ty"]["shape"][0] = 32.into();
    v["nodes"][1]["ty"]["shape"][0] = 32.into();
    let err = Graph::from_json(&v.to_string()).unwrap_err();
    assert_eq!(err, "node %2 (matmul): inner dimensions differ: 64 vs 32; inputs: f32[B, 64], f32[32, 256]");

    assert!(Graph::from_json("{\"name\": 3}").unwrap_err().starts_with("invalid graph JSON"));
}

#[test]
fn declared_type_mismatch_from_parts() {
    let x = leaf(input("x", f32t(&[3])));
    let bad = Node { op: Op::Unary { op: UnaryOp::Exp }, inputs: vec![NodeId(0)], ty: f32t(&[4]) };
    let err = Graph::from_parts("g", vec![x, bad], vec![out("y", 1)]).unwrap_err();
    assert_eq!(err, IrError::TypeMismatch { node: 1, op: "exp", declared: "f32[4]".into(), inferred: "f32[3]".into() });
}

#[test]
fn forward_reference() {
    let fwd = Node { op: Op::Unary { op: UnaryOp::Neg }, inputs: vec![NodeId(1)], ty: f32t(&[3]) };
    let err = Graph::from_parts("g", vec![fwd, leaf(input("x", f32t(&[3])))], vec![out("y", 0)]).unwrap_err();
    assert_eq!(err, IrError::ForwardRef { node: 0, op: "neg", input: 1 });
    assert_eq!(err.to_string(), "node %0 (neg): input %1 is not defined before it");
    // A node may not use itself either.
    let selfref = Node { op: Op::Unary { op: UnaryOp::Neg }, inputs: vec![NodeId(0)], ty: f32t(&[3]) };
    let err = Graph::from_parts("g", vec![selfref], vec![out("y", 0)]).unwrap_err();
    assert_eq!(err, IrError::ForwardRef { node: 0, op: "neg", input: 0 });
    let mut g = Graph::new("g");
    assert_eq!(
        g.push(Op::Unary { op: UnaryOp::Neg }, &[NodeId(5)]),
        Err(IrError::ForwardRef { node: 0, op: "neg", input: 5 })
    );
}

#[test]
fn duplicate_names() {
    let nodes = vec![leaf(param("w", f32t(&[2]))), leaf(param("w", f32t(&[3])))];
    let err = Graph::from_parts("g", nodes, vec![out("y", 0)]).unwrap_err();
    assert_eq!(err, IrError::DuplicateName { kind: "param", name: "w".into() });
    assert_eq!(err.to_string(), "param name `w` is used twice");

    let nodes = vec![leaf(input("x", f32t(&[2]))), leaf(input("x", f32t(&[2])))];
    let err = Graph::from_parts("g", nodes, vec![out("y", 0)]).unwrap_err();
    assert_eq!(err, IrError::DuplicateName { kind: "input", name: "x".into() });

    // Inputs and params are separate namespaces.
    let nodes = vec![leaf(input("x", f32t(&[2]))), leaf(param("x", f32t(&[2])))];
    Graph::from_parts("g", nodes, vec![out("y", 0)]).unwrap();

    let nodes = vec![leaf(input("x", f32t(&[2])))];
    let err = Graph::from_parts("g", nodes, vec![out("y", 0), out("y", 0)]).unwrap_err();
    assert_eq!(err, IrError::DuplicateName { kind: "output", name: "y".into() });
    let mut g = mlp();
    assert_eq!(g.add_output("h", NodeId(0)), Err(IrError::DuplicateName { kind: "output", name: "h".into() }));
}

#[test]
fn outputs() {
    let err = Graph::from_parts("g", vec![leaf(input("x", f32t(&[2])))], vec![]).unwrap_err();
    assert_eq!(err, IrError::NoOutputs);
    assert_eq!(err.to_string(), "graph has no outputs");
    assert_eq!(Graph::new("empty").verify(), Err(IrError::NoOutputs));

    let err = Graph::from_parts("g", vec![leaf(input("x", f32t(&[2])))], vec![out("y", 7)]).unwrap_err();
    assert_eq!(err, IrError::BadOutput { name: "y".into(), node: 7 });
    assert_eq!(err.to_string(), "output `y` refers to node %7, which does not exist");
    let mut g = mlp();
    assert_eq!(g.add_output("z", NodeId(3)), Err(IrError::BadOutput { name: "z".into(), node: 3 }));
}

#[test]
fn leaf_errors_say_inputs_none() {
    let mut g = Graph::new("g");
    let err = g.push(Op::Literal { ty: f32t(&[2]), data: vec![1.0] }, &[]).unwrap_err();
    assert_eq!(err.to_string(), "node %0 (literal): literal of shape [2] needs 2 values, got 1; inputs: none");
}
