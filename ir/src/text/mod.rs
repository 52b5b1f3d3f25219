//! The `.irc` text format: a readable, line-oriented form of a [`Graph`](crate::Graph) that round-trips
//! exactly (`print(parse(print(g))) == print(g)` and `parse(print(g)) == g`). See `docs/IR.md` for the grammar.

mod attr;
mod lex;
mod parse;
mod print;

use thiserror::Error;

pub(crate) use attr::{fmt_f64, op_attrs};
pub use parse::parse;
pub use print::print;

/// A malformed `.irc` source. `line` and `col` are 1-based (columns count characters); `Display` shows
/// `line:col: message`, then the offending source line with a caret under the column.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{line}:{col}: {message}\n  | {source_line}\n  | {}^", caret_pad(.source_line, *.col))]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// The text of line `line` (empty past the end of the input).
    pub source_line: String,
}

impl ParseError {
    pub(crate) fn new(src: &str, line: usize, col: usize, message: impl Into<String>) -> ParseError {
        let source_line = src.lines().nth(line - 1).unwrap_or("").to_string();
        ParseError { line, col, message: message.into(), source_line }
    }
}

/// Whitespace that puts the caret under column `col`; tabs are kept so it lines up with tabbed source.
fn caret_pad(line: &str, col: usize) -> String {
    let mut pad: String = line.chars().take(col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    let have = pad.chars().count();
    pad.extend(std::iter::repeat_n(' ', (col - 1).saturating_sub(have)));
    pad
}
