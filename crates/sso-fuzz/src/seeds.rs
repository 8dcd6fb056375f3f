//! Seed inputs: the shared conformance corpus (responses, signatures, canonicalization inputs,
//! metadata), decoded the way the service would receive them.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Seeds larger than this are skipped: the parser refuses them before doing anything else.
const MAX_SEED: usize = 1 << 20;

fn starts_like_xml(bytes: &[u8]) -> bool {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    body.trim_ascii_start().first() == Some(&b'<')
}

/// The XML in a corpus file: as is, or base64 (the HTTP-POST form), or base64 of raw DEFLATE
/// (the HTTP-Redirect form).
pub fn decode(raw: Vec<u8>) -> Vec<u8> {
    if starts_like_xml(&raw) {
        return raw;
    }
    let compact: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let Ok(decoded) = STANDARD.decode(&compact) else {
        return raw;
    };
    if starts_like_xml(&decoded) {
        return decoded;
    }
    let mut inflated = Vec::new();
    let ok = flate2::read::DeflateDecoder::new(decoded.as_slice())
        .take(MAX_SEED as u64 + 1)
        .read_to_end(&mut inflated)
        .is_ok();
    if ok && starts_like_xml(&inflated) {
        inflated
    } else {
        raw
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if p.is_dir() {
            // Keys and certificates are not documents.
            if name != "keys" {
                walk(&p, out);
            }
        } else if !matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("toml" | "md" | "pem" | "der" | "key" | "crt" | "xpath" | "dtd")
        ) {
            out.push(p);
        }
    }
}

/// Every document under `dir`, in a fixed order, decoded, without duplicates.
pub fn load_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    walk(dir, &mut files);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for f in files {
        let Ok(raw) = std::fs::read(&f) else {
            continue;
        };
        if raw.is_empty() || raw.len() > MAX_SEED * 2 {
            continue;
        }
        let doc = decode(raw);
        if doc.len() <= MAX_SEED && seen.insert(crate::rng::hash64(&doc)) {
            out.push(doc);
        }
    }
    out
}

/// The shared corpus beside the workspace (`../shared/corpus`), when it is there.
pub fn default_corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    dir.is_dir().then_some(dir)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn decodes_each_transport_form() {
        let xml = b"<r>hi</r>".to_vec();
        assert_eq!(decode(xml.clone()), xml);
        let b64 = STANDARD.encode(&xml);
        let wrapped = format!("{}\n{}", &b64[..4], &b64[4..]);
        assert_eq!(decode(wrapped.into_bytes()), xml);
        let mut deflated = Vec::new();
        {
            use std::io::Write;
            let mut w = flate2::write::DeflateEncoder::new(&mut deflated, Default::default());
            w.write_all(&xml).unwrap();
        }
        assert_eq!(decode(STANDARD.encode(&deflated).into_bytes()), xml);
        assert_eq!(decode(b"not xml".to_vec()), b"not xml");
    }
}
