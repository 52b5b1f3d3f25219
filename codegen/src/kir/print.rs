//! Readable text for kernels and programs: what `--dump-kernels` writes and what tests compare.

use std::fmt::Write;

use super::{Access, BinOp, BufferKind, Expr, Kernel, Program, Stmt};

fn expr(k: &Kernel, e: &Expr, out: &mut String) {
    match e {
        Expr::Const { value, dtype } if dtype.is_float() => {
            let _ = write!(out, "{value:?}");
        }
        Expr::Const { value, .. } => {
            let _ = write!(out, "{value}");
        }
        Expr::Var(v) => out.push_str(&k.vars[v.0 as usize].name),
        Expr::Size(i) => out.push_str(&k.sizes[*i]),
        Expr::Load { buf, index } => {
            out.push_str(&k.buffers[*buf].name);
            out.push('[');
            expr(k, index, out);
            out.push(']');
        }
        Expr::SharedLoad { arr, index } => {
            out.push_str(&k.shared[*arr].name);
            out.push('[');
            expr(k, index, out);
            out.push(']');
        }
        Expr::Unary { op, arg } => {
            out.push_str(op.name());
            out.push('(');
            expr(k, arg, out);
            out.push(')');
        }
        Expr::Binary { op, lhs, rhs } => {
            let infix = match op {
                BinOp::Add => Some("+"),
                BinOp::Sub => Some("-"),
                BinOp::Mul => Some("*"),
                BinOp::Div => Some("/"),
                BinOp::Rem => Some("%"),
                BinOp::Lt => Some("<"),
                BinOp::Le => Some("<="),
                BinOp::Eq => Some("=="),
                BinOp::Ne => Some("!="),
                BinOp::Max | BinOp::Min | BinOp::Pow => None,
            };
            match infix {
                Some(sym) => {
                    out.push('(');
                    expr(k, lhs, out);
                    let _ = write!(out, " {sym} ");
                    expr(k, rhs, out);
                    out.push(')');
                }
                None => {
                    let _ = write!(out, "{}(", op.name());
                    expr(k, lhs, out);
                    out.push_str(", ");
                    expr(k, rhs, out);
                    out.push(')');
                }
            }
        }
        Expr::Select { cond, a, b } => {
            out.push_str("select(");
            expr(k, cond, out);
            out.push_str(", ");
            expr(k, a, out);
            out.push_str(", ");
            expr(k, b, out);
            out.push(')');
        }
        Expr::Cast { dtype, arg } => {
            let _ = write!(out, "{dtype}(");
            expr(k, arg, out);
            out.push(')');
        }
    }
}

/// An expression of kernel `k` as text (names of its variables, sizes and buffers).
pub fn print_expr(k: &Kernel, e: &Expr) -> String {
    let mut s = String::new();
    expr(k, e, &mut s);
    s
}

fn stmts(k: &Kernel, body: &[Stmt], depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for s in body {
        match s {
            Stmt::Let { var, value } => {
                let d = &k.vars[var.0 as usize];
                let _ = writeln!(out, "{pad}let {}: {} = {}", d.name, d.dtype, print_expr(k, value));
            }
            Stmt::Assign { var, value } => {
                let _ = writeln!(out, "{pad}{} = {}", k.vars[var.0 as usize].name, print_expr(k, value));
            }
            Stmt::Loop { var, extent, body } => {
                let vector = k.vector_width(*var).map_or(String::new(), |w| format!(" vector {w}"));
                let _ = writeln!(
                    out,
                    "{pad}for {} in 0..{}{vector} {{",
                    k.vars[var.0 as usize].name,
                    print_expr(k, extent)
                );
                stmts(k, body, depth + 1, out);
                let _ = writeln!(out, "{pad}}}");
            }
            Stmt::Store { buf, index, value } => {
                let _ =
                    writeln!(out, "{pad}{}[{}] = {}", k.buffers[*buf].name, print_expr(k, index), print_expr(k, value));
            }
            Stmt::SharedStore { arr, index, value } => {
                let _ =
                    writeln!(out, "{pad}{}[{}] = {}", k.shared[*arr].name, print_expr(k, index), print_expr(k, value));
            }
            Stmt::If { cond, body } => {
                let _ = writeln!(out, "{pad}if {} {{", print_expr(k, cond));
                stmts(k, body, depth + 1, out);
                let _ = writeln!(out, "{pad}}}");
            }
            Stmt::Barrier => {
                let _ = writeln!(out, "{pad}barrier");
            }
        }
    }
}

/// A kernel as text: header (source nodes, cost), arguments, grid and body.
pub fn print_kernel(k: &Kernel) -> String {
    let mut out = String::new();
    let nodes: Vec<String> = k.info.nodes.iter().map(|n| n.to_string()).collect();
    let _ = writeln!(out, "kernel {}  # from {}", k.name, if nodes.is_empty() { "-".into() } else { nodes.join(" ") });
    if let Some(b) = &k.info.bytes {
        let _ = writeln!(out, "  # bytes {}", print_expr(k, b));
    }
    if let Some(f) = &k.info.flops {
        let _ = writeln!(out, "  # flops {}", print_expr(k, f));
    }
    for b in &k.buffers {
        let access = if b.access == Access::Read { "read" } else { "write" };
        let _ = writeln!(out, "  buffer {}: {} {access}", b.name, b.dtype);
    }
    if !k.sizes.is_empty() {
        let _ = writeln!(out, "  sizes {}", k.sizes.join(", "));
    }
    let grid: Vec<String> =
        k.grid.iter().map(|(v, e)| format!("{} in 0..{}", k.vars[v.0 as usize].name, print_expr(k, e))).collect();
    for a in &k.shared {
        let _ = writeln!(out, "  shared {}: {}[{}]", a.name, a.dtype, a.len);
    }
    let lanes = match k.lanes {
        Some(l) => format!(" lanes {} in 0..{}", k.vars[l.var.0 as usize].name, l.count),
        None => String::new(),
    };
    let grid = if grid.is_empty() { "()".into() } else { grid.join(", ") };
    let _ = writeln!(out, "  parallel for {grid}{lanes} {{");
    stmts(k, &k.body, 2, &mut out);
    out.push_str("  }\n");
    out
}

/// A program as text: buffers, then each launch with its kernel.
pub fn print_program(p: &Program) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "program {}", p.name);
    for (i, b) in p.buffers.iter().enumerate() {
        let kind = match &b.kind {
            BufferKind::Input(n) => format!("input \"{n}\""),
            BufferKind::Param(n) => format!("param \"{n}\""),
            BufferKind::Constant(d) => format!("constant ({} values)", d.len()),
            BufferKind::Temp => "temp".into(),
        };
        let _ = writeln!(out, "  b{i}: {}{} {kind}", b.dtype, b.shape);
    }
    for (name, b) in &p.outputs {
        let _ = writeln!(out, "  output \"{name}\" = b{b}");
    }
    for l in &p.launches {
        let args: Vec<String> = l.args.iter().map(|a| format!("b{a}")).collect();
        let _ = writeln!(out, "\nlaunch {}({})", p.kernels[l.kernel].name, args.join(", "));
        out.push_str(&print_kernel(&p.kernels[l.kernel]));
    }
    out
}
