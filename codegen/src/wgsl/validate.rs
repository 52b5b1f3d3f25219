//! naga validation of generated WGSL: parse, then the full validator, so that a code generator bug is
//! reported here, with the kernel's name and the offending lines, instead of as a GPU driver error.

use naga::valid::{Capabilities, ValidationFlags, Validator};

use super::WgslError;

/// Lines of context shown on each side of the error's line.
const CONTEXT_LINES: usize = 3;

/// Parses and validates `source`, the shader of kernel `kernel`.
pub fn validate_wgsl(kernel: &str, source: &str) -> Result<(), WgslError> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| WgslError::Naga {
        kernel: kernel.into(),
        diagnostic: e.emit_to_string(source),
        excerpt: excerpt(source, e.location(source).map(|l| l.line_number)),
    })?;
    // f16 storage and arithmetic only appear in shaders compiled for devices with `shader-f16`.
    let mut validator = Validator::new(ValidationFlags::all(), Capabilities::default() | Capabilities::SHADER_FLOAT16);
    validator.validate(&module).map_err(|e| WgslError::Naga {
        kernel: kernel.into(),
        diagnostic: e.emit_to_string(source),
        excerpt: excerpt(source, e.location(source).map(|l| l.line_number)),
    })?;
    Ok(())
}

/// The numbered lines around 1-based `line` (the shader's start when the error has no location).
fn excerpt(source: &str, line: Option<u32>) -> String {
    let at = line.map_or(1, |l| l as usize);
    let first = at.saturating_sub(CONTEXT_LINES).max(1);
    source
        .lines()
        .enumerate()
        .skip(first - 1)
        .take(at + CONTEXT_LINES + 1 - first)
        .map(|(i, l)| format!("{}{:>4} | {l}", if i + 1 == at { ">" } else { " " }, i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}
