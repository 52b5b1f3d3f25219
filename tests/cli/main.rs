//! End-to-end tests of the `irc` binary, run as a user would.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use irc_runtime::{Tensor, read_npy, write_npy};

mod backends;

fn irc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_irc")).args(args).output().expect("the irc binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = irc(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "irc {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail cleanly: non-zero exit, an `error:` message, no panic.
fn fails(args: &[&str]) -> String {
    let out = irc(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "irc {args:?} should fail");
    assert!(stderr.starts_with("error: "), "irc {args:?}: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "irc {args:?} panicked: {stderr}");
    stderr
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("irc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn zoo_list_shows_every_model_with_settings() {
    let out = ok(&["zoo", "list"]);
    for name in ["mlp", "gpt-block", "gpt-tiny"] {
        assert!(out.lines().any(|l| l.starts_with(name)), "{out}");
    }
    assert!(out.contains("layers=2"), "{out}");
}

#[test]
fn exported_text_checks_and_round_trips() {
    let path = temp("gpt-tiny.irc");
    ok(&["zoo", "export", "gpt-tiny", "-c", "d=32", "-o", s(&path)]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("graph"), "{text}");
    let summary = ok(&["check", s(&path)]);
    assert!(summary.contains("output logits: f32[B, T, 256]"), "{summary}");
    assert_eq!(ok(&["compile", s(&path), "--emit", "ir"]), text);

    let json = temp("gpt-tiny.json");
    ok(&["compile", s(&path), "--emit", "json", "-o", s(&json)]);
    assert_eq!(ok(&["compile", s(&json), "--emit", "ir"]), text);

    let dot = ok(&["compile", "zoo:mlp", "--emit", "dot"]);
    assert!(dot.starts_with("digraph") && dot.trim_end().ends_with('}'), "{dot}");
}

#[test]
fn run_prints_shape_and_is_deterministic_per_seed() {
    let args = ["run", "zoo:gpt-tiny", "--dim", "B=2", "--dim", "T=16"];
    let a = ok(&args);
    assert!(a.starts_with("logits: f32[2, 16, 256]"), "{a}");
    assert_eq!(a, ok(&args));
    let other = ok(&[&args[..], &["--seed", "3"]].concat());
    assert_ne!(a, other);
}

#[test]
fn run_reads_inputs_and_params_and_writes_outputs() {
    let x = Tensor::new(irc_ir::DType::F32, vec![3, 16], (0..48).map(|i| (i as f64 * 0.37).sin()).collect());
    let (xin, out, params) = (temp("x.npy"), temp("y.npy"), temp("w.safetensors"));
    write_npy(&xin, &x).unwrap();
    let input = format!("x={}", s(&xin));
    ok(&["run", "zoo:mlp", "--input", &input, "-o", s(&out), "--seed", "4", "--backend", "reference"]);
    let y = read_npy(&out).unwrap();
    assert_eq!(y.shape, vec![3, 8]);

    // The same run, computed in-process, must give the same values.
    let g = irc_frontends::build("mlp", &[]).unwrap();
    let w = irc_runtime::init_params(&g, 4).unwrap();
    let expected = irc_runtime::interpret(&g, &HashMap::from([("x".to_string(), x)]), &w).unwrap();
    assert_eq!(y, expected[0]);

    // The compiled CPU backend (the default) agrees to f32 precision.
    let cpu_out = temp("y_cpu.npy");
    ok(&["run", "zoo:mlp", "--input", &input, "-o", s(&cpu_out), "--seed", "4"]);
    let y_cpu = read_npy(&cpu_out).unwrap();
    for (a, b) in y_cpu.data.iter().zip(&y.data) {
        assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
    }

    // Saved params replace the seed's.
    irc_runtime::save_safetensors(&params, &w).unwrap();
    let out2 = temp("y2.npy");
    let p = ["--params", s(&params), "--seed", "9", "-o", s(&out2), "--backend", "reference"];
    ok(&[&["run", "zoo:mlp", "--input", &input][..], &p].concat());
    assert_eq!(read_npy(&out2).unwrap(), y);
}

#[test]
fn bad_input_gives_one_clear_error() {
    assert!(fails(&["check", "no/such/file.irc"]).contains("no/such/file.irc"));
    assert!(fails(&["run", "zoo:gpt-huge"]).contains("known models: mlp"));
    assert!(fails(&["zoo", "export", "mlp", "-c", "width=3"]).contains("d_hidden"));
    assert!(fails(&["zoo", "export", "mlp", "-c", "d_in"]).contains("KEY=VALUE"));

    let bad = temp("bad.irc");
    std::fs::write(&bad, "graph g {\n  %0 = input \"x\" : f32[3]\n  %1 = matmull %0, %0 : f32[3]\n}\n").unwrap();
    let err = fails(&["check", s(&bad)]);
    assert!(err.contains("bad.irc:3:8: unknown op `matmull`"), "{err}");

    let x = temp("wrong.npy");
    write_npy(&x, &Tensor::new(irc_ir::DType::F32, vec![3, 5], vec![0.5; 15])).unwrap();
    let err = fails(&["run", "zoo:mlp", "--input", &format!("x={}", s(&x))]);
    assert!(err.contains("input `x` expects f32[B, 16]"), "{err}");
    let err = fails(&["run", "zoo:mlp", "--input", &format!("y={}", s(&x))]);
    assert!(err.contains("no input `y`"), "{err}");
    let err = fails(&["run", "zoo:gpt-tiny", "--dim", "T=100"]);
    assert!(err.contains("out of range"), "{err}");
    let err = fails(&["run", "zoo:mlp", "--dim", "B=x"]);
    assert!(err.contains("`x` is not a size"), "{err}");
}

const TINY: [&str; 8] = ["-c", "d=16", "-c", "layers=1", "-c", "heads=2", "-c", "max_seq=16"];

#[test]
fn train_writes_reports_and_resumes() {
    let out = temp("train-out");
    let ckpt = temp("ckpt.safetensors");
    let base = ["train", "zoo:gpt-tiny", "--steps", "4", "--batch", "2", "--seq", "8", "--out", s(&out)];
    let text = ok(&[&base[..], &TINY, &["--save", s(&ckpt)]].concat());
    assert!(text.contains("final train loss") && text.contains("unigram entropy baseline"), "{text}");
    let csv = std::fs::read_to_string(out.join("loss.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("step,train_loss,val_loss,lr,elapsed_s"));
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(std::fs::read_to_string(out.join("loss.svg")).unwrap().starts_with("<svg"));

    // Resuming continues the step count from the checkpoint.
    let resumed = ok(&[&base[..], &TINY, &["--resume", s(&ckpt)]].concat());
    assert!(resumed.contains("final train loss"), "{resumed}");
    let csv = std::fs::read_to_string(out.join("loss.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().starts_with("5,"), "{csv}");
}

#[test]
fn train_rejects_bad_arguments() {
    assert!(fails(&["train", "zoo:gpt-tiny", "--steps", "0"]).contains("--steps must be at least 1"));
    assert!(fails(&["train", "zoo:nope"]).contains("unknown model"));
    assert!(fails(&["train", "zoo:mlp"]).contains("not trainable"));
    assert!(fails(&["train", "zoo:gpt-tiny", "--seq", "100"]).contains("max_seq"));
    let small = temp("small.txt");
    std::fs::write(&small, "just a few bytes of text, far too short for a long sequence").unwrap();
    let err = fails(&[&["train", "zoo:gpt-tiny", "--corpus", s(&small), "--seq", "32"][..], &TINY[..6]].concat());
    assert!(err.contains("sequence length 32"), "{err}");
    assert!(fails(&["train", "zoo:gpt-tiny", "--corpus", "no/such.txt"]).contains("no/such.txt"));
}

#[test]
fn compile_shows_and_dumps_kernels() {
    let kernels = ok(&["compile", "zoo:mlp", "--emit", "kernels"]);
    assert!(kernels.starts_with("program mlp") && kernels.contains("parallel for"), "{kernels}");
    assert_eq!(kernels.matches("\nlaunch ").count(), 2, "{kernels}");

    let explain = ok(&["compile", "zoo:gpt-block", "--explain", "--dim", "B=2", "--dim", "T=16"]);
    // 9 fused kernels (the optimizer made the attention one) and the pack kernel of the MLP's first
    // weight (`f32[64, 256]`).
    assert!(explain.starts_with("10 kernels (B=2, T=16)"), "{explain}");
    assert!(explain.contains("k4_attention"), "{explain}");
    assert!(explain.contains("_pack"), "{explain}");
    assert!(explain.contains("memory: intermediates need"), "{explain}");
    let unfused = ok(&["compile", "zoo:gpt-block", "--explain", "--no-fuse"]);
    assert!(unfused.lines().next().unwrap().split(' ').next().unwrap().parse::<usize>().unwrap() > 11, "{unfused}");

    let dir = temp("dump");
    ok(&["compile", "zoo:mlp", "--target", "cpu", "--dump-kernels", s(&dir)]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let kernels = manifest["kernels"].as_array().unwrap();
    assert_eq!(kernels.len(), 2);
    for k in kernels {
        assert!(!k["source_nodes"].as_array().unwrap().is_empty());
        let kir = std::fs::read_to_string(dir.join(k["kernel_ir"].as_str().unwrap())).unwrap();
        assert!(kir.starts_with("kernel "), "{kir}");
        let clif = std::fs::read_to_string(dir.join(k["target_code"].as_str().unwrap())).unwrap();
        assert!(clif.contains("function"), "{clif}");
        assert!(k["bytes"].is_string() && k["flops"].is_string());
    }

    // WGSL shaders in the GPU schedule: the matmuls run as workgroups through workgroup memory.
    let dir = temp("dump-wgsl");
    ok(&["compile", "zoo:mlp", "--target", "wgsl", "--dump-kernels", s(&dir)]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["target"], "wgsl");
    for k in manifest["kernels"].as_array().unwrap() {
        let path = k["target_code"].as_str().unwrap();
        let wgsl = std::fs::read_to_string(dir.join(path)).unwrap();
        assert!(path.ends_with(".wgsl") && wgsl.contains("@compute @workgroup_size("), "{wgsl}");
        assert!(wgsl.contains("var<workgroup>") && wgsl.contains("workgroupBarrier();"), "{wgsl}");
    }
}

#[test]
fn compile_dumps_ptx_with_its_launch_contract() {
    let dir = temp("dump-ptx");
    ok(&["compile", "zoo:gpt-block", "--target", "ptx", "--dump-kernels", s(&dir)]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["target"], "ptx");
    let kernels = manifest["kernels"].as_array().unwrap();
    assert!(kernels.iter().any(|k| k["launch"]["grid_x"] == "one per grid point"), "{manifest}");
    for k in kernels {
        let ptx = std::fs::read_to_string(dir.join(k["target_code"].as_str().unwrap())).unwrap();
        let entry = k["launch"]["entry"].as_str().unwrap();
        assert!(ptx.contains(".target sm_90") && ptx.contains(&format!(".visible .entry {entry}(")), "{ptx}");
    }
}

#[test]
fn bench_prints_a_row_per_workload() {
    let out = ok(&["bench", "cpu-small", "--runs", "1"]);
    assert!(out.contains("copy roofline") && out.contains("median of 1 runs"), "{out}");
    // A small gpt-tiny.
    let tiny = ["zoo:gpt-tiny", "-c", "d=16", "-c", "heads=2", "-c", "layers=1"];
    let step = ok(&[&["bench"], &tiny[..], &["--dim", "B=2", "--dim", "T=8", "--runs", "1", "--train"]].concat());
    assert!(step.lines().any(|l| l.starts_with("zoo:gpt-tiny train step")), "{step}");
    assert!(fails(&["bench", "zoo:monarch-ffn", "--train", "--runs", "1"]).contains("no scalar output `loss`"));
    // The same step's kernels, for inspection.
    let kernels = ok(&[&["compile"], &tiny[..], &["--train", "--emit", "kernels"]].concat());
    assert!(kernels.contains("launch ") && kernels.contains("_matmul"), "{kernels}");
    assert!(fails(&["compile", "zoo:monarch-ffn", "--train"]).contains("no scalar output `loss`"));
    let fastest = ok(&["bench", "cpu-small", "--runs", "2", "--min"]);
    assert!(fastest.contains("fastest of 2 runs") && fastest.lines().any(|l| l.starts_with("matmul")), "{fastest}");
    for w in ["silu(x*w+b)", "softmax rows", "layer_norm rows", "matmul", "gpt-block forward"] {
        assert!(out.lines().any(|l| l.starts_with(w)), "{out}");
    }
    assert!(fails(&["bench", "gpu-huge"]).contains("unknown suite"));

    // A model at given sizes, with every launch timed on its own.
    let out = ok(&[
        "bench",
        "zoo:gpt-block",
        "-c",
        "d=32",
        "-c",
        "heads=2",
        "--dim",
        "B=2",
        "--dim",
        "T=16",
        "--runs",
        "1",
        "--profile",
    ]);
    let row = out.lines().find(|l| l.starts_with("zoo:gpt-block")).expect(&out);
    let kernels: usize = row.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect(row);
    let launches: Vec<&str> = out.lines().filter(|l| l.starts_with("    k")).collect();
    assert_eq!(launches.len(), kernels, "{out}");
    assert!(launches.iter().all(|l| l.contains(" ms ") && l.contains('%') && l.contains("GFLOP/s")), "{out}");
}

#[test]
fn search_writes_the_front_and_candidates_that_retrain() {
    let cfg = ["-c", "d=16", "-c", "layers=2", "-c", "heads=2", "-c", "vocab=256"];
    let run = |out: &PathBuf| {
        let args = ["search", "zoo:lm", "--budget", "4", "--steps", "3", "--batch", "2", "--seq", "8", "--out", s(out)];
        ok(&[&args[..], &cfg[..]].concat())
    };
    let (a, b) = (temp("search-a"), temp("search-b"));
    let text = run(&a);
    assert!(text.contains("Pareto front") && text.contains("start"), "{text}");
    let csv = std::fs::read_to_string(a.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(std::fs::read_to_string(a.join("front.svg")).unwrap().starts_with("<svg"));
    // The same seed proposes the same candidates and trains them to the same losses (times, and so the
    // front, are measurements).
    run(&b);
    let columns = |dir: &PathBuf| -> Vec<String> {
        let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
        let row = |l: &str| -> String {
            let cells: Vec<&str> =
                l.split(',').enumerate().filter(|(i, _)| *i != 5 && *i != 6).map(|(_, c)| c).collect();
            cells.join(",")
        };
        csv.lines().map(row).collect()
    };
    assert_eq!(columns(&a), columns(&b));
    // A candidate's exported training graph trains with `irc train`.
    let cand = a.join("candidates").join("3.irc");
    let out = ok(&["train", s(&cand), "--steps", "2", "--batch", "2", "--seq", "8", "--out", s(&temp("search-train"))]);
    assert!(out.contains("final train loss"), "{out}");
}

#[test]
fn search_rejects_models_without_per_layer_choices() {
    assert!(fails(&["search", "zoo:mlp"]).contains("no per-layer"));
    assert!(fails(&["search", "model.irc"]).contains("zoo language model"));
    assert!(fails(&["search", "zoo:lm", "--budget", "0"]).contains("at least 1"));
    assert!(fails(&["search", "zoo:lm", "-c", "attn=softmax,linear,gla"]).contains("3 values for 2 layers"));
}

#[test]
fn optimizer_reports_and_turns_off() {
    let explain = ok(&["compile", "zoo:gpt-block", "--explain", "--dim", "B=2", "--dim", "T=16"]);
    let report = &explain[explain.find("optimizer: rule groups simplify, matmul-assoc").expect(&explain)..];
    for part in ["e-graph", "iterations", "time", "estimated cost", "permute-permute"] {
        assert!(report.contains(part), "{report}");
    }
    let off = ok(&["compile", "zoo:gpt-block", "--explain", "--no-opt"]);
    assert!(off.contains("optimizer: off (--no-opt)") && !off.contains("e-graph"), "{off}");

    let optimized = ok(&["compile", "zoo:gpt-tiny", "--emit", "optimized"]);
    let given = ok(&["compile", "zoo:gpt-tiny", "--emit", "ir"]);
    assert!(optimized.starts_with("graph") && optimized.lines().count() < given.lines().count());

    let args = ["run", "zoo:gpt-tiny", "--dim", "B=2", "--dim", "T=8", "--backend", "reference"];
    let (on, off) = (ok(&args), ok(&[&args[..], &["--no-opt"]].concat()));
    assert_eq!(on, off, "the default rules are exact on gpt-tiny");
}

#[test]
fn specializing_to_a_static_length_chunks_causal_linear_attention() {
    let base = ["compile", "zoo:linear-lm", "-c", "max_seq=256", "--explain", "--dim", "B=2", "--dim", "T=256"];
    let symbolic = ok(&base);
    assert!(symbolic.contains("estimated cost") && !symbolic.contains("chunk-"), "{symbolic}");
    let fixed = ok(&[&base[..], &["--specialize"]].concat());
    assert!(fixed.contains("chunk-linear-attention-") && fixed.contains("chunk-normalizer-"), "{fixed}");

    // `irc run` compiles for the sizes it runs at: the chunked form, same logits as the quadratic one.
    let run = ["run", "zoo:linear-lm", "-c", "max_seq=128", "--dim", "B=1", "--dim", "T=128"];
    let sum = |out: &str| -> f64 {
        let s = out.split("sum=").nth(1).and_then(|r| r.split_whitespace().next()).expect(out);
        s.parse().expect(out)
    };
    let (on, off) = (ok(&run), ok(&[&run[..], &["--no-opt"]].concat()));
    assert!((sum(&on) - sum(&off)).abs() <= 1e-4 * sum(&off).abs().max(1.0), "{on}\n{off}");
}
