//! Code generation: the kernel IR shared by the Cranelift, WGSL and PTX backends (not yet written).
