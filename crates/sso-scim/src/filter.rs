//! Filters and attribute paths (RFC 7644 §3.4.2.2 and the PATCH `path` of §3.5.2): a
//! bounded recursive-descent parser and an evaluator over a rendered resource.
//!
//! The input is at most [`MAX_FILTER_LEN`] bytes and groups nest at most [`MAX_DEPTH`] deep,
//! so neither the parser nor the evaluator can recurse without bound; `and`/`or` chains are
//! flat lists, not nested trees. String comparisons ignore ASCII case except for the
//! case-exact attributes (`id`, `externalId`, `members.value`, `$ref`, `meta.version`,
//! `meta.location`): the backend's name lookups ignore ASCII case too, so a listing narrowed
//! by a [`Lookup`] and one evaluated on every resource agree.

use std::borrow::Cow;
use std::cell::Cell;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::backend::Lookup;
use crate::discovery::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use crate::json::{get_ci, has_value};

/// The longest filter or path accepted, in bytes.
pub(crate) const MAX_FILTER_LEN: usize = 4096;
/// The deepest nesting of parentheses, `not( )` and `[ ]`.
pub(crate) const MAX_DEPTH: usize = 16;
/// The longest attribute name.
const MAX_NAME_LEN: usize = 128;

/// Schemas whose URNs may prefix an attribute, longest first so a prefix never shadows.
const KNOWN_SCHEMAS: [&str; 3] = [ENTERPRISE_SCHEMA, USER_SCHEMA, GROUP_SCHEMA];

/// An attribute path: an optional schema URN, a name and an optional sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttrPath {
    /// The schema URN prefix as written (canonical spelling when it is one we know).
    pub(crate) urn: Option<String>,
    /// The attribute; empty when the path is a schema URN alone.
    pub(crate) name: String,
    /// The sub-attribute after a `.`.
    pub(crate) sub: Option<String>,
}

impl AttrPath {
    /// Whether this is `name` of the core schema `core` (no sub-attribute).
    pub(crate) fn is_core(&self, core: &str, name: &str) -> bool {
        self.sub.is_none()
            && self.name.eq_ignore_ascii_case(name)
            && self
                .urn
                .as_deref()
                .is_none_or(|u| u.eq_ignore_ascii_case(core))
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// How strings compare (RFC 7643 §2.2 `caseExact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    /// Byte for byte.
    Exact,
    /// Ignoring ASCII case.
    Ignore,
}

/// A comparison's right-hand side.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    String(String),
    Number(f64),
    Bool(bool),
    Null,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    /// Every one holds (at least two).
    And(Vec<Filter>),
    /// One holds (at least two).
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// Its case rule is settled when parsed, where the attribute and the value filter it
    /// sits in are known, so evaluation over long arrays does not redo it per value.
    Compare(AttrPath, CompareOp, Literal, Case),
    Present(AttrPath),
    /// `attr[filter]`: some value of a multi-valued attribute matches the inner filter, whose
    /// paths are relative to that value.
    ValuePath(AttrPath, Box<Filter>),
}

/// A PATCH `path`: `attrPath`, or `attrPath[valFilter]` with an optional `.subAttr`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PatchPath {
    pub(crate) attr: AttrPath,
    pub(crate) filter: Option<Filter>,
    /// The sub-attribute after `]`.
    pub(crate) sub: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
}

/// Parses a filter; the error says what is wrong, for `invalidFilter`.
pub(crate) fn parse_filter(input: &str) -> Result<Filter, String> {
    let mut parser = Parser::new(input)?;
    let filter = parser.or_expr()?;
    match parser.peek() {
        None => Ok(filter),
        Some(t) => Err(format!("unexpected {} after the filter", describe(t))),
    }
}

/// Parses a PATCH path; the error says what is wrong, for `invalidPath`.
pub(crate) fn parse_path(input: &str) -> Result<PatchPath, String> {
    let mut parser = Parser::new(input)?;
    let attr = match parser.next() {
        Some(Token::Word(w)) => parse_attr_path(&w)?,
        Some(t) => return Err(format!("expected an attribute, found {}", describe(&t))),
        None => return Err("the path is empty".into()),
    };
    let mut path = PatchPath {
        attr,
        filter: None,
        sub: None,
    };
    if parser.peek() == Some(&Token::LBracket) {
        if path.attr.sub.is_some() || path.attr.name.is_empty() {
            return Err("a value filter must follow a multi-valued attribute".into());
        }
        path.filter = Some(parser.value_filter(&path.attr.name)?);
        if let Some(Token::Word(w)) = parser.peek() {
            let sub = w
                .strip_prefix('.')
                .ok_or_else(|| format!("unexpected `{w}` after `]`"))?;
            check_name(sub)?;
            path.sub = Some(sub.to_owned());
            parser.next();
        }
    }
    match parser.peek() {
        None => Ok(path),
        Some(t) => Err(format!("unexpected {} in the path", describe(t))),
    }
}

/// Parses `[urn:...:]name[.sub]`, splitting a URN at a schema we know (whose own text holds
/// dots and colons) or else at its last colon.
pub(crate) fn parse_attr_path(raw: &str) -> Result<AttrPath, String> {
    let (urn, rest) = split_urn(raw)?;
    if rest.is_empty() {
        return Ok(AttrPath {
            urn,
            name: String::new(),
            sub: None,
        });
    }
    let mut parts = rest.splitn(3, '.');
    let name = parts.next().unwrap_or_default();
    let sub = parts.next();
    if parts.next().is_some() {
        return Err(format!("`{raw}` has more than one sub-attribute"));
    }
    check_name(name)?;
    if let Some(sub) = sub {
        check_name(sub)?;
    }
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

fn split_urn(raw: &str) -> Result<(Option<String>, &str), String> {
    let Some(head) = raw.get(..4) else {
        return Ok((None, raw));
    };
    if !head.eq_ignore_ascii_case("urn:") {
        return Ok((None, raw));
    }
    for known in KNOWN_SCHEMAS {
        let Some(prefix) = raw.get(..known.len()) else {
            continue;
        };
        if !prefix.eq_ignore_ascii_case(known) {
            continue;
        }
        let rest = raw.get(known.len()..).unwrap_or_default();
        if rest.is_empty() {
            return Ok((Some(known.to_owned()), ""));
        }
        if let Some(attr) = rest.strip_prefix(':') {
            return Ok((Some(known.to_owned()), attr));
        }
    }
    match raw.rsplit_once(':') {
        Some((urn, attr)) if !attr.is_empty() && urn.len() > 4 => Ok((Some(urn.to_owned()), attr)),
        _ => Err(format!(
            "`{raw}` is not a schema URN followed by an attribute"
        )),
    }
}

/// `ATTRNAME = ALPHA *(nameChar)`; `$ref` is the one name the RFC spells with a `$`.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = match chars.next() {
        Some('$') => name.eq_ignore_ascii_case("$ref"),
        Some(c) => c.is_ascii_alphabetic(),
        None => false,
    };
    if !first_ok || name.len() > MAX_NAME_LEN {
        return Err(format!("`{}` is not an attribute name", shorten(name)));
    }
    if chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') || name == "$ref" {
        Ok(())
    } else {
        Err(format!("`{}` is not an attribute name", shorten(name)))
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

fn describe(token: &Token) -> String {
    match token {
        Token::LParen => "`(`".into(),
        Token::RParen => "`)`".into(),
        Token::LBracket => "`[`".into(),
        Token::RBracket => "`]`".into(),
        Token::Word(w) => format!("`{}`", shorten(w)),
        Token::Str(_) => "a string".into(),
    }
}

/// Splits the input into tokens; strings are decoded with JSON's escapes.
fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => tokens.push(Token::LParen),
            ')' => tokens.push(Token::RParen),
            '[' => tokens.push(Token::LBracket),
            ']' => tokens.push(Token::RBracket),
            '"' => {
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or("a string is not terminated")?;
                let raw = input.get(start..=end).ok_or("a string is not terminated")?;
                let decoded: String = serde_json::from_str(raw)
                    .map_err(|_| "a string has an invalid escape or control character")?;
                tokens.push(Token::Str(decoded));
            }
            _ => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                tokens.push(Token::Word(
                    input.get(start..end).unwrap_or_default().to_owned(),
                ));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: std::vec::IntoIter<Token>,
    peeked: Option<Token>,
    depth: usize,
    /// The multi-valued attribute whose value filter is being parsed.
    parent: Option<String>,
}

impl Parser {
    fn new(input: &str) -> Result<Self, String> {
        if input.len() > MAX_FILTER_LEN {
            return Err(format!("longer than {MAX_FILTER_LEN} bytes"));
        }
        let mut tokens = tokenize(input)?.into_iter();
        let peeked = tokens.next();
        Ok(Self {
            tokens,
            peeked,
            depth: 0,
            parent: None,
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.peeked.as_ref()
    }

    fn next(&mut self) -> Option<Token> {
        std::mem::replace(&mut self.peeked, self.tokens.next())
    }

    fn expect(&mut self, want: &Token) -> Result<(), String> {
        match self.next() {
            Some(t) if &t == want => Ok(()),
            Some(t) => Err(format!(
                "expected {}, found {}",
                describe(want),
                describe(&t)
            )),
            None => Err(format!("expected {} before the end", describe(want))),
        }
    }

    fn keyword(&mut self, word: &str) -> bool {
        let hit = matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word));
        if hit {
            self.next();
        }
        hit
    }

    fn descend(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Filter, String> {
        let mut terms = vec![self.and_expr()?];
        while self.keyword("or") {
            terms.push(self.and_expr()?);
        }
        Ok(flatten(terms, Filter::Or))
    }

    fn and_expr(&mut self) -> Result<Filter, String> {
        let mut terms = vec![self.term()?];
        while self.keyword("and") {
            terms.push(self.term()?);
        }
        Ok(flatten(terms, Filter::And))
    }

    fn group(&mut self) -> Result<Filter, String> {
        self.descend()?;
        self.expect(&Token::LParen)?;
        let inner = self.or_expr()?;
        self.expect(&Token::RParen)?;
        self.depth -= 1;
        Ok(inner)
    }

    fn value_filter(&mut self, parent: &str) -> Result<Filter, String> {
        if self.parent.is_some() {
            return Err("value filters do not nest".into());
        }
        self.descend()?;
        self.expect(&Token::LBracket)?;
        self.parent = Some(parent.to_owned());
        let inner = self.or_expr()?;
        self.parent = None;
        self.expect(&Token::RBracket)?;
        self.depth -= 1;
        Ok(inner)
    }

    fn term(&mut self) -> Result<Filter, String> {
        match self.peek() {
            Some(Token::LParen) => return self.group(),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.next();
                return Ok(Filter::Not(Box::new(self.group()?)));
            }
            _ => {}
        }
        let path = match self.next() {
            Some(Token::Word(w)) => parse_attr_path(&w)?,
            Some(t) => return Err(format!("expected an attribute, found {}", describe(&t))),
            None => return Err("expected an attribute before the end".into()),
        };
        if self.peek() == Some(&Token::LBracket) {
            if path.sub.is_some() || path.name.is_empty() {
                return Err("a value filter must follow a multi-valued attribute".into());
            }
            let inner = self.value_filter(&path.name)?;
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        let op = match self.next() {
            Some(Token::Word(w)) => w.to_ascii_lowercase(),
            Some(t) => return Err(format!("expected an operator, found {}", describe(&t))),
            None => return Err("expected an operator before the end".into()),
        };
        if op == "pr" {
            return Ok(Filter::Present(path));
        }
        let op = compare_op(&op)?;
        let literal = self.literal()?;
        check_operand(op, &literal)?;
        let case = case_rule(&path, self.parent.as_deref());
        Ok(Filter::Compare(path, op, literal, case))
    }

    fn literal(&mut self) -> Result<Literal, String> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Literal::String(s)),
            Some(Token::Word(w)) => word_literal(&w),
            Some(t) => Err(format!("expected a value, found {}", describe(&t))),
            None => Err("expected a value before the end".into()),
        }
    }
}

fn flatten(mut terms: Vec<Filter>, join: fn(Vec<Filter>) -> Filter) -> Filter {
    match (terms.pop(), terms.is_empty()) {
        (Some(only), true) => only,
        (Some(last), false) => {
            terms.push(last);
            join(terms)
        }
        (None, _) => join(terms),
    }
}

fn compare_op(op: &str) -> Result<CompareOp, String> {
    Ok(match op {
        "eq" => CompareOp::Eq,
        "ne" => CompareOp::Ne,
        "co" => CompareOp::Co,
        "sw" => CompareOp::Sw,
        "ew" => CompareOp::Ew,
        "gt" => CompareOp::Gt,
        "ge" => CompareOp::Ge,
        "lt" => CompareOp::Lt,
        "le" => CompareOp::Le,
        other => return Err(format!("`{}` is not an operator", shorten(other))),
    })
}

fn word_literal(word: &str) -> Result<Literal, String> {
    if word.eq_ignore_ascii_case("true") {
        return Ok(Literal::Bool(true));
    }
    if word.eq_ignore_ascii_case("false") {
        return Ok(Literal::Bool(false));
    }
    if word.eq_ignore_ascii_case("null") {
        return Ok(Literal::Null);
    }
    let numeric = word
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
    match word.parse::<f64>() {
        Ok(n) if numeric && n.is_finite() => Ok(Literal::Number(n)),
        _ => Err(format!(
            "`{}` is not a value (strings are quoted)",
            shorten(word)
        )),
    }
}

/// `co`, `sw` and `ew` take strings; ordering takes strings or numbers (RFC 7644 §3.4.2.2).
fn check_operand(op: CompareOp, literal: &Literal) -> Result<(), String> {
    let ok = match op {
        CompareOp::Eq | CompareOp::Ne => true,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => matches!(literal, Literal::String(_)),
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            matches!(literal, Literal::String(_) | Literal::Number(_))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{op:?} cannot compare with {literal:?}").to_lowercase())
    }
}

/// The indexed condition that narrows a listing for `filter`: a top-level `id eq`, name `eq`
/// (`name_attr` is `userName` or `displayName`) or `externalId eq`, alone or in an `and`.
pub(crate) fn lookup(filter: &Filter, core: &str, name_attr: &str) -> Lookup {
    match filter {
        Filter::Compare(path, CompareOp::Eq, Literal::String(value), _) => {
            if path.is_core(core, "id") {
                Lookup::Id(value.clone())
            } else if path.is_core(core, name_attr) {
                Lookup::Name(value.clone())
            } else if path.is_core(core, "externalId") {
                Lookup::ExternalId(value.clone())
            } else {
                Lookup::All
            }
        }
        Filter::And(terms) => terms
            .iter()
            .map(|t| lookup(t, core, name_attr))
            .find(|l| *l != Lookup::All)
            .unwrap_or(Lookup::All),
        _ => Lookup::All,
    }
}

/// How many attribute values evaluations may still visit. Once spent, every test is false and
/// the caller refuses the request (`tooMany`), so a large filter over many large resources
/// costs a bounded amount of work.
#[derive(Debug)]
pub(crate) struct Budget(Cell<usize>);

impl Budget {
    /// Room for `visits` value visits.
    pub(crate) fn new(visits: usize) -> Self {
        Self(Cell::new(visits))
    }

    fn spend(&self) -> bool {
        let left = self.0.get();
        self.0.set(left.saturating_sub(1));
        left > 0
    }

    /// Spends `units` at once; false (and nothing left) when there are not that many.
    pub(crate) fn take(&self, units: usize) -> bool {
        let left = self.0.get();
        self.0.set(left.saturating_sub(units));
        left >= units
    }

    /// Whether evaluation ran out (its answers are then meaningless).
    pub(crate) fn exhausted(&self) -> bool {
        self.0.get() == 0
    }
}

/// Whether `resource` (rendered, of the schema `core`) matches `filter`.
pub(crate) fn matches(filter: &Filter, resource: &Value, core: &str, budget: &Budget) -> bool {
    eval(filter, resource, core, budget)
}

/// Whether one value of a multi-valued attribute matches a value filter.
pub(crate) fn matches_item(filter: &Filter, item: &Value, budget: &Budget) -> bool {
    eval(filter, item, "", budget)
}

fn eval(filter: &Filter, node: &Value, core: &str, budget: &Budget) -> bool {
    let any =
        |path, test: &mut dyn FnMut(&Value) -> bool| any_value(node, path, core, budget, test);
    match filter {
        Filter::And(terms) => terms.iter().all(|t| eval(t, node, core, budget)),
        Filter::Or(terms) => terms.iter().any(|t| eval(t, node, core, budget)),
        Filter::Not(inner) => !eval(inner, node, core, budget),
        Filter::Present(path) => any(path, &mut |v| has_value(v)),
        Filter::Compare(path, op, literal, case) => {
            let exact = *case == Case::Exact;
            let hit = |op| any(path, &mut |v| compare(op, scalar(v), literal, exact));
            match (op, literal) {
                (CompareOp::Eq, Literal::Null) => !any(path, &mut |v| !v.is_null()),
                (CompareOp::Ne, Literal::Null) => any(path, &mut |v| !v.is_null()),
                (CompareOp::Ne, _) => !hit(CompareOp::Eq),
                (op, _) => hit(*op),
            }
        }
        Filter::ValuePath(path, inner) => any(path, &mut |item| eval(inner, item, "", budget)),
    }
}

/// Whether `test` holds for some value the path selects, multi-valued attributes flattened
/// one level (without collecting them: filters run once per value of long arrays).
fn any_value(
    node: &Value,
    path: &AttrPath,
    core: &str,
    budget: &Budget,
    test: &mut dyn FnMut(&Value) -> bool,
) -> bool {
    let container = match &path.urn {
        Some(urn) if !urn.eq_ignore_ascii_case(core) => get_ci(node, urn),
        _ => Some(node),
    };
    let Some(container) = container else {
        return false;
    };
    if path.name.is_empty() {
        return budget.spend() && test(container);
    }
    let Some(value) = get_ci(container, &path.name) else {
        return false;
    };
    match &path.sub {
        None => spread_any(value, budget, test),
        Some(sub) => spread_any(value, budget, &mut |item| {
            get_ci(item, sub).is_some_and(|v| spread_any(v, budget, test))
        }),
    }
}

/// Each value visited spends one unit of the budget.
fn spread_any(value: &Value, budget: &Budget, test: &mut dyn FnMut(&Value) -> bool) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|v| budget.spend() && test(v)),
        other => budget.spend() && test(other),
    }
}

/// A complex value compares by its `value` sub-attribute (RFC 7644 §3.4.2.2, `emails co x`).
fn scalar(value: &Value) -> &Value {
    match value {
        Value::Object(_) => get_ci(value, "value").unwrap_or(value),
        other => other,
    }
}

fn case_rule(path: &AttrPath, parent: Option<&str>) -> Case {
    let last = path.sub.as_deref().unwrap_or(&path.name);
    let owner = if path.sub.is_some() {
        Some(path.name.as_str())
    } else {
        parent
    };
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let exact = ["id", "externalId", "$ref"].iter().any(|n| is(last, n))
        || (owner.is_some_and(|o| is(o, "meta")) && (is(last, "version") || is(last, "location")))
        || (owner.is_some_and(|o| is(o, "members")) && is(last, "value"));
    if exact { Case::Exact } else { Case::Ignore }
}

fn compare(op: CompareOp, value: &Value, literal: &Literal, exact: bool) -> bool {
    match (value, literal) {
        (Value::String(have), Literal::String(want)) => compare_str(op, have, want, exact),
        (Value::Number(have), Literal::Number(want)) => have
            .as_f64()
            .is_some_and(|h| order(op, h.partial_cmp(want))),
        (Value::Bool(have), Literal::Bool(want)) => op == CompareOp::Eq && have == want,
        (Value::Null, Literal::Null) => op == CompareOp::Eq,
        _ => false,
    }
}

fn compare_str(op: CompareOp, have: &str, want: &str, exact: bool) -> bool {
    // Byte-wise: ASCII case folding never touches the bytes of other characters, so a match
    // on bytes is a match on characters, and the common operators allocate nothing.
    let (h, w) = (have.as_bytes(), want.as_bytes());
    let same = |a: &[u8], b: &[u8]| {
        if exact {
            a == b
        } else {
            a.eq_ignore_ascii_case(b)
        }
    };
    let fold = |s| fold_case(s, exact);
    match op {
        CompareOp::Eq => same(h, w),
        CompareOp::Ne => !same(h, w),
        CompareOp::Sw => h.get(..w.len()).is_some_and(|p| same(p, w)),
        CompareOp::Ew => h
            .len()
            .checked_sub(w.len())
            .and_then(|start| h.get(start..))
            .is_some_and(|p| same(p, w)),
        CompareOp::Co => fold(have).contains(fold(want).as_ref()),
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            let times = OffsetDateTime::parse(have, &Rfc3339)
                .and_then(|a| OffsetDateTime::parse(want, &Rfc3339).map(|b| a.partial_cmp(&b)));
            match times {
                Ok(ordering) => order(op, ordering),
                Err(_) => order(op, fold(have).partial_cmp(&fold(want))),
            }
        }
    }
}

fn fold_case(s: &str, exact: bool) -> Cow<'_, str> {
    if exact {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_ascii_lowercase())
    }
}

fn order(op: CompareOp, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    matches!(
        (op, ordering),
        (CompareOp::Eq | CompareOp::Ge | CompareOp::Le, Some(Equal))
            | (CompareOp::Gt | CompareOp::Ge, Some(Greater))
            | (CompareOp::Lt | CompareOp::Le, Some(Less))
    )
}

#[cfg(test)]
mod tests;
