//! Tokens of the `.irc` format. Newlines are tokens because a statement ends at the end of its line.

use super::ParseError;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    /// `[A-Za-z_][A-Za-z0-9_]*`: keywords, mnemonics, dtypes, attribute keys, symbols.
    Ident(String),
    /// `%name`, without the `%`.
    Node(String),
    /// A double-quoted string, unescaped.
    Str(String),
    /// Raw text of a number: starts with a digit; validated where its meaning is known.
    Num(String),
    Punct(char),
    Newline,
    Eof,
}

#[derive(Clone, Debug)]
pub(super) struct Token {
    pub tok: Tok,
    pub line: usize,
    pub col: usize,
}

impl Tok {
    /// How an error message names this token.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Num(s) => format!("`{s}`"),
            Tok::Node(s) => format!("`%{s}`"),
            Tok::Str(s) => format!("string {}", quote(s)),
            Tok::Punct(c) => format!("`{c}`"),
            Tok::Newline => "end of line".to_string(),
            Tok::Eof => "end of input".to_string(),
        }
    }
}

const PUNCT: &str = "=:,[](){}+-";

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A string literal as the printer writes it: `\"`, `\\`, `\n`, `\t`, `\r`, other control characters as
/// `\u{..}`, so every string stays on one line.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

struct Lexer<'a> {
    src: &'a str,
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    col: usize,
}

impl Lexer<'_> {
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn err(&self, line: usize, col: usize, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.src, line, col, msg)
    }

    fn take_while(&mut self, mut keep: impl FnMut(char, &str) -> bool) -> String {
        let mut s = String::new();
        while let Some(&c) = self.chars.peek() {
            if !keep(c, &s) {
                break;
            }
            s.push(c);
            self.bump();
        }
        s
    }

    /// The body of a string whose opening quote is at (`line`, `col`) and already consumed.
    fn string(&mut self, line: usize, col: usize) -> Result<String, ParseError> {
        let unterminated =
            |lx: &Self| lx.err(line, col, "unterminated string (strings end with `\"` on the same line)");
        let mut out = String::new();
        loop {
            let (el, ec) = (self.line, self.col);
            match self.chars.peek().copied() {
                None | Some('\n') => return Err(unterminated(self)),
                Some('"') => {
                    self.bump();
                    return Ok(out);
                }
                Some('\\') => {
                    self.bump();
                    let c = match self.bump() {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('u') => self.unicode_escape(el, ec)?,
                        None | Some('\n') => return Err(unterminated(self)),
                        Some(c) => return Err(self.err(el, ec, format!("unknown escape `\\{c}` in string"))),
                    };
                    out.push(c);
                }
                Some(c) => {
                    self.bump();
                    out.push(c);
                }
            }
        }
    }

    /// `\u{hex}` after the `u`; the escape started at (`line`, `col`).
    fn unicode_escape(&mut self, line: usize, col: usize) -> Result<char, ParseError> {
        let bad = |lx: &Self| lx.err(line, col, "bad unicode escape (expected `\\u{hex}`)");
        if self.bump() != Some('{') {
            return Err(bad(self));
        }
        let hex = self.take_while(|c, _| c.is_ascii_hexdigit());
        if self.bump() != Some('}') {
            return Err(bad(self));
        }
        u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32).ok_or_else(|| bad(self))
    }
}

/// Splits `src` into tokens, ending with [`Tok::Eof`] placed just after the last non-blank character.
pub(super) fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer { src, chars: src.chars().peekable(), line: 1, col: 1 };
    let mut toks = Vec::new();
    let mut end = (1, 1);
    while let Some(&c) = lx.chars.peek() {
        let (line, col) = (lx.line, lx.col);
        let tok = match c {
            '\n' => {
                lx.bump();
                Tok::Newline
            }
            c if c.is_whitespace() => {
                lx.bump();
                continue;
            }
            '#' => {
                lx.take_while(|c, _| c != '\n');
                end = (lx.line, lx.col);
                continue;
            }
            '"' => {
                lx.bump();
                Tok::Str(lx.string(line, col)?)
            }
            '%' => {
                lx.bump();
                let name = lx.take_while(|c, _| is_ident_char(c));
                if name.is_empty() {
                    return Err(lx.err(line, col, "expected a node name after `%` (e.g. `%0`, `%x`)"));
                }
                Tok::Node(name)
            }
            c if c.is_ascii_digit() => {
                // Greedy, so `1.2.3` or `12ab` is one bad number rather than a confusing token split; a sign
                // belongs to the number only right after an exponent marker (`1e-7`).
                Tok::Num(lx.take_while(|c, s| {
                    is_ident_char(c) || c == '.' || (matches!(c, '+' | '-') && s.ends_with(['e', 'E']))
                }))
            }
            c if is_ident_start(c) => Tok::Ident(lx.take_while(|c, _| is_ident_char(c))),
            c if PUNCT.contains(c) => {
                lx.bump();
                Tok::Punct(c)
            }
            c => return Err(lx.err(line, col, format!("unexpected character `{}`", c.escape_debug()))),
        };
        if tok != Tok::Newline {
            end = (lx.line, lx.col);
        }
        toks.push(Token { tok, line, col });
    }
    toks.push(Token { tok: Tok::Eof, line: end.0, col: end.1 });
    Ok(toks)
}
