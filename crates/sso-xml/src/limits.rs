//! The bounds every parse enforces, so hostile input costs time and memory linear in its size.

/// Bounds on what a document may contain. Every bound is checked while parsing, so hostile
/// input costs at most time and memory linear in [`max_input_bytes`](Self::max_input_bytes).
///
/// The defaults fit SAML responses and IdP metadata with a wide margin: the largest real
/// responses are tens of kilobytes, about ten levels deep, with a handful of attributes per
/// element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest input in bytes. Default 1 MiB (the service's limit for a SAML response).
    pub max_input_bytes: usize,
    /// Deepest element nesting. Default 64.
    pub max_depth: usize,
    /// Most attributes on one element, namespace declarations not counted. Default 64.
    pub max_attributes: usize,
    /// Most namespace bindings in scope at one element: prefixes, and the default namespace
    /// when it is bound (the built-in `xml` prefix is free). Default 128.
    pub max_namespaces: usize,
    /// Longest text node, attribute value, comment or processing instruction, in bytes.
    /// Default 512 KiB (an encrypted assertion's CipherValue is the largest real value).
    pub max_text_len: usize,
    /// Longest element or attribute name, in bytes. Default 256.
    pub max_name_len: usize,
    /// Most nodes (elements, text, comments, processing instructions). Default 100 000.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 1 << 20,
            max_depth: 64,
            max_attributes: 64,
            max_namespaces: 128,
            max_text_len: 512 << 10,
            max_name_len: 256,
            max_nodes: 100_000,
        }
    }
}
