//! A forgiving, textual view of XML structure: where elements, attributes and text runs start
//! and end in the raw bytes. The mutators use it to cut and paste whole subtrees and attributes
//! without parsing (the input is often not well-formed, and must stay bytes).

use std::ops::Range;

/// One element as it appears in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// Offset of its `<`.
    pub start: usize,
    /// Offset just past its open tag's `>`.
    pub open_end: usize,
    /// Offset of its close tag's `</` (equal to `end` for an empty-element tag).
    pub close_start: usize,
    /// Offset just past the element.
    pub end: usize,
    /// Its qualified name in the open tag.
    pub name: Range<usize>,
    /// How many elements enclose it.
    pub depth: usize,
}

impl Element {
    /// Whether it is written `<x/>`.
    pub fn is_empty_tag(&self) -> bool {
        self.close_start == self.end
    }
}

/// One attribute of an open tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    /// From the name's first byte to just past the closing quote.
    pub span: Range<usize>,
    /// The qualified name.
    pub name: Range<usize>,
    /// The value between the quotes.
    pub value: Range<usize>,
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let rest = hay.get(from..)?;
    rest.windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn is_name_byte(b: u8) -> bool {
    !matches!(
        b,
        b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>' | b'=' | b'<' | b'"' | b'\''
    )
}

fn name_end(input: &[u8], from: usize) -> usize {
    let mut i = from;
    while input.get(i).is_some_and(|b| is_name_byte(*b)) {
        i += 1;
    }
    i
}

/// The offset of the `>` closing the tag opened at `lt`, skipping quoted values.
fn tag_end(input: &[u8], lt: usize) -> Option<usize> {
    let mut quote = None;
    let mut i = lt + 1;
    while let Some(&b) = input.get(i) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return Some(i),
            None if b == b'<' => return None,
            None => {}
        }
        i += 1;
    }
    None
}

/// The elements of `input` in document order (at most `max` of them). Unclosed elements are
/// left out; comments, CDATA sections, processing instructions and DOCTYPEs are skipped.
pub fn elements(input: &[u8], max: usize) -> Vec<Element> {
    const OPEN: usize = usize::MAX;
    let mut out: Vec<Element> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut i = 0;
    while out.len() < max {
        let Some(lt) = input
            .get(i..)
            .and_then(|r| r.iter().position(|b| *b == b'<'))
            .map(|p| i + p)
        else {
            break;
        };
        let rest = input.get(lt..).unwrap_or_default();
        let skip_to = |end: &[u8], skip: usize| {
            find(input, lt + skip, end).map_or(input.len(), |p| p + end.len())
        };
        if rest.starts_with(b"<!--") {
            i = skip_to(b"-->", 4);
        } else if rest.starts_with(b"<![CDATA[") {
            i = skip_to(b"]]>", 9);
        } else if rest.starts_with(b"<?") {
            i = skip_to(b"?>", 2);
        } else if rest.starts_with(b"<!") {
            i = skip_to(b">", 2);
        } else if rest.starts_with(b"</") {
            let name = lt + 2..name_end(input, lt + 2);
            let Some(gt) = tag_end(input, lt) else {
                i = lt + 2;
                continue;
            };
            let wanted = input.get(name).unwrap_or_default();
            let matching = stack.iter().rposition(|&k| {
                out.get(k)
                    .and_then(|e| input.get(e.name.clone()))
                    .is_some_and(|n| n == wanted)
            });
            if let Some(pos) = matching {
                if let Some(&k) = stack.get(pos) {
                    if let Some(e) = out.get_mut(k) {
                        e.close_start = lt;
                        e.end = gt + 1;
                    }
                }
                stack.truncate(pos);
            }
            i = gt + 1;
        } else {
            let name = lt + 1..name_end(input, lt + 1);
            if name.is_empty() {
                i = lt + 1;
                continue;
            }
            let Some(gt) = tag_end(input, lt) else {
                i = lt + 1;
                continue;
            };
            let empty = gt > 0 && input.get(gt - 1) == Some(&b'/');
            out.push(Element {
                start: lt,
                open_end: gt + 1,
                close_start: if empty { gt + 1 } else { OPEN },
                end: if empty { gt + 1 } else { OPEN },
                name,
                depth: stack.len(),
            });
            if !empty {
                stack.push(out.len() - 1);
            }
            i = gt + 1;
        }
    }
    out.retain(|e| e.end != OPEN);
    out
}

/// The attributes in `element`'s open tag, as far as they are well formed.
pub fn attributes(input: &[u8], element: &Element) -> Vec<Attr> {
    let mut out = Vec::new();
    let end = element.open_end.saturating_sub(1);
    let mut i = element.name.end;
    loop {
        while input.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if i >= end {
            break;
        }
        let name = i..name_end(input, i);
        if name.is_empty() {
            break;
        }
        i = name.end;
        while input.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if input.get(i) != Some(&b'=') {
            break;
        }
        i += 1;
        while input.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let Some(&q) = input.get(i).filter(|q| **q == b'"' || **q == b'\'') else {
            break;
        };
        let Some(close) = input
            .get(i + 1..end)
            .and_then(|r| r.iter().position(|b| *b == q))
            .map(|p| i + 1 + p)
        else {
            break;
        };
        out.push(Attr {
            span: name.start..close + 1,
            name: name.clone(),
            value: i + 1..close,
        });
        i = close + 1;
    }
    out
}

/// Runs of character data between markup that hold something other than whitespace (at most
/// `max`).
pub fn text_runs(input: &[u8], max: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < max {
        let Some(gt) = input
            .get(i..)
            .and_then(|r| r.iter().position(|b| *b == b'>'))
            .map(|p| i + p + 1)
        else {
            break;
        };
        let lt = input
            .get(gt..)
            .and_then(|r| r.iter().position(|b| *b == b'<'))
            .map_or(input.len(), |p| gt + p);
        // A `>` inside an attribute value is not the end of the tag: the last one is.
        let gt = input
            .get(gt..lt)
            .and_then(|r| r.iter().rposition(|b| *b == b'>'))
            .map_or(gt, |p| gt + p + 1);
        if input
            .get(gt..lt)
            .is_some_and(|t| t.iter().any(|b| !b.is_ascii_whitespace()))
        {
            out.push(gt..lt);
        }
        i = lt.max(gt);
        if i >= input.len() {
            break;
        }
    }
    out
}

/// The local part of a qualified name.
pub fn local(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|b| *b == b':') {
        Some(p) => name.get(p + 1..).unwrap_or_default(),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn finds_elements_attributes_and_text() {
        let x = br#"<?xml version="1.0"?><a:r xmlns:a="u" ID='1'><!-- <no/> --><b x="a>b"/>t<c>y<![CDATA[<z/>]]></c></a:r>"#;
        let els = elements(x, 100);
        let names: Vec<&[u8]> = els.iter().map(|e| &x[e.name.clone()]).collect();
        assert_eq!(names, [&b"a:r"[..], b"b", b"c"]);
        assert_eq!(&x[els[0].start..els[0].end], &x[21..]);
        assert!(els[1].is_empty_tag());
        assert_eq!(&x[els[2].start..els[2].end], b"<c>y<![CDATA[<z/>]]></c>");
        assert_eq!(els[2].depth, 1);
        let attrs = attributes(x, &els[0]);
        assert_eq!(attrs.len(), 2);
        assert_eq!(&x[attrs[1].name.clone()], b"ID");
        assert_eq!(&x[attrs[1].value.clone()], b"1");
        assert_eq!(&x[attributes(x, &els[1])[0].value.clone()], b"a>b");
        let runs: Vec<&[u8]> = text_runs(x, 10).iter().map(|r| &x[r.clone()]).collect();
        assert!(runs.contains(&&b"t"[..]));
        assert_eq!(local(b"a:r"), b"r");
    }

    #[test]
    fn tolerates_garbage() {
        for x in [
            &b"<"[..],
            b"</>",
            b"<a",
            b"<a b='",
            b"<a></b>",
            b"><<>>",
            b"<a/><b>",
        ] {
            let els = elements(x, 10);
            for e in &els {
                assert!(e.start < e.open_end && e.open_end <= e.end && e.end <= x.len());
                let _ = attributes(x, e);
            }
            let _ = text_runs(x, 10);
        }
    }
}
