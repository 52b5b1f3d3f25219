//! The suite must notice a backend that computes wrong values, and report each case once.

use std::path::PathBuf;

use irc_codegen::kir::Kernel;
use irc_ir::DType;
use irc_runtime::{Arg, EvalBackend, HostBuffer, HostMemory, KernelBackend, RunError, Tensor};

use super::{Caps, Case, Options, Outcome, run_on};

/// The evaluator, but every download of a float tensor comes back with its first element off by one.
#[derive(Clone)]
struct OffByOne;

impl KernelBackend for OffByOne {
    type Compiled = ();
    type Buffer = HostMemory;

    fn compile(&self, k: &Kernel) -> Result<(), RunError> {
        KernelBackend::compile(&EvalBackend, k)
    }
    fn upload(&self, host: HostBuffer) -> Result<HostMemory, RunError> {
        EvalBackend.upload(host)
    }
    fn alloc(&self, dtype: DType, numel: usize) -> Result<HostMemory, RunError> {
        EvalBackend.alloc(dtype, numel)
    }
    fn alloc_arena(&self, bytes: usize) -> Result<HostMemory, RunError> {
        EvalBackend.alloc_arena(bytes)
    }
    fn download(&self, buf: &HostMemory, offset: usize, dtype: DType, shape: &[usize]) -> Result<Tensor, RunError> {
        let mut t = EvalBackend.download(buf, offset, dtype, shape)?;
        if dtype.is_float()
            && let Some(v) = t.data.first_mut()
        {
            *v += 1.0;
        }
        Ok(t)
    }
    unsafe fn launch(&self, c: &(), k: &Kernel, args: &[Arg<'_, HostMemory>], sizes: &[i64]) -> Result<(), RunError> {
        // SAFETY: forwarded from this function's contract.
        unsafe { EvalBackend.launch(c, k, args, sizes) }
    }
}

fn suite(backend: &(impl KernelBackend + Clone), filter: &str, save: Option<PathBuf>) -> Vec<Case> {
    let opts = Options { filter: Some(filter.into()), save_failures: save, ..Options::default() };
    let mut cases = Vec::new();
    let summary = run_on(backend, Caps { f64: true, wide_ints: true }, &opts, &mut |c| cases.push(c.clone()));
    let failed = cases.iter().filter(|c| matches!(c.outcome, Outcome::Fail(_))).count();
    assert_eq!((summary.failed, summary.passed + summary.failed + summary.skipped), (failed, cases.len()));
    cases
}

#[test]
fn a_backend_with_wrong_values_fails_the_cases_that_read_them_and_saves_their_graphs() {
    let dir = std::env::temp_dir().join(format!("irc-selftest-{}", std::process::id()));
    let cases = suite(&OffByOne, "patterns/softmax/", Some(dir.clone()));
    assert!(!cases.is_empty());
    for c in &cases {
        assert!(matches!(&c.outcome, Outcome::Fail(m) if m.contains("want")), "{c:?}");
        let path = dir.join(format!("{}.irc", c.name.replace('/', "_")));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(text.contains("--dim B=2 --dim T=5"), "{text}");
        irc_ir::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_evaluator_passes_and_every_case_is_reported_once() {
    let cases = suite(&EvalBackend, "ops/select", None);
    assert!(cases.iter().all(|c| c.outcome == Outcome::Pass), "{cases:?}");
    let mut names: Vec<_> = cases.iter().map(|c| c.name.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), cases.len());
    assert_eq!(names, ["ops/select_with_computed_and_input_conditions/0"]);
}
