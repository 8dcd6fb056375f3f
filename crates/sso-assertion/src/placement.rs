//! Where a `ds:Signature` may stand among the children of the element it signs, as the SAML
//! schemas put it: right after the `saml:Issuer` (first only when there is no Issuer, which a
//! Response may omit) in assertions and protocol messages, first in metadata's `EntityDescriptor` and
//! `EntitiesDescriptor`. `sso-xmldsig` checks what a signature says and covers for any
//! element; its place depends on the signed element's schema, so it is checked here.

use sso_xml::Node;

use crate::ns;

/// `prefix:local`, as written, for messages.
fn name(n: Node<'_>) -> String {
    match n.prefix() {
        Some(p) => format!("{p}:{}", n.local_name()),
        None => n.local_name().to_owned(),
    }
}

/// Whether `signature`, a child of `element`, stands where `element`'s schema puts it. `Err`
/// says where it is instead, for the administrator.
///
/// Only element children count: text, comments and processing instructions between them do
/// not move a signature. The rule does not look at what follows the signature (the rest of the
/// schema is the other checks' business), only at what precedes it.
pub(crate) fn check_signature_place(element: Node<'_>, signature: Node<'_>) -> Result<(), String> {
    let metadata_root =
        element.is(ns::MD, "EntityDescriptor") || element.is(ns::MD, "EntitiesDescriptor");
    let mut before = element
        .child_elements()
        .take_while(|c| *c != signature)
        .peekable();
    let in_place = if metadata_root {
        before.peek().is_none()
    } else {
        // Issuer?, Signature: the Issuer right before it, or nothing when there is no Issuer.
        match (before.next(), before.next()) {
            (None, _) => !element
                .child_elements()
                .any(|c| c.is(ns::ASSERTION, "Issuer")),
            (Some(issuer), None) => issuer.is(ns::ASSERTION, "Issuer"),
            (Some(_), Some(_)) => false,
        }
    };
    if in_place {
        return Ok(());
    }
    let preceding: Vec<String> = element
        .child_elements()
        .take_while(|c| *c != signature)
        .map(name)
        .collect();
    let wanted = if metadata_root {
        "its first child"
    } else {
        "right after its saml:Issuer"
    };
    let now = if preceding.is_empty() {
        "is its first child".to_owned()
    } else {
        format!("follows {}", preceding.join(", "))
    };
    Err(format!(
        "the ds:Signature of {} at {} {now}; SAML puts it {wanted}",
        name(element),
        signature.position(),
    ))
}

#[cfg(test)]
mod tests {
    use sso_xml::Document;

    use super::*;

    const NS: &str = r#"xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:x="urn:x""#;

    /// The place check on the root of `<root NS>children</root>`.
    fn place(root: &str, children: &str) -> Result<(), String> {
        let xml = format!("<{root} {NS}>{children}</{root}>");
        let doc = Document::parse(xml.as_bytes()).unwrap();
        let element = doc.root_element();
        let signature = element
            .child_elements()
            .find(|c| c.is(ns::DSIG, "Signature"))
            .unwrap();
        check_signature_place(element, signature)
    }

    const SIG: &str = "<ds:Signature/>";

    #[test]
    fn after_the_issuer_in_responses_and_assertions() {
        for root in ["samlp:Response", "saml:Assertion", "samlp:AuthnRequest"] {
            for children in [
                format!("<saml:Issuer>i</saml:Issuer>{SIG}<samlp:Status/>"),
                format!("<saml:Issuer>i</saml:Issuer>\n  <!-- c --><?pi x?>{SIG}<x:any/>"),
                format!("{SIG}<samlp:Status/>"),
                SIG.to_owned(),
            ] {
                assert_eq!(place(root, &children), Ok(()), "{root}: {children}");
            }
            for children in [
                format!("<saml:Issuer>i</saml:Issuer><samlp:Status/><saml:Assertion/>{SIG}"),
                format!("<saml:Issuer>i</saml:Issuer><saml:Subject/>{SIG}"),
                format!("<samlp:Status/>{SIG}"),
                format!("<samlp:Extensions/>{SIG}<saml:Issuer>i</saml:Issuer>"),
                format!("<x:Issuer>i</x:Issuer>{SIG}"),
                format!("{SIG}<saml:Issuer>i</saml:Issuer>"),
                format!("{SIG}<samlp:Status/><saml:Issuer>i</saml:Issuer>"),
                format!("<saml:Issuer>i</saml:Issuer><saml:Issuer>i</saml:Issuer>{SIG}"),
            ] {
                let e = place(root, &children).unwrap_err();
                assert!(e.contains("right after its saml:Issuer"), "{root}: {e}");
            }
        }
        let e = place(
            "samlp:Response",
            &format!("<saml:Issuer>i</saml:Issuer><samlp:Status/><saml:Assertion/>{SIG}"),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "the ds:Signature of samlp:Response at 1:289 follows saml:Issuer, samlp:Status, \
             saml:Assertion; SAML puts it right after its saml:Issuer"
        );
        let e = place(
            "saml:Assertion",
            &format!("{SIG}<saml:Issuer>i</saml:Issuer>"),
        )
        .unwrap_err();
        assert!(e.contains("at 1:229 is its first child;"), "{e}");
    }

    /// Metadata puts the signature first (`EntityDescriptor`: Signature?, Extensions?, ...).
    #[test]
    fn first_in_metadata_roots() {
        for root in ["md:EntityDescriptor", "md:EntitiesDescriptor"] {
            assert_eq!(place(root, &format!("{SIG}<md:Extensions/>")), Ok(()));
            assert_eq!(place(root, &format!(" <!-- c -->{SIG}")), Ok(()));
            for children in [
                format!("<md:Extensions/>{SIG}"),
                format!("<md:IDPSSODescriptor/>{SIG}"),
                format!("<saml:Issuer>i</saml:Issuer>{SIG}"),
            ] {
                let e = place(root, &children).unwrap_err();
                assert!(e.contains("its first child"), "{root}: {e}");
            }
        }
    }
}
