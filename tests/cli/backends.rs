//! `--backend cuda` without a driver, and `irc selftest` on the backends this machine has.

use std::process::Command;

use irc_runtime::{CudaBackend, CudaError, WgpuBackend};

use super::{fails, ok, temp};

/// `irc ARGS` with `IRC_CUDA_NO_DRIVER=1`: must fail cleanly and say what is missing.
fn fails_without_driver(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_irc"))
        .args(args)
        .env("IRC_CUDA_NO_DRIVER", "1")
        .output()
        .expect("the irc binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "irc {args:?} should fail");
    // Commands may announce their work on stderr before the backend opens; the error ends the output.
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: ") && !stderr.contains("panicked"), "irc {args:?}: {stderr}");
    stderr
}

const NO_DRIVER: &str = "the CUDA driver library (libcuda.so.1) was not found";

#[test]
fn every_command_with_backend_cuda_says_the_driver_is_missing() {
    let (train, search) = (temp("cuda-train"), temp("cuda-search"));
    let commands: [&[&str]; 5] = [
        &["run", "zoo:mlp", "--backend", "cuda"],
        &["bench", "cpu-small", "--backend", "cuda", "--runs", "1"],
        &["train", "zoo:gpt-tiny", "--backend", "cuda", "--steps", "1", "--out", super::s(&train)],
        &["search", "zoo:lm", "--backend", "cuda", "--budget", "1", "--steps", "1", "--out", super::s(&search)],
        &["selftest", "--backend", "cuda"],
    ];
    for args in commands {
        let err = fails_without_driver(args);
        assert!(err.contains(NO_DRIVER) && err.contains("--backend cpu"), "irc {args:?}: {err}");
    }
}

#[test]
fn without_libcuda_the_real_check_gives_the_same_error() {
    // On a machine with the driver the command may succeed; only the missing-driver path is checked here.
    if !matches!(CudaBackend::new(), Err(CudaError::NoDriver)) {
        eprintln!("skipping: this machine has the CUDA driver library");
        return;
    }
    let err = fails(&["run", "zoo:mlp", "--backend", "cuda"]);
    assert!(err.contains(NO_DRIVER), "{err}");
}

/// The summary line's counts, from the output of `irc selftest`.
fn passed_failed(out: &str) -> (usize, usize) {
    let last = out.lines().last().unwrap_or_default();
    let count = |word: &str| {
        let before = last.split(word).next().unwrap_or_default();
        before.split_whitespace().last().and_then(|n| n.parse().ok()).unwrap_or(usize::MAX)
    };
    (count(" passed"), count(" failed"))
}

#[test]
fn selftest_passes_on_the_cpu_with_a_line_per_case() {
    let out = ok(&["selftest", "--backend", "cpu", "--quick"]);
    for group in ["ops/", "patterns/", "zoo/", "random/", "train/gpt-tiny"] {
        assert!(out.lines().any(|l| l.starts_with(&format!("ok    {group}"))), "no passing {group} case:\n{out}");
    }
    let (passed, failed) = passed_failed(&out);
    assert_eq!(failed, 0, "{out}");
    assert_eq!(passed, out.lines().filter(|l| l.starts_with("ok    ")).count(), "{out}");
    assert!(passed > 300, "{out}");
}

#[test]
fn selftest_on_wgpu_when_an_adapter_exists() {
    if let Err(e) = WgpuBackend::new() {
        assert!(std::env::var_os("IRC_REQUIRE_WGPU").is_none(), "IRC_REQUIRE_WGPU is set: {e}");
        eprintln!("skipping: {e}");
        return;
    }
    // The shared-memory patterns and the ops with f64 (which wgpu must refuse).
    for filter in ["patterns/", "ops/unary"] {
        let out = ok(&["selftest", "--backend", "wgpu", "--quick", "--filter", filter]);
        let (passed, failed) = passed_failed(&out);
        assert!(failed == 0 && passed > 10, "{out}");
    }
}

#[test]
fn selftest_rejects_a_filter_that_matches_nothing() {
    let err = fails(&["selftest", "--backend", "cpu", "--filter", "no-such-case"]);
    assert!(err.contains("no case matches --filter no-such-case"), "{err}");
}
