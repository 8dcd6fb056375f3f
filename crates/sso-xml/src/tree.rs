//! The immutable arena a document is parsed into: nodes in document order, so a subtree is an
//! index range, and interned names, so canonicalization is linear in its output.

use std::fmt;
use std::ops::Range;

use crate::error::Position;

/// Sentinel for "no node" in the arena links.
pub(crate) const NONE: u32 = u32::MAX;

/// Index of an interned prefix; 0 is "no prefix" (the default namespace).
pub(crate) type PrefixId = u32;
/// Index of an interned namespace URI; 0 is the empty string (no namespace).
pub(crate) type UriId = u32;

/// A byte range in [`Document::strings`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct QName {
    pub(crate) prefix: PrefixId,
    pub(crate) uri: UriId,
    pub(crate) local: Span,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct AttrData {
    pub(crate) name: QName,
    pub(crate) value: Span,
}

/// A change to the in-scope namespaces made by one element. `uri == 0` only for the default
/// namespace, where it means `xmlns=""`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NsDecl {
    pub(crate) prefix: PrefixId,
    pub(crate) uri: UriId,
}

#[derive(Clone, Debug)]
pub(crate) enum Payload {
    Document,
    Element {
        name: QName,
        attrs: Range<u32>,
        decls: Range<u32>,
    },
    Text(Span),
    Comment(Span),
    Pi {
        target: Span,
        data: Span,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct NodeData {
    pub(crate) payload: Payload,
    pub(crate) parent: u32,
    pub(crate) first_child: u32,
    pub(crate) last_child: u32,
    pub(crate) next_sibling: u32,
    /// One past the last descendant: nodes are stored in document order, so the descendants
    /// of node `n` are exactly `n + 1 .. end`.
    pub(crate) end: u32,
    pub(crate) position: Position,
}

static DETACHED: NodeData = NodeData {
    payload: Payload::Document,
    parent: NONE,
    first_child: NONE,
    last_child: NONE,
    next_sibling: NONE,
    end: 0,
    position: Position { line: 0, column: 0 },
};

/// A parsed, immutable XML document.
///
/// Built only by [`Document::parse`] with the hardening of [`Limits`](crate::Limits); every
/// security-relevant value is read from this one tree. Nodes are stored in document order in an
/// arena, so handles are plain indices and the tree is `Send + Sync`.
pub struct Document {
    pub(crate) nodes: Vec<NodeData>,
    pub(crate) attrs: Vec<AttrData>,
    pub(crate) decls: Vec<NsDecl>,
    pub(crate) strings: String,
    /// Interned prefixes, indexed by [`PrefixId`].
    pub(crate) prefixes: Vec<Span>,
    /// Interned namespace URIs, indexed by [`UriId`].
    pub(crate) uris: Vec<Span>,
    pub(crate) root_element: u32,
    /// Length of the parsed input (after a byte-order mark).
    pub(crate) input_len: usize,
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("nodes", &self.nodes.len())
            .field("root", &self.root_element().local_name())
            .finish()
    }
}

impl Document {
    pub(crate) fn str(&self, span: Span) -> &str {
        let start = span.start as usize;
        self.strings
            .get(start..start + span.len as usize)
            .unwrap_or_default()
    }

    pub(crate) fn prefix_str(&self, id: PrefixId) -> &str {
        self.prefixes
            .get(id as usize)
            .map(|s| self.str(*s))
            .unwrap_or_default()
    }

    pub(crate) fn uri_str(&self, id: UriId) -> &str {
        self.uris
            .get(id as usize)
            .map(|s| self.str(*s))
            .unwrap_or_default()
    }

    pub(crate) fn data(&self, id: u32) -> &NodeData {
        // Ids only come from this arena; an out-of-range id reads as a detached empty node.
        self.nodes.get(id as usize).unwrap_or(&DETACHED)
    }

    pub(crate) fn node_at(&self, id: u32) -> Option<Node<'_>> {
        (id != NONE && (id as usize) < self.nodes.len()).then_some(Node { doc: self, id })
    }

    /// The length in bytes of the input this document was parsed from (a byte-order mark not
    /// counted). Callers bound work that depends on the document, such as the size of a
    /// canonical form, by it.
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// The document node: parent of the root element and of top-level comments and processing
    /// instructions. Canonicalizing it canonicalizes the whole document.
    pub fn document_node(&self) -> Node<'_> {
        Node { doc: self, id: 0 }
    }

    /// The one top-level element.
    pub fn root_element(&self) -> Node<'_> {
        Node {
            doc: self,
            id: self.root_element,
        }
    }

    /// The node with this id, if the id belongs to a document of this size.
    pub fn node(&self, id: NodeId) -> Option<Node<'_>> {
        self.node_at(id.0)
    }

    /// Every node in document order, the document node first.
    pub fn nodes(&self) -> impl Iterator<Item = Node<'_>> + '_ {
        (0..self.nodes.len() as u32).map(move |id| Node { doc: self, id })
    }

    /// Every element in document order.
    pub fn elements(&self) -> impl Iterator<Item = Node<'_>> + '_ {
        self.nodes().filter(|n| n.is_element())
    }
}

/// A stable handle to a node of one [`Document`], usable after the borrow of a [`Node`] ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// The document node.
    Document,
    /// An element.
    Element,
    /// Character data: text, whitespace and CDATA sections merged as XML defines them.
    Text,
    /// A comment.
    Comment,
    /// A processing instruction.
    ProcessingInstruction,
}

/// A cheap, `Copy` handle to one node of a [`Document`].
///
/// Two handles are equal when they name the same node of the same document: this is the node
/// identity the signature verifier relies on.
#[derive(Clone, Copy)]
pub struct Node<'d> {
    pub(crate) doc: &'d Document,
    pub(crate) id: u32,
}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.doc, other.doc) && self.id == other.id
    }
}

impl Eq for Node<'_> {}

impl fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            NodeKind::Element => write!(
                f,
                "Element({{{}}}{} @{})",
                self.namespace().unwrap_or(""),
                self.local_name(),
                self.position()
            ),
            kind => write!(f, "{kind:?}(@{})", self.position()),
        }
    }
}

/// One attribute of an element. Namespace declarations are not attributes here; see
/// [`Node::namespace_declarations`].
#[derive(Clone, Copy)]
pub struct Attribute<'d> {
    doc: &'d Document,
    data: AttrData,
}

impl<'d> Attribute<'d> {
    /// The local part of the name.
    pub fn local_name(&self) -> &'d str {
        self.doc.str(self.data.name.local)
    }

    /// The namespace URI, `None` for unprefixed attributes.
    pub fn namespace(&self) -> Option<&'d str> {
        non_empty(self.doc.uri_str(self.data.name.uri))
    }

    /// The prefix as written, `None` for unprefixed attributes.
    pub fn prefix(&self) -> Option<&'d str> {
        non_empty(self.doc.prefix_str(self.data.name.prefix))
    }

    /// The normalized value (references replaced, literal whitespace turned into spaces).
    pub fn value(&self) -> &'d str {
        self.doc.str(self.data.value)
    }
}

impl fmt::Debug for Attribute<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{{}}}{}={:?}",
            self.namespace().unwrap_or(""),
            self.local_name(),
            self.value()
        )
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

impl<'d> Node<'d> {
    fn data(&self) -> &'d NodeData {
        self.doc.data(self.id)
    }

    /// The document this node belongs to.
    pub fn document(&self) -> &'d Document {
        self.doc
    }

    /// A handle that outlives this borrow.
    pub fn id(&self) -> NodeId {
        NodeId(self.id)
    }

    /// What kind of node this is.
    pub fn kind(&self) -> NodeKind {
        match self.data().payload {
            Payload::Document => NodeKind::Document,
            Payload::Element { .. } => NodeKind::Element,
            Payload::Text(_) => NodeKind::Text,
            Payload::Comment(_) => NodeKind::Comment,
            Payload::Pi { .. } => NodeKind::ProcessingInstruction,
        }
    }

    /// Whether this is an element.
    pub fn is_element(&self) -> bool {
        matches!(self.data().payload, Payload::Element { .. })
    }

    /// Where the node starts in the input.
    pub fn position(&self) -> Position {
        self.data().position
    }

    pub(crate) fn qname(&self) -> Option<QName> {
        match self.data().payload {
            Payload::Element { name, .. } => Some(name),
            _ => None,
        }
    }

    /// An element's local name; for a processing instruction its target; else `""`.
    pub fn local_name(&self) -> &'d str {
        match self.data().payload {
            Payload::Element { name, .. } => self.doc.str(name.local),
            Payload::Pi { target, .. } => self.doc.str(target),
            _ => "",
        }
    }

    /// An element's namespace URI, `None` when it is in no namespace.
    pub fn namespace(&self) -> Option<&'d str> {
        self.qname()
            .and_then(|n| non_empty(self.doc.uri_str(n.uri)))
    }

    /// An element's prefix as written, `None` when unprefixed.
    pub fn prefix(&self) -> Option<&'d str> {
        self.qname()
            .and_then(|n| non_empty(self.doc.prefix_str(n.prefix)))
    }

    /// Whether this is an element with this namespace URI and local name.
    pub fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.qname().is_some_and(|n| {
            self.doc.uri_str(n.uri) == namespace && self.doc.str(n.local) == local_name
        })
    }

    /// An element's attributes in document order.
    pub fn attributes(&self) -> impl ExactSizeIterator<Item = Attribute<'d>> + use<'d> {
        let doc = self.doc;
        let range = match &self.data().payload {
            Payload::Element { attrs, .. } => attrs.clone(),
            _ => 0..0,
        };
        doc.attrs
            .get(range.start as usize..range.end as usize)
            .unwrap_or_default()
            .iter()
            .map(move |a| Attribute { doc, data: *a })
    }

    /// The value of the attribute with this local name and no namespace (how SAML writes
    /// `ID`, `Version`, `Destination`...).
    pub fn attribute(&self, local_name: &str) -> Option<&'d str> {
        self.attributes()
            .find(|a| a.data.name.uri == 0 && a.local_name() == local_name)
            .map(|a| a.value())
    }

    /// The value of the attribute with this namespace URI and local name.
    pub fn attribute_ns(&self, namespace: &str, local_name: &str) -> Option<&'d str> {
        self.attributes()
            .find(|a| a.namespace() == Some(namespace) && a.local_name() == local_name)
            .map(|a| a.value())
    }

    /// The namespace bindings this element changes, as `(prefix, uri)`; `prefix` is `None` for
    /// the default namespace and `uri` is `""` for `xmlns=""`. A declaration that repeats the
    /// binding already in scope changes nothing and is not listed.
    pub fn namespace_declarations(
        &self,
    ) -> impl Iterator<Item = (Option<&'d str>, &'d str)> + use<'d> {
        let doc = self.doc;
        let range = match &self.data().payload {
            Payload::Element { decls, .. } => decls.clone(),
            _ => 0..0,
        };
        doc.decls
            .get(range.start as usize..range.end as usize)
            .unwrap_or_default()
            .iter()
            .map(move |d| (non_empty(doc.prefix_str(d.prefix)), doc.uri_str(d.uri)))
    }

    pub(crate) fn raw_decls(&self) -> &'d [NsDecl] {
        match &self.data().payload {
            Payload::Element { decls, .. } => self
                .doc
                .decls
                .get(decls.start as usize..decls.end as usize)
                .unwrap_or_default(),
            _ => &[],
        }
    }

    pub(crate) fn raw_attrs(&self) -> &'d [AttrData] {
        match &self.data().payload {
            Payload::Element { attrs, .. } => self
                .doc
                .attrs
                .get(attrs.start as usize..attrs.end as usize)
                .unwrap_or_default(),
            _ => &[],
        }
    }

    /// The namespace URI bound to `prefix` (`None`: the default namespace) at this element, for
    /// QName-valued content such as `xsi:type`. `None` when unbound.
    pub fn lookup_namespace(&self, prefix: Option<&str>) -> Option<&'d str> {
        let prefix = prefix.unwrap_or("");
        if prefix == "xml" {
            return Some(crate::XML_NAMESPACE);
        }
        let mut cur = Some(*self);
        while let Some(n) = cur {
            for d in n.raw_decls() {
                if self.doc.prefix_str(d.prefix) == prefix {
                    return non_empty(self.doc.uri_str(d.uri));
                }
            }
            cur = n.parent();
        }
        None
    }

    /// The parent node; `None` only for the document node.
    pub fn parent(&self) -> Option<Node<'d>> {
        self.doc.node_at(self.data().parent)
    }

    /// The parent if it is an element.
    pub fn parent_element(&self) -> Option<Node<'d>> {
        self.parent().filter(|p| p.is_element())
    }

    /// The first child.
    pub fn first_child(&self) -> Option<Node<'d>> {
        self.doc.node_at(self.data().first_child)
    }

    /// The next sibling.
    pub fn next_sibling(&self) -> Option<Node<'d>> {
        self.doc.node_at(self.data().next_sibling)
    }

    /// Children in document order.
    pub fn children(&self) -> impl Iterator<Item = Node<'d>> + use<'d> {
        std::iter::successors(self.first_child(), |n| n.next_sibling())
    }

    /// Element children in document order.
    pub fn child_elements(&self) -> impl Iterator<Item = Node<'d>> + use<'d> {
        self.children().filter(|n| n.is_element())
    }

    /// This node's descendants in document order, not including itself.
    pub fn descendants(&self) -> impl Iterator<Item = Node<'d>> + use<'d> {
        let doc = self.doc;
        (self.id + 1..self.data().end).map(move |id| Node { doc, id })
    }

    /// Whether `other` is this node or one of its descendants.
    pub fn contains(&self, other: Node<'_>) -> bool {
        std::ptr::eq(self.doc, other.doc) && self.id <= other.id && other.id < self.data().end
    }

    /// The character data of this node: for a text or comment node its own text, for a
    /// processing instruction its data, for an element or the document the concatenation of
    /// every descendant text node in document order.
    ///
    /// Comments and processing instructions inside an element never split or cut the value:
    /// `<NameID>admin@evil.example<!---->.trusted.example</NameID>` reads as the whole address.
    pub fn text(&self) -> String {
        match self.data().payload {
            Payload::Text(s) | Payload::Comment(s) => self.doc.str(s).to_owned(),
            Payload::Pi { data, .. } => self.doc.str(data).to_owned(),
            Payload::Element { .. } | Payload::Document => {
                let mut out = String::new();
                for n in self.descendants() {
                    if let Payload::Text(s) = n.data().payload {
                        out.push_str(self.doc.str(s));
                    }
                }
                out
            }
        }
    }
}
