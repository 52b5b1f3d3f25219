//! Assembling PTX with NVIDIA's `ptxas` to check it: found through `IRC_PTXAS`, the `nvidia-cuda-nvcc`
//! pip wheel, or `PATH`. An error names the kernel (the `.entry` around the failing line) and the line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Gpu, PtxError};

/// The pip package that provides a standalone `ptxas`.
pub const PTXAS_PIP: &str = "nvidia-cuda-nvcc==13.0.88";

/// Where the wheel puts ptxas under each of python's `nvidia` package directories.
const WHEEL_PATH: &str = "cu13/bin/ptxas";

/// The ptxas to use, or every place that was searched.
pub fn find_ptxas() -> Result<PathBuf, PtxError> {
    static FOUND: OnceLock<Result<PathBuf, PtxError>> = OnceLock::new();
    FOUND.get_or_init(search).clone()
}

fn search() -> Result<PathBuf, PtxError> {
    let mut searched = Vec::new();
    if let Some(p) = std::env::var_os("IRC_PTXAS") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        searched.push(format!("IRC_PTXAS={}", p.display()));
    }
    // The `nvidia` namespace package of the pip wheels: one directory per site-packages that has it.
    let script = "import nvidia\nfor p in nvidia.__path__: print(p)";
    if let Ok(out) = Command::new("python3").args(["-c", script]).output() {
        for dir in String::from_utf8_lossy(&out.stdout).lines() {
            let p = Path::new(dir.trim()).join(WHEEL_PATH);
            if p.is_file() {
                return Ok(p);
            }
            searched.push(p.display().to_string());
        }
    }
    if searched.iter().all(|s| !s.ends_with(WHEEL_PATH)) {
        searched.push(format!("<site-packages>/nvidia/{WHEEL_PATH} (python3 found no `nvidia` package)"));
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = dir.join("ptxas");
        if p.is_file() {
            return Ok(p);
        }
    }
    searched.push("PATH".into());
    Err(PtxError::PtxasMissing { searched: searched.join(", ") })
}

/// Whether ptxas is there, for checks that can do without it (tests): when it is missing, prints a
/// notice that `what` is skipped (on stderr, past any output capture) and gives `Ok(false)`, unless
/// `IRC_REQUIRE_PTXAS=1` (CI), where the missing ptxas is the error.
pub fn ptxas_or_skip(what: &str) -> Result<bool, PtxError> {
    match find_ptxas() {
        Ok(_) => Ok(true),
        Err(e) if std::env::var("IRC_REQUIRE_PTXAS").as_deref() == Ok("1") => Err(e),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "SKIPPED {what}: {e}");
            Ok(false)
        }
    }
}

/// A path in the temp directory that no other check uses.
fn temp_path(ext: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("irc-ptx-{}-{n}.{ext}", std::process::id()))
}

/// Assembles `ptx` for `gpu` (the output is thrown away); the first error comes back with its kernel
/// and PTX line.
pub fn check_with_ptxas(ptx: &str, gpu: Gpu) -> Result<(), PtxError> {
    check_with_ptxas_at(ptx, gpu, 3)
}

/// [`check_with_ptxas`] at ptxas optimization level `opt` (0 to 3). Level 0 checks the same syntax,
/// types and resources several times faster, for test sweeps over many kernels.
pub fn check_with_ptxas_at(ptx: &str, gpu: Gpu, opt: u8) -> Result<(), PtxError> {
    let ptxas = find_ptxas()?;
    let (src, obj) = (temp_path("ptx"), temp_path("cubin"));
    std::fs::write(&src, ptx).map_err(|e| PtxError::Io(format!("{}: {e}", src.display())))?;
    let out = Command::new(&ptxas)
        .arg("--gpu-name")
        .arg(gpu.name())
        .arg(format!("-O{}", opt.min(3)))
        .arg("-o")
        .arg(&obj)
        .arg(&src)
        .output();
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(&obj);
    let out = out.map_err(|e| PtxError::Io(format!("{}: {e}", ptxas.display())))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    Err(first_error(ptx, gpu, &stderr))
}

/// The first `ptxas FILE, line N; error : MESSAGE` of `stderr`, with the kernel and text of line N.
fn first_error(ptx: &str, gpu: Gpu, stderr: &str) -> PtxError {
    let parsed = stderr.lines().find_map(|l| {
        let (_, rest) = l.split_once(", line ")?;
        let (n, rest) = rest.split_once(';')?;
        let n: usize = n.trim().parse().ok()?;
        let message = rest.split_once(':').map_or(rest, |(_, m)| m).trim();
        rest.contains("error").then(|| (n, message.to_string()))
    });
    let (line, message) = parsed.unwrap_or((0, stderr.trim().to_string()));
    let lines: Vec<&str> = ptx.lines().collect();
    let text = line.checked_sub(1).and_then(|i| lines.get(i)).map_or("", |l| l.trim()).to_string();
    let kernel =
        lines.iter().take(line.max(1)).rev().find_map(|l| entry_name(l)).unwrap_or_else(|| "<module>".to_string());
    PtxError::Ptxas { gpu: gpu.name().to_string(), kernel, line, text, message }
}

/// The name declared by an `.entry` line.
fn entry_name(line: &str) -> Option<String> {
    let rest = line.split_once(".entry")?.1.trim_start();
    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '$').collect();
    (!name.is_empty()).then_some(name)
}
