//! A small Rust lexer and the function spans the tidy check measures: enough of Rust's
//! lexical grammar (comments, strings, raw strings, char literals, lifetimes) that a brace in
//! any of them is never taken for a block.

/// A token the checks care about: identifiers and single punctuation characters. Literals,
/// lifetimes and comments are skipped, since nothing in them opens or closes a block.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Punct(char),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Token {
    tok: Tok,
    line: usize,
}

/// A function with a body, outside test code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    /// The line of the `fn` keyword (1-based).
    pub line: usize,
    /// Lines from the `fn` keyword to the closing brace, both included.
    pub lines: usize,
}

/// Every function with a body in `source` that is not test code: not a `#[test]` function and
/// not inside an item marked `#[cfg(test)]` (or `#[cfg(all(test, ...))]` and the like).
///
/// Fails with a line when braces do not balance there (a `}` closing nothing, or a `{` never
/// closed), so a source this scanner misreads is reported rather than measured wrongly.
pub fn functions(source: &str) -> Result<Vec<Function>, usize> {
    Items::default().run(&lex(source))
}

/// Characters of an identifier after the first.
fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

/// The lexer's cursor: characters with their lines.
struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    /// The line of the next character (1-based).
    line: usize,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    /// The character after the next one.
    fn peek2(&self) -> Option<char> {
        let mut ahead = self.chars.clone();
        ahead.next();
        ahead.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next();
        if c == Some('\n') {
            self.line += 1;
        }
        c
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// After `//`: to the end of the line.
    fn line_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                return;
            }
            self.bump();
        }
    }

    /// After `/*`: to the matching `*/`; block comments nest.
    fn block_comment(&mut self) {
        let mut depth = 1usize;
        while let Some(c) = self.bump() {
            match c {
                '/' if self.eat('*') => depth += 1,
                '*' if self.eat('/') => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// After the opening `"`: to the closing one, skipping escapes.
    fn string(&mut self) {
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '"' => return,
                _ => {}
            }
        }
    }

    /// After `r`, `br` or `cr`, at `#`s and `"`: to `"` followed by as many `#`s.
    fn raw_string(&mut self) {
        let mut hashes = 0usize;
        while self.eat('#') {
            hashes += 1;
        }
        if !self.eat('"') {
            return;
        }
        while let Some(c) = self.bump() {
            if c == '"' {
                let mut closing = 0usize;
                while closing < hashes && self.eat('#') {
                    closing += 1;
                }
                if closing == hashes {
                    return;
                }
            }
        }
    }

    /// After a `'`: a char literal (`'a'`, `'\''`, `'\u{7b}'`, `'{'`) or a lifetime or label
    /// (`'a`, `'static`), which is skipped the same way.
    fn quote(&mut self) {
        match self.peek() {
            Some('\\') => {
                self.bump();
                self.bump();
                while let Some(c) = self.bump() {
                    if c == '\'' {
                        return;
                    }
                }
            }
            Some(_) if self.peek2() == Some('\'') => {
                self.bump();
                self.bump();
            }
            _ => {
                while self.peek().is_some_and(is_ident_continue) {
                    self.bump();
                }
            }
        }
    }

    fn ident(&mut self, first: char) -> String {
        let mut name = String::from(first);
        while let Some(c) = self.peek().filter(|c| is_ident_continue(*c)) {
            name.push(c);
            self.bump();
        }
        name
    }
}

/// The tokens of `source`, with their lines.
fn lex(source: &str) -> Vec<Token> {
    let mut cur = Cursor {
        chars: source.chars().peekable(),
        line: 1,
    };
    let mut out = Vec::new();
    while let Some(c) = cur.peek() {
        let line = cur.line;
        cur.bump();
        match c {
            '/' if cur.eat('/') => cur.line_comment(),
            '/' if cur.eat('*') => cur.block_comment(),
            '"' => cur.string(),
            '\'' => cur.quote(),
            c if is_ident_start(c) => {
                let name = cur.ident(c);
                match (name.as_str(), cur.peek()) {
                    // Raw identifier: `r#fn` is a name, never the keyword.
                    ("r", Some('#')) if cur.peek2().is_some_and(is_ident_start) => {
                        cur.bump();
                        let Some(first) = cur.bump() else { break };
                        let raw = cur.ident(first);
                        out.push(Token {
                            tok: Tok::Ident(format!("r#{raw}")),
                            line,
                        });
                    }
                    ("r" | "br" | "cr", Some('"' | '#')) => cur.raw_string(),
                    ("b" | "c", Some('"')) => {
                        cur.bump();
                        cur.string();
                    }
                    ("b", Some('\'')) => {
                        cur.bump();
                        cur.quote();
                    }
                    _ => out.push(Token {
                        tok: Tok::Ident(name),
                        line,
                    }),
                }
            }
            // Numbers (with suffixes like `1u8` or `0x7b`) hold no braces; skip them whole so
            // their letters are not taken for identifiers.
            c if c.is_ascii_digit() => {
                while cur.peek().is_some_and(is_ident_continue) {
                    cur.bump();
                }
            }
            c if c.is_whitespace() => {}
            c => out.push(Token {
                tok: Tok::Punct(c),
                line,
            }),
        }
    }
    out
}

/// What a `{` opened.
#[derive(Clone, Debug)]
struct Block {
    /// Test code: a `#[test]` function, an item under `#[cfg(test)]`, or anything inside one.
    test: bool,
    /// The function whose body this is, if any.
    function: Option<(String, usize)>,
}

/// A `fn name` seen, its body not yet opened.
#[derive(Clone, Debug)]
struct Signature {
    name: String,
    line: usize,
    test: bool,
    /// Nesting of `(`, `[` and `<` inside the signature: its body is the first `{` at zero.
    depth: i32,
}

/// The item walk: blocks, pending attributes and function signatures.
#[derive(Debug, Default)]
struct Items {
    blocks: Vec<Block>,
    /// A test attribute seen, not yet consumed by the item it marks.
    pending_test: bool,
    /// Whole file is test code (`#![cfg(test)]`).
    file_test: bool,
    signature: Option<Signature>,
    found: Vec<Function>,
    /// The first line where braces did not balance.
    unbalanced: Option<usize>,
}

impl Items {
    fn in_test(&self) -> bool {
        self.file_test || self.blocks.last().is_some_and(|b| b.test)
    }

    fn run(mut self, tokens: &[Token]) -> Result<Vec<Function>, usize> {
        let mut i = 0;
        while let Some(token) = tokens.get(i) {
            i += 1;
            match &token.tok {
                Tok::Punct('#') => i = self.attribute(tokens, i),
                Tok::Ident(kw) if kw == "fn" => {
                    if let Some(Tok::Ident(name)) = tokens.get(i).map(|t| &t.tok) {
                        self.signature = Some(Signature {
                            name: name.clone(),
                            line: token.line,
                            test: self.pending_test || self.in_test(),
                            depth: 0,
                        });
                        self.pending_test = false;
                        i += 1;
                    }
                }
                Tok::Punct(c) => {
                    let previous = i.checked_sub(2).and_then(|p| tokens.get(p));
                    self.punct(*c, token.line, previous.map(|t| &t.tok));
                }
                Tok::Ident(_) => {}
            }
        }
        let unclosed = self
            .blocks
            .last()
            .map(|_| tokens.last().map_or(1, |t| t.line));
        match self.unbalanced.or(unclosed) {
            Some(line) => Err(line),
            None => Ok(self.found),
        }
    }

    fn punct(&mut self, c: char, line: usize, previous: Option<&Tok>) {
        if let Some(sig) = self.signature.as_mut() {
            match c {
                '(' | '[' | '<' => sig.depth += 1,
                ')' | ']' => sig.depth -= 1,
                // `->` is no closing angle bracket.
                '>' if previous != Some(&Tok::Punct('-')) => sig.depth -= 1,
                ';' if sig.depth <= 0 => self.signature = None,
                _ => {}
            }
        }
        match c {
            '{' => self.open(),
            '}' => self.close(line),
            ';' => self.pending_test = false,
            _ => {}
        }
    }

    fn open(&mut self) {
        let signature = self.signature.take_if(|sig| sig.depth <= 0);
        let test =
            self.in_test() || self.pending_test || signature.as_ref().is_some_and(|s| s.test);
        self.pending_test = false;
        self.blocks.push(Block {
            test,
            function: signature.map(|s| (s.name, s.line)),
        });
    }

    fn close(&mut self, line: usize) {
        self.pending_test = false;
        let Some(block) = self.blocks.pop() else {
            self.unbalanced.get_or_insert(line);
            return;
        };
        if let (Some((name, start)), false) = (block.function, block.test) {
            self.found.push(Function {
                name,
                line: start,
                lines: line.saturating_sub(start) + 1,
            });
        }
    }

    /// At `#` (index `i` is just after it): reads `#[...]` or `#![...]` and notes whether it
    /// marks test code. Returns the index after the attribute.
    fn attribute(&mut self, tokens: &[Token], mut i: usize) -> usize {
        let inner = tokens.get(i).is_some_and(|t| t.tok == Tok::Punct('!'));
        if inner {
            i += 1;
        }
        if tokens.get(i).map(|t| &t.tok) != Some(&Tok::Punct('[')) {
            return i;
        }
        let start = i + 1;
        let mut depth = 0i32;
        while let Some(t) = tokens.get(i) {
            i += 1;
            match t.tok {
                Tok::Punct('[') => depth += 1,
                Tok::Punct(']') => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        let body = tokens.get(start..i.saturating_sub(1)).unwrap_or_default();
        if marks_test(body) {
            if inner && self.blocks.is_empty() {
                self.file_test = true;
            } else if inner {
                if let Some(b) = self.blocks.last_mut() {
                    b.test = true;
                }
            } else {
                self.pending_test = true;
            }
        }
        i
    }
}

/// Whether an attribute's tokens (between the brackets) mark test code: a path ending in
/// `test` (`test`, `tokio::test(...)`), or a `cfg(...)` naming `test` with no `not` or `any`
/// (so `cfg(all(test, ...))` counts and `cfg(any(test, ...))` does not).
fn marks_test(body: &[Token]) -> bool {
    let idents: Vec<&str> = body
        .iter()
        .map_while(|t| match &t.tok {
            Tok::Ident(s) => Some(s.as_str()),
            Tok::Punct(':') => Some(":"),
            _ => None,
        })
        .filter(|s| *s != ":")
        .collect();
    if idents.last() == Some(&"test") {
        return true;
    }
    if idents.as_slice() != ["cfg"] {
        return false;
    }
    let names_test = body
        .iter()
        .any(|t| matches!(&t.tok, Tok::Ident(s) if s == "test"));
    let negated = body
        .iter()
        .any(|t| matches!(&t.tok, Tok::Ident(s) if s == "not" || s == "any"));
    names_test && !negated
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(name, first line, line count)` of every non-test function in `source`.
    fn check(source: &str, expected: &[(&str, usize, usize)]) {
        let got: Vec<(String, usize, usize)> = functions(source)
            .unwrap()
            .into_iter()
            .map(|f| (f.name, f.line, f.lines))
            .collect();
        let expected: Vec<(String, usize, usize)> = expected
            .iter()
            .map(|(n, l, c)| ((*n).to_owned(), *l, *c))
            .collect();
        assert_eq!(got, expected, "in:\n{source}");
    }

    #[test]
    fn plain_functions_and_methods() {
        check(
            "fn a() {\n}\n\nimpl X {\n    pub fn b(&self) -> u8 {\n        1\n    }\n}\n",
            &[("a", 1, 2), ("b", 5, 3)],
        );
    }

    #[test]
    fn declarations_without_bodies_and_fn_pointer_types() {
        check(
            "trait T {\n    fn a(&self);\n    fn b(&self) {}\n}\nfn c(f: fn(u8) -> u8) -> u8 {\n    f(1)\n}\n",
            &[("b", 3, 1), ("c", 5, 3)],
        );
    }

    #[test]
    fn braces_in_strings_and_raw_strings_do_not_count() {
        check(
            concat!(
                "fn a() {\n",
                "    let s = \"}\\\" }\";\n",
                "    let r = r#\"}\"}\"#;\n",
                "    let rr = r##\"\"#}\"##;\n",
                "    let b = b\"}\";\n",
                "    let br = br\"}\";\n",
                "    let c = c\"}\";\n",
                "}\n",
                "fn b() {}\n",
            ),
            &[("a", 1, 8), ("b", 9, 1)],
        );
    }

    #[test]
    fn char_literals_and_lifetimes() {
        check(
            concat!(
                "fn a<'x>(s: &'x str) -> &'static str {\n",
                "    let c = '}';\n",
                "    let q = '\\'';\n",
                "    let u = '\\u{7d}';\n",
                "    let b = b'{';\n",
                "    let e = 'é';\n",
                "    'outer: loop { break 'outer; }\n",
                "    s\n",
                "}\n",
                "fn b() {}\n",
            ),
            &[("a", 1, 9), ("b", 10, 1)],
        );
    }

    #[test]
    fn comments_nest_and_hide_braces() {
        check(
            concat!(
                "// fn not_a_function() {\n",
                "/* { /* } */ } */\n",
                "/// fn doc() {}\n",
                "fn a() { // }\n",
                "}\n",
            ),
            &[("a", 4, 2)],
        );
    }

    #[test]
    fn raw_identifiers_are_not_keywords() {
        check(
            "fn a() { let r#fn = 1; }\nfn r#match() {}\n",
            &[("a", 1, 1), ("r#match", 2, 1)],
        );
    }

    #[test]
    fn signatures_with_braces_arrows_and_where_clauses() {
        check(
            concat!(
                "fn a<F>(f: F) -> Vec<Vec<u8>>\n",
                "where\n",
                "    F: Fn() -> [u8; { 2 }],\n",
                "{\n",
                "    vec![]\n",
                "}\n",
            ),
            &[("a", 1, 6)],
        );
    }

    #[test]
    fn nested_functions_count_on_their_own() {
        check(
            "fn outer() {\n    fn inner() {\n    }\n    let c = || { 1 };\n}\n",
            &[("inner", 2, 2), ("outer", 1, 5)],
        );
    }

    #[test]
    fn test_code_is_left_out() {
        check(
            concat!(
                "fn a() {}\n",
                "#[test]\n",
                "fn t() {}\n",
                "#[tokio::test(flavor = \"multi_thread\")]\n",
                "async fn t2() {}\n",
                "#[cfg(test)]\n",
                "mod tests {\n",
                "    fn helper() {}\n",
                "}\n",
                "#[cfg(all(test, feature = \"x\"))]\n",
                "fn only_in_tests() {}\n",
                "#[cfg(not(test))]\n",
                "fn shipped() {}\n",
                "#[cfg(test)]\n",
                "use std::fmt;\n",
                "#[inline]\n",
                "fn b() {}\n",
            ),
            &[("a", 1, 1), ("shipped", 13, 1), ("b", 17, 1)],
        );
    }

    #[test]
    fn attributes_on_fields_do_not_leak_to_the_next_item() {
        check(
            concat!(
                "struct S {\n",
                "    #[cfg(test)]\n",
                "    a: u8,\n",
                "}\n",
                "fn f() {}\n",
            ),
            &[("f", 5, 1)],
        );
    }

    #[test]
    fn an_inner_cfg_test_marks_the_whole_file() {
        check("#![cfg(test)]\nfn a() {}\n", &[]);
    }

    #[test]
    fn unbalanced_braces_are_reported_with_a_line() {
        assert_eq!(functions("fn a() {\n}\n}\n"), Err(3));
        assert_eq!(functions("fn a() {\n\n"), Err(1));
        // A string the scanner did not end would swallow the rest and show up the same way.
        assert_eq!(functions("fn a() { \"}\n"), Err(1));
    }

    #[test]
    fn numbers_with_suffixes_are_not_identifiers() {
        check("fn a() -> u8 { 0x7b_u8 + 1e3 as u8 }\n", &[("a", 1, 1)]);
    }
}
