//! What a response says, and its XML.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::idp::Error;
use crate::{SAML_NS, SAMLP_NS, escape};

/// How long before `issued` the assertion's conditions start: room for clock skew.
const NOT_BEFORE: Duration = Duration::minutes(5);
/// How long after `issued` the assertion may be used.
const LIFETIME: Duration = Duration::minutes(5);
/// How long the IdP session it reports lasts.
const SESSION: Duration = Duration::hours(8);

/// A successful response with one assertion, bearer-confirmed for one ACS URL and audience.
#[derive(Debug, Clone)]
#[must_use]
pub struct Response {
    /// The ACS URL: the response's `Destination` and the confirmation's `Recipient`.
    pub destination: String,
    /// The SP entity ID the assertion is restricted to.
    pub audience: String,
    /// The response's `ID`.
    pub response_id: String,
    /// The assertion's `ID`, also its `SessionIndex`.
    pub assertion_id: String,
    /// The AuthnRequest ID it answers; `None` for an IdP-initiated response.
    pub in_response_to: Option<String>,
    /// The subject's NameID (emailAddress format).
    pub name_id: String,
    /// Attributes as (name, value), in order.
    pub attributes: Vec<(String, String)>,
    /// When it is issued; the conditions run from five minutes before to five after.
    pub issued: OffsetDateTime,
}

impl Response {
    /// An unsolicited response naming `name_id`; its own ID is `_r` followed by the assertion
    /// ID.
    pub fn new(
        destination: &str,
        audience: &str,
        assertion_id: &str,
        name_id: &str,
        issued: OffsetDateTime,
    ) -> Response {
        Response {
            destination: destination.to_owned(),
            audience: audience.to_owned(),
            response_id: format!("_r{assertion_id}"),
            assertion_id: assertion_id.to_owned(),
            in_response_to: None,
            name_id: name_id.to_owned(),
            attributes: Vec::new(),
            issued,
        }
    }

    /// Sets the response's own ID.
    pub fn response_id(mut self, id: &str) -> Response {
        self.response_id = id.to_owned();
        self
    }

    /// Answers the AuthnRequest with this ID.
    pub fn answering(mut self, request_id: &str) -> Response {
        self.in_response_to = Some(request_id.to_owned());
        self
    }

    /// Replaces the NameID.
    pub fn name_id(mut self, value: &str) -> Response {
        self.name_id = value.to_owned();
        self
    }

    /// Adds an attribute with one value.
    pub fn attribute(mut self, name: &str, value: &str) -> Response {
        self.attributes.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The response XML from IdP `issuer`, unsigned, every value escaped. The assertion's
    /// `Issuer` is directly followed by its `Subject`, where an enveloped signature goes.
    pub fn xml(&self, issuer: &str) -> Result<String, Error> {
        let time = |t: OffsetDateTime| t.format(&Rfc3339);
        let issued = time(self.issued)?;
        let not_before = time(self.issued - NOT_BEFORE)?;
        let not_after = time(self.issued + LIFETIME)?;
        let session_end = time(self.issued + SESSION)?;
        let irt = self
            .in_response_to
            .as_deref()
            .map(|id| format!(" InResponseTo=\"{}\"", escape(id)))
            .unwrap_or_default();
        let attributes: String = self
            .attributes
            .iter()
            .map(|(name, value)| {
                format!(
                    "<saml:Attribute Name=\"{}\"><saml:AttributeValue>{}</saml:AttributeValue>\
                     </saml:Attribute>",
                    escape(name),
                    escape(value)
                )
            })
            .collect();
        let attributes = if attributes.is_empty() {
            attributes
        } else {
            format!("<saml:AttributeStatement>{attributes}</saml:AttributeStatement>")
        };
        let (acs, audience, issuer) = (
            escape(&self.destination),
            escape(&self.audience),
            escape(issuer),
        );
        let (response_id, assertion_id, name_id) = (
            escape(&self.response_id),
            escape(&self.assertion_id),
            escape(&self.name_id),
        );
        Ok(format!(
            "<samlp:Response xmlns:samlp=\"{SAMLP_NS}\" xmlns:saml=\"{SAML_NS}\" \
             ID=\"{response_id}\" Version=\"2.0\" IssueInstant=\"{issued}\" \
             Destination=\"{acs}\"{irt}>\
             <saml:Issuer>{issuer}</saml:Issuer>\
             <samlp:Status><samlp:StatusCode \
             Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\
             <saml:Assertion ID=\"{assertion_id}\" Version=\"2.0\" IssueInstant=\"{issued}\">\
             <saml:Issuer>{issuer}</saml:Issuer>\
             <saml:Subject>\
             <saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">\
             {name_id}</saml:NameID>\
             <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
             <saml:SubjectConfirmationData{irt} Recipient=\"{acs}\" \
             NotOnOrAfter=\"{not_after}\"/>\
             </saml:SubjectConfirmation>\
             </saml:Subject>\
             <saml:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{not_after}\">\
             <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience>\
             </saml:AudienceRestriction>\
             </saml:Conditions>\
             {attributes}\
             <saml:AuthnStatement AuthnInstant=\"{issued}\" SessionIndex=\"{assertion_id}\" \
             SessionNotOnOrAfter=\"{session_end}\">\
             <saml:AuthnContext><saml:AuthnContextClassRef>\
             urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport\
             </saml:AuthnContextClassRef></saml:AuthnContext>\
             </saml:AuthnStatement>\
             </saml:Assertion>\
             </samlp:Response>"
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;

    #[test]
    fn values_are_escaped_and_the_window_is_issued_plus_minus_five_minutes() {
        let xml = Response::new(
            "https://sp/acs?a=1&b=2",
            "sp",
            "_a1",
            "a<b@x",
            datetime!(2026-01-01 00:00 UTC),
        )
        .answering("_q\"1")
        .attribute("role", "r&d")
        .xml("https://idp")
        .unwrap();
        assert!(xml.contains("Destination=\"https://sp/acs?a=1&amp;b=2\""));
        assert!(xml.contains(">a&lt;b@x</saml:NameID>"));
        assert!(xml.contains("InResponseTo=\"_q&quot;1\""));
        assert!(xml.contains("<saml:AttributeValue>r&amp;d</saml:AttributeValue>"));
        assert!(
            xml.contains(
                "NotBefore=\"2025-12-31T23:55:00Z\" NotOnOrAfter=\"2026-01-01T00:05:00Z\""
            )
        );
        assert!(xml.contains("ID=\"_r_a1\""));
        assert!(xml.contains("<saml:Issuer>https://idp</saml:Issuer><saml:Subject>"));
    }
}
