//! A kernel's `.entry`: the parameter ABI, the mapping of grid points to threads, and the launch shape.
//!
//! Parameters: one `.u64` global pointer per buffer argument (in [`Kernel::buffers`] order), then one
//! `.s64` per size (in [`Kernel::sizes`] order).
//!
//! Threads: without lanes, every grid point is one thread: the flat (row-major) grid index is
//! `%ctaid.x * %ntid.x + %tid.x`, threads past the total return, and the rest unravel it into the grid
//! variables. With lanes, every grid point is one CTA of `count` threads: the flat index is `%ctaid.x`
//! and the lane variable is `%tid.x`. [`launch_shape`] is the matching launch.

use super::PtxError;
use super::regs::Asm;
use super::types::{Class, shared_size, shared_type};
use crate::kir::{Expr, Kernel, Stmt};

/// Threads per CTA of a kernel without lanes.
pub const BLOCK: u32 = 256;

/// The most CTAs along x a launch may have.
const MAX_GRID_X: u64 = (1 << 31) - 1;

/// The most threads of one CTA.
const MAX_LANES: u32 = 1024;

/// The static shared memory of one CTA on every target (48 KiB).
const MAX_SHARED_BYTES: u32 = 48 * 1024;

/// How to launch an entry: CTAs per grid dimension and threads per CTA; no dynamic shared memory.
/// `grid[0] == 0` means the kernel has nothing to do: skip the launch (CUDA rejects empty grids).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchShape {
    pub grid: [u32; 3],
    pub block: [u32; 3],
}

/// The grid points of `k` under `sizes` (the values of `k.sizes`): the product of its extents, 0 when
/// any is negative or zero.
fn grid_points(k: &Kernel, sizes: &[i64]) -> Result<u64, PtxError> {
    let mut total: u64 = 1;
    for (_, e) in &k.grid {
        let n = e.eval_size(sizes).ok_or_else(|| PtxError::Launch {
            kernel: k.name.clone(),
            msg: "a grid extent is not a function of the sizes given".into(),
        })?;
        total = total.saturating_mul(n.max(0) as u64);
    }
    Ok(total)
}

/// The launch of `k` under `sizes`: `BLOCK` threads per CTA and enough CTAs for every grid point
/// without lanes; one CTA of `lanes.count` threads per grid point with lanes. All CTAs lie along x.
pub fn launch_shape(k: &Kernel, sizes: &[i64]) -> Result<LaunchShape, PtxError> {
    if sizes.len() != k.sizes.len() {
        return Err(PtxError::Launch {
            kernel: k.name.clone(),
            msg: format!("expected {} sizes, got {}", k.sizes.len(), sizes.len()),
        });
    }
    let points = grid_points(k, sizes)?;
    let (threads, ctas) = match k.lanes {
        Some(l) => (l.count, points),
        None => (BLOCK, points.div_ceil(BLOCK as u64)),
    };
    if ctas > MAX_GRID_X {
        return Err(PtxError::Launch {
            kernel: k.name.clone(),
            msg: format!("{points} grid points need {ctas} CTAs, more than {MAX_GRID_X}"),
        });
    }
    Ok(LaunchShape { grid: [ctas as u32, 1, 1], block: [threads, 1, 1] })
}

/// The state of writing one entry; `expr.rs`, `mem.rs`, `math.rs` and `stmt.rs` add its methods.
pub(super) struct Emit<'k> {
    pub k: &'k Kernel,
    pub a: Asm,
    /// The register of every variable.
    pub vars: Vec<String>,
    pub sizes: Vec<String>,
    /// The global address of every buffer argument.
    pub bufs: Vec<String>,
    /// The symbol of every shared array.
    pub shared: Vec<String>,
}

impl Emit<'_> {
    pub fn invalid(&self, msg: impl Into<String>) -> PtxError {
        PtxError::Invalid { kernel: self.k.name.clone(), msg: msg.into() }
    }

    pub fn unsupported(&self, what: impl Into<String>) -> PtxError {
        PtxError::Unsupported { kernel: self.k.name.clone(), what: what.into() }
    }
}

/// Checks every index into the kernel's tables, so that emission (and [`Kernel::dtype_of`]) cannot go
/// out of range.
fn validate(k: &Kernel) -> Result<(), PtxError> {
    let bad = |msg: String| Err(PtxError::Invalid { kernel: k.name.clone(), msg });
    let check_expr = |e: &Expr| {
        let mut err = None;
        e.visit(&mut |x| {
            let wrong = match x {
                Expr::Var(v) => (v.0 as usize >= k.vars.len()).then(|| format!("undeclared variable #{}", v.0)),
                Expr::Size(i) => (*i >= k.sizes.len()).then(|| format!("size {i} does not exist")),
                Expr::Load { buf, .. } => {
                    (*buf >= k.buffers.len()).then(|| format!("buffer argument {buf} does not exist"))
                }
                Expr::SharedLoad { arr, .. } => {
                    (*arr >= k.shared.len()).then(|| format!("shared array {arr} does not exist"))
                }
                _ => None,
            };
            err = err.take().or(wrong);
        });
        err
    };
    fn walk(body: &[Stmt], f: &mut dyn FnMut(&Stmt) -> Option<String>) -> Option<String> {
        for s in body {
            if let Some(e) = f(s) {
                return Some(e);
            }
            if let Stmt::Loop { body, .. } | Stmt::If { body, .. } = s
                && let Some(e) = walk(body, f)
            {
                return Some(e);
            }
        }
        None
    }
    for (v, e) in &k.grid {
        if v.0 as usize >= k.vars.len() {
            return bad(format!("undeclared grid variable #{}", v.0));
        }
        if let Some(m) = check_expr(e) {
            return bad(m);
        }
    }
    if let Some(l) = k.lanes {
        if l.var.0 as usize >= k.vars.len() {
            return bad(format!("undeclared lane variable #{}", l.var.0));
        }
        if l.count == 0 || l.count > MAX_LANES {
            return Err(PtxError::Unsupported {
                kernel: k.name.clone(),
                what: format!("a block of {} lanes (1 to {MAX_LANES})", l.count),
            });
        }
    }
    let shared_bytes: u64 = k.shared.iter().map(|a| a.len as u64 * shared_size(a.dtype) as u64).sum();
    if shared_bytes > MAX_SHARED_BYTES as u64 {
        return Err(PtxError::Unsupported {
            kernel: k.name.clone(),
            what: format!("{shared_bytes} bytes of shared arrays (at most {MAX_SHARED_BYTES})"),
        });
    }
    let mut check_stmt = |s: &Stmt| -> Option<String> {
        let var =
            |v: &crate::kir::VarId| (v.0 as usize >= k.vars.len()).then(|| format!("undeclared variable #{}", v.0));
        match s {
            Stmt::Let { var: v, value } | Stmt::Assign { var: v, value } => var(v).or_else(|| check_expr(value)),
            Stmt::Loop { var: v, extent, .. } => var(v).or_else(|| check_expr(extent)),
            Stmt::Store { buf, index, value } => {
                if *buf >= k.buffers.len() {
                    return Some(format!("buffer argument {buf} does not exist"));
                }
                check_expr(index).or_else(|| check_expr(value))
            }
            Stmt::SharedStore { arr, index, value } => {
                if *arr >= k.shared.len() {
                    return Some(format!("shared array {arr} does not exist"));
                }
                check_expr(index).or_else(|| check_expr(value))
            }
            Stmt::If { cond, .. } => check_expr(cond),
            Stmt::Barrier => None,
        }
    };
    match walk(&k.body, &mut check_stmt) {
        Some(m) => bad(m),
        None => Ok(()),
    }
}

/// The `.entry` of `k`, named `name`.
pub(super) fn emit_entry(k: &Kernel, name: &str) -> Result<String, PtxError> {
    validate(k)?;
    if k.lanes.is_none() && Stmt::any_barrier(&k.body) {
        return Err(PtxError::Invalid { kernel: k.name.clone(), msg: "a barrier in a kernel without lanes".into() });
    }
    let mut e =
        Emit { k, a: Asm::default(), vars: Vec::new(), sizes: Vec::new(), bufs: Vec::new(), shared: Vec::new() };
    e.vars = k.vars.iter().map(|v| e.a.reg(super::types::class(v.dtype))).collect();
    for (i, arr) in k.shared.iter().enumerate() {
        let sym = format!("sh{i}");
        e.a.line(format!(
            "\t.shared .align 8 .{} {sym}[{}];\t// {}: {}[{}]",
            shared_type(arr.dtype),
            arr.len,
            arr.name.replace(['\n', '\r'], " "),
            arr.dtype,
            arr.len
        ));
        e.shared.push(sym);
    }
    for i in 0..k.buffers.len() {
        let (raw, addr) = (e.a.reg(Class::B64), e.a.reg(Class::B64));
        e.a.ins(format!("ld.param.u64 {raw}, [p_b{i}]"));
        e.a.ins(format!("cvta.to.global.u64 {addr}, {raw}"));
        e.bufs.push(addr);
    }
    for i in 0..k.sizes.len() {
        let r = e.a.reg(Class::B64);
        e.a.ins(format!("ld.param.s64 {r}, [p_s{i}]"));
        e.sizes.push(r);
    }
    let exit = e.a.label("exit");
    e.grid(&exit)?;
    e.stmts(&k.body)?;
    e.a.place(&exit);
    e.a.ins("ret");

    let mut out = String::new();
    let nodes: Vec<String> = k.info.nodes.iter().map(|n| n.to_string()).collect();
    out.push_str(&format!(
        "// kernel `{}` (from {})\n",
        k.name.replace(['\n', '\r'], " "),
        if nodes.is_empty() { "-".into() } else { nodes.join(" ") }
    ));
    out.push_str(&format!(".visible .entry {name}(\n"));
    // (declaration, comment) per parameter; names may hold anything, so comments are kept to one line.
    let one_line = |s: String| s.replace(['\n', '\r'], " ");
    let mut params: Vec<(String, String)> = k
        .buffers
        .iter()
        .enumerate()
        .map(|(i, b)| (format!("\t.param .u64 p_b{i}"), one_line(format!("{}: {} {:?}", b.name, b.dtype, b.access))))
        .collect();
    params.extend(
        k.sizes.iter().enumerate().map(|(i, s)| (format!("\t.param .s64 p_s{i}"), one_line(format!("size {s}")))),
    );
    let n = params.len();
    for (i, (decl, comment)) in params.into_iter().enumerate() {
        let comma = if i + 1 < n { "," } else { "" };
        out.push_str(&format!("{decl}{comma}\t// {comment}\n"));
    }
    let block = k.lanes.map_or(BLOCK, |l| l.count);
    out.push_str(&format!(")\n.maxntid {block}, 1, 1\n{{\n"));
    out.push_str(&e.a.finish());
    out.push_str("}\n");
    Ok(out)
}

impl Emit<'_> {
    /// Sets the grid (and lane) variables of this thread, or jumps to `exit` when it has no grid point.
    fn grid(&mut self, exit: &str) -> Result<(), PtxError> {
        let k = self.k;
        self.a.comment("grid point of this thread");
        let flat = self.a.reg(Class::B64);
        let ctaid = self.a.reg(Class::B32);
        self.a.ins(format!("mov.u32 {ctaid}, %ctaid.x"));
        match k.lanes {
            Some(l) => {
                self.a.ins(format!("cvt.u64.u32 {flat}, {ctaid}"));
                let tid = self.a.reg(Class::B32);
                self.a.ins(format!("mov.u32 {tid}, %tid.x"));
                let lane = self.vars[l.var.0 as usize].clone();
                self.a.ins(format!("cvt.u64.u32 {lane}, {tid}"));
            }
            None => {
                let (ntid, tid, wide) = (self.a.reg(Class::B32), self.a.reg(Class::B32), self.a.reg(Class::B64));
                self.a.ins(format!("mov.u32 {ntid}, %ntid.x"));
                self.a.ins(format!("mov.u32 {tid}, %tid.x"));
                self.a.ins(format!("mul.wide.u32 {wide}, {ctaid}, {ntid}"));
                let t64 = self.a.reg(Class::B64);
                self.a.ins(format!("cvt.u64.u32 {t64}, {tid}"));
                self.a.ins(format!("add.s64 {flat}, {wide}, {t64}"));
            }
        }
        // Extents (never below 0) and their product.
        let mut extents = Vec::new();
        let total = self.a.reg(Class::B64);
        self.a.ins(format!("mov.b64 {total}, 1"));
        for (_, x) in &k.grid {
            let v = self.index(x)?;
            let clamped = self.a.reg(Class::B64);
            self.a.ins(format!("max.s64 {clamped}, {v}, 0"));
            self.a.ins(format!("mul.lo.s64 {total}, {total}, {clamped}"));
            extents.push(clamped);
        }
        let out = self.a.reg(Class::Pred);
        self.a.ins(format!("setp.ge.u64 {out}, {flat}, {total}"));
        self.a.ins(format!("@{out} bra {exit}"));
        // Unravel, innermost first; extents are positive here.
        let mut rest = flat;
        for (d, (v, _)) in k.grid.iter().enumerate().rev() {
            let reg = self.vars[v.0 as usize].clone();
            if d == 0 {
                self.a.ins(format!("mov.b64 {reg}, {rest}"));
            } else {
                let q = self.a.reg(Class::B64);
                self.a.ins(format!("rem.u64 {reg}, {rest}, {}", extents[d]));
                self.a.ins(format!("div.u64 {q}, {rest}, {}", extents[d]));
                rest = q;
            }
        }
        Ok(())
    }
}
