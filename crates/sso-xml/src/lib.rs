//! A hardened XML tree and XML canonicalization, the ground every signature check stands on.
//!
//! Bytes are parsed once, by xml-rs configured strictly (no DOCTYPE, so no DTD and no entity
//! beyond the five predefined ones; one root; UTF-8 only; bounded by [`Limits`]), into an
//! immutable arena [`Document`]. Canonicalization ([`Canonicalizer`]) reads that same tree, so
//! what is hashed and what is used can never come from two different parses. [`escape`] is
//! the one place that says how text is escaped, for canonical XML, for XML we write and for
//! HTML.
//!
//! ```
//! use sso_xml::{C14nAlgorithm, Canonicalizer, Document};
//!
//! let doc = Document::parse(br#"<r xmlns:a="urn:a" xmlns:b="urn:b"><a:x z="1" y="2">hi<!-- c --></a:x></r>"#)?;
//! let x = doc.root_element().child_elements().next().unwrap();
//! assert_eq!(x.text(), "hi");
//!
//! let exc = Canonicalizer::new(C14nAlgorithm::Exclusive).canonicalize_to_vec(x, None);
//! assert_eq!(exc, br#"<a:x xmlns:a="urn:a" y="2" z="1">hi</a:x>"#);
//!
//! let inc = Canonicalizer::new(C14nAlgorithm::Inclusive).canonicalize_to_vec(x, None);
//! assert_eq!(inc, br#"<a:x xmlns:a="urn:a" xmlns:b="urn:b" y="2" z="1">hi</a:x>"#);
//! # Ok::<(), sso_xml::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod c14n;
mod error;
pub mod escape;
mod limits;
mod parse;
mod tree;

pub use crate::c14n::{C14nAlgorithm, Canonicalizer};
pub use crate::error::{Error, ErrorKind, Limit, Position};
pub use crate::limits::Limits;
pub use crate::tree::{Attribute, Document, Node, NodeId, NodeKind};

/// The namespace bound to the `xml` prefix.
pub const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";
