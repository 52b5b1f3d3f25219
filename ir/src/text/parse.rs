//! `.irc` text -> Graph. Nodes are built with [`Graph::push`], so the parsed graph is type-checked as it is
//! read; the type written after `:` must equal the inferred one.

use std::collections::{HashMap, HashSet};

use super::ParseError;
use super::attr::{Attr, AttrKind, default_attr, key_kind, op_attrs};
use super::lex::{Tok, Token, lex};
use crate::{DType, Dim, Graph, Init, IrError, NodeId, Op, Shape, TensorType};

/// Parses a graph written in the `.irc` text format (see `docs/IR.md`). The result passes
/// [`Graph::verify`]; any malformed input, including a type error, is a [`ParseError`].
pub fn parse(src: &str) -> Result<Graph, ParseError> {
    let toks = lex(src)?;
    Parser { src, toks, pos: 0, g: Graph::new(""), names: HashMap::new(), leaf_names: HashSet::new() }.graph()
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    g: Graph,
    /// Source node name -> (node, line it was defined on).
    names: HashMap<String, (NodeId, usize)>,
    /// (`input` or `param`, name): checked here so a duplicate is reported where it is written.
    leaf_names: HashSet<(&'static str, String)>,
}

/// The attributes written on one node, with the tokens of their keys for error positions.
struct Attrs<'p> {
    given: Vec<(String, Attr, Token)>,
    op: &'p Token,
    mnemonic: &'p str,
    src: &'p str,
}

macro_rules! getter {
    ($fn:ident, $variant:ident, $t:ty) => {
        fn $fn(&self, key: &str) -> Result<$t, ParseError> {
            match self.get(key)? {
                Attr::$variant(v) => Ok(v),
                _ => Err(self.err(format!("attribute `{key}` has the wrong kind of value"))),
            }
        }
    };
}

impl Attrs<'_> {
    fn err(&self, msg: String) -> ParseError {
        ParseError::new(self.src, self.op.line, self.op.col, msg)
    }

    fn get(&self, key: &str) -> Result<Attr, ParseError> {
        self.given
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v.clone())
            .or_else(|| default_attr(key))
            .ok_or_else(|| self.err(format!("`{}` needs attribute `{key}=...`", self.mnemonic)))
    }

    getter!(int, Int, usize);
    getter!(ints, Ints, Vec<usize>);
    getter!(dim, Dim, Dim);
    getter!(shape, Shape, Shape);
    getter!(dtype, DType, DType);
    getter!(bool, Bool, bool);
    getter!(float, Float, f64);
    getter!(floats, Floats, Vec<f64>);
    getter!(init, Init, Init);
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn err(&self, at: &Token, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.src, at.line, at.col, msg)
    }

    fn skip_newlines(&mut self) {
        while self.peek().tok == Tok::Newline {
            self.pos += 1;
        }
    }

    fn expect_punct(&mut self, c: char, what: &str) -> Result<Token, ParseError> {
        let t = self.next();
        if t.tok == Tok::Punct(c) {
            Ok(t)
        } else {
            Err(self.err(&t, format!("expected {what}, found {}", t.tok.describe())))
        }
    }

    fn graph(mut self) -> Result<Graph, ParseError> {
        self.skip_newlines();
        let t = self.next();
        if t.tok != Tok::Ident("graph".into()) {
            return Err(self.err(&t, format!("expected `graph NAME {{`, found {}", t.tok.describe())));
        }
        let t = self.next();
        self.g.name = match &t.tok {
            Tok::Ident(s) | Tok::Str(s) => s.clone(),
            other => return Err(self.err(&t, format!("expected the graph's name, found {}", other.describe()))),
        };
        self.expect_punct('{', "`{` after the graph name")?;
        let close = loop {
            self.skip_newlines();
            let t = self.peek().clone();
            match &t.tok {
                Tok::Punct('}') => break self.next(),
                Tok::Node(name) => self.node(name.clone())?,
                Tok::Ident(k) if k == "output" => self.output()?,
                Tok::Eof => return Err(self.err(&t, format!("missing `}}` at the end of graph `{}`", self.g.name))),
                other => {
                    let msg = format!(
                        "expected a node `%name = op ...`, `output \"name\" = %node` or `}}`, found {}",
                        other.describe()
                    );
                    return Err(self.err(&t, msg));
                }
            }
            let t = self.peek();
            if !matches!(t.tok, Tok::Newline | Tok::Punct('}') | Tok::Eof) {
                let msg = format!("unexpected {} after the end of the statement (one per line)", t.tok.describe());
                return Err(self.err(t, msg));
            }
        };
        self.skip_newlines();
        let t = self.peek();
        if t.tok != Tok::Eof {
            return Err(self.err(t, format!("unexpected {} after the graph's closing `}}`", t.tok.describe())));
        }
        if self.g.outputs().is_empty() {
            let msg = format!("graph `{}` has no outputs (add a line `output \"name\" = %node`)", self.g.name);
            return Err(self.err(&close, msg));
        }
        // Everything verify checks was checked while parsing; this is the backstop the API promises.
        self.g.verify().map_err(|e| self.err(&close, e.to_string()))?;
        Ok(self.g)
    }

    /// A `%name` operand that must already be defined.
    fn operand(&mut self) -> Result<NodeId, ParseError> {
        let t = self.next();
        let Tok::Node(name) = &t.tok else {
            return Err(self.err(&t, format!("expected an operand `%name`, found {}", t.tok.describe())));
        };
        match self.names.get(name) {
            Some(&(id, _)) => Ok(id),
            None => Err(self.err(&t, format!("`%{name}` is not defined (nodes must be defined before they are used)"))),
        }
    }

    fn output(&mut self) -> Result<(), ParseError> {
        self.next();
        let t = self.next();
        let Tok::Str(name) = t.tok.clone() else {
            let msg =
                format!("expected the output's name as a string (`output \"y\" = %3`), found {}", t.tok.describe());
            return Err(self.err(&t, msg));
        };
        self.expect_punct('=', "`=` after the output name")?;
        let id = self.operand()?;
        self.g.add_output(name, id).map_err(|e| self.err(&t, e.to_string()))
    }

    /// A node definition; the current token is `%name`.
    fn node(&mut self, name: String) -> Result<(), ParseError> {
        let name_tok = self.next();
        if let Some((_, line)) = self.names.get(&name) {
            return Err(self.err(&name_tok, format!("`%{name}` is already defined on line {line}")));
        }
        self.expect_punct('=', "`=` after the node name")?;
        let op_tok = self.next();
        let Tok::Ident(mnemonic) = op_tok.tok.clone() else {
            return Err(self.err(&op_tok, format!("expected an op name, found {}", op_tok.tok.describe())));
        };
        let proto = Op::prototype(&mnemonic).ok_or_else(|| self.err(&op_tok, format!("unknown op `{mnemonic}`")))?;

        // Operands: a name string for inputs and params, an optional bare value for const, else `%a, %b`.
        let mut leaf_name = None;
        let mut value = None;
        match proto {
            Op::Input { .. } | Op::Param { .. } => {
                let t = self.next();
                match t.tok.clone() {
                    Tok::Str(s) => leaf_name = Some((s, t)),
                    other => {
                        let msg = format!("expected the {mnemonic}'s name as a string, found {}", other.describe());
                        return Err(self.err(&t, msg));
                    }
                }
            }
            Op::Const { .. } if self.starts_number() => value = Some(self.float()?),
            _ => {}
        }
        let mut inputs = Vec::new();
        if matches!(self.peek().tok, Tok::Node(_)) {
            inputs.push(self.operand()?);
            while self.peek().tok == Tok::Punct(',') {
                self.next();
                inputs.push(self.operand()?);
            }
        }
        match proto.arity() {
            Some(n) if n != inputs.len() => {
                let s = if n == 1 { "" } else { "s" };
                let msg = format!("`{mnemonic}` takes {n} operand{s}, got {}", inputs.len());
                return Err(self.err(&op_tok, msg));
            }
            None if inputs.is_empty() => {
                return Err(self.err(&op_tok, format!("`{mnemonic}` takes at least one operand")));
            }
            _ => {}
        }

        let mut given: Vec<(String, Attr, Token)> = Vec::new();
        while let (Tok::Ident(key), Some(Tok::Punct('='))) =
            (self.peek().tok.clone(), self.toks.get(self.pos + 1).map(|t| &t.tok))
        {
            let key_tok = self.next();
            self.next();
            let kind = key_kind(&key).ok_or_else(|| self.err(&key_tok, format!("unknown attribute `{key}`")))?;
            if given.iter().any(|(k, _, _)| *k == key) {
                return Err(self.err(&key_tok, format!("attribute `{key}` is given twice")));
            }
            let v = self.attr_value(kind)?;
            given.push((key, v, key_tok));
        }
        if let Some(v) = value {
            if given.iter().any(|(k, _, _)| k == "value") {
                return Err(self.err(&op_tok, "`const` value is given twice"));
            }
            given.push(("value".into(), Attr::Float(v), op_tok.clone()));
        }

        let colon = self.next();
        if colon.tok != Tok::Punct(':') {
            let msg = format!("expected `:` and the node's type, found {}", colon.tok.describe());
            return Err(self.err(&colon, msg));
        }
        let ty_tok = self.peek().clone();
        let declared = self.tensor_type()?;

        let attrs = Attrs { given, op: &op_tok, mnemonic: &mnemonic, src: self.src };
        let op = self.build(proto, &attrs, leaf_name, &declared)?;
        let id = self.g.push(op, &inputs).map_err(|e| self.err(&op_tok, ir_message(e, &name)))?;
        let inferred = self.g.ty(id);
        if *inferred != declared {
            let msg = format!("declared type {declared} but `{mnemonic}` infers {inferred}");
            return Err(self.err(&ty_tok, msg));
        }
        self.names.insert(name, (id, name_tok.line));
        Ok(())
    }

    /// The op from its prototype, attributes, leaf name and declared type (leaves take their type from it).
    fn build(
        &mut self,
        proto: Op,
        a: &Attrs,
        leaf_name: Option<(String, Token)>,
        declared: &TensorType,
    ) -> Result<Op, ParseError> {
        let allowed: Vec<&str> = op_attrs(&proto).into_iter().map(|(k, _)| k).collect();
        if let Some((key, _, t)) = a.given.iter().find(|(k, _, _)| !allowed.contains(&k.as_str())) {
            let msg = if allowed.is_empty() {
                format!("`{}` takes no attributes, got `{key}`", a.mnemonic)
            } else {
                format!("`{}` has no attribute `{key}` (it takes {})", a.mnemonic, allowed.join(", "))
            };
            return Err(self.err(t, msg));
        }
        if let (Op::Const { .. }, false) = (&proto, a.given.iter().any(|(k, _, _)| k == "value")) {
            return Err(a.err("`const` needs a value, e.g. `const 0.5 : f32[]`".into()));
        }
        let ty = declared.clone();
        if let Some((name, t)) = &leaf_name {
            let kind = if matches!(proto, Op::Input { .. }) { "input" } else { "param" };
            if !self.leaf_names.insert((kind, name.clone())) {
                return Err(self.err(t, format!("{kind} name `{name}` is used twice")));
            }
        }
        let name = leaf_name.map(|(n, _)| n).unwrap_or_default();
        Ok(match proto {
            Op::Input { .. } => Op::Input { name, ty },
            Op::Param { .. } => Op::Param { name, ty, init: a.init("init")? },
            Op::Const { .. } => Op::Const { value: a.float("value")?, dtype: ty.dtype },
            Op::Literal { .. } => Op::Literal { ty, data: a.floats("data")? },
            Op::Iota { .. } => Op::Iota { axis: a.int("axis")?, ty },
            Op::Cast { .. } => Op::Cast { dtype: a.dtype("dtype")? },
            Op::Reduce { op, .. } => Op::Reduce { op, axes: a.ints("axes")? },
            Op::Cumsum { .. } => Op::Cumsum { axis: a.int("axis")?, reverse: a.bool("reverse")? },
            Op::Reshape { .. } => Op::Reshape { shape: a.shape("shape")? },
            Op::Permute { .. } => Op::Permute { perm: a.ints("perm")? },
            Op::Expand { .. } => Op::Expand { shape: a.shape("shape")? },
            Op::Slice { .. } => Op::Slice { axis: a.int("axis")?, start: a.int("start")?, end: a.dim("end")? },
            Op::Pad { .. } => Op::Pad { axis: a.int("axis")?, before: a.int("before")?, after: a.int("after")? },
            Op::Concat { .. } => Op::Concat { axis: a.int("axis")? },
            Op::Gather { .. } => Op::Gather { axis: a.int("axis")? },
            Op::ScatterAdd { .. } => Op::ScatterAdd { axis: a.int("axis")?, size: a.dim("size")? },
            Op::Attention { .. } => {
                Op::Attention { scale: a.float("scale")?, causal: a.bool("causal")?, fill: a.float("fill")? }
            }
            op @ (Op::Unary { .. } | Op::Binary { .. } | Op::Select | Op::MatMul | Op::Monarch) => op,
        })
    }

    fn attr_value(&mut self, kind: AttrKind) -> Result<Attr, ParseError> {
        Ok(match kind {
            AttrKind::Int => Attr::Int(self.uint()?),
            AttrKind::Ints => Attr::Ints(self.list("integer list", Self::uint)?),
            AttrKind::Dim => Attr::Dim(self.dim()?),
            AttrKind::Shape => Attr::Shape(Shape(self.list("shape", Self::dim)?)),
            AttrKind::DType => Attr::DType(self.dtype()?),
            AttrKind::Bool => {
                let t = self.next();
                match &t.tok {
                    Tok::Ident(s) if s == "true" => Attr::Bool(true),
                    Tok::Ident(s) if s == "false" => Attr::Bool(false),
                    other => {
                        return Err(self.err(&t, format!("expected `true` or `false`, found {}", other.describe())));
                    }
                }
            }
            AttrKind::Float => Attr::Float(self.float()?),
            AttrKind::Floats => Attr::Floats(self.list("number list", Self::float)?),
            AttrKind::Init => Attr::Init(self.init()?),
        })
    }

    /// `[item, item, ...]`, possibly empty.
    fn list<T>(
        &mut self,
        what: &str,
        mut item: impl FnMut(&mut Self) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, ParseError> {
        self.expect_punct('[', &format!("`[` to start a {what}"))?;
        let mut items = Vec::new();
        if self.peek().tok == Tok::Punct(']') {
            self.next();
            return Ok(items);
        }
        loop {
            items.push(item(self)?);
            let t = self.next();
            match &t.tok {
                Tok::Punct(',') => {}
                Tok::Punct(']') => return Ok(items),
                other => return Err(self.err(&t, format!("expected `,` or `]` in {what}, found {}", other.describe()))),
            }
        }
    }

    fn uint(&mut self) -> Result<usize, ParseError> {
        let t = self.next();
        match &t.tok {
            Tok::Num(s) => {
                s.parse().map_err(|_| self.err(&t, format!("bad integer `{s}` (expected a non-negative integer)")))
            }
            other => Err(self.err(&t, format!("expected a non-negative integer, found {}", other.describe()))),
        }
    }

    fn starts_number(&self) -> bool {
        match &self.peek().tok {
            Tok::Num(_) | Tok::Punct('-') => true,
            Tok::Ident(s) => matches!(s.as_str(), "inf" | "nan" | "NaN"),
            _ => false,
        }
    }

    /// `-`? then a decimal or exponent number, `inf` or `nan`.
    fn float(&mut self) -> Result<f64, ParseError> {
        let mut t = self.next();
        let neg = t.tok == Tok::Punct('-');
        if neg {
            t = self.next();
        }
        let v = match &t.tok {
            Tok::Num(s) => s.parse::<f64>().map_err(|_| self.err(&t, format!("bad number `{s}`")))?,
            Tok::Ident(s) if s == "inf" => f64::INFINITY,
            Tok::Ident(s) if s == "nan" || s == "NaN" => f64::NAN,
            other => return Err(self.err(&t, format!("expected a number, found {}", other.describe()))),
        };
        Ok(if neg { -v } else { v })
    }

    /// `12`, `T`, `T+2` or `T-1`.
    fn dim(&mut self) -> Result<Dim, ParseError> {
        const EXPECTED: &str = "expected a size, a symbol like `T`, or `T+2`";
        let t = self.next();
        match &t.tok {
            Tok::Num(s) => {
                s.parse().map(Dim::Static).map_err(|_| self.err(&t, format!("bad dimension `{s}` ({EXPECTED})")))
            }
            Tok::Ident(name) => {
                let sign = match self.peek().tok {
                    Tok::Punct('+') => 1,
                    Tok::Punct('-') => -1,
                    _ => return Ok(Dim::sym(name.as_str())),
                };
                self.next();
                let k = self.next();
                let offset = match &k.tok {
                    Tok::Num(s) => s.parse::<i128>().ok().and_then(|v| i64::try_from(sign * v).ok()),
                    _ => None,
                };
                let offset = offset.ok_or_else(|| {
                    self.err(&k, format!("bad offset {} in dimension `{name}` ({EXPECTED})", k.tok.describe()))
                })?;
                Ok(Dim::Sym { name: name.clone(), offset })
            }
            other => Err(self.err(&t, format!("bad dimension {} ({EXPECTED})", other.describe()))),
        }
    }

    fn dtype(&mut self) -> Result<DType, ParseError> {
        let t = self.next();
        match &t.tok {
            Tok::Ident(s) => s.parse().map_err(|e: String| self.err(&t, e)),
            other => Err(self.err(&t, format!("expected a dtype such as `f32`, found {}", other.describe()))),
        }
    }

    /// `f32[B, T+2, 64]`; a scalar is `f32[]`.
    fn tensor_type(&mut self) -> Result<TensorType, ParseError> {
        let dtype = self.dtype()?;
        if self.peek().tok != Tok::Punct('[') {
            let t = self.peek();
            let msg = format!(
                "expected `[` and the shape after the dtype (a scalar is `{dtype}[]`), found {}",
                t.tok.describe()
            );
            return Err(self.err(t, msg));
        }
        Ok(TensorType::new(dtype, Shape(self.list("shape", Self::dim)?)))
    }

    /// `zeros`, `ones`, `normal(STD)` or `uniform(BOUND)`.
    fn init(&mut self) -> Result<Init, ParseError> {
        let t = self.next();
        let Tok::Ident(name) = &t.tok else {
            return Err(self.err(&t, format!("expected an init such as `normal(0.02)`, found {}", t.tok.describe())));
        };
        match name.as_str() {
            "zeros" => Ok(Init::Zeros),
            "ones" => Ok(Init::Ones),
            "normal" | "uniform" => {
                self.expect_punct('(', &format!("`(` after `{name}`"))?;
                let v = self.float()?;
                self.expect_punct(')', "`)`")?;
                Ok(if name == "normal" { Init::Normal { std: v } } else { Init::Uniform { bound: v } })
            }
            _ => {
                Err(self
                    .err(&t, format!("unknown init `{name}` (expected zeros, ones, normal(STD) or uniform(BOUND))")))
            }
        }
    }
}

/// An inference error in the words of [`IrError`], naming the node as the source does.
fn ir_message(e: IrError, src_name: &str) -> String {
    match e {
        IrError::Type { op, inputs, msg, .. } => format!("node %{src_name} ({op}): {msg}; inputs: {inputs}"),
        other => other.to_string(),
    }
}
