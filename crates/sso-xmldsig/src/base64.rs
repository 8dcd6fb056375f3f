//! Base64 as XML-DSig writes it: whitespace allowed anywhere in what we read, none in what we
//! write.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Decodes `xs:base64Binary` content: XML whitespace (line breaks, indentation) may appear
/// anywhere; anything else that is not base64 is refused.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .collect();
    STANDARD.decode(compact).ok()
}

pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}
