//! Every zoo model survives the text and JSON formats unchanged.

use irc_frontends::zoo::zoo_models;
use irc_ir::{Graph, parse, print};

fn configs(name: &str) -> Vec<Vec<(String, String)>> {
    let kv = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut out = vec![kv(&[]), kv(&[("dtype", "f16")])];
    if name == "gpt-tiny" {
        out.push(kv(&[("loss", "true"), ("layers", "1")]));
    }
    // The per-layer family: every mixer, Scalable-Softmax and MLP structure in one model.
    if irc_frontends::zoo::model_info(name).is_some_and(|m| m.keys.iter().any(|k| k.name == "attn")) {
        out.push(kv(&[
            ("loss", "true"),
            ("layers", "4"),
            ("attn", "softmax,dconv,linear,gla"),
            ("ssmax", "1,1,0,0"),
            ("mlp", "monarch,dense,monarch,dense"),
            ("act", "relu2"),
        ]));
    }
    out
}

#[test]
fn every_zoo_model_round_trips_through_text_and_json() {
    for m in zoo_models() {
        for config in configs(m.name) {
            let g = irc_frontends::build(m.name, &config).unwrap();
            let text = print(&g);
            let back = parse(&text).unwrap_or_else(|e| panic!("{} {config:?}: {e}", m.name));
            assert_eq!(back, g, "{} {config:?}", m.name);
            assert_eq!(print(&back), text);
            assert_eq!(Graph::from_json(&g.to_json()).unwrap(), g);
        }
    }
}
