//! The fused ops in the IR: typing rules and their errors, `.irc` text, JSON and DOT, the expansion
//! (primitives only, same interface), and the interpreter and autodiff going through it.

use std::collections::HashMap;

use irc_ir::{DType, Dim, Graph, IrError, Op, Shape, TensorType, expand_fused, parse, print, to_dot};
use irc_passes::differentiate;
use irc_runtime::{Tensor, interpret, random_inputs};

const ATTENTION: &str = "graph attn {
  %0 = input \"q\" : f32[B, 2, T, 4]
  %1 = input \"k\" : f32[B, 2, T, 4]
  %2 = input \"v\" : f32[B, 2, T, 3]
  %3 = permute %1 perm=[0, 1, 3, 2] : f32[B, 2, 4, T]
  %4 = attention %0, %3, %2 scale=0.5 causal=true fill=-1000000000.0 : f32[B, 2, T, 3]
  %5 = param \"r\" init=normal(0.02) : f32[3, 1, 2]
  %6 = param \"l\" init=normal(0.02) : f32[2, 3, 4]
  %7 = monarch %4, %5, %6 : f32[B, 2, T, 8]
  output \"y\" = %7
}
";

fn ty(dims: &[Dim]) -> TensorType {
    TensorType::new(DType::F32, Shape(dims.to_vec()))
}

fn graph() -> Graph {
    parse(ATTENTION).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn text_json_and_dot_round_trip() {
    let g = graph();
    assert_eq!(print(&g), ATTENTION);
    assert_eq!(Graph::from_json(&g.to_json()).unwrap(), g);
    assert!(g.to_json().contains("\"kind\": \"attention\"") && g.to_json().contains("\"kind\": \"monarch\""));
    let dot = to_dot(&g);
    assert!(dot.contains("attention") && dot.contains("monarch") && dot.contains("#b2f2bb"), "{dot}");
    assert!(g.has_fused());
    assert_eq!(Op::fused_prototypes().iter().map(Op::name).collect::<Vec<_>>(), ["attention", "monarch"]);
    assert!(Op::prototypes().iter().all(|op| !op.is_fused()));
}

#[test]
fn ill_typed_fused_ops_are_rejected() {
    let (b, t, d) = (Dim::from("B"), Dim::from("T"), |n: usize| Dim::Static(n));
    let att = Op::Attention { scale: 1.0, causal: false, fill: 0.0 };
    let cases: Vec<(Op, [TensorType; 3], &str)> = vec![
        (att.clone(), [ty(&[t.clone(), d(4)]), ty(&[d(5), t.clone()]), ty(&[t.clone(), d(3)])], "query width"),
        (att.clone(), [ty(&[t.clone(), d(4)]), ty(&[d(4), t.clone()]), ty(&[b.clone(), d(3)])], "key count"),
        (
            att.clone(),
            [ty(&[d(2), t.clone(), d(4)]), ty(&[d(3), d(4), t.clone()]), ty(&[d(2), t.clone(), d(3)])],
            "batch",
        ),
        (att, [ty(&[d(4)]), ty(&[d(4)]), ty(&[d(4)])], "rank"),
        (Op::Monarch, [ty(&[b.clone(), d(8)]), ty(&[d(3), d(2), d(2)]), ty(&[d(2), d(3), d(4)])], "last dimension"),
        (Op::Monarch, [ty(&[b.clone(), d(6)]), ty(&[d(3), d(2), d(2)]), ty(&[d(3), d(3), d(4)])], "factors"),
        (Op::Monarch, [ty(&[b, d(6)]), ty(&[d(3), d(2), t.clone()]), ty(&[t, d(3), d(4)])], "factors"),
    ];
    for (op, types, want) in cases {
        let mut g = Graph::new("bad");
        let ins: Vec<_> = ["a", "b", "c"]
            .iter()
            .zip(types)
            .map(|(n, t)| g.push(Op::Input { name: n.to_string(), ty: t }, &[]).unwrap())
            .collect();
        match g.push(op.clone(), &ins) {
            Err(IrError::Type { msg, .. }) => assert!(msg.contains(want), "{}: `{msg}` lacks `{want}`", op.name()),
            other => panic!("{}: expected a type error with `{want}`, got {other:?}", op.name()),
        }
    }
    let missing = ATTENTION.replace(" fill=-1000000000.0", "");
    let e = parse(&missing).unwrap_err();
    assert!(e.message.contains("`attention` needs attribute `fill=...`"), "{e}");
}

fn run(g: &Graph, seed: u64) -> Vec<Tensor> {
    let sizes: HashMap<String, usize> = [("B".to_string(), 2), ("T".to_string(), 5)].into();
    let inputs = random_inputs(g, &sizes, seed).unwrap();
    let params = irc_runtime::init_params(g, seed).unwrap();
    interpret(g, &inputs, &params).unwrap()
}

#[test]
fn the_expansion_defines_the_value() {
    let g = graph();
    let h = expand_fused(&g).unwrap();
    assert!(!h.has_fused() && h.nodes().iter().all(|n| !n.op.is_fused()));
    h.verify().unwrap();
    assert_eq!(h.outputs()[0].name, "y");
    assert_eq!(h.ty(h.outputs()[0].node), g.ty(g.outputs()[0].node));
    assert_eq!(g.inputs().map(|(_, n, _)| n).collect::<Vec<_>>(), h.inputs().map(|(_, n, _)| n).collect::<Vec<_>>());
    assert_eq!(g.params().map(|(_, n, _)| n).collect::<Vec<_>>(), h.params().map(|(_, n, _)| n).collect::<Vec<_>>());
    for seed in 0..3 {
        assert_eq!(run(&g, seed), run(&h, seed), "seed {seed}");
    }
    // A graph without fused ops comes back unchanged.
    assert_eq!(expand_fused(&h).unwrap(), h);
}

#[test]
fn autodiff_goes_through_the_expansion() {
    let src = ATTENTION
        .replace("output \"y\" = %7", "%8 = reduce_sum %7 axes=[0, 1, 2, 3] : f32[1, 1, 1, 1]\n  output \"loss\" = %8");
    let g = parse(&src).unwrap_or_else(|e| panic!("{e}"));
    let wrt = ["q", "k", "v", "r", "l"];
    let dg = differentiate(&g, "loss", &wrt).unwrap();
    let dh = differentiate(&expand_fused(&g).unwrap(), "loss", &wrt).unwrap();
    assert!(!dg.has_fused());
    assert_eq!(run(&dg, 4), run(&dh, 4));
    // The gradients are not zero: the fused ops were differentiated, not skipped.
    let grads = run(&dg, 4);
    assert!(grads[1..].iter().all(|t| t.data.iter().any(|v| *v != 0.0)));
}
