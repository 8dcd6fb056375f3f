//! The IdP guides of `docs/idp`, compiled in and rendered as HTML for step 1, with the org's
//! own values in place of `<base>` and `<org-id>`.
//!
//! The guides use a small part of Markdown (headings, paragraphs, lists, pipe tables, fenced
//! code, `code`, **bold** and links), and this renders exactly that part. Every piece of text
//! is escaped by maud; links become their text, since the other guides are not served here.

use maud::{Markup, PreEscaped, html};

/// An IdP the portal has a guide for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Guide {
    /// Its code in the page's query (`?idp=okta`).
    pub(crate) code: &'static str,
    /// Its name on the page.
    pub(crate) name: &'static str,
    markdown: &'static str,
}

/// Every guide, in the order the page offers them.
pub(crate) const GUIDES: [Guide; 6] = [
    Guide {
        code: "okta",
        name: "Okta",
        markdown: include_str!("../../../docs/idp/okta.md"),
    },
    Guide {
        code: "entra-id",
        name: "Microsoft Entra ID",
        markdown: include_str!("../../../docs/idp/entra-id.md"),
    },
    Guide {
        code: "google-workspace",
        name: "Google Workspace",
        markdown: include_str!("../../../docs/idp/google-workspace.md"),
    },
    Guide {
        code: "auth0",
        name: "Auth0",
        markdown: include_str!("../../../docs/idp/auth0.md"),
    },
    Guide {
        code: "onelogin",
        name: "OneLogin",
        markdown: include_str!("../../../docs/idp/onelogin.md"),
    },
    Guide {
        code: "other",
        name: "Other SAML 2.0 IdP",
        markdown: include_str!("../../../docs/idp/other.md"),
    },
];

/// The guide with this code.
pub(crate) fn guide(code: &str) -> Option<Guide> {
    GUIDES.into_iter().find(|g| g.code == code)
}

impl Guide {
    /// The guide as HTML, its title left out (the page has its own), `<base>` and `<org-id>`
    /// replaced by the org's values.
    pub(crate) fn render(&self, base: &str, org: &str) -> Markup {
        let text = self
            .markdown
            .replace("<base>", base)
            .replace("<org-id>", org);
        render(&text)
    }
}

/// One block of the document.
enum Block<'a> {
    Heading(usize, &'a str),
    Paragraph(Vec<&'a str>),
    List(bool, Vec<String>),
    Table(Vec<Vec<&'a str>>),
    Code(Vec<&'a str>),
}

fn list_item(line: &str) -> Option<(bool, &str)> {
    let trimmed = line.trim_start();
    if let Some(rest) = trimmed
        .strip_prefix("- ")
        .or_else(|| trimmed.strip_prefix("* "))
    {
        return Some((false, rest));
    }
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        if let Some(rest) = trimmed.get(digits..).and_then(|r| r.strip_prefix(". ")) {
            return Some((true, rest));
        }
    }
    None
}

fn cells(line: &str) -> Vec<&str> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(str::trim).collect()
}

fn is_separator(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('|') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// Splits the document into blocks.
fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_end();
        if t.trim().is_empty() {
            continue;
        }
        if t.starts_with("```") {
            let mut code = Vec::new();
            for l in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                code.push(l);
            }
            out.push(Block::Code(code));
        } else if let Some(level) = (1..=4).find(|n| {
            t.strip_prefix(&"#".repeat(*n))
                .is_some_and(|r| r.starts_with(' '))
        }) {
            out.push(Block::Heading(
                level,
                t.get(level + 1..).unwrap_or("").trim(),
            ));
        } else if t.starts_with('|') {
            let mut rows = vec![cells(t)];
            while let Some(next) = lines.peek().filter(|l| l.trim_start().starts_with('|')) {
                if !is_separator(next) {
                    rows.push(cells(next));
                }
                lines.next();
            }
            out.push(Block::Table(rows));
        } else if let Some((ordered, first)) = list_item(t) {
            let mut items = vec![first.to_owned()];
            while let Some(next) = lines.peek() {
                if let Some((_, item)) = list_item(next) {
                    items.push(item.to_owned());
                } else if next.starts_with("  ") && !next.trim().is_empty() {
                    if let Some(last) = items.last_mut() {
                        last.push(' ');
                        last.push_str(next.trim());
                    }
                } else {
                    break;
                }
                lines.next();
            }
            out.push(Block::List(ordered, items));
        } else {
            let mut paragraph = vec![t];
            while let Some(next) = lines.peek() {
                let n = next.trim_end();
                if n.trim().is_empty()
                    || n.starts_with('#')
                    || n.starts_with('|')
                    || n.starts_with("```")
                    || list_item(n).is_some()
                {
                    break;
                }
                paragraph.push(n);
                lines.next();
            }
            out.push(Block::Paragraph(paragraph));
        }
    }
    out
}

/// The inline formatting of one piece of text: `code`, **bold**, [links](target) as text.
fn inline(text: &str) -> Markup {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let next = rest.find(['`', '*', '[']).unwrap_or(rest.len());
        out.push_str(&html! { (rest.get(..next).unwrap_or("")) }.into_string());
        rest = rest.get(next..).unwrap_or("");
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix('`') {
            if let Some(end) = after.find('`') {
                let code = after.get(..end).unwrap_or("");
                out.push_str(&html! { code { (code) } }.into_string());
                rest = after.get(end + 1..).unwrap_or("");
                continue;
            }
        } else if let Some(after) = rest.strip_prefix("**") {
            if let Some(end) = after.find("**") {
                let strong = inline(after.get(..end).unwrap_or(""));
                out.push_str(&html! { strong { (strong) } }.into_string());
                rest = after.get(end + 2..).unwrap_or("");
                continue;
            }
        } else if let Some(after) = rest.strip_prefix('[') {
            if let Some((label, target_rest)) = after.split_once("](") {
                if let Some(end) = target_rest.find(')') {
                    out.push_str(&inline(label).into_string());
                    rest = target_rest.get(end + 1..).unwrap_or("");
                    continue;
                }
            }
        }
        // A lone marker: plain text.
        let (marker, after) = rest.split_at(1);
        out.push_str(&html! { (marker) }.into_string());
        rest = after;
    }
    PreEscaped(out)
}

/// The document as HTML, without its first-level title.
fn render(text: &str) -> Markup {
    html! {
        @for block in blocks(text) {
            @match block {
                Block::Heading(1, _) => {}
                Block::Heading(2, t) => h3 { (inline(t)) },
                Block::Heading(_, t) => h4 { (inline(t)) },
                Block::Paragraph(lines) => p { (inline(&lines.join(" "))) },
                Block::List(true, items) => ol { @for i in &items { li { (inline(i)) } } },
                Block::List(false, items) => ul { @for i in &items { li { (inline(i)) } } },
                Block::Code(lines) => pre { code { (lines.join("\n")) } },
                Block::Table(rows) => {
                    div class="scroll" tabindex="0" role="region" aria-label="Table of settings" {
                        table {
                            @if let Some((head, body)) = rows.split_first() {
                                thead { tr { @for c in head { th scope="col" { (inline(c)) } } } }
                                tbody { @for row in body { tr { @for c in row { td { (inline(c)) } } } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guide_renders_with_the_orgs_values_and_no_markdown_left() {
        for guide in GUIDES {
            let html = guide.render("https://sso.example.com", "42").into_string();
            assert!(html.contains("<h3>"), "{}", guide.code);
            assert!(!html.contains("**"), "{}: {html}", guide.code);
            assert!(!html.contains("&lt;base&gt;"), "{}", guide.code);
            assert!(!html.contains("<script"), "{}", guide.code);
        }
        let okta = guide("okta")
            .unwrap()
            .render("https://sso.example.com", "42")
            .into_string();
        assert!(
            okta.contains("<code>https://sso.example.com/saml/2/acs/42</code>"),
            "{okta}"
        );
        assert!(okta.contains("<table>"), "{okta}");
        assert!(okta.contains("<strong>Sign On</strong>"), "{okta}");
    }

    #[test]
    fn inline_text_is_escaped_and_markers_without_ends_stay() {
        assert_eq!(
            inline("a <b> `x<y>` **c** [d](e.md) *f").into_string(),
            "a &lt;b&gt; <code>x&lt;y&gt;</code> <strong>c</strong> d *f"
        );
    }
}
