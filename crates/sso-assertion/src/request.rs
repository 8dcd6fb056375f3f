//! AuthnRequests out, over HTTP-Redirect or HTTP-POST (signed when the SP has a key), so an
//! SP-initiated login carries an ID its response must answer.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use samael::schema::{AuthnRequest as SamlAuthnRequest, Issuer, NameIdPolicy};
use samael::traits::ToXml;
use sso_xml::escape;
use time::OffsetDateTime;

use crate::config::ConnectionConfig;
use crate::metadata::Binding;
use crate::ns;

/// Why an AuthnRequest could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The IdP has no SingleSignOnService for the binding.
    #[error("the IdP has no SingleSignOnService for {0}")]
    NoEndpoint(String),
    /// The IdP's endpoint URL does not parse.
    #[error("the IdP's SSO URL {0:?} is not a URL")]
    BadEndpoint(String),
    /// The IdP wants signed requests and no SP key is configured.
    #[error("the IdP wants signed AuthnRequests and this connection has no SP key")]
    SigningKeyMissing,
    /// Encoding, compression, randomness or signing failed.
    #[error("building the AuthnRequest failed: {0}")]
    Internal(String),
}

impl RequestError {
    /// A stable reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            RequestError::NoEndpoint(_) => "idp-endpoint-missing",
            RequestError::BadEndpoint(_) => "idp-endpoint-invalid",
            RequestError::SigningKeyMissing => "sp-key-missing",
            RequestError::Internal(_) => "internal",
        }
    }
}

/// A fresh AuthnRequest, ready to send.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AuthnRequest {
    /// The request ID: keep it, the response's InResponseTo must match it.
    pub id: String,
    /// When it was issued.
    pub issue_instant: OffsetDateTime,
    /// The IdP endpoint it goes to.
    pub destination: String,
    /// The XML.
    pub xml: String,
}

/// An unguessable message ID: 160 random bits, hex, behind `_` (IDs must not start with a
/// digit).
pub fn new_message_id() -> Result<String, RequestError> {
    let mut bytes = [0u8; 20];
    openssl::rand::rand_bytes(&mut bytes).map_err(|e| RequestError::Internal(e.to_string()))?;
    let mut id = String::with_capacity(41);
    id.push('_');
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    Ok(id)
}

impl ConnectionConfig {
    /// A new AuthnRequest to the IdP's endpoint for `binding`, issued at `now`.
    pub fn authn_request(
        &self,
        binding: &Binding,
        now: OffsetDateTime,
    ) -> Result<AuthnRequest, RequestError> {
        let endpoint = self
            .idp_sso_services
            .iter()
            .find(|e| &e.binding == binding)
            .ok_or_else(|| RequestError::NoEndpoint(binding.uri().to_owned()))?;
        let id = new_message_id()?;
        let issue_instant = chrono::DateTime::<chrono::Utc>::from_timestamp(
            now.unix_timestamp(),
            now.nanosecond() / 1_000_000 * 1_000_000,
        )
        .ok_or_else(|| RequestError::Internal("time out of range".into()))?;
        let request = SamlAuthnRequest {
            id: id.clone(),
            version: "2.0".into(),
            issue_instant,
            destination: Some(endpoint.location.clone()),
            issuer: Some(Issuer {
                value: Some(self.sp.entity_id.clone()),
                ..Issuer::default()
            }),
            name_id_policy: Some(NameIdPolicy {
                format: Some(ns::NAMEID_EMAIL.into()),
                allow_create: Some(true),
                sp_name_qualifier: None,
            }),
            assertion_consumer_service_url: Some(self.sp.acs_url.clone()),
            protocol_binding: Some(ns::BINDING_POST.into()),
            ..SamlAuthnRequest::default()
        };
        let xml = request
            .to_string()
            .map_err(|e| RequestError::Internal(e.to_string()))?;
        Ok(AuthnRequest {
            id,
            issue_instant: now,
            destination: endpoint.location.clone(),
            xml,
        })
    }

    /// The HTTP-Redirect URL for a new AuthnRequest carrying `relay_state`, signed over the query
    /// string when the SP has a key (required when the IdP asks for signed requests).
    pub fn redirect_request(
        &self,
        relay_state: &str,
        now: OffsetDateTime,
    ) -> Result<(AuthnRequest, url::Url), RequestError> {
        let request = self.authn_request(&Binding::HttpRedirect, now)?;
        let deflated = deflate(request.xml.as_bytes())?;
        let mut url = url::Url::parse(&request.destination)
            .map_err(|_| RequestError::BadEndpoint(request.destination.clone()))?;
        url.query_pairs_mut()
            .append_pair("SAMLRequest", &STANDARD.encode(&deflated));
        if !relay_state.is_empty() {
            url.query_pairs_mut().append_pair("RelayState", relay_state);
        }
        let url = match &self.sp.key {
            Some(key) => samael::crypto::sign_url(url, &key.private_key)
                .map_err(|e| RequestError::Internal(e.to_string()))?,
            None if self.idp_wants_signed_requests => return Err(RequestError::SigningKeyMissing),
            None => url,
        };
        Ok((request, url))
    }

    /// An auto-submitting HTML form posting a new AuthnRequest to the IdP (HTTP-POST binding),
    /// signed when the SP has a key (required when the IdP asks for signed requests).
    pub fn post_request(
        &self,
        relay_state: &str,
        now: OffsetDateTime,
    ) -> Result<(AuthnRequest, String), RequestError> {
        let mut request = self.authn_request(&Binding::HttpPost, now)?;
        // The POST binding carries an enveloped XML signature inside the request (the Redirect
        // binding signs the query string instead).
        match &self.sp.key {
            Some(key) => request.xml = sign_request_xml(&request.xml, key)?,
            None if self.idp_wants_signed_requests => return Err(RequestError::SigningKeyMissing),
            None => {}
        }
        let form = format!(
            "<!DOCTYPE html><html><body onload=\"document.forms[0].submit()\">\
             <form method=\"post\" action=\"{}\">\
             <input type=\"hidden\" name=\"SAMLRequest\" value=\"{}\"/>\
             <input type=\"hidden\" name=\"RelayState\" value=\"{}\"/>\
             <noscript><button type=\"submit\">Continue</button></noscript>\
             </form></body></html>",
            escape::html(&request.destination),
            STANDARD.encode(request.xml.as_bytes()),
            escape::html(relay_state)
        );
        Ok((request, form))
    }
}

/// `xml` (one AuthnRequest) with an enveloped signature by `key` after its Issuer.
fn sign_request_xml(xml: &str, key: &crate::config::SpKey) -> Result<String, RequestError> {
    let internal = |e: &dyn std::fmt::Display| RequestError::Internal(format!("signing: {e}"));
    let doc = sso_xml::Document::parse(xml.as_bytes()).map_err(|e| internal(&e))?;
    let signing_key =
        sso_xmldsig::SigningKey::from_pkey(key.private_key.clone()).map_err(|e| internal(&e))?;
    let signed = sso_xmldsig::Signer::new(signing_key)
        .sign(doc.root_element())
        .map_err(|e| internal(&e))?;
    String::from_utf8(signed).map_err(|e| internal(&e))
}

/// Raw DEFLATE of `data` (the HTTP-Redirect binding's encoding).
///
/// The compressor's state is a few hundred kilobytes that a new encoder allocates and clears;
/// that was 6% of the server's CPU under load, for requests of about a kilobyte. Each thread
/// keeps one compressor and resets it instead. It writes fixed-Huffman blocks with greedy
/// matching: for a request of half a kilobyte, building a block's own Huffman tables cost three
/// times the rest of the compression (about one RSA-2048 verification in all, see
/// BENCHMARKS.md) to save some fifty bytes of the URL. Any DEFLATE stream is valid here.
fn deflate(data: &[u8]) -> Result<Vec<u8>, RequestError> {
    use miniz_oxide::deflate::core::{
        CompressionStrategy, CompressorOxide, TDEFLFlush, TDEFLStatus, compress,
        create_comp_flags_from_zip_params,
    };
    // Level 1 (greedy parsing, few probes), no zlib header, fixed codes.
    const FLAGS: u32 = create_comp_flags_from_zip_params(1, 0, CompressionStrategy::Fixed as i32);
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<CompressorOxide> =
            std::cell::RefCell::new(CompressorOxide::new(FLAGS));
    }
    COMPRESSOR.with(|compressor| {
        let mut compressor = compressor.borrow_mut();
        compressor.reset();
        // Fixed codes spend at most 9 bits on a byte, plus a few bytes per block.
        let mut out = vec![0; data.len() + data.len() / 8 + 64];
        let (mut read, mut written) = (0, 0);
        loop {
            let rest = data.get(read..).unwrap_or_default();
            let free = out.get_mut(written..).unwrap_or_default();
            let (status, took, wrote) = compress(&mut compressor, rest, free, TDEFLFlush::Finish);
            read += took;
            written += wrote;
            match status {
                TDEFLStatus::Done => {
                    out.truncate(written);
                    return Ok(out);
                }
                // The output filled up: give it more room and go on.
                TDEFLStatus::Okay if took > 0 || wrote > 0 => out.resize(out.len() * 2, 0),
                other => return Err(RequestError::Internal(format!("deflate: {other:?}"))),
            }
        }
    })
}

#[cfg(test)]
mod deflate_tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Read as _;

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn the_reused_compressor_starts_clean_every_time() {
        let long: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for input in [&b"<samlp:AuthnRequest/>"[..], &long, b"", b"again"] {
            assert_eq!(inflate(&super::deflate(input).unwrap()), input);
        }
    }

    #[test]
    fn incompressible_input_that_outgrows_the_first_buffer_still_comes_out_whole() {
        // A xorshift sequence: no repeats for LZ77 to find, so fixed codes make it longer than
        // the input, past the first output buffer's slack.
        let mut x = 0x9e37_79b9_u32;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect();
        let deflated = super::deflate(&noise).unwrap();
        assert!(deflated.len() > noise.len());
        assert_eq!(inflate(&deflated), noise);
    }
}
