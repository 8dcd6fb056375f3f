//! Canonical XML 1.0 and exclusive c14n 1.0 of "a subtree minus at most one subtree", read from
//! the same tree the values come from, so what is hashed is what is used.

use std::io::{self, Write};

use crate::tree::{AttrData, Document, NONE, Node, Payload, PrefixId, UriId};

/// The canonicalization algorithms XML signatures use in SAML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum C14nAlgorithm {
    /// Canonical XML 1.0, `http://www.w3.org/TR/2001/REC-xml-c14n-20010315`.
    Inclusive,
    /// Canonical XML 1.0 with comments.
    InclusiveWithComments,
    /// Exclusive XML Canonicalization 1.0, `http://www.w3.org/2001/10/xml-exc-c14n#`.
    Exclusive,
    /// Exclusive XML Canonicalization 1.0 with comments.
    ExclusiveWithComments,
}

impl C14nAlgorithm {
    /// Every algorithm, for tables and tests.
    pub const ALL: [C14nAlgorithm; 4] = [
        C14nAlgorithm::Inclusive,
        C14nAlgorithm::InclusiveWithComments,
        C14nAlgorithm::Exclusive,
        C14nAlgorithm::ExclusiveWithComments,
    ];

    /// The algorithm an XML-DSig `Algorithm` URI names, `None` for anything else.
    pub fn from_uri(uri: &str) -> Option<C14nAlgorithm> {
        C14nAlgorithm::ALL.into_iter().find(|a| a.uri() == uri)
    }

    /// The algorithm's URI.
    pub fn uri(self) -> &'static str {
        match self {
            C14nAlgorithm::Inclusive => "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
            C14nAlgorithm::InclusiveWithComments => {
                "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
            }
            C14nAlgorithm::Exclusive => "http://www.w3.org/2001/10/xml-exc-c14n#",
            C14nAlgorithm::ExclusiveWithComments => {
                "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
            }
        }
    }

    /// Whether comments are kept.
    pub fn with_comments(self) -> bool {
        matches!(
            self,
            C14nAlgorithm::InclusiveWithComments | C14nAlgorithm::ExclusiveWithComments
        )
    }

    /// Whether this is exclusive canonicalization.
    pub fn is_exclusive(self) -> bool {
        matches!(
            self,
            C14nAlgorithm::Exclusive | C14nAlgorithm::ExclusiveWithComments
        )
    }
}

/// Canonicalizes a node and its descendants, optionally leaving one descendant out (the
/// enveloped-signature transform).
///
/// The node set is always "a subtree minus at most one subtree": that is all SAML signatures
/// need, and it keeps the namespace rules linear in the output (no XPath node-sets).
#[derive(Clone, Debug)]
pub struct Canonicalizer {
    algorithm: C14nAlgorithm,
    inclusive_prefixes: Vec<String>,
}

impl Canonicalizer {
    /// A canonicalizer for `algorithm`.
    pub fn new(algorithm: C14nAlgorithm) -> Self {
        Canonicalizer {
            algorithm,
            inclusive_prefixes: Vec::new(),
        }
    }

    /// The exclusive algorithm's InclusiveNamespaces PrefixList: prefixes (and `#default` for
    /// the default namespace) rendered by the inclusive rules. Ignored by inclusive
    /// canonicalization.
    pub fn inclusive_prefixes<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.inclusive_prefixes = prefixes
            .into_iter()
            .map(|p| p.as_ref().to_owned())
            .collect();
        self
    }

    /// The algorithm in use.
    pub fn algorithm(&self) -> C14nAlgorithm {
        self.algorithm
    }

    /// Writes the canonical form of `node` minus `exclude` to `out`.
    ///
    /// `node` may be the [document node](crate::Document::document_node) (the whole document)
    /// or any element. `exclude`, when given, is left out with all its descendants.
    pub fn canonicalize<W: Write + ?Sized>(
        &self,
        node: Node<'_>,
        exclude: Option<Node<'_>>,
        out: &mut W,
    ) -> io::Result<()> {
        let mut buf = Vec::with_capacity(CHUNK + 512);
        let mut sink = Sink {
            buf: &mut buf,
            out: Some(out),
            err: None,
        };
        self.render(node, exclude, &mut sink);
        sink.flush();
        match sink.err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Appends the canonical form of `node` minus `exclude` to `buf`, so a caller can reuse one
    /// buffer across documents.
    pub fn canonicalize_into(&self, node: Node<'_>, exclude: Option<Node<'_>>, buf: &mut Vec<u8>) {
        let mut sink: Sink<'_, dyn Write> = Sink {
            buf,
            out: None,
            err: None,
        };
        self.render(node, exclude, &mut sink);
    }

    /// The canonical form of `node` minus `exclude`.
    pub fn canonicalize_to_vec(&self, node: Node<'_>, exclude: Option<Node<'_>>) -> Vec<u8> {
        let mut buf = Vec::new();
        self.canonicalize_into(node, exclude, &mut buf);
        buf
    }

    fn render<W: Write + ?Sized>(
        &self,
        node: Node<'_>,
        exclude: Option<Node<'_>>,
        sink: &mut Sink<'_, W>,
    ) {
        let doc = node.doc;
        // A node to leave out only counts if it is in this document.
        let exclude = exclude.filter(|e| std::ptr::eq(e.doc, doc)).map(|e| e.id);
        let mut st = State::new(doc, self, exclude);
        match doc.data(node.id).payload {
            Payload::Document => {
                let mut seen_root = false;
                for child in node.children() {
                    if Some(child.id) == exclude {
                        continue;
                    }
                    if child.is_element() {
                        st.subtree(child, sink);
                        seen_root = true;
                    } else if st.wants_leaf(child) {
                        if seen_root {
                            sink.put(b"\n");
                        }
                        st.leaf(child, sink);
                        if !seen_root {
                            sink.put(b"\n");
                        }
                    }
                    sink.maybe_flush();
                    if sink.failed() {
                        break;
                    }
                }
            }
            _ => {
                if Some(node.id) != exclude {
                    st.subtree(node, sink);
                }
            }
        }
    }
}

const CHUNK: usize = 16 * 1024;

struct Sink<'a, W: Write + ?Sized> {
    buf: &'a mut Vec<u8>,
    out: Option<&'a mut W>,
    err: Option<io::Error>,
}

impl<W: Write + ?Sized> Sink<'_, W> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether the writer refused bytes: rendering stops there, since nothing more would be
    /// written (and a writer that caps its input, as a verifier's does, must cap the work too).
    fn failed(&self) -> bool {
        self.err.is_some()
    }

    fn maybe_flush(&mut self) {
        if self.buf.len() >= CHUNK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if let Some(out) = self.out.as_mut() {
            if self.err.is_none() {
                if let Err(e) = out.write_all(self.buf) {
                    self.err = Some(e);
                }
            }
            self.buf.clear();
        }
    }

    /// Canonical XML's text-node rules, from the one escaping module.
    fn text(&mut self, s: &str) {
        crate::escape::xml_text(s).extend_bytes(self.buf);
    }

    /// Canonical XML's attribute-value rules, from the one escaping module.
    fn attr(&mut self, s: &str) {
        crate::escape::xml_attribute(s).extend_bytes(self.buf);
    }
}

struct State<'d> {
    doc: &'d Document,
    exclusive: bool,
    comments: bool,
    exclude: Option<u32>,
    /// Prefix ids of the InclusiveNamespaces PrefixList that occur in this document.
    inclusive: Vec<PrefixId>,
    /// In-scope binding per prefix id (`NONE`: unbound).
    inscope: Vec<UriId>,
    /// Exclusive c14n: binding last rendered by an output ancestor, per prefix id.
    rendered: Vec<UriId>,
    /// Undo log: (table, prefix, previous value); table 0 = inscope, 1 = rendered.
    undo: Vec<(u8, PrefixId, UriId)>,
    marks: Vec<usize>,
    ns_out: Vec<(PrefixId, UriId)>,
    attrs_out: Vec<AttrData>,
    xml_prefix: Option<PrefixId>,
}

impl<'d> State<'d> {
    fn new(doc: &'d Document, c: &Canonicalizer, exclude: Option<u32>) -> Self {
        let n = doc.prefixes.len();
        let mut inscope = vec![NONE; n];
        if let Some(d) = inscope.first_mut() {
            *d = 0;
        }
        let mut rendered = vec![NONE; n];
        if let Some(d) = rendered.first_mut() {
            *d = 0;
        }
        let prefix_id = |p: &str| -> Option<PrefixId> {
            (0..n as PrefixId).find(|id| doc.prefix_str(*id) == p)
        };
        let exclusive = c.algorithm.is_exclusive();
        let mut inclusive: Vec<PrefixId> = if exclusive {
            c.inclusive_prefixes
                .iter()
                .filter_map(|p| {
                    if p == "#default" {
                        Some(0)
                    } else if p.is_empty() {
                        None
                    } else {
                        prefix_id(p)
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        inclusive.sort_unstable();
        inclusive.dedup();
        State {
            doc,
            exclusive,
            comments: c.algorithm.with_comments(),
            exclude,
            inclusive,
            inscope,
            rendered,
            undo: Vec::new(),
            marks: Vec::new(),
            ns_out: Vec::new(),
            attrs_out: Vec::new(),
            xml_prefix: prefix_id("xml"),
        }
    }

    fn set(&mut self, table: u8, pid: PrefixId, value: UriId) {
        let t = if table == 0 {
            &mut self.inscope
        } else {
            &mut self.rendered
        };
        if let Some(slot) = t.get_mut(pid as usize) {
            self.undo.push((table, pid, *slot));
            *slot = value;
        }
    }

    fn get(table: &[UriId], pid: PrefixId) -> UriId {
        table.get(pid as usize).copied().unwrap_or(NONE)
    }

    fn wants_leaf(&self, n: Node<'_>) -> bool {
        match n.doc.data(n.id).payload {
            Payload::Comment(_) => self.comments,
            Payload::Pi { .. } | Payload::Text(_) => true,
            _ => false,
        }
    }

    fn leaf<W: Write + ?Sized>(&self, n: Node<'_>, sink: &mut Sink<'_, W>) {
        match n.doc.data(n.id).payload {
            Payload::Text(s) => sink.text(self.doc.str(s)),
            Payload::Comment(s) if self.comments => {
                sink.put(b"<!--");
                sink.put(self.doc.str(s).as_bytes());
                sink.put(b"-->");
            }
            Payload::Pi { target, data } => {
                sink.put(b"<?");
                sink.put(self.doc.str(target).as_bytes());
                let data = self.doc.str(data);
                if !data.is_empty() {
                    sink.put(b" ");
                    sink.put(data.as_bytes());
                }
                sink.put(b"?>");
            }
            _ => {}
        }
    }

    fn subtree<W: Write + ?Sized>(&mut self, apex: Node<'d>, sink: &mut Sink<'_, W>) {
        if !apex.is_element() {
            if self.wants_leaf(apex) {
                self.leaf(apex, sink);
            }
            return;
        }
        // Bindings in scope at the apex come from its ancestors.
        let mut chain: Vec<Node<'d>> = Vec::new();
        let mut cur = apex.parent_element();
        while let Some(p) = cur {
            chain.push(p);
            cur = p.parent_element();
        }
        for anc in chain.iter().rev() {
            for d in anc.raw_decls() {
                if let Some(slot) = self.inscope.get_mut(d.prefix as usize) {
                    *slot = d.uri;
                }
            }
        }

        self.start(apex, true, sink);
        let mut open: Vec<Node<'d>> = vec![apex];
        let mut next = apex.first_child();
        loop {
            if sink.failed() {
                return;
            }
            match next {
                Some(n) if Some(n.id) == self.exclude => next = n.next_sibling(),
                Some(n) if n.is_element() => {
                    self.start(n, false, sink);
                    open.push(n);
                    next = n.first_child();
                }
                Some(n) => {
                    self.leaf(n, sink);
                    sink.maybe_flush();
                    next = n.next_sibling();
                }
                None => {
                    let Some(done) = open.pop() else { break };
                    self.end(done, sink);
                    if open.is_empty() {
                        break;
                    }
                    next = done.next_sibling();
                }
            }
        }
    }

    fn start<W: Write + ?Sized>(&mut self, e: Node<'d>, apex: bool, sink: &mut Sink<'_, W>) {
        self.marks.push(self.undo.len());
        let decls = e.raw_decls();
        for d in decls {
            self.set(0, d.prefix, d.uri);
        }
        let Some(name) = e.qname() else { return };

        self.ns_out.clear();
        if self.exclusive {
            let utilized = |st: &mut Self, pid: PrefixId| {
                if Some(pid) == st.xml_prefix || st.inclusive.contains(&pid) {
                    return;
                }
                let uri = Self::get(&st.inscope, pid);
                if uri != NONE && Self::get(&st.rendered, pid) != uri {
                    st.ns_out.push((pid, uri));
                    st.set(1, pid, uri);
                }
            };
            utilized(self, name.prefix);
            for a in e.raw_attrs() {
                if a.name.prefix != 0 {
                    utilized(self, a.name.prefix);
                }
            }
            for i in 0..self.inclusive.len() {
                let Some(&pid) = self.inclusive.get(i) else {
                    break;
                };
                self.inclusive_rule(pid, apex, decls.iter().find(|d| d.prefix == pid).is_some());
            }
        } else if apex {
            for pid in 0..self.inscope.len() as PrefixId {
                self.inclusive_rule(pid, true, false);
            }
        } else {
            for d in decls {
                self.ns_out.push((d.prefix, d.uri));
            }
        }
        let doc = self.doc;
        self.ns_out
            .sort_unstable_by(|a, b| doc.prefix_str(a.0).cmp(doc.prefix_str(b.0)));

        self.attrs_out.clear();
        self.attrs_out.extend_from_slice(e.raw_attrs());
        if apex && !self.exclusive {
            self.inherit_xml_attributes(e);
        }
        self.attrs_out.sort_unstable_by(|a, b| {
            (doc.uri_str(a.name.uri), doc.str(a.name.local))
                .cmp(&(doc.uri_str(b.name.uri), doc.str(b.name.local)))
        });

        sink.put(b"<");
        self.qname(name.prefix, name.local, sink);
        for &(pid, uri) in &self.ns_out {
            if pid == 0 {
                sink.put(b" xmlns=\"");
            } else {
                sink.put(b" xmlns:");
                sink.put(doc.prefix_str(pid).as_bytes());
                sink.put(b"=\"");
            }
            sink.attr(doc.uri_str(uri));
            sink.put(b"\"");
        }
        for a in &self.attrs_out {
            sink.put(b" ");
            self.qname(a.name.prefix, a.name.local, sink);
            sink.put(b"=\"");
            sink.attr(doc.str(a.value));
            sink.put(b"\"");
        }
        sink.put(b">");
    }

    /// Canonical XML's namespace rule, used by inclusive c14n and for the exclusive
    /// algorithm's InclusiveNamespaces PrefixList. For a whole subtree, "differs from the
    /// nearest output ancestor" is "declared on this element".
    fn inclusive_rule(&mut self, pid: PrefixId, apex: bool, declared_here: bool) {
        let uri = Self::get(&self.inscope, pid);
        if uri == NONE || Some(pid) == self.xml_prefix {
            return;
        }
        if apex {
            // An empty default namespace is no namespace node at all.
            if !(pid == 0 && uri == 0) {
                self.ns_out.push((pid, uri));
            }
        } else if declared_here {
            self.ns_out.push((pid, uri));
        }
    }

    /// Canonical XML 1.0 gives a subtree's apex the `xml:*` attributes of its ancestors (the
    /// nearest one wins), since they are in force there.
    fn inherit_xml_attributes(&mut self, e: Node<'d>) {
        let doc = self.doc;
        let xml_uri =
            (0..doc.uris.len() as UriId).find(|u| doc.uri_str(*u) == crate::XML_NAMESPACE);
        let Some(xml_uri) = xml_uri else { return };
        let mut cur = e.parent_element();
        while let Some(anc) = cur {
            for a in anc.raw_attrs() {
                if a.name.uri == xml_uri {
                    let local = doc.str(a.name.local);
                    let present = self
                        .attrs_out
                        .iter()
                        .any(|b| b.name.uri == xml_uri && doc.str(b.name.local) == local);
                    if !present {
                        self.attrs_out.push(*a);
                    }
                }
            }
            cur = anc.parent_element();
        }
    }

    fn qname<W: Write + ?Sized>(
        &self,
        prefix: PrefixId,
        local: crate::tree::Span,
        sink: &mut Sink<'_, W>,
    ) {
        if prefix != 0 {
            sink.put(self.doc.prefix_str(prefix).as_bytes());
            sink.put(b":");
        }
        sink.put(self.doc.str(local).as_bytes());
    }

    fn end<W: Write + ?Sized>(&mut self, e: Node<'d>, sink: &mut Sink<'_, W>) {
        if let Some(name) = e.qname() {
            sink.put(b"</");
            self.qname(name.prefix, name.local, sink);
            sink.put(b">");
        }
        let mark = self.marks.pop().unwrap_or(0);
        while self.undo.len() > mark {
            let Some((table, pid, prev)) = self.undo.pop() else {
                break;
            };
            let t = if table == 0 {
                &mut self.inscope
            } else {
                &mut self.rendered
            };
            if let Some(slot) = t.get_mut(pid as usize) {
                *slot = prev;
            }
        }
        sink.maybe_flush();
    }
}
