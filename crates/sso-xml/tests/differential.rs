//! Differential test: our canonical forms against libxml2's, byte for byte.
//!
//! A seeded generator writes random well-formed documents that exercise what canonicalization
//! has to get right: nested default and prefixed namespaces, redeclarations (also spelled
//! differently but equal), `xmlns=""`, prefixes used only by attributes, `xml:*` attributes,
//! attribute order, whitespace inside tags and in values (spaces, tabs, newlines, CR, CRLF),
//! character references (`&#xD;`, `&#x9;`, `&#xA;` in text and attribute values, decimal and
//! hex, non-ASCII), the five predefined entities, CDATA (also `]]>` split across sections),
//! comments, processing instructions inside and outside the root, non-ASCII names and text,
//! an XML declaration and a byte-order mark.
//!
//! Each document is canonicalized by us and by libxml2 in several ways:
//! - the whole document, with comments, by `xmllint --c14n` and `xmllint --exc-c14n` (the
//!   only forms xmllint offers);
//! - the whole document with the four algorithms, and a random element's subtree (sometimes
//!   minus one of its descendant elements, the enveloped-signature node set; for the exclusive
//!   algorithm sometimes with an InclusiveNamespaces PrefixList) with the four algorithms, by
//!   the same libxml2 through `tests/differential/libxml2_c14n.py` (Python's ctypes calling
//!   `xmlC14NExecute` with a visibility callback).
//!
//! `SSO_DIFFTEST_COUNT` (default 10 000) documents from `SSO_DIFFTEST_SEED` (default below);
//! for a long run: `SSO_DIFFTEST_COUNT=200000 cargo test -p sso-xml --release --test
//! differential`. xmllint (Debian package `libxml2-utils`) and python3 (package `python3`)
//! must be installed: without them the test fails, it never skips.
//!
//! On a difference the test prints the seed, the document's number, the shrunk document and
//! both outputs.

// A test harness: a panic here is a failed test, not a crash on outside input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use sso_xml::{C14nAlgorithm, Canonicalizer, Document};

const DEFAULT_COUNT: usize = 10_000;
const DEFAULT_SEED: u64 = 0x5A3C_0DE5_EED5_2026;

// ---------------------------------------------------------------------------------------------
// Random numbers: SplitMix64, enough for a generator and reproducible everywhere.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// True with `percent` % probability.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// The pieces documents are made of, as written in the source.

const ELEMENT_NAMES: &[&str] = &[
    "a", "b", "c", "item", "Données", "x-y", "_z", "n.1", "日本", "e9",
];
const ATTRIBUTE_NAMES: &[&str] = &["id", "x", "y", "z", "é", "a-b", "_n", "Z", "attr.1"];
const PREFIXES: &[&str] = &["p", "q", "ns1", "é", "s"];
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Namespace names as written, and their value. Some values are spelled two ways, so a
/// redeclaration can look different and still change nothing.
///
/// Only names that libxml2's URI parser takes: its canonicalizer refuses a document with any
/// other namespace name ("checking for relative namespaces"), so names with spaces, quotes,
/// `<`, `>` or non-ASCII characters cannot be compared with it. Relative names are left out
/// too: the specification wants them refused (see `hostile.rs`).
const URIS: &[(&str, &str)] = &[
    ("urn:a", "urn:a"),
    ("urn:b", "urn:b"),
    ("urn:A", "urn:A"),
    ("http://example.com/ns", "http://example.com/ns"),
    ("http://example.com/ns/", "http://example.com/ns/"),
    ("http://example.com/&#x6E;s", "http://example.com/ns"),
    ("urn:%C3%A9", "urn:%C3%A9"),
    ("urn:&#x61;", "urn:a"),
    ("urn:q?a=1&amp;b=&apos;2&apos;", "urn:q?a=1&b='2'"),
];

/// Whitespace between attributes and before `>`.
const TAG_SPACE: &[&str] = &[" ", " ", " ", "  ", "\t", "\n", "\r\n", " \r\n\t", "\r"];
/// Around `=` in an attribute.
const EQUALS: &[&str] = &["=", "=", "=", " = ", "\t=\n", "\r\n="];

/// Text content as written: literal characters and references. `>` after `]]` is written as
/// `&gt;` by the serializer.
const TEXT: &[&str] = &[
    "x",
    "hello",
    "a b",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\n\n",
    "é",
    "日本語",
    "𝄞",
    "\u{85}",
    "\u{2028}",
    "\u{FEFF}",
    "]",
    ">",
    "'",
    "\"",
    "=",
    "&amp;",
    "&lt;",
    "&gt;",
    "&quot;",
    "&apos;",
    "&#9;",
    "&#x9;",
    "&#xA;",
    "&#10;",
    "&#xD;",
    "&#13;",
    "&#x20;",
    "&#xE9;",
    "&#233;",
    "&#x1D11E;",
    "&#x3C;",
    "&#38;",
    "&#x3e;",
    "&#x0000D;",
    "&#34;",
];

/// Attribute value pieces as written; the quote character is written as a reference.
const ATTR_TEXT: &[&str] = &[
    "v", "a b", " ", "  ", "\t", "\n", "\r\n", "\r", "é", "𝄞", ">", "'", "\"", "&amp;", "&lt;",
    "&gt;", "&quot;", "&apos;", "&#9;", "&#x9;", "&#xA;", "&#10;", "&#xD;", "&#13;", "&#x20;",
    "&#xE9;", "&#x3C;", "&#x22;",
];

/// CDATA content; `]]>` is split across two sections by the serializer.
const CDATA_TEXT: &[&str] = &[
    "x", "<b>", "&amp;", "]", "]]", ">", "\r\n", "\r", "\n", "é", " ", "\t", "&#xD;", "'\"",
];

/// Comment content: no piece starts or ends with `-`, so `--` never forms.
const COMMENT_TEXT: &[&str] = &[
    "x", " ", "a-b", "é", "\r\n", "\r", "\t", "\n", "<&>", "]]>", "'\"", "?>", "&amp;",
];

const PI_TARGETS: &[&str] = &["pi", "xml-stylesheet", "t.x", "é", "P"];
/// PI data: no piece ends with `?`, so `?>` never forms.
const PI_TEXT: &[&str] = &[
    "a", " ", "b=\"1\"", "é", "\r\n", "\r", "\t", "x?y", ">", "<&>", "&amp;", "  ",
];
const PI_SPACE: &[&str] = &[" ", " ", "  ", "\t", "\n", "\r\n"];

const XML_DECLS: &[&str] = &[
    "<?xml version=\"1.0\"?>",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "<?xml version='1.0' encoding='utf-8' standalone='yes'?>",
    "<?xml version=\"1.0\" standalone=\"no\" ?>",
];

// ---------------------------------------------------------------------------------------------
// A document as a tree of source pieces: random, printable, and easy to shrink.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mark {
    None,
    /// The element whose subtree the subtree jobs canonicalize.
    Apex,
    /// The descendant of the apex they leave out.
    Exclude,
}

#[derive(Clone, Debug)]
enum ItemKind {
    Decl {
        prefix: Option<&'static str>,
        uri: &'static str,
    },
    Attr {
        prefix: Option<&'static str>,
        local: &'static str,
        value: Vec<&'static str>,
    },
}

#[derive(Clone, Debug)]
struct Item {
    kind: ItemKind,
    space: &'static str,
    equals: &'static str,
    quote: char,
}

#[derive(Clone, Debug)]
struct Pi {
    target: &'static str,
    space: &'static str,
    data: Vec<&'static str>,
}

#[derive(Clone, Debug)]
enum Content {
    Text(Vec<&'static str>),
    CData(Vec<&'static str>),
    Comment(Vec<&'static str>),
    Pi(Pi),
    Element(Elem),
}

#[derive(Clone, Debug)]
struct Elem {
    prefix: Option<&'static str>,
    local: &'static str,
    /// Namespace declarations and attributes in source order.
    items: Vec<Item>,
    space_end: &'static str,
    space_close: &'static str,
    self_close: bool,
    children: Vec<Content>,
    mark: Mark,
}

#[derive(Clone, Debug)]
enum Misc {
    Space(&'static str),
    Comment(Vec<&'static str>),
    Pi(Pi),
}

#[derive(Clone, Debug)]
struct Doc {
    bom: bool,
    decl: Option<&'static str>,
    prolog: Vec<Misc>,
    root: Elem,
    epilog: Vec<Misc>,
}

struct Gen {
    rng: Rng,
    /// Elements still allowed, to keep documents small.
    budget: usize,
}

impl Gen {
    fn pieces(&mut self, from: &[&'static str], max: usize) -> Vec<&'static str> {
        let n = self.rng.below(max + 1);
        (0..n).map(|_| self.rng.pick(from)).collect()
    }

    fn pi(&mut self) -> Pi {
        let data = if self.rng.chance(80) {
            self.pieces(PI_TEXT, 4)
        } else {
            Vec::new()
        };
        Pi {
            target: self.rng.pick(PI_TARGETS),
            space: self.rng.pick(PI_SPACE),
            data,
        }
    }

    fn misc(&mut self) -> Vec<Misc> {
        let mut out = Vec::new();
        for _ in 0..self.rng.below(4) {
            out.push(match self.rng.below(3) {
                0 => Misc::Space(self.rng.pick(&["\n", " ", "\r\n", "\t\n "])),
                1 => Misc::Comment(self.pieces(COMMENT_TEXT, 3)),
                _ => Misc::Pi(self.pi()),
            });
        }
        out
    }

    fn doc(&mut self) -> Doc {
        let bom = self.rng.chance(3);
        let decl = self.rng.chance(40).then(|| self.rng.pick(XML_DECLS));
        let prolog = self.misc();
        let mut scope = Vec::new();
        let root = self.element(&mut scope, 0);
        let epilog = self.misc();
        let mut doc = Doc {
            bom,
            decl,
            prolog,
            root,
            epilog,
        };
        // The subtree the subtree jobs use, and maybe a descendant to leave out.
        let total = count_elements(&doc.root);
        let apex = if self.rng.chance(25) {
            0
        } else {
            self.rng.below(total)
        };
        let size = find_element(&doc.root, apex).map_or(1, count_elements);
        mark_element(&mut doc.root, apex, Mark::Apex);
        if size > 1 && self.rng.chance(50) {
            let exclude = apex + 1 + self.rng.below(size - 1);
            mark_element(&mut doc.root, exclude, Mark::Exclude);
        }
        doc
    }

    /// A random element; `scope` holds the (prefix, namespace) bindings in force, `""` being
    /// the default namespace.
    fn element(&mut self, scope: &mut Vec<(&'static str, &'static str)>, depth: usize) -> Elem {
        self.budget = self.budget.saturating_sub(1);
        let scope_mark = scope.len();
        let mut items = self.declarations(scope);
        let bound: Vec<&'static str> = PREFIXES
            .iter()
            .copied()
            .filter(|p| !lookup(scope, p).is_empty())
            .collect();
        let prefix = (!bound.is_empty() && self.rng.chance(50)).then(|| self.rng.pick(&bound));
        self.attributes(scope, &bound, &mut items);
        // Attribute order in the source is random.
        for i in (1..items.len()).rev() {
            let j = self.rng.below(i + 1);
            items.swap(i, j);
        }
        let children = self.children(scope, depth);
        scope.truncate(scope_mark);
        let space_end = if self.rng.chance(25) {
            self.rng.pick(TAG_SPACE)
        } else {
            ""
        };
        let space_close = if self.rng.chance(10) {
            self.rng.pick(TAG_SPACE)
        } else {
            ""
        };
        Elem {
            prefix,
            local: self.rng.pick(ELEMENT_NAMES),
            items,
            space_end,
            space_close,
            self_close: self.rng.chance(50),
            children,
            mark: Mark::None,
        }
    }

    /// Up to three namespace declarations (each prefix once, pushed onto `scope`), and
    /// sometimes the `xml` prefix declared to its own namespace.
    fn declarations(&mut self, scope: &mut Vec<(&'static str, &'static str)>) -> Vec<Item> {
        let mut items = Vec::new();
        let mut declared: Vec<&str> = Vec::new();
        let decls = match self.rng.below(20) {
            0..=9 => 0,
            10..=15 => 1,
            16..=18 => 2,
            _ => 3,
        };
        for _ in 0..decls {
            let prefix = if self.rng.chance(35) {
                ""
            } else {
                self.rng.pick(PREFIXES)
            };
            if declared.contains(&prefix) {
                continue;
            }
            declared.push(prefix);
            let (src, value) = if prefix.is_empty() && self.rng.chance(35) {
                ("", "")
            } else {
                self.rng.pick(URIS)
            };
            items.push(self.item(ItemKind::Decl {
                prefix: (!prefix.is_empty()).then_some(prefix),
                uri: src,
            }));
            scope.push((prefix, value));
        }
        if self.rng.chance(2) {
            items.push(self.item(ItemKind::Decl {
                prefix: Some("xml"),
                uri: XML_NS,
            }));
        }
        items
    }

    /// Up to five attributes: `xml:*`, namespaced with a `bound` prefix, or plain; never two
    /// with the same expanded name.
    fn attributes(
        &mut self,
        scope: &[(&'static str, &'static str)],
        bound: &[&'static str],
        items: &mut Vec<Item>,
    ) {
        let mut names: Vec<(&str, &str)> = Vec::new();
        let attrs = match self.rng.below(20) {
            0..=5 => 0,
            6..=11 => 1,
            12..=15 => 2,
            16..=18 => 3,
            _ => 5,
        };
        for _ in 0..attrs {
            let (prefix, uri, local, value) = match self.rng.below(10) {
                0 => {
                    let (local, value) = match self.rng.below(4) {
                        0 | 1 => ("lang", vec![self.rng.pick(&["en", "fr-CA", "", "ja"])]),
                        2 => ("space", vec![self.rng.pick(&["preserve", "default"])]),
                        _ => ("base", vec![self.rng.pick(&["http://e.example/", "x/"])]),
                    };
                    (Some("xml"), XML_NS, local, value)
                }
                1..=3 if !bound.is_empty() => {
                    let p = self.rng.pick(bound);
                    let local = self.rng.pick(ATTRIBUTE_NAMES);
                    (Some(p), lookup(scope, p), local, self.pieces(ATTR_TEXT, 5))
                }
                _ => (
                    None,
                    "",
                    self.rng.pick(ATTRIBUTE_NAMES),
                    self.pieces(ATTR_TEXT, 5),
                ),
            };
            // Namespace-well-formed: no two attributes with the same expanded name.
            if names.contains(&(uri, local)) {
                continue;
            }
            names.push((uri, local));
            items.push(self.item(ItemKind::Attr {
                prefix,
                local,
                value,
            }));
        }
    }

    /// Random content, while the depth and the document's element budget allow.
    fn children(
        &mut self,
        scope: &mut Vec<(&'static str, &'static str)>,
        depth: usize,
    ) -> Vec<Content> {
        let mut children = Vec::new();
        if depth < 7 && self.budget > 0 {
            let n = self.rng.below(if depth < 2 { 6 } else { 4 });
            for _ in 0..n {
                children.push(match self.rng.below(100) {
                    0..=34 => Content::Text(self.pieces(TEXT, 4)),
                    35..=69 if self.budget > 0 => Content::Element(self.element(scope, depth + 1)),
                    35..=69 => Content::Text(self.pieces(TEXT, 2)),
                    70..=77 => Content::CData(self.pieces(CDATA_TEXT, 4)),
                    78..=89 => Content::Comment(self.pieces(COMMENT_TEXT, 3)),
                    _ => Content::Pi(self.pi()),
                });
            }
        }
        children
    }

    fn item(&mut self, kind: ItemKind) -> Item {
        Item {
            kind,
            space: self.rng.pick(TAG_SPACE),
            equals: self.rng.pick(EQUALS),
            quote: if self.rng.chance(70) { '"' } else { '\'' },
        }
    }
}

fn count_elements(e: &Elem) -> usize {
    1 + e
        .children
        .iter()
        .map(|c| match c {
            Content::Element(c) => count_elements(c),
            _ => 0,
        })
        .sum::<usize>()
}

/// The element with this index in document order (0 is `e`).
fn find_element(e: &Elem, mut index: usize) -> Option<&Elem> {
    if index == 0 {
        return Some(e);
    }
    index -= 1;
    for c in &e.children {
        if let Content::Element(c) = c {
            let n = count_elements(c);
            if index < n {
                return find_element(c, index);
            }
            index -= n;
        }
    }
    None
}

fn mark_element(e: &mut Elem, mut index: usize, mark: Mark) {
    if index == 0 {
        e.mark = mark;
        return;
    }
    index -= 1;
    for c in &mut e.children {
        if let Content::Element(c) = c {
            let n = count_elements(c);
            if index < n {
                return mark_element(c, index, mark);
            }
            index -= n;
        }
    }
}

/// Document-order indices of the apex and of the element to leave out.
fn marks(e: &Elem, next: &mut usize, apex: &mut Option<usize>, exclude: &mut Option<usize>) {
    match e.mark {
        Mark::Apex => *apex = Some(*next),
        Mark::Exclude => *exclude = Some(*next),
        Mark::None => {}
    }
    *next += 1;
    for c in &e.children {
        if let Content::Element(c) = c {
            marks(c, next, apex, exclude);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing a document out.

fn write_doc(d: &Doc) -> String {
    let mut out = String::new();
    if d.bom {
        out.push('\u{FEFF}');
    }
    if let Some(decl) = d.decl {
        out.push_str(decl);
    }
    for m in &d.prolog {
        write_misc(&mut out, m);
    }
    write_elem(&mut out, &d.root);
    for m in &d.epilog {
        write_misc(&mut out, m);
    }
    out
}

fn write_misc(out: &mut String, m: &Misc) {
    match m {
        Misc::Space(s) => out.push_str(s),
        Misc::Comment(c) => write_comment(out, c),
        Misc::Pi(p) => write_pi(out, p),
    }
}

fn write_comment(out: &mut String, c: &[&str]) {
    out.push_str("<!--");
    c.iter().for_each(|s| out.push_str(s));
    out.push_str("-->");
}

fn write_pi(out: &mut String, p: &Pi) {
    out.push_str("<?");
    out.push_str(p.target);
    if !p.data.is_empty() {
        out.push_str(p.space);
        p.data.iter().for_each(|s| out.push_str(s));
    }
    out.push_str("?>");
}

fn write_qname(out: &mut String, prefix: Option<&str>, local: &str) {
    if let Some(p) = prefix {
        out.push_str(p);
        out.push(':');
    }
    out.push_str(local);
}

fn write_elem(out: &mut String, e: &Elem) {
    out.push('<');
    write_qname(out, e.prefix, e.local);
    for item in &e.items {
        out.push_str(item.space);
        match &item.kind {
            ItemKind::Decl { prefix, .. } => write_qname(out, Some("xmlns"), prefix.unwrap_or("")),
            ItemKind::Attr { prefix, local, .. } => write_qname(out, *prefix, local),
        }
        if let ItemKind::Decl { prefix: None, .. } = item.kind {
            out.pop(); // "xmlns:" -> "xmlns"
        }
        out.push_str(item.equals);
        out.push(item.quote);
        match &item.kind {
            ItemKind::Decl { uri, .. } => out.push_str(uri),
            ItemKind::Attr { value, .. } => {
                for piece in value {
                    match (*piece, item.quote) {
                        ("\"", '"') => out.push_str("&quot;"),
                        ("'", '\'') => out.push_str("&apos;"),
                        (s, _) => out.push_str(s),
                    }
                }
            }
        }
        out.push(item.quote);
    }
    out.push_str(e.space_end);
    if e.children.is_empty() && e.self_close {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for c in &e.children {
        match c {
            Content::Text(t) => {
                for piece in t {
                    if piece.starts_with('>') && out.ends_with("]]") {
                        out.push_str("&gt;");
                        out.push_str(&piece[1..]);
                    } else {
                        out.push_str(piece);
                    }
                }
            }
            Content::CData(t) => {
                out.push_str("<![CDATA[");
                let mut section = String::new();
                for piece in t {
                    if piece.starts_with('>') && section.ends_with("]]") {
                        out.push_str("]]><![CDATA[");
                        section.clear();
                    }
                    section.push_str(piece);
                    out.push_str(piece);
                }
                out.push_str("]]>");
            }
            Content::Comment(c) => write_comment(out, c),
            Content::Pi(p) => write_pi(out, p),
            Content::Element(c) => write_elem(out, c),
        }
    }
    out.push_str("</");
    write_qname(out, e.prefix, e.local);
    out.push_str(e.space_close);
    out.push('>');
}

// ---------------------------------------------------------------------------------------------
// Jobs: what to canonicalize, how, and which libxml2 route checks it.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Route {
    /// `xmllint --c14n` / `--exc-c14n`: whole documents, with comments, no prefix list.
    Xmllint,
    /// libxml2's `xmlC14NExecute` through ctypes: everything else.
    Library,
}

#[derive(Clone, Debug)]
struct Job {
    algorithm: C14nAlgorithm,
    /// The marked apex, or the whole document.
    subtree: bool,
    /// Leave out the marked descendant, if the document has one.
    exclude: bool,
    prefixes: Vec<&'static str>,
    route: Route,
}

fn jobs(rng: &mut Rng) -> Vec<Job> {
    let mut jobs = vec![
        Job {
            algorithm: C14nAlgorithm::InclusiveWithComments,
            subtree: false,
            exclude: false,
            prefixes: Vec::new(),
            route: Route::Xmllint,
        },
        Job {
            algorithm: C14nAlgorithm::ExclusiveWithComments,
            subtree: false,
            exclude: false,
            prefixes: Vec::new(),
            route: Route::Xmllint,
        },
    ];
    for subtree in [false, true] {
        for algorithm in C14nAlgorithm::ALL {
            let mut prefixes = Vec::new();
            if algorithm.is_exclusive() && rng.chance(30) {
                for p in PREFIXES.iter().chain(&["#default", "xml", "unused"]) {
                    if rng.chance(30) {
                        prefixes.push(*p);
                    }
                }
            }
            jobs.push(Job {
                algorithm,
                subtree,
                exclude: subtree || rng.chance(50),
                prefixes,
                route: Route::Library,
            });
        }
    }
    jobs
}

impl Job {
    /// Document-order indices of the element to canonicalize (`None`: the whole document) and
    /// of the element to leave out.
    fn target(&self, case: &Case) -> (Option<usize>, Option<usize>) {
        (
            if self.subtree { case.apex } else { None },
            if self.exclude { case.exclude } else { None },
        )
    }

    fn describe(&self, case: &Case) -> String {
        let (apex, exclude) = self.target(case);
        let mut s = format!("{:?} of ", self.algorithm);
        match apex {
            Some(i) => s.push_str(&format!("element #{i}")),
            None => s.push_str("the whole document"),
        }
        if let Some(i) = exclude {
            s.push_str(&format!(" minus element #{i}"));
        }
        if !self.prefixes.is_empty() {
            s.push_str(&format!(", InclusiveNamespaces {:?}", self.prefixes));
        }
        s.push_str(&format!(", via {:?}", self.route));
        s
    }
}

struct Case {
    xml: Vec<u8>,
    apex: Option<usize>,
    exclude: Option<usize>,
}

impl Case {
    fn new(doc: &Doc) -> Case {
        let (mut apex, mut exclude) = (None, None);
        marks(&doc.root, &mut 0, &mut apex, &mut exclude);
        Case {
            xml: write_doc(doc).into_bytes(),
            apex,
            exclude,
        }
    }
}

type Outcome = Result<Vec<u8>, String>;

/// Our canonical form for each job.
fn ours(case: &Case, jobs: &[&Job]) -> Vec<Outcome> {
    let doc = match Document::parse(&case.xml) {
        Ok(doc) => doc,
        Err(e) => return jobs.iter().map(|_| Err(format!("refused: {e}"))).collect(),
    };
    let element = |i: Option<usize>| i.and_then(|i| doc.elements().nth(i));
    jobs.iter()
        .map(|job| {
            let c = Canonicalizer::new(job.algorithm).inclusive_prefixes(&job.prefixes);
            let (apex, exclude) = job.target(case);
            let node = match apex {
                Some(_) => element(apex).ok_or("no apex element")?,
                None => doc.document_node(),
            };
            Ok(c.canonicalize_to_vec(node, element(exclude)))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// libxml2's canonical forms, many documents per process.

fn require_tools() {
    let ok = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(
        ok("xmllint", "--version"),
        "xmllint is needed for the differential test: install the Debian package libxml2-utils"
    );
    assert!(
        ok("python3", "--version"),
        "python3 is needed for the differential test: install the Debian package python3"
    );
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/libxml2_c14n.py")
}

/// Runs each (case, job) through libxml2 by the job's route.
fn libxml2(requests: &[(&Case, &Job)]) -> Vec<Outcome> {
    let (via_xmllint, via_library): (Vec<usize>, Vec<usize>) =
        (0..requests.len()).partition(|&i| requests[i].1.route == Route::Xmllint);
    let pick = |ix: &[usize]| ix.iter().map(|&i| requests[i]).collect::<Vec<_>>();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| xmllint(&pick(&via_xmllint)));
        let b = library(&pick(&via_library));
        (a.join().expect("xmllint thread"), b)
    });
    let mut out: Vec<Outcome> = vec![Err(String::new()); requests.len()];
    for (i, r) in via_xmllint.into_iter().zip(a) {
        out[i] = r;
    }
    for (i, r) in via_library.into_iter().zip(b) {
        out[i] = r;
    }
    out
}

fn library(requests: &[(&Case, &Job)]) -> Vec<Outcome> {
    if requests.is_empty() {
        return Vec::new();
    }
    let mut child = Command::new("python3")
        .arg(script())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let out = std::thread::scope(|s| {
        s.spawn(move || {
            let mut w = std::io::BufWriter::new(&mut stdin);
            for (case, job) in requests {
                let mode = if job.algorithm.is_exclusive() { 1 } else { 0 };
                let (apex, exclude) = job.target(case);
                let index = |i: Option<usize>| i.map_or(-1, |i| i as i64);
                write!(
                    w,
                    "J {} {mode} {} {} {}",
                    case.xml.len(),
                    u8::from(job.algorithm.with_comments()),
                    index(apex),
                    index(exclude)
                )
                .expect("write to python3");
                for p in &job.prefixes {
                    write!(w, " {p}").expect("write to python3");
                }
                w.write_all(b"\n").expect("write to python3");
                w.write_all(&case.xml).expect("write to python3");
            }
            w.flush().expect("write to python3");
            drop(w);
            drop(stdin);
        });
        let mut r = BufReader::new(stdout);
        let mut out = Vec::with_capacity(requests.len());
        for _ in requests {
            let mut line = String::new();
            r.read_line(&mut line).expect("read from python3");
            let line = line.trim_end();
            if let Some(n) = line.strip_prefix("OK ") {
                let n: usize = n.parse().expect("a length");
                let mut bytes = vec![0; n];
                r.read_exact(&mut bytes).expect("read from python3");
                out.push(Ok(bytes));
            } else if let Some(msg) = line.strip_prefix("ERR ") {
                out.push(Err(msg.to_owned()));
            } else {
                panic!("{} broke off: {line:?}", script().display());
            }
        }
        out
    });
    let status = child.wait().expect("python3 ends");
    assert!(status.success(), "python3 failed: {status}");
    out
}

/// Separates documents in xmllint's output: xmllint writes each file's canonical form with no
/// delimiter, so a tiny separator document goes between them.
const SEPARATOR: &[u8] = b"<sso-difftest-separator-7f3a></sso-difftest-separator-7f3a>";

fn xmllint(requests: &[(&Case, &Job)]) -> Vec<Outcome> {
    if requests.is_empty() {
        return Vec::new();
    }
    let dir = TempDir::new();
    let sep = dir.path.join("sep.xml");
    std::fs::write(&sep, SEPARATOR).expect("write a temporary file");
    let mut out = Vec::with_capacity(requests.len());
    for (chunk_no, chunk) in requests.chunks(2000).enumerate() {
        for exclusive in [false, true] {
            let mut args: Vec<PathBuf> = Vec::new();
            let mut which = Vec::new();
            for (i, (case, job)) in chunk.iter().enumerate() {
                assert!(job.target(case) == (None, None) && job.prefixes.is_empty());
                assert!(job.algorithm.with_comments());
                if job.algorithm.is_exclusive() != exclusive {
                    continue;
                }
                let f = dir.path.join(format!("{chunk_no}-{i}.xml"));
                std::fs::write(&f, &case.xml).expect("write a temporary file");
                args.push(f);
                args.push(sep.clone());
                which.push(i);
            }
            if which.is_empty() {
                continue;
            }
            let output = Command::new("xmllint")
                .arg("--nonet")
                .arg(if exclusive { "--exc-c14n" } else { "--c14n" })
                .args(&args)
                .output()
                .expect("xmllint runs");
            let mut pieces = split(&output.stdout, SEPARATOR);
            assert_eq!(
                pieces.len(),
                which.len() + 1,
                "xmllint output does not split into one piece per document; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            pieces.pop();
            for (i, piece) in which.into_iter().zip(pieces) {
                let r = if piece.is_empty() {
                    Err("xmllint refused the document".to_owned())
                } else {
                    Ok(piece.to_vec())
                };
                out.push((chunk_no * 2000 + i, r));
            }
        }
    }
    out.sort_by_key(|(i, _)| *i);
    assert_eq!(out.len(), requests.len());
    out.into_iter().map(|(_, r)| r).collect()
}

fn split<'a>(mut haystack: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(at) = haystack.windows(sep.len()).position(|w| w == sep) {
        out.push(&haystack[..at]);
        haystack = &haystack[at + sep.len()..];
    }
    out.push(haystack);
    out
}

struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("sso-difftest-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Whether our outcome and libxml2's agree, allowing for libxml2's one known deviation.
fn same(ours: &Outcome, theirs: &Outcome) -> bool {
    match (ours, theirs) {
        (Ok(a), Ok(b)) => as_libxml2_writes_namespaces(a) == *b,
        _ => false,
    }
}

/// libxml2 writes namespace declaration values unescaped (`xmlns:q="urn:q?a=1&b=2"`), while
/// Canonical XML 1.0 section 2.3 processes a namespace node "in the same way as an attribute
/// node", whose value has `&` replaced by `&amp;` (as do Santuario and xmlsec's other
/// back-ends). Of the characters that need escaping only `&` can occur in a namespace name that
/// libxml2's canonicalizer accepts at all (see [`URIS`]), so our output is compared after
/// turning `&amp;` back into `&` inside namespace declarations, and nowhere else. (No generated
/// text, comment, PI or attribute contains ` xmlns`.)
fn as_libxml2_writes_namespaces(ours: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ours.len());
    let mut rest = ours;
    while let Some(at) = rest.windows(6).position(|w| w == b" xmlns") {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at..];
        let Some(open) = rest.windows(2).position(|w| w == b"=\"") else {
            break;
        };
        let value_start = open + 2;
        let Some(len) = rest[value_start..].iter().position(|&b| b == b'"') else {
            break;
        };
        out.extend_from_slice(&rest[..value_start]);
        let value = &rest[value_start..value_start + len];
        let mut v = value;
        while let Some(amp) = v.windows(5).position(|w| w == b"&amp;") {
            out.extend_from_slice(&v[..amp + 1]);
            v = &v[amp + 5..];
        }
        out.extend_from_slice(v);
        rest = &rest[value_start + len..];
    }
    out.extend_from_slice(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Shrinking: smaller documents that still show the same difference.

fn variants(d: &Doc) -> Vec<Doc> {
    let mut out = Vec::new();
    let with = |f: &dyn Fn(&mut Doc)| {
        let mut d = d.clone();
        f(&mut d);
        d
    };
    if d.bom {
        out.push(with(&|d| d.bom = false));
    }
    if d.decl.is_some() {
        out.push(with(&|d| d.decl = None));
    }
    for i in 0..d.prolog.len() {
        out.push(with(&|d| {
            d.prolog.remove(i);
        }));
    }
    for i in 0..d.epilog.len() {
        out.push(with(&|d| {
            d.epilog.remove(i);
        }));
    }
    for e in elem_variants(&d.root) {
        out.push(with(&|d| d.root = e.clone()));
    }
    out
}

fn fewer<T: Clone>(v: &[T]) -> Vec<Vec<T>> {
    (0..v.len())
        .map(|i| {
            let mut v = v.to_vec();
            v.remove(i);
            v
        })
        .collect()
}

fn elem_variants(e: &Elem) -> Vec<Elem> {
    let mut out = Vec::new();
    let with = |f: &dyn Fn(&mut Elem)| {
        let mut e = e.clone();
        f(&mut e);
        e
    };
    for i in 0..e.children.len() {
        out.push(with(&|e| {
            e.children.remove(i);
        }));
        if let Content::Element(c) = &e.children[i] {
            if c.mark == Mark::None {
                let grandchildren = c.children.clone();
                out.push(with(&|e| {
                    e.children.splice(i..=i, grandchildren.clone());
                }));
            }
        }
    }
    for items in fewer(&e.items) {
        out.push(with(&|e| e.items = items.clone()));
    }
    if !e.space_end.is_empty() || !e.space_close.is_empty() {
        out.push(with(&|e| {
            e.space_end = "";
            e.space_close = "";
        }));
    }
    for (i, item) in e.items.iter().enumerate() {
        if item.space != " " || item.equals != "=" || item.quote != '"' {
            out.push(with(&|e| {
                let it = &mut e.items[i];
                it.space = " ";
                it.equals = "=";
                it.quote = '"';
            }));
        }
        if let ItemKind::Attr { value, .. } = &item.kind {
            for v in fewer(value) {
                out.push(with(&|e| {
                    if let ItemKind::Attr { value, .. } = &mut e.items[i].kind {
                        *value = v.clone();
                    }
                }));
            }
        }
    }
    for (i, c) in e.children.iter().enumerate() {
        let pieces = match c {
            Content::Text(t) | Content::CData(t) | Content::Comment(t) => fewer(t),
            Content::Pi(p) => fewer(&p.data),
            Content::Element(_) => Vec::new(),
        };
        for p in pieces {
            out.push(with(&|e| match &mut e.children[i] {
                Content::Text(t) | Content::CData(t) | Content::Comment(t) => *t = p.clone(),
                Content::Pi(pi) => pi.data = p.clone(),
                Content::Element(_) => {}
            }));
        }
        if let Content::Element(c) = c {
            for v in elem_variants(c) {
                out.push(with(&|e| e.children[i] = Content::Element(v.clone())));
            }
        }
    }
    out
}

/// The smallest variant of `doc` found that still shows a difference for `job`: we and libxml2
/// both accept it and disagree.
fn shrink(mut doc: Doc, job: &Job) -> Doc {
    for _ in 0..200 {
        let cases: Vec<(Doc, Case)> = variants(&doc)
            .into_iter()
            .map(|d| {
                let c = Case::new(&d);
                (d, c)
            })
            .filter(|(_, c)| (c.apex.is_some() || !job.subtree) && Document::parse(&c.xml).is_ok())
            .collect();
        let requests: Vec<(&Case, &Job)> = cases.iter().map(|(_, c)| (c, job)).collect();
        let theirs = libxml2(&requests);
        let found = cases.iter().zip(theirs).position(|((_, case), theirs)| {
            let ours = ours(case, &[job]).pop().expect("one result");
            ours.is_ok() && theirs.is_ok() && !same(&ours, &theirs)
        });
        match found {
            Some(i) => doc = cases.into_iter().nth(i).expect("found").0,
            None => break,
        }
    }
    doc
}

// ---------------------------------------------------------------------------------------------

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        }
        Err(_) => default,
    }
}

fn doc_for(seed: u64, index: usize) -> (Doc, Vec<Job>) {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    rng.next();
    let mut g = Gen {
        rng,
        budget: 4 + index % 24,
    };
    let doc = g.doc();
    let jobs = jobs(&mut g.rng);
    (doc, jobs)
}

fn show(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

#[test]
fn canonical_forms_match_libxml2() {
    require_tools();
    let count = env_number("SSO_DIFFTEST_COUNT", DEFAULT_COUNT as u64) as usize;
    let seed = env_number("SSO_DIFFTEST_SEED", DEFAULT_SEED);
    let started = Instant::now();

    let mut docs = Vec::with_capacity(count);
    let mut cases = Vec::with_capacity(count);
    let mut all_jobs = Vec::with_capacity(count);
    let mut bytes = 0;
    for i in 0..count {
        let (doc, jobs) = doc_for(seed, i);
        let case = Case::new(&doc);
        bytes += case.xml.len();
        docs.push(doc);
        cases.push(case);
        all_jobs.push(jobs);
    }
    let mut requests = Vec::new();
    let mut owner = Vec::new();
    for (i, (case, jobs)) in cases.iter().zip(&all_jobs).enumerate() {
        for job in jobs {
            requests.push((case, job));
            owner.push(i);
        }
    }
    let theirs = libxml2(&requests);
    let libxml2_done = started.elapsed();

    let mut ours_all = Vec::with_capacity(requests.len());
    for (case, jobs) in cases.iter().zip(&all_jobs) {
        ours_all.extend(ours(case, &jobs.iter().collect::<Vec<_>>()));
    }

    let mut failures = Vec::new();
    for (k, ((ours, theirs), &i)) in ours_all.iter().zip(&theirs).zip(&owner).enumerate() {
        if !same(ours, theirs) {
            failures.push((k, i));
        }
    }
    let subtrees = requests.iter().filter(|(_, j)| j.subtree).count();
    let minus = requests
        .iter()
        .filter(|(c, j)| j.target(c).1.is_some())
        .count();
    let prefix_lists = requests
        .iter()
        .filter(|(_, j)| !j.prefixes.is_empty())
        .count();
    eprintln!(
        "differential: {count} documents ({} KiB), seed {seed:#x}: {} canonicalizations each \
         way ({subtrees} of subtrees; {minus} minus a descendant; {prefix_lists} with an \
         InclusiveNamespaces list), {:.1?} (libxml2 side {:.1?}), {} differences",
        bytes / 1024,
        requests.len(),
        started.elapsed(),
        libxml2_done,
        failures.len()
    );
    if failures.is_empty() {
        return;
    }
    let mut seen_docs = Vec::new();
    for &(k, i) in &failures {
        if seen_docs.contains(&i) {
            continue;
        }
        seen_docs.push(i);
        if seen_docs.len() > 5 {
            break;
        }
        let job = requests[k].1;
        eprintln!(
            "\n=== difference: SSO_DIFFTEST_SEED={seed:#x}, document #{i}: {}",
            job.describe(&cases[i])
        );
        eprintln!("document:  {}", show(&cases[i].xml));
        eprintln!("ours:      {:?}", ours_all[k].as_ref().map(|b| show(b)));
        eprintln!("libxml2:   {:?}", theirs[k].as_ref().map(|b| show(b)));
        if ours_all[k].is_ok() && theirs[k].is_ok() {
            let small = Case::new(&shrink(docs[i].clone(), job));
            let ours = ours(&small, &[job]).pop().expect("one result");
            let theirs = libxml2(&[(&small, job)]).pop().expect("one result");
            eprintln!("shrunk to: {}", show(&small.xml));
            eprintln!("           {}", job.describe(&small));
            eprintln!("ours:      {:?}", ours.as_ref().map(|b| show(b)));
            eprintln!("libxml2:   {:?}", theirs.as_ref().map(|b| show(b)));
        }
    }
    panic!(
        "{} of {} canonical forms differ from libxml2's (in {} documents); see above",
        failures.len(),
        requests.len(),
        {
            let mut d: Vec<usize> = failures.iter().map(|f| f.1).collect();
            d.dedup();
            d.len()
        }
    );
}

/// The generator itself: documents are well formed for libxml2 and cover what they should.
#[test]
fn generator_covers_the_features() {
    let mut all = String::new();
    for i in 0..300 {
        all.push_str(&write_doc(&doc_for(DEFAULT_SEED, i).0));
    }
    for needle in [
        "xmlns=\"\"",
        "xmlns:",
        "xml:lang",
        "xml:space",
        "&#xD;",
        "&#x9;",
        "&#xA;",
        "\r\n",
        "<![CDATA[",
        "<!--",
        "<?pi",
        "&amp;",
        "&lt;",
        "&gt;",
        "&quot;",
        "&apos;",
        "é",
        "\t",
        "<?xml ",
        "]]><![CDATA[>",
    ] {
        assert!(
            all.contains(needle),
            "no generated document contains {needle:?}"
        );
    }
}

/// The namespace `prefix` is bound to in `scope` (innermost first), `""` when unbound.
fn lookup(scope: &[(&str, &'static str)], prefix: &str) -> &'static str {
    scope
        .iter()
        .rev()
        .find(|(q, _)| *q == prefix)
        .map_or("", |(_, u)| *u)
}
