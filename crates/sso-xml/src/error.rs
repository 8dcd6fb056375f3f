//! Why a document was refused, with a stable reason code and the position an administrator
//! needs to find the problem.

use std::fmt;

/// A place in the input, for error messages an administrator can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Position {
    /// Line, starting at 1.
    pub line: u32,
    /// Column in characters, starting at 1.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Which configured limit a document ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_input_bytes`](crate::Limits::max_input_bytes).
    InputBytes,
    /// [`Limits::max_depth`](crate::Limits::max_depth).
    Depth,
    /// [`Limits::max_attributes`](crate::Limits::max_attributes).
    Attributes,
    /// [`Limits::max_namespaces`](crate::Limits::max_namespaces).
    Namespaces,
    /// [`Limits::max_text_len`](crate::Limits::max_text_len).
    TextLength,
    /// [`Limits::max_name_len`](crate::Limits::max_name_len).
    NameLength,
    /// [`Limits::max_nodes`](crate::Limits::max_nodes).
    Nodes,
    /// The namespace bindings in scope, summed over all elements, outgrew the input: xml-rs
    /// copies every open element's bindings for each element it reads, so a few long or
    /// many redeclared namespaces over many elements would cost time quadratic in the input.
    /// The budget grows with the input (128 units per byte, plus 1 MiB; a binding costs its
    /// length plus 64), far above what real documents use. `max` in the error is the budget.
    NamespaceScope,
}

impl Limit {
    fn reason(self) -> &'static str {
        match self {
            Limit::InputBytes => "input-too-large",
            Limit::Depth => "too-deep",
            Limit::Attributes => "too-many-attributes",
            Limit::Namespaces => "too-many-namespaces",
            Limit::TextLength => "text-too-long",
            Limit::NameLength => "name-too-long",
            Limit::Nodes => "too-many-nodes",
            Limit::NamespaceScope => "namespace-scope-too-large",
        }
    }
}

/// Why a document was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input exceeds one of the configured [`Limits`](crate::Limits).
    LimitExceeded {
        /// The limit that was hit.
        limit: Limit,
        /// The configured maximum.
        max: usize,
    },
    /// The bytes are not UTF-8.
    NotUtf8 {
        /// Offset of the first byte that is not valid UTF-8.
        byte_offset: usize,
    },
    /// The XML declaration names an encoding other than UTF-8.
    UnsupportedEncoding(String),
    /// The document has a DOCTYPE. DTDs carry entity declarations (billion laughs, external
    /// entities) and default attributes that change what a signature covers, so none is accepted.
    DoctypeForbidden,
    /// A second top-level element.
    MultipleRoots,
    /// No element at all.
    NoRoot,
    /// The input ended inside the document.
    Truncated,
    /// Not well-formed XML (or not namespace-well-formed); the text says what the parser saw.
    Malformed(String),
}

/// A refused document: what went wrong and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    position: Option<Position>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, position: Option<Position>) -> Self {
        Error { kind, position }
    }

    pub(crate) fn limit(limit: Limit, max: usize, position: Option<Position>) -> Self {
        Error::new(ErrorKind::LimitExceeded { limit, max }, position)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Where in the input, when known.
    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// A stable, machine-readable reason code, for logs, traces and API errors.
    pub fn reason(&self) -> &'static str {
        match &self.kind {
            ErrorKind::LimitExceeded { limit, .. } => limit.reason(),
            ErrorKind::NotUtf8 { .. } => "not-utf8",
            ErrorKind::UnsupportedEncoding(_) => "unsupported-encoding",
            ErrorKind::DoctypeForbidden => "doctype-forbidden",
            ErrorKind::MultipleRoots => "multiple-roots",
            ErrorKind::NoRoot => "no-root",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Malformed(_) => "malformed",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())?;
        if let Some(p) = self.position {
            write!(f, " at {p}")?;
        }
        match &self.kind {
            ErrorKind::LimitExceeded { max, .. } => write!(f, ": the limit is {max}"),
            ErrorKind::NotUtf8 { byte_offset } => {
                write!(f, ": invalid UTF-8 at byte {byte_offset}")
            }
            ErrorKind::UnsupportedEncoding(e) => {
                write!(f, ": declared encoding {e:?}, only UTF-8 is accepted")
            }
            ErrorKind::DoctypeForbidden => f.write_str(": DOCTYPE declarations are not accepted"),
            ErrorKind::MultipleRoots => f.write_str(": a document has exactly one root element"),
            ErrorKind::NoRoot => f.write_str(": the document has no element"),
            ErrorKind::Truncated => f.write_str(": the input ends inside the document"),
            ErrorKind::Malformed(m) => write!(f, ": {m}"),
        }
    }
}

impl std::error::Error for Error {}
