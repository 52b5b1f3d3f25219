//! The `.irc` text format and JSON round-trip exactly, for hand-written graphs covering every op and for
//! random graphs.

use irc_ir::{DType, Dim, Graph, Init, Op, Shape, TensorType, parse, print};
use irc_tests::fixtures::{ALL_OPS_SRC, all_ops_graph};
use irc_tests::{GenConfig, graph_strategy, random_graph, random_static_graph};
use proptest::prelude::*;

/// print -> parse -> print is byte-identical and parse(print(g)) == g.
fn assert_text_round_trip(g: &Graph) {
    let text = print(g);
    let back = parse(&text).unwrap_or_else(|e| panic!("printed graph does not parse:\n{e}\n{text}"));
    assert_eq!(&back, g, "parse(print(g)) != g for\n{text}");
    assert_eq!(print(&back), text);
}

fn assert_json_round_trip(g: &Graph) {
    let back = Graph::from_json(&g.to_json()).unwrap_or_else(|e| panic!("JSON does not load: {e}"));
    assert_eq!(&back, g);
}

#[test]
fn all_ops_fixture_covers_every_mnemonic() {
    let g = all_ops_graph();
    let used: Vec<&str> = g.nodes().iter().map(|n| n.op.name()).collect();
    for name in Op::prototypes().iter().map(Op::name) {
        assert!(used.contains(&name), "all_ops.irc does not use `{name}`");
    }
    for init in ["zeros", "ones", "normal(", "uniform("] {
        assert!(ALL_OPS_SRC.contains(init));
    }
}

#[test]
fn all_ops_fixture_round_trips() {
    let g = all_ops_graph();
    assert_text_round_trip(&g);
    assert_json_round_trip(&g);
    assert_eq!(g.outputs().len(), 8);
    assert_eq!(g.name, "all_ops");
}

#[test]
fn docs_example_parses() {
    let doc = include_str!("../../docs/IR.md");
    let section = doc.split("## The `.irc` text format").nth(1).expect("docs have the text format section");
    let example = section.split("```").nth(1).expect("the section starts with an example");
    let g = parse(example).unwrap_or_else(|e| panic!("docs/IR.md example does not parse:\n{e}"));
    assert_eq!(g.outputs().len(), 2);
    assert_text_round_trip(&g);
}

#[test]
fn printer_output_is_canonical() {
    let src = "graph mlp {\n  %x = input \"x\" : f32[B, 64]\n  %w = param \"fc1.weight\" : f32[64, 256]\n  %h = matmul %x, %w : f32[B, 256]\n  %c = const 0.5 : f32[]\n  %e = expand %c shape=[B, 256] : f32[B, 256]\n  %y = mul %h, %e : f32[B, 256]\n  %s = reduce_sum %y axes=[1] : f32[B, 1]\n  output \"y\" = %s\n}\n";
    let g = parse(src).unwrap();
    let expected = "graph mlp {
  %0 = input \"x\" : f32[B, 64]
  %1 = param \"fc1.weight\" init=normal(0.02) : f32[64, 256]
  %2 = matmul %0, %1 : f32[B, 256]
  %3 = const 0.5 : f32[]
  %4 = expand %3 shape=[B, 256] : f32[B, 256]
  %5 = mul %2, %4 : f32[B, 256]
  %6 = reduce_sum %5 axes=[1] : f32[B, 1]
  output \"y\" = %6
}
";
    assert_eq!(print(&g), expected);
    assert_eq!(g.to_string(), expected, "Display uses the printer");
}

#[test]
fn attribute_order_and_optional_attributes() {
    // Attributes may come in any order; `reverse` and `init` have defaults; const takes `value=` too.
    let src = r#"graph g {
  %x = input "x" : f32[T, 3]
  %s = slice %x end=T start=1 axis=0 : f32[T-1, 3]
  %c = cumsum %s axis=1 : f32[T-1, 3]
  %k = const value=-inf : f32[]
  output "c" = %c
  output "k" = %k
}"#;
    let g = parse(src).unwrap();
    assert_eq!(g.nodes()[1].op, Op::Slice { axis: 0, start: 1, end: Dim::Sym { name: "T".into(), offset: 0 } });
    assert_eq!(g.nodes()[2].op, Op::Cumsum { axis: 1, reverse: false });
    assert_eq!(g.nodes()[3].op, Op::Const { value: f64::NEG_INFINITY, dtype: DType::F32 });
    assert!(print(&g).contains("%3 = const -inf : f32[]"));
    assert_text_round_trip(&g);
}

#[test]
fn special_floats_and_strings_round_trip() {
    let mut g = Graph::new("weird name \"q\" \\ \n");
    let odd = "a \"quoted\" \\ name\twith\ncontrol \u{1} chars and ünïcode";
    let x = g.push(Op::Input { name: odd.into(), ty: TensorType::new(DType::F64, Shape::scalar()) }, &[]).unwrap();
    let p = g
        .push(
            Op::Param { name: "p".into(), ty: TensorType::new(DType::F64, [2]), init: Init::Uniform { bound: 1e-7 } },
            &[],
        )
        .unwrap();
    let values = [0.1, -0.0, 1e300, 5e-324, f64::INFINITY, f64::NEG_INFINITY, 123456789.0, 1.0 / 3.0];
    for v in values {
        g.push(Op::Const { value: v, dtype: DType::F64 }, &[]).unwrap();
    }
    let lit = g.push(Op::Literal { ty: TensorType::new(DType::F64, [4]), data: vec![1e-10, 2.5, -3.0, 1e21] }, &[]);
    g.add_output(odd, x).unwrap();
    g.add_output("", p).unwrap();
    g.add_output("lit", lit.unwrap()).unwrap();
    assert_text_round_trip(&g);
    let text = print(&g);
    assert!(text.starts_with("graph \"weird name \\\"q\\\" \\\\ \\n\" {\n"), "{text}");
    assert!(text.contains("const 5e-324 :"), "{text}");
    assert!(text.contains("data=[1e-10, 2.5, -3.0, 1e21]"), "{text}");

    // NaN prints as `nan` and parses back to a NaN (NaN != NaN, so compare the text).
    let mut n = Graph::new("n");
    let c = n.push(Op::Const { value: f64::NAN, dtype: DType::F32 }, &[]).unwrap();
    n.add_output("nan", c).unwrap();
    let text = print(&n);
    assert!(text.contains("%0 = const nan : f32[]"));
    assert_eq!(print(&parse(&text).unwrap()), text);
    assert!(matches!(parse(&text).unwrap().nodes()[0].op, Op::Const { value, .. } if value.is_nan()));
}

#[test]
fn symbolic_offsets_round_trip() {
    let mut g = Graph::new("offsets");
    let t = TensorType::new(DType::F32, Shape(vec![Dim::sym("T"), Dim::Sym { name: "S".into(), offset: -3 }]));
    let x = g.push(Op::Input { name: "x".into(), ty: t }, &[]).unwrap();
    let p = g.push(Op::Pad { axis: 0, before: 2, after: 0 }, &[x]).unwrap();
    let s = g.push(Op::Slice { axis: 1, start: 0, end: Dim::Sym { name: "S".into(), offset: -4 } }, &[p]).unwrap();
    g.add_output("s", s).unwrap();
    let text = print(&g);
    assert!(text.contains(": f32[T+2, S-3]"), "{text}");
    assert!(text.contains("end=S-4 : f32[T+2, S-4]"), "{text}");
    assert_text_round_trip(&g);
}

#[test]
fn comments_blank_lines_and_crlf_are_accepted() {
    let src = "# header\r\n\r\ngraph g { # trailing comment\r\n  %a = input \"a\" : f32[2] # note\r\n\r\n  output \"a\" = %a\r\n}\r\n# end\r\n";
    let g = parse(src).unwrap();
    assert_eq!(g.len(), 1);
    assert_text_round_trip(&g);
}

#[test]
fn non_finite_values_survive_json() {
    let mut g = Graph::new("masks");
    let data = vec![1.0, f64::INFINITY, f64::NEG_INFINITY, -0.0];
    let l = g.push(Op::Literal { ty: TensorType::new(DType::F32, [4]), data }, &[]).unwrap();
    let c = g.push(Op::Const { value: f64::NEG_INFINITY, dtype: DType::F32 }, &[]).unwrap();
    let init = Init::Uniform { bound: f64::INFINITY };
    let p = g.push(Op::Param { name: "p".into(), ty: TensorType::new(DType::F32, [4]), init }, &[]).unwrap();
    for (name, id) in [("l", l), ("c", c), ("p", p)] {
        g.add_output(name, id).unwrap();
    }
    let json = g.to_json();
    assert!(json.contains("\"value\": \"-inf\""), "{json}");
    assert_json_round_trip(&g);
    assert_text_round_trip(&g);
    let bad = json.replace("\"-inf\"", "\"minus infinity\"");
    assert!(Graph::from_json(&bad).unwrap_err().contains("expected a number, \"inf\", \"-inf\" or \"nan\""));
}

/// A graph holding arbitrary f64 values in a literal, a const and an init.
fn float_graph(data: Vec<f64>, value: f64, std: f64) -> Graph {
    let mut g = Graph::new("floats");
    let ty = TensorType::new(DType::F64, [data.len()]);
    let l = g.push(Op::Literal { ty: ty.clone(), data }, &[]).unwrap();
    let c = g.push(Op::Const { value, dtype: DType::F64 }, &[]).unwrap();
    let p = g.push(Op::Param { name: "p".into(), ty, init: Init::Normal { std } }, &[]).unwrap();
    for (name, id) in [("l", l), ("c", c), ("p", p)] {
        g.add_output(name, id).unwrap();
    }
    g
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_f64_round_trips_exactly(
        data in prop::collection::vec(any::<f64>().prop_filter("not NaN", |v| !v.is_nan()), 0..8),
        value in any::<f64>().prop_filter("not NaN", |v| !v.is_nan()),
        std in any::<f64>().prop_filter("not NaN", |v| !v.is_nan()),
    ) {
        let g = float_graph(data, value, std);
        assert_text_round_trip(&g);
        assert_json_round_trip(&g);
    }

    #[test]
    fn random_graphs_round_trip_through_text(g in random_graph(24)) {
        assert_text_round_trip(&g);
    }

    #[test]
    fn random_graphs_round_trip_through_json(g in random_graph(24)) {
        assert_json_round_trip(&g);
    }

    #[test]
    fn random_static_graphs_round_trip(g in random_static_graph(16)) {
        assert_text_round_trip(&g);
        assert_json_round_trip(&g);
    }

    #[test]
    fn random_graphs_with_empty_dims_round_trip(
        g in graph_strategy(GenConfig { max_nodes: 16, symbolic: true, zero_size: true })
    ) {
        assert_text_round_trip(&g);
        assert_json_round_trip(&g);
    }
}
