//! Bytes to a [`Document`]: xml-rs driven strictly (no DOCTYPE, one root, UTF-8 only) with
//! every [`Limits`] bound checked on each event.

use rustc_hash::FxHashMap;
use xml::common::Position as _;
use xml::reader::{ErrorKind as XmlErrorKind, EventReader, ParserConfig, XmlEvent};

use crate::error::{Error, ErrorKind, Limit, Position};
use crate::limits::Limits;
use crate::tree::{
    AttrData, Document, NONE, NodeData, NsDecl, Payload, PrefixId, QName, Span, UriId,
};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

impl Document {
    /// Parses `input` with the default [`Limits`].
    pub fn parse(input: &[u8]) -> Result<Document, Error> {
        Document::parse_with(input, &Limits::default())
    }

    /// Parses `input`, refusing anything outside `limits`.
    ///
    /// Only UTF-8 is accepted (a byte-order mark is skipped): SAML messages travel as UTF-8 and
    /// one encoding means one way to read every byte. An XML declaration may name it in any
    /// letter case (`UTF-8`, `utf-8`); any other name is `unsupported-encoding`, even when every
    /// byte is ASCII (`US-ASCII`, `ISO-8859-1`) and even for `utf8`, which is not its name.
    pub fn parse_with(input: &[u8], limits: &Limits) -> Result<Document, Error> {
        if input.len() > limits.max_input_bytes {
            return Err(Error::limit(
                Limit::InputBytes,
                limits.max_input_bytes,
                None,
            ));
        }
        let (bom, input) = match input.strip_prefix(UTF8_BOM) {
            Some(rest) => (UTF8_BOM.len(), rest),
            None => (0, input),
        };
        if let Err(e) = std::str::from_utf8(input) {
            if let Some(declared) =
                declared_encoding(input).filter(|d| !d.eq_ignore_ascii_case("utf-8"))
            {
                return Err(Error::new(
                    ErrorKind::UnsupportedEncoding(declared.to_owned()),
                    Some(Position { line: 1, column: 1 }),
                ));
            }
            return Err(Error::new(
                ErrorKind::NotUtf8 {
                    // An offset into what the caller passed, byte-order mark included.
                    byte_offset: bom + e.valid_up_to(),
                },
                None,
            ));
        }
        Builder::new(input, limits).run()
    }
}

/// The encoding named by an XML declaration at the very start of `input`, read as ASCII, so
/// that a document in another encoding is refused for the encoding it declares (what its
/// sender must change) rather than for its first byte that is not UTF-8. Only consulted for
/// input that is not UTF-8, which is refused either way.
fn declared_encoding(input: &[u8]) -> Option<&str> {
    let rest = input.strip_prefix(b"<?xml")?;
    if !matches!(rest.first(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        return None;
    }
    // A declaration is short; look no further.
    let window = rest.get(..rest.len().min(256))?;
    let declaration = window.get(..window.windows(2).position(|w| w == b"?>")?)?;
    let at = declaration.windows(8).position(|w| w == b"encoding")?;
    let value = declaration
        .get(at + 8..)?
        .trim_ascii_start()
        .strip_prefix(b"=")?
        .trim_ascii_start();
    let (&quote, value) = value.split_first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let name = value.get(..value.iter().position(|&b| b == quote)?)?;
    std::str::from_utf8(name).ok()
}

/// Whether a DOCTYPE declaration follows the XML declaration, comments, processing
/// instructions and whitespace at the start of `input`: the only place one may stand. Linear in
/// the prolog.
fn prolog_has_doctype(input: &[u8]) -> bool {
    fn after<'i>(rest: &'i [u8], open: usize, close: &[u8]) -> Option<&'i [u8]> {
        let body = rest.get(open..)?;
        let end = body.windows(close.len()).position(|w| w == close)?;
        body.get(end + close.len()..)
    }
    let mut rest = input;
    loop {
        while let [b' ' | b'\t' | b'\r' | b'\n', tail @ ..] = rest {
            rest = tail;
        }
        let next = if rest.starts_with(b"<!--") {
            after(rest, 4, b"-->")
        } else if rest.starts_with(b"<?") {
            after(rest, 2, b"?>")
        } else {
            return rest.starts_with(b"<!DOCTYPE");
        };
        match next {
            Some(next) => rest = next,
            None => return false,
        }
    }
}

/// Namespace work allowed per input byte, and on top of that for any input; a binding costs
/// its prefix and URI lengths plus [`BINDING_COST`]. See [`Limit::NamespaceScope`].
const NAMESPACE_WORK_PER_BYTE: usize = 128;
const NAMESPACE_WORK_BASE: usize = 1 << 20;
/// What copying one binding costs beyond its bytes (two allocations and a map insertion),
/// in the same unit as a byte copied.
const BINDING_COST: usize = 64;
/// The entries xml-rs keeps for `xml`, `xmlns` and the default namespace, copied each time.
const FIXED_BINDINGS: usize = 3;
/// How far xml-rs may have read past the end of the event it reports: the `<` and the first
/// character of the next tag's name (it reports text on seeing them). No `xmlns` of a start
/// tag can stand that early, so a start tag's declarations all lie in the input read since
/// the previous event, less this.
const LOOKAHEAD: usize = 16;

/// How many times `xmlns` occurs in `bytes`: every namespace declaration contains it.
///
/// Looks at the last byte of each five-byte window and skips as far as that byte allows (the
/// Horspool rule), so most bytes are looked at once in five.
fn count_xmlns(bytes: &[u8]) -> usize {
    let mut count = 0;
    let mut i = 0;
    while let Some(&last) = bytes.get(i + 4) {
        i += match last {
            b's' => {
                if bytes.get(i..i + 5) == Some(b"xmlns") {
                    count += 1;
                }
                5
            }
            b'n' => 1,
            b'l' => 2,
            b'm' => 3,
            b'x' => 4,
            _ => 5,
        };
    }
    count
}

/// A start tag as xml-rs reports it, and the input it read for it (see [`LOOKAHEAD`]).
struct StartTag<'e> {
    name: &'e xml::name::OwnedName,
    attributes: &'e [xml::attribute::OwnedAttribute],
    namespace: &'e xml::namespace::Namespace,
    window: std::ops::Range<usize>,
}

/// What xml-rs holds for one open element, in the terms of [`Limit::NamespaceScope`].
#[derive(Clone, Copy)]
struct Frame {
    /// At most how many bindings its start tag declared, and their bytes.
    declared: usize,
    declared_bytes: usize,
    /// The entries of the namespace map xml-rs reported for it, and their bytes.
    in_scope: usize,
    in_scope_bytes: usize,
}

fn parser_config(limits: &Limits) -> ParserConfig {
    // Our own limits are checked on each event with precise errors. xml-rs' limits only keep
    // its internal buffers bounded by the input size in the meantime.
    let bound = limits.max_input_bytes.saturating_add(1);
    let mut config = ParserConfig::new()
        .trim_whitespace(false)
        .whitespace_to_characters(true)
        .cdata_to_characters(true)
        .ignore_comments(false)
        .coalesce_characters(true)
        .ignore_root_level_whitespace(true)
        .ignore_end_of_stream(false)
        .replace_unknown_entity_references(false);
    config.allow_multiple_root_elements = true; // detected below, with a typed error
    config.max_entity_expansion_length = 0;
    config.max_entity_expansion_depth = 0;
    config.max_attributes = bound;
    config.max_attribute_length = bound;
    config.max_data_length = bound;
    config.max_name_length = bound;
    config
}

struct Builder<'a> {
    input: &'a [u8],
    reader: EventReader<&'a [u8]>,
    limits: &'a Limits,
    nodes: Vec<NodeData>,
    attrs: Vec<AttrData>,
    decls: Vec<NsDecl>,
    strings: String,
    prefixes: Vec<Span>,
    prefix_ids: FxHashMap<String, PrefixId>,
    uris: Vec<Span>,
    uri_ids: FxHashMap<String, UriId>,
    /// The prefix and URI interned last (0 until then): consecutive names mostly repeat them.
    last_prefix: PrefixId,
    last_uri: UriId,
    /// In-scope binding for each prefix id (`NONE` = unbound).
    scope: Vec<UriId>,
    /// Undo log for `scope`: (prefix, previous binding).
    undo: Vec<(PrefixId, UriId)>,
    /// Open elements: (node id, undo log length at entry).
    open: Vec<(u32, usize)>,
    root_element: u32,
    /// Namespace copying, see [`Limit::NamespaceScope`]: a frame for each open element; the
    /// sums of what they declared; the work so far and its budget.
    frames: Vec<Frame>,
    open_bindings: usize,
    open_binding_bytes: usize,
    /// How much input xml-rs had read at the latest event.
    last_offset: usize,
    namespace_work: usize,
    namespace_budget: usize,
}

impl<'a> Builder<'a> {
    fn new(input: &'a [u8], limits: &'a Limits) -> Self {
        let mut b = Builder {
            input,
            reader: EventReader::new_with_config(input, parser_config(limits)),
            limits,
            nodes: Vec::with_capacity(input.len() / 24 + 4),
            attrs: Vec::new(),
            decls: Vec::new(),
            strings: String::with_capacity(input.len()),
            prefixes: Vec::new(),
            prefix_ids: FxHashMap::default(),
            uris: Vec::new(),
            uri_ids: FxHashMap::default(),
            last_prefix: 0,
            last_uri: 0,
            scope: Vec::new(),
            undo: Vec::new(),
            open: Vec::new(),
            root_element: NONE,
            frames: Vec::new(),
            open_bindings: 0,
            open_binding_bytes: 0,
            last_offset: 0,
            namespace_work: 0,
            namespace_budget: input
                .len()
                .saturating_mul(NAMESPACE_WORK_PER_BYTE)
                .saturating_add(NAMESPACE_WORK_BASE),
        };
        b.intern_prefix_slow(""); // id 0: no prefix
        b.intern_uri_slow(""); // id 0: no namespace
        if let Some(default) = b.scope.first_mut() {
            *default = 0; // the default namespace starts out as "no namespace"
        }
        b.nodes.push(NodeData {
            payload: Payload::Document,
            parent: NONE,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            end: 1,
            position: Position { line: 1, column: 1 },
        });
        b
    }

    fn position(&self) -> Position {
        let p = self.reader.position();
        Position {
            line: u32::try_from(p.row.saturating_add(1)).unwrap_or(u32::MAX),
            column: u32::try_from(p.column.saturating_add(1)).unwrap_or(u32::MAX),
        }
    }

    fn push_str(&mut self, s: &str) -> Span {
        let start = self.strings.len();
        self.strings.push_str(s);
        // Input is bounded by `max_input_bytes`, and the arena holds at most the input's
        // text once more, so these fit unless a caller raises the limit past 2 GiB.
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(s.len()).unwrap_or(0),
        }
    }

    fn uri(&self, id: UriId) -> &str {
        self.span_str(self.uris.get(id as usize).copied())
    }

    fn span_str(&self, span: Option<Span>) -> &str {
        let Some(span) = span else { return "" };
        let start = span.start as usize;
        self.strings
            .get(start..start + span.len as usize)
            .unwrap_or_default()
    }

    fn intern_prefix(&mut self, p: &str) -> PrefixId {
        // Most names are unprefixed, and consecutive elements mostly share a prefix: answer
        // those without hashing.
        if p.is_empty() {
            return 0;
        }
        let last = self.last_prefix;
        if self.span_str(self.prefixes.get(last as usize).copied()) == p {
            return last;
        }
        let id = self.intern_prefix_slow(p);
        self.last_prefix = id;
        id
    }

    fn intern_prefix_slow(&mut self, p: &str) -> PrefixId {
        if let Some(id) = self.prefix_ids.get(p) {
            return *id;
        }
        let id = self.prefixes.len() as PrefixId;
        let span = self.push_str(p);
        self.prefixes.push(span);
        self.scope.push(NONE);
        self.prefix_ids.insert(p.to_owned(), id);
        id
    }

    fn intern_uri(&mut self, u: &str) -> UriId {
        if u.is_empty() {
            return 0;
        }
        let last = self.last_uri;
        if self.span_str(self.uris.get(last as usize).copied()) == u {
            return last;
        }
        let id = self.intern_uri_slow(u);
        self.last_uri = id;
        id
    }

    fn intern_uri_slow(&mut self, u: &str) -> UriId {
        if let Some(id) = self.uri_ids.get(u) {
            return *id;
        }
        let id = self.uris.len() as UriId;
        let span = self.push_str(u);
        self.uris.push(span);
        self.uri_ids.insert(u.to_owned(), id);
        id
    }

    fn check_text(&self, len: usize) -> Result<(), Error> {
        if len > self.limits.max_text_len {
            return Err(Error::limit(
                Limit::TextLength,
                self.limits.max_text_len,
                Some(self.position()),
            ));
        }
        Ok(())
    }

    fn check_name(&self, len: usize) -> Result<(), Error> {
        if len > self.limits.max_name_len {
            return Err(Error::limit(
                Limit::NameLength,
                self.limits.max_name_len,
                Some(self.position()),
            ));
        }
        Ok(())
    }

    fn parent(&self) -> u32 {
        self.open.last().map_or(0, |(id, _)| *id)
    }

    fn add_node(&mut self, payload: Payload, position: Position) -> Result<u32, Error> {
        if self.nodes.len() > self.limits.max_nodes {
            return Err(Error::limit(
                Limit::Nodes,
                self.limits.max_nodes,
                Some(position),
            ));
        }
        let id = self.nodes.len() as u32;
        let parent = self.parent();
        self.nodes.push(NodeData {
            payload,
            parent,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            end: id + 1,
            position,
        });
        let prev_last = self
            .nodes
            .get(parent as usize)
            .map_or(NONE, |p| p.last_child);
        if let Some(prev) = self.nodes.get_mut(prev_last as usize) {
            prev.next_sibling = id;
        }
        if let Some(p) = self.nodes.get_mut(parent as usize) {
            if p.first_child == NONE {
                p.first_child = id;
            }
            p.last_child = id;
        }
        Ok(id)
    }

    /// Accounts for what xml-rs did to report this element's namespaces: it copied every
    /// binding of every open element's frame (shadowed ones included) into a fresh map. We see
    /// only the bindings in scope, so each frame is bounded from above by the `xmlns`
    /// occurring in the input xml-rs read for that element (its start tag, `declared_here`
    /// times in `window`), and by what is in scope there (`in_scope`: entries and bytes).
    fn charge_namespace_work(
        &mut self,
        declared_here: usize,
        window: std::ops::Range<usize>,
        in_scope: (usize, usize),
        position: Position,
    ) -> Result<(), Error> {
        let (in_scope, in_scope_bytes) = in_scope;
        let frame = Frame {
            declared: declared_here.min(in_scope),
            declared_bytes: in_scope_bytes.min(window.end - window.start.min(window.end)),
            in_scope,
            in_scope_bytes,
        };
        let copied = FIXED_BINDINGS + self.open_bindings + frame.declared;
        let copied_bytes = self.open_binding_bytes + frame.declared_bytes;
        let work = copied
            .saturating_mul(BINDING_COST)
            .saturating_add(copied_bytes);
        self.namespace_work = self.namespace_work.saturating_add(work);
        if self.namespace_work > self.namespace_budget {
            return Err(Error::limit(
                Limit::NamespaceScope,
                self.namespace_budget,
                Some(position),
            ));
        }
        self.frames.push(frame);
        self.open_bindings += frame.declared;
        self.open_binding_bytes += frame.declared_bytes;
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn map_error(&self, e: &xml::reader::Error) -> Error {
        let p = e.position();
        let position = Some(Position {
            line: u32::try_from(p.row.saturating_add(1)).unwrap_or(u32::MAX),
            column: u32::try_from(p.column.saturating_add(1)).unwrap_or(u32::MAX),
        });
        if self.root_element == NONE && self.open.is_empty() && prolog_has_doctype(self.input) {
            // xml-rs reads the whole DTD before it reports the DOCTYPE, and may stop inside it
            // (a parameter entity it will not expand, a declaration it does not know): the
            // DOCTYPE is still the reason.
            return Error::new(ErrorKind::DoctypeForbidden, position);
        }
        match e.kind() {
            XmlErrorKind::UnexpectedEof => Error::new(ErrorKind::Truncated, position),
            XmlErrorKind::Utf8(_) => Error::new(ErrorKind::NotUtf8 { byte_offset: 0 }, position),
            XmlErrorKind::Syntax(msg) if msg.starts_with("Unexpected end of stream") => {
                if self.root_element == NONE && self.open.is_empty() && msg.contains("no root") {
                    Error::new(ErrorKind::NoRoot, position)
                } else {
                    Error::new(ErrorKind::Truncated, position)
                }
            }
            // xml-rs raises this only at the end of the input.
            XmlErrorKind::Syntax(msg) if msg.starts_with("Unclosed <![CDATA[") => {
                Error::new(ErrorKind::Truncated, position)
            }
            XmlErrorKind::Syntax(msg) => {
                // An encoding xml-rs does not know, or one that contradicts the bytes (UTF-16
                // declared in a UTF-8 document).
                let declared = msg.strip_prefix("Unsupported encoding: ").or_else(|| {
                    msg.strip_prefix("Declared encoding ")
                        .and_then(|rest| rest.split_once(", but uses "))
                        .map(|(declared, _)| declared)
                });
                match declared {
                    Some(enc) => Error::new(ErrorKind::UnsupportedEncoding(enc.into()), position),
                    None => Error::new(ErrorKind::Malformed(msg.to_string()), position),
                }
            }
            _ => Error::new(ErrorKind::Malformed(e.to_string()), position),
        }
    }

    /// Reads every event into the tree, then hands the tree over.
    fn run(mut self) -> Result<Document, Error> {
        loop {
            let event = match self.reader.next() {
                Ok(ev) => ev,
                Err(e) => return Err(self.map_error(&e)),
            };
            let position = self.position();
            // Where the input of this event starts: after the previous one.
            let consumed = self.input.len() - self.reader.source().len();
            let event_start = std::mem::replace(&mut self.last_offset, consumed);
            match event {
                XmlEvent::StartDocument { encoding, .. } => {
                    if !encoding.eq_ignore_ascii_case("utf-8") {
                        return Err(Error::new(
                            ErrorKind::UnsupportedEncoding(encoding),
                            Some(position),
                        ));
                    }
                }
                XmlEvent::Doctype { .. } => {
                    return Err(Error::new(ErrorKind::DoctypeForbidden, Some(position)));
                }
                XmlEvent::StartElement {
                    name,
                    attributes,
                    namespace,
                } => {
                    let event = StartTag {
                        name: &name,
                        attributes: &attributes,
                        namespace: &namespace,
                        window: event_start.saturating_sub(LOOKAHEAD)..self.last_offset,
                    };
                    self.on_start_element(event, position)?;
                }
                XmlEvent::EndElement { .. } => self.end_element(position)?,
                XmlEvent::Characters(text) | XmlEvent::Whitespace(text) | XmlEvent::CData(text) => {
                    self.on_text(&text, position)?;
                }
                XmlEvent::Comment(text) => {
                    self.check_text(text.len())?;
                    let span = self.push_str(&text);
                    self.add_node(Payload::Comment(span), position)?;
                }
                XmlEvent::ProcessingInstruction { name, data } => {
                    self.processing_instruction(&name, data.as_deref(), position)?;
                }
                XmlEvent::EndDocument => break,
            }
        }
        self.finish()
    }

    /// An element's start: every bound, then the element stored and opened. Kept out of line,
    /// like the other handlers, so the loop around xml-rs stays small enough for the
    /// instruction cache.
    #[inline(never)]
    fn on_start_element(&mut self, tag: StartTag<'_>, position: Position) -> Result<(), Error> {
        let window = tag.window;
        // (A window outside the input cannot happen; if it did, nothing would be inherited.)
        let declared_here = self
            .input
            .get(window.clone())
            .map_or(usize::MAX, count_xmlns);
        // A start tag without `xmlns` declares nothing: xml-rs reports its parent's namespace
        // map again, already checked and recorded.
        let inherited = self.frames.last().copied().filter(|_| declared_here == 0);
        self.check_element_bounds(tag.attributes, position)?;
        let in_scope = match inherited {
            Some(parent) => {
                debug_assert!(self.declares_nothing(tag.namespace, parent));
                (parent.in_scope, parent.in_scope_bytes)
            }
            None => self.check_namespace_bounds(tag.namespace, position)?,
        };
        self.charge_namespace_work(declared_here, window, in_scope, position)?;
        let declared = inherited.is_none().then_some(tag.namespace);
        self.start_element(tag.name, tag.attributes, declared, position)
    }

    /// Character data: stored inside the root element, dropped outside it.
    #[inline(never)]
    fn on_text(&mut self, text: &str, position: Position) -> Result<(), Error> {
        self.check_text(text.len())?;
        if self.open.is_empty() {
            // Whitespace outside the root element is not part of the infoset that
            // canonicalization or SAML sees.
            return Ok(());
        }
        let span = self.push_str(text);
        self.add_node(Payload::Text(span), position)?;
        Ok(())
    }

    /// A second root, and the depth and attribute bounds, before anything of the element is
    /// stored.
    fn check_element_bounds(
        &self,
        attributes: &[xml::attribute::OwnedAttribute],
        position: Position,
    ) -> Result<(), Error> {
        if self.open.is_empty() && self.root_element != NONE {
            return Err(Error::new(ErrorKind::MultipleRoots, Some(position)));
        }
        if self.open.len() >= self.limits.max_depth {
            return Err(Error::limit(
                Limit::Depth,
                self.limits.max_depth,
                Some(position),
            ));
        }
        if attributes.len() > self.limits.max_attributes {
            return Err(Error::limit(
                Limit::Attributes,
                self.limits.max_attributes,
                Some(position),
            ));
        }
        Ok(())
    }

    /// The namespace bound, for an element whose start tag may declare namespaces; returns
    /// how many entries xml-rs reported and their bytes.
    fn check_namespace_bounds(
        &self,
        namespace: &xml::namespace::Namespace,
        position: Position,
    ) -> Result<(usize, usize), Error> {
        // xml-rs reports the whole in-scope mapping, including the fixed `xml` and
        // `xmlns` entries and one for the default namespace, there even when it is
        // not bound; bound it before walking it.
        let fixed = ["xml", "xmlns", ""]
            .into_iter()
            .filter(|p| namespace.0.contains_key(*p))
            .count();
        let default_bound = namespace.0.get("").is_some_and(|u| !u.is_empty());
        let bindings = namespace.0.len() - fixed + usize::from(default_bound);
        if bindings > self.limits.max_namespaces {
            return Err(Error::limit(
                Limit::Namespaces,
                self.limits.max_namespaces,
                Some(position),
            ));
        }
        let bytes = namespace.0.iter().map(|(p, u)| p.len() + u.len()).sum();
        Ok((namespace.0.len(), bytes))
    }

    /// Whether `namespace` is the map the parent's frame recorded, binding nothing anew:
    /// checked in debug builds, where the fast path skips reading it.
    fn declares_nothing(&self, namespace: &xml::namespace::Namespace, parent: Frame) -> bool {
        let bytes: usize = namespace.0.iter().map(|(p, u)| p.len() + u.len()).sum();
        namespace.0.len() == parent.in_scope
            && bytes == parent.in_scope_bytes
            && namespace.0.iter().all(|(prefix, uri)| {
                prefix == "xml"
                    || prefix == "xmlns"
                    || (prefix.is_empty() && uri.is_empty())
                    || self.prefix_ids.get(prefix.as_str()).is_some_and(|pid| {
                        let current = self.scope.get(*pid as usize).copied().unwrap_or(NONE);
                        current != NONE && self.uri(current) == uri.as_str()
                    })
            })
    }

    /// Stores an element: the bindings it changes, its name, its attributes, and opens it.
    fn start_element(
        &mut self,
        name: &xml::name::OwnedName,
        attributes: &[xml::attribute::OwnedAttribute],
        namespace: Option<&xml::namespace::Namespace>,
        position: Position,
    ) -> Result<(), Error> {
        let undo_mark = self.undo.len();
        let decls = match namespace {
            Some(namespace) => self.declare_namespaces(namespace)?,
            None => {
                let here = self.decls.len() as u32;
                here..here
            }
        };

        self.check_name(name.local_name.len())?;
        let qname = QName {
            prefix: self.intern_prefix(name.prefix.as_deref().unwrap_or("")),
            uri: self.intern_uri(name.namespace.as_deref().unwrap_or("")),
            local: self.push_str(&name.local_name),
        };
        let attrs = self.push_attributes(attributes)?;
        let id = self.add_node(
            Payload::Element {
                name: qname,
                attrs,
                decls,
            },
            position,
        )?;
        if self.open.is_empty() {
            self.root_element = id;
        }
        self.open.push((id, undo_mark));
        Ok(())
    }

    /// Records the bindings that differ from the parent's (xml-rs reports all in scope) as this
    /// element's declarations, with undo entries for its end; returns their range.
    fn declare_namespaces(
        &mut self,
        namespace: &xml::namespace::Namespace,
    ) -> Result<std::ops::Range<u32>, Error> {
        let decl_start = self.decls.len() as u32;
        for (prefix, uri) in &namespace.0 {
            if prefix == "xml" || prefix == "xmlns" {
                continue;
            }
            self.check_name(prefix.len())?;
            let pid = self.intern_prefix(prefix);
            // Most elements inherit their parent's bindings unchanged: compare the
            // strings before hashing anything.
            let current = self.scope.get(pid as usize).copied().unwrap_or(NONE);
            if current != NONE && self.uri(current) == uri.as_str() {
                continue;
            }
            self.check_text(uri.len())?;
            let uid = self.intern_uri(uri);
            let slot = self.scope.get_mut(pid as usize);
            if let Some(slot) = slot {
                if *slot != uid {
                    self.undo.push((pid, *slot));
                    *slot = uid;
                    self.decls.push(NsDecl {
                        prefix: pid,
                        uri: uid,
                    });
                }
            }
        }
        Ok(decl_start..self.decls.len() as u32)
    }

    /// Stores an element's attributes; returns their range.
    fn push_attributes(
        &mut self,
        attributes: &[xml::attribute::OwnedAttribute],
    ) -> Result<std::ops::Range<u32>, Error> {
        let attr_start = self.attrs.len() as u32;
        for a in attributes {
            self.check_name(a.name.local_name.len())?;
            self.check_text(a.value.len())?;
            let name = QName {
                prefix: self.intern_prefix(a.name.prefix.as_deref().unwrap_or("")),
                uri: self.intern_uri(a.name.namespace.as_deref().unwrap_or("")),
                local: self.push_str(&a.name.local_name),
            };
            let value = self.push_str(&a.value);
            self.attrs.push(AttrData { name, value });
        }
        Ok(attr_start..self.attrs.len() as u32)
    }

    /// Closes the open element: its namespace frame and bindings end, and its subtree's range
    /// is known.
    #[inline(never)]
    fn end_element(&mut self, position: Position) -> Result<(), Error> {
        if let Some(frame) = self.frames.pop() {
            self.open_bindings -= frame.declared;
            self.open_binding_bytes -= frame.declared_bytes;
        }
        let Some((id, undo_mark)) = self.open.pop() else {
            return Err(Error::new(
                ErrorKind::Malformed("unbalanced end tag".into()),
                Some(position),
            ));
        };
        while self.undo.len() > undo_mark {
            if let Some((pid, prev)) = self.undo.pop() {
                if let Some(slot) = self.scope.get_mut(pid as usize) {
                    *slot = prev;
                }
            }
        }
        let end = self.nodes.len() as u32;
        if let Some(n) = self.nodes.get_mut(id as usize) {
            n.end = end;
        }
        Ok(())
    }

    fn processing_instruction(
        &mut self,
        name: &str,
        data: Option<&str>,
        position: Position,
    ) -> Result<(), Error> {
        self.check_name(name.len())?;
        // A PI's content (XML infoset) and string-value (XPath, so c14n) leave out
        // all the whitespace after the target; xml-rs only drops its first character.
        let data = data.unwrap_or_default();
        let data = data.trim_start_matches([' ', '\t', '\r', '\n']);
        self.check_text(data.len())?;
        let target = self.push_str(name);
        let data = self.push_str(data);
        self.add_node(Payload::Pi { target, data }, position)?;
        Ok(())
    }

    /// The document once every event is read: it must have had a root.
    fn finish(mut self) -> Result<Document, Error> {
        if self.root_element == NONE {
            return Err(Error::new(ErrorKind::NoRoot, None));
        }
        let end = self.nodes.len() as u32;
        if let Some(doc) = self.nodes.get_mut(0) {
            doc.end = end;
        }
        Ok(Document {
            input_len: self.input.len(),
            nodes: self.nodes,
            attrs: self.attrs,
            decls: self.decls,
            strings: self.strings,
            prefixes: self.prefixes,
            uris: self.uris,
            root_element: self.root_element,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    /// Each element's declarations, in document order, as `name: prefix=uri ...`.
    fn declarations(xml: &str) -> Vec<String> {
        let doc = Document::parse(xml.as_bytes()).unwrap();
        doc.elements()
            .map(|e| {
                let decls: Vec<String> = e
                    .namespace_declarations()
                    .map(|(p, u)| format!("{}={u}", p.unwrap_or("#")))
                    .collect();
                format!("{}: {}", e.local_name(), decls.join(" "))
            })
            .collect()
    }

    #[test]
    fn start_tags_without_xmlns_inherit_and_all_others_are_read() {
        // Declarations right after text, a comment, a CDATA section, a processing
        // instruction, an empty element and an end tag (what xml-rs read before reporting the
        // previous event), a redeclaration to the same URI (no change), a default namespace
        // undeclared, `xmlns` in text and in an attribute value (read, declaring nothing).
        let xml = r#"<r xmlns:a="urn:a">text<x xmlns:b="urn:b"/><!--c--><y xmlns:a="urn:a2"><![CDATA[d]]><z xmlns="urn:d"><?pi x?><w xmlns=""/></z></y><e/><f xmlns:a="urn:a"/>xmlns<g t="xmlns:q"/><h>xmlns:b="urn:b"</h></r>"#;
        assert_eq!(
            declarations(xml),
            [
                "r: a=urn:a",
                "x: b=urn:b",
                "y: a=urn:a2",
                "z: #=urn:d",
                "w: #=",
                "e: ",
                "f: ",
                "g: ",
                "h: ",
            ]
        );
        let doc = Document::parse(xml.as_bytes()).unwrap();
        let w = doc.elements().find(|e| e.local_name() == "w").unwrap();
        assert_eq!(w.lookup_namespace(Some("a")), Some("urn:a2"));
        assert_eq!(w.lookup_namespace(None), None);
        let e = doc.elements().find(|e| e.local_name() == "e").unwrap();
        assert_eq!(e.lookup_namespace(Some("a")), Some("urn:a"));
        assert_eq!(e.lookup_namespace(Some("b")), None);
    }

    #[test]
    fn count_xmlns_finds_every_occurrence() {
        for (s, n) in [
            ("", 0),
            ("xmlns", 1),
            ("xmln", 0),
            ("xxmlns", 1),
            ("xmlnsxmlns", 2),
            ("a xmlns:a='x' xmlns='y'", 2),
            ("xmlnxmlns smlns", 1),
        ] {
            assert_eq!(count_xmlns(s.as_bytes()), n, "{s:?}");
        }
    }
}
