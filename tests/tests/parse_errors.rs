//! Malformed `.irc` input gives a `ParseError` at the right line and column, never a panic.

use irc_ir::{parse, print};
use irc_tests::random_graph;
use proptest::prelude::*;

/// Parses `src`, expecting an error at `line:col` whose message contains `needle`.
#[track_caller]
fn err_at(src: &str, line: usize, col: usize, needle: &str) {
    let e = match parse(src) {
        Ok(g) => panic!("expected an error, parsed:\n{g}"),
        Err(e) => e,
    };
    assert_eq!((e.line, e.col), (line, col), "wrong position for:\n{e}");
    assert!(e.message.contains(needle), "message `{}` lacks `{needle}`", e.message);
}

/// A valid graph with `line` inserted as line 4.
fn with_line(line: &str) -> String {
    format!(
        "graph g {{\n  %x = input \"x\" : f32[B, 64]\n  %w = param \"w\" : f32[64, 256]\n{line}\n  output \"y\" = %x\n}}\n"
    )
}

#[track_caller]
fn line4(line: &str, col: usize, needle: &str) {
    err_at(&with_line(line), 4, col, needle);
}

#[test]
fn base_graph_parses() {
    parse(&with_line("  %h = matmul %x, %w : f32[B, 256]")).unwrap();
    parse(&with_line("")).unwrap();
    parse(&with_line("  # just a comment")).unwrap();
}

#[test]
fn display_shows_position_source_line_and_caret() {
    let e = parse(&with_line("  %2 = matmull %x, %w : f32[B, 256]")).unwrap_err();
    let expected = "4:8: unknown op `matmull`\n  |   %2 = matmull %x, %w : f32[B, 256]\n  |        ^";
    assert_eq!(e.to_string(), expected);
    // Tabs in the source line stay tabs under the caret so it lines up.
    let e = parse(&with_line("\t%2 = matmull %x, %w : f32[B, 256]")).unwrap_err();
    assert_eq!((e.line, e.col), (4, 7));
    assert!(e.to_string().ends_with("\n  | \t     ^"), "{e}");
}

#[test]
fn names() {
    line4("  %h = matmull %x, %w : f32[B, 256]", 8, "unknown op `matmull`");
    line4("  %h = matmul %x, %v : f32[B, 256]", 19, "`%v` is not defined");
    line4("  %h = neg %h : f32[B, 64]", 12, "`%h` is not defined");
    line4("  %x = neg %x : f32[B, 64]", 3, "`%x` is already defined on line 2");
    line4("  h = neg %x : f32[B, 64]", 3, "expected a node `%name = op ...`");
    line4("  % = neg %x : f32[B, 64]", 3, "expected a node name after `%`");
    line4("  %h = neg @x : f32[B, 64]", 12, "unexpected character `@`");
    line4("  %h = 12 %x : f32[B, 64]", 8, "expected an op name, found `12`");
    line4("  %h neg %x : f32[B, 64]", 6, "expected `=` after the node name");
}

#[test]
fn numbers() {
    line4("  %h = literal data=[1, 2.5.1] : f32[2]", 25, "bad number `2.5.1`");
    line4("  %h = const 1e : f32[]", 14, "bad number `1e`");
    line4("  %h = const x : f32[]", 14, "expected `:` and the node's type, found `x`");
    line4("  %h = const : f32[]", 8, "`const` needs a value");
    line4("  %h = reduce_sum %x axes=[-1] : f32[B, 1]", 28, "expected a non-negative integer, found `-`");
    line4("  %h = reduce_sum %x axes=[1.5] : f32[B, 1]", 28, "bad integer `1.5`");
    line4("  %h = reduce_sum %x axes=[1 0] : f32[B, 1]", 30, "expected `,` or `]` in integer list");
    line4("  %h = pad %x axis=99999999999999999999999 before=0 after=0 : f32[B, 64]", 20, "bad integer");
}

#[test]
fn types_and_dims() {
    line4("  %h = neg %x : f33[B, 64]", 17, "unknown dtype `f33`");
    line4("  %h = neg %x : f32[B, 6.4]", 24, "bad dimension `6.4`");
    line4("  %h = neg %x : f32[-1, 64]", 21, "bad dimension `-`");
    line4("  %h = neg %x : f32[B+, 64]", 23, "bad offset `,` in dimension `B`");
    line4("  %h = neg %x : f32[B, 64", 26, "expected `,` or `]` in shape, found end of line");
    line4("  %h = neg %x : f32", 20, "expected `[` and the shape after the dtype");
    line4("  %h = neg %x f32[B, 64]", 15, "expected `:` and the node's type, found `f32`");
    line4("  %h = neg %x", 14, "expected `:` and the node's type, found end of line");
}

#[test]
fn arity() {
    line4("  %h = matmul %x : f32[B, 64]", 8, "`matmul` takes 2 operands, got 1");
    line4("  %h = exp %x, %x : f32[B, 64]", 8, "`exp` takes 1 operand, got 2");
    line4("  %h = select %x, %x : f32[B, 64]", 8, "`select` takes 3 operands, got 2");
    line4("  %h = iota %x axis=0 : f32[B, 64]", 8, "`iota` takes 0 operands, got 1");
    line4("  %h = concat axis=0 : f32[B, 64]", 8, "`concat` takes at least one operand");
    line4("  %h = input : f32[2]", 14, "expected the input's name as a string");
    line4("  %h = matmul %x, : f32[B, 64]", 19, "expected an operand `%name`, found `:`");
}

#[test]
fn inference_errors_use_the_ir_message() {
    line4(
        "  %h = matmul %x, %x : f32[B, 64]",
        8,
        "node %h (matmul): inner dimensions differ: 64 vs B; inputs: f32[B, 64], f32[B, 64]",
    );
    line4("  %h = add %x, %w : f32[B, 64]", 8, "operand types differ: f32[B, 64] vs f32[64, 256]");
    line4("  %h = reduce_sum %x axes=[2] : f32[B, 1]", 8, "axis 2 is out of range for rank 2");
    line4("  %h = slice %x axis=1 start=3 end=2 : f32[B, 64]", 8, "negative length");
    line4("  %h = gather %x, %x axis=0 : f32[B, 64]", 8, "index must be i32 or i64, got f32");
    line4("  %h = literal data=[1] : f32[2]", 8, "literal of shape [2] needs 2 values, got 1");
    line4("  %h = input \"\" : f32[2]", 8, "name must not be empty");
    // Sizes that would overflow are type errors, not panics.
    line4("  %h = pad %x axis=1 before=18446744073709551615 after=1 : f32[B, 64]", 8, "overflows");
    line4("  %h = literal data=[] : f32[4294967296, 4294967296, 4]", 8, "too large");
    line4("  %h = slice %x axis=1 start=18446744073709551615 end=64 : f32[B, 0]", 8, "negative length");
}

#[test]
fn declared_type_must_match_inferred() {
    line4("  %h = matmul %x, %w : f32[B, 128]", 24, "declared type f32[B, 128] but `matmul` infers f32[B, 256]");
    line4("  %h = const 1.0 : f32[3]", 20, "declared type f32[3] but `const` infers f32[]");
    line4("  %h = cast %x dtype=i32 : f32[B, 64]", 28, "but `cast` infers i32[B, 64]");
}

#[test]
fn attributes() {
    line4("  %h = neg %x foo=1 : f32[B, 64]", 15, "unknown attribute `foo`");
    line4("  %h = neg %x axis=1 : f32[B, 64]", 15, "`neg` takes no attributes, got `axis`");
    line4(
        "  %h = slice %x axis=0 start=0 size=2 : f32[2, 64]",
        32,
        "`slice` has no attribute `size` (it takes axis, start, end)",
    );
    line4("  %h = slice %x axis=1 start=0 : f32[B, 64]", 8, "`slice` needs attribute `end=...`");
    line4("  %h = reduce_sum %x axes=[1] axes=[0] : f32[B, 1]", 31, "attribute `axes` is given twice");
    line4("  %h = cumsum %x axis=1 reverse=yes : f32[B, 64]", 33, "expected `true` or `false`, found `yes`");
    line4("  %h = param \"v\" init=gaussian(1) : f32[2]", 23, "unknown init `gaussian`");
    line4("  %h = param \"v\" init=normal 1 : f32[2]", 30, "expected `(` after `normal`");
    line4("  %h = cast %x dtype=float : f32[B, 64]", 22, "unknown dtype `float`");
    line4("  %h = const 1.0 value=2.0 : f32[]", 8, "`const` value is given twice");
}

#[test]
fn strings() {
    line4("  %h = input \"x : f32[B]", 14, "unterminated string");
    line4("  %h = input \"a\\q\" : f32[]", 16, "unknown escape `\\q`");
    line4("  %h = input \"a\\u{zz}\" : f32[]", 16, "bad unicode escape");
    line4("  %h = input \"x\" : f32[2]", 14, "input name `x` is used twice");
    line4("  %h = param \"w\" : f32[2]", 14, "param name `w` is used twice");
    // An input and a param may share a name: they live in different namespaces.
    parse(&with_line("  %h = param \"x\" : f32[2]")).unwrap();
}

#[test]
fn statements_and_structure() {
    line4("  %h = neg %x : f32[B, 64] extra", 28, "unexpected `extra` after the end of the statement");
    line4("  output \"z\" = %q", 16, "`%q` is not defined");
    line4("  output z = %x", 10, "expected the output's name as a string");
    line4("  output \"z\" %x", 14, "expected `=` after the output name");
    err_at(&with_line("  output \"y\" = %w"), 5, 10, "output name `y` is used twice");
    err_at("", 1, 1, "expected `graph NAME {`, found end of input");
    err_at("  # only a comment\n", 1, 19, "expected `graph NAME {`, found end of input");
    err_at("grph g {\n}\n", 1, 1, "expected `graph NAME {`, found `grph`");
    err_at("graph {\n}\n", 1, 7, "expected the graph's name, found `{`");
    err_at("graph g\n}\n", 1, 8, "expected `{` after the graph name, found end of line");
    err_at(
        "graph g {\n  %x = input \"x\" : f32[2]\n  output \"x\" = %x\n",
        3,
        18,
        "missing `}` at the end of graph `g`",
    );
    err_at("graph g {\n  %x = input \"x\" : f32[2]\n  output \"x\" = %x # done\n\n", 3, 25, "missing `}`");
    err_at("graph g {\n  %x = input \"x\" : f32[2]\n}\n", 3, 1, "graph `g` has no outputs");
    err_at(
        "graph g {\n  %x = input \"x\" : f32[2]\n  output \"x\" = %x\n}\n}\n",
        5,
        1,
        "unexpected `}` after the graph's closing `}`",
    );
    err_at(
        "graph g { %x = input \"x\" : f32[] output \"x\" = %x }",
        1,
        34,
        "unexpected `output` after the end of the statement",
    );
    // A statement may end at the closing brace.
    parse("graph g { %x = input \"x\" : f32[]\n output \"x\" = %x }").unwrap();
}

/// Small edits of valid text: a deleted, inserted or replaced character, a dropped line, a truncation.
fn mutate(text: &str, kind: usize, at: usize, ch: char) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let mut out: Vec<char> = chars.clone();
    match kind {
        0 if at < chars.len() => {
            out.remove(at);
        }
        1 => out.insert(at, ch),
        2 if at < chars.len() => out[at] = ch,
        3 => out.truncate(at),
        _ => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                lines.remove(at % lines.len());
            }
            return lines.join("\n");
        }
    }
    out.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn mutated_text_never_panics(
        g in random_graph(12),
        kind in 0usize..5,
        at in any::<usize>(),
        ch in prop::sample::select(vec!['%', '"', '\\', '[', ']', ',', '=', ':', '-', '+', '0', '9', 'T', 'x', ' ', '\n', '#', '{', '}', '.', 'e', '\t', 'é']),
    ) {
        let src = mutate(&print(&g), kind, at, ch);
        if let Err(e) = parse(&src) {
            // Positions point into the input (or one past the end of a line).
            let line_len = src.lines().nth(e.line - 1).map_or(0, |l| l.chars().count());
            prop_assert!(e.col >= 1 && e.col <= line_len + 1, "{e}");
            let _ = e.to_string();
        }
    }

    #[test]
    fn arbitrary_text_never_panics(src in "(graph g \\{\n)?[ -~\n]{0,80}") {
        let _ = parse(&src).map_err(|e| e.to_string());
    }
}
