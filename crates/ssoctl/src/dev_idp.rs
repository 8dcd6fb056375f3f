//! `ssoctl dev-idp ...`: a local identity provider for trying the service on one machine.
//!
//! `init` writes a key, a self-signed certificate and IdP metadata to import into an org.
//! `respond` plays the IdP's part of a login: it reads the AuthnRequest out of the redirect URL
//! that `ssoctl login begin` printed, answers it with a SAML response whose assertion is signed
//! by that key, and prints the form the browser would post to the ACS, or posts it (`--post`).
//!
//! Not for production: it signs in whoever is named on the command line.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sso_dev_idp::{Idp, MD_NS, Response, SAML_NS, SAMLP_NS};
use sso_xml::Document;
use time::OffsetDateTime;

use crate::Failure;

/// The IdP's entity ID unless `--entity-id` says otherwise.
const DEFAULT_ENTITY_ID: &str = "http://127.0.0.1:9/dev-idp";
/// Where the metadata says the IdP takes requests. Nothing listens there (port 9 is
/// "discard"): `respond` reads the request from the URL instead.
const SSO_URL: &str = "http://127.0.0.1:9/dev-idp/sso";

/// Longest SAMLRequest value taken from the URL (base64).
const MAX_REQUEST_B64: usize = 64 * 1024;
/// Longest AuthnRequest after inflating: a real one is well under 2 KiB.
const MAX_REQUEST_XML: u64 = 256 * 1024;
/// Most bytes read of the ACS's answer.
const MAX_ANSWER: usize = 256 * 1024;
/// How long connecting, and then the whole exchange with the ACS, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Subcommand)]
pub(crate) enum DevIdpCommand {
    /// Write DIR/key.pem, DIR/cert.pem and DIR/metadata.xml for a new local test IdP.
    Init {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The IdP's entity ID.
        #[arg(long, value_name = "URL", default_value = DEFAULT_ENTITY_ID)]
        entity_id: String,
        /// Replace the files of an IdP already in DIR.
        #[arg(long)]
        force: bool,
    },
    /// Answer an AuthnRequest with a signed response that signs in EMAIL.
    Respond(RespondArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RespondArgs {
    /// The directory `dev-idp init` wrote.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The redirect URL from `ssoctl login begin` (carries SAMLRequest and RelayState).
    #[arg(long, value_name = "URL")]
    request_url: String,
    /// Who signs in: the NameID of the assertion.
    #[arg(long, value_name = "EMAIL")]
    email: String,
    /// An attribute of the assertion, `NAME=VALUE` (split at the first `=`); repeat a name
    /// for several values, as IdPs send groups.
    #[arg(long = "attribute", value_name = "NAME=VALUE")]
    attributes: Vec<String>,
    /// POST the form to the ACS URL (plain http only) and print the answer's status and
    /// Location, instead of printing the form fields.
    #[arg(long)]
    post: bool,
}

pub(crate) fn run(command: DevIdpCommand) -> Result<Value, Failure> {
    match command {
        DevIdpCommand::Init {
            dir,
            entity_id,
            force,
        } => init(&dir, &entity_id, force),
        DevIdpCommand::Respond(args) => respond(&args),
    }
}

fn init(dir: &Path, entity_id: &str, force: bool) -> Result<Value, Failure> {
    if entity_id.trim().is_empty() {
        return Err(Failure::usage("--entity-id: empty"));
    }
    let key_path = dir.join("key.pem");
    if key_path.exists() && !force {
        return Err(Failure::usage(format!(
            "{} exists: an IdP is already set up there (--force replaces it)",
            key_path.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Failure::usage(format!("{}: {e}", dir.display())))?;

    let idp = Idp::generate("ssoctl dev-idp", entity_id, SSO_URL)
        .map_err(|e| Failure::internal(e.to_string()))?;
    let key_pem = idp.credential().key_pem().as_bytes();
    let cert_pem = idp.credential().certificate_pem().as_bytes();
    let metadata = idp.metadata();

    write_private(&key_path, key_pem)?;
    let cert_path = dir.join("cert.pem");
    let metadata_path = dir.join("metadata.xml");
    write_file(&cert_path, cert_pem)?;
    write_file(&metadata_path, metadata.as_bytes())?;
    Ok(json!({
        "ok": true,
        "entity_id": entity_id,
        "sso_url": SSO_URL,
        "key": key_path.display().to_string(),
        "cert": cert_path.display().to_string(),
        "metadata": metadata_path.display().to_string(),
    }))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

/// Writes the private key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

/// A file `init` wrote, with a hint when it is missing.
fn read_idp_file(dir: &Path, name: &str) -> Result<Vec<u8>, Failure> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|e| {
        Failure::usage(format!(
            "{}: {e} (run `ssoctl dev-idp init --dir {}` first)",
            path.display(),
            dir.display()
        ))
    })
}

/// What the response answers: from the AuthnRequest.
#[derive(Debug)]
struct AuthnRequest {
    id: String,
    sp_entity_id: String,
    acs_url: url::Url,
}

/// The SAMLRequest and RelayState of a redirect URL, the request read with sso-xml.
fn read_request(request_url: &str) -> Result<(AuthnRequest, Option<String>), Failure> {
    let bad = |reason: &'static str, detail: String| Failure::refused(reason, detail);
    let url = url::Url::parse(request_url)
        .map_err(|e| Failure::usage(format!("--request-url: not a URL: {e}")))?;
    let mut saml_request = None;
    let mut relay_state = None;
    for (name, value) in url.query_pairs() {
        let slot = match name.as_ref() {
            "SAMLRequest" => &mut saml_request,
            "RelayState" => &mut relay_state,
            _ => continue,
        };
        if slot.is_some() {
            return Err(bad(
                "request-ambiguous",
                format!("{name} appears more than once in the URL"),
            ));
        }
        *slot = Some(value.into_owned());
    }
    let encoded = saml_request.ok_or_else(|| {
        bad(
            "request-missing",
            "the URL has no SAMLRequest parameter (give the redirect_url of `ssoctl login begin`)"
                .into(),
        )
    })?;
    if encoded.len() > MAX_REQUEST_B64 {
        return Err(bad(
            "request-too-large",
            format!("SAMLRequest is over {MAX_REQUEST_B64} bytes"),
        ));
    }
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let deflated = STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| bad("request-not-base64", format!("SAMLRequest: {e}")))?;
    let mut xml = Vec::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .take(MAX_REQUEST_XML + 1)
        .read_to_end(&mut xml)
        .map_err(|e| {
            bad(
                "request-not-deflated",
                format!("SAMLRequest is not raw DEFLATE (HTTP-Redirect binding): {e}"),
            )
        })?;
    if xml.len() as u64 > MAX_REQUEST_XML {
        return Err(bad(
            "request-too-large",
            format!("the AuthnRequest inflates to over {MAX_REQUEST_XML} bytes"),
        ));
    }
    let doc = Document::parse(&xml).map_err(|e| bad("request-not-xml", e.to_string()))?;
    let root = doc.root_element();
    if !root.is(SAMLP_NS, "AuthnRequest") {
        return Err(bad(
            "request-not-authn-request",
            format!(
                "the message is a {{{}}}{}, not a samlp:AuthnRequest",
                root.namespace().unwrap_or_default(),
                root.local_name()
            ),
        ));
    }
    let id = root
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| bad("request-without-id", "the AuthnRequest has no ID".into()))?;
    let sp_entity_id = root
        .child_elements()
        .find(|e| e.is(SAML_NS, "Issuer"))
        .map(|issuer| issuer.text().trim().to_owned())
        .filter(|issuer| !issuer.is_empty())
        .ok_or_else(|| {
            bad(
                "request-without-issuer",
                "the AuthnRequest has no Issuer (the SP entity ID)".into(),
            )
        })?;
    let acs = root
        .attribute("AssertionConsumerServiceURL")
        .ok_or_else(|| {
            bad(
                "request-without-acs-url",
                "the AuthnRequest names no AssertionConsumerServiceURL".into(),
            )
        })?;
    let acs_url = url::Url::parse(acs)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            bad(
                "request-bad-acs-url",
                format!("AssertionConsumerServiceURL {acs:?} is not an http(s) URL"),
            )
        })?;
    Ok((
        AuthnRequest {
            id: id.to_owned(),
            sp_entity_id,
            acs_url,
        },
        relay_state,
    ))
}

/// The IdP entity ID from DIR/metadata.xml.
fn idp_entity_id(metadata: &[u8]) -> Result<String, Failure> {
    let doc = Document::parse(metadata)
        .map_err(|e| Failure::usage(format!("metadata.xml: not XML: {e}")))?;
    let root = doc.root_element();
    root.is(MD_NS, "EntityDescriptor")
        .then(|| root.attribute("entityID"))
        .flatten()
        .map(str::to_owned)
        .ok_or_else(|| {
            Failure::usage("metadata.xml: no md:EntityDescriptor with an entityID".to_owned())
        })
}

/// A fresh message ID: `_` and 40 hex digits.
fn new_id() -> Result<String, Failure> {
    let mut bytes = [0u8; 20];
    openssl::rand::rand_bytes(&mut bytes)
        .map_err(|e| Failure::internal(format!("openssl: {e}")))?;
    Ok(std::iter::once("_".to_owned())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect())
}

fn respond(args: &RespondArgs) -> Result<Value, Failure> {
    let email = args.email.trim();
    if email.is_empty() {
        return Err(Failure::usage("--email: empty"));
    }
    let key_pem = read_idp_file(&args.dir, "key.pem")?;
    let cert_pem = read_idp_file(&args.dir, "cert.pem")?;
    let entity_id = idp_entity_id(&read_idp_file(&args.dir, "metadata.xml")?)?;
    let (request, relay_state) = read_request(&args.request_url)?;

    let idp = Idp::from_pem(&key_pem, &cert_pem, &entity_id, SSO_URL)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.dir.display())))?;
    let mut response = Response::new(
        request.acs_url.as_str(),
        &request.sp_entity_id,
        &new_id()?,
        email,
        OffsetDateTime::now_utc(),
    )
    .response_id(&new_id()?)
    .answering(&request.id);
    for attribute in &args.attributes {
        let (name, value) = attribute
            .split_once('=')
            .filter(|(name, _)| !name.trim().is_empty())
            .ok_or_else(|| {
                Failure::usage(format!("--attribute {attribute:?}: expected NAME=VALUE"))
            })?;
        response = response.attribute(name, value);
    }
    let saml_response = idp
        .response(&response)
        .map_err(|e| Failure::internal(e.to_string()))?;

    if !args.post {
        return Ok(json!({
            "ok": true,
            "acs_url": request.acs_url.as_str(),
            "in_response_to": request.id,
            "SAMLResponse": saml_response,
            "RelayState": relay_state,
        }));
    }
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("SAMLResponse", &saml_response);
    if let Some(relay_state) = &relay_state {
        form.append_pair("RelayState", relay_state);
    }
    let answer = post_form(&request.acs_url, form.finish().as_bytes())?;
    let location = answer.location.as_deref().map(|l| {
        request
            .acs_url
            .join(l)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| l.to_owned())
    });
    let param = |name: &str| {
        location
            .as_deref()
            .and_then(|l| url::Url::parse(l).ok())
            .and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            })
    };
    let code = param("code");
    let error = param("error");
    let signed_in = (300..400).contains(&answer.status) && code.is_some();
    let mut value = json!({
        "ok": signed_in,
        "acs_url": request.acs_url.as_str(),
        "status": answer.status,
        "location": location,
        "code": code,
    });
    if !signed_in {
        if let Some(map) = value.as_object_mut() {
            map.insert("error".into(), error.into());
            map.insert("body".into(), answer.body.into());
        }
        return Err(Failure::Remote(value));
    }
    Ok(value)
}

/// What the ACS answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    location: Option<String>,
    /// The start of the body, as text.
    body: String,
}

/// POSTs a form over plain HTTP/1.1 on a new connection and reads the answer's head.
fn post_form(url: &url::Url, body: &[u8]) -> Result<Answer, Failure> {
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err(Failure::usage(format!(
                "--post speaks plain HTTP only and the ACS URL {url} is https: leave out --post \
                 and post the printed SAMLResponse and RelayState yourself \
                 (or use `ssoctl login complete`)"
            )));
        }
        other => {
            return Err(Failure::usage(format!(
                "ACS URL scheme {other:?}: not http"
            )));
        }
    }
    let host = url
        .host_str()
        .ok_or_else(|| Failure::usage(format!("ACS URL {url} has no host")))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let unreachable = |e: std::io::Error| Failure::internal(format!("posting to {url}: {e}"));
    let addresses = url.socket_addrs(|| Some(80)).map_err(unreachable)?;
    let mut last_error = None;
    let mut stream = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let mut stream = stream.ok_or_else(|| {
        Failure::internal(format!(
            "cannot connect to {host}:{port}: {}",
            last_error.map_or_else(|| "no address".to_owned(), |e| e.to_string())
        ))
    })?;
    let deadline = Instant::now() + EXCHANGE_TIMEOUT;
    stream
        .set_write_timeout(Some(EXCHANGE_TIMEOUT))
        .map_err(unreachable)?;
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let host_header = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: {host_header}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(unreachable)?;
    stream.write_all(body).map_err(unreachable)?;

    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::internal(format!(
                "{url} did not answer within {EXCHANGE_TIMEOUT:?}"
            )));
        }
        stream.set_read_timeout(Some(left)).map_err(unreachable)?;
        let n = stream.read(&mut chunk).map_err(unreachable)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if raw.len() >= MAX_ANSWER {
            break;
        }
    }
    parse_answer(&raw).ok_or_else(|| {
        Failure::internal(format!(
            "{url} answered something that is not HTTP/1.x: {:?}",
            String::from_utf8_lossy(raw.get(..raw.len().min(200)).unwrap_or_default())
        ))
    })
}

/// Status, Location and body of an HTTP/1.x answer.
fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let mut status_line = lines.next()?.splitn(3, ' ');
    if !status_line.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = status_line.next()?.parse().ok()?;
    let location = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("location"))
        .map(|(_, value)| value.trim().to_owned());
    Some(Answer {
        status,
        location,
        body: body.chars().take(2000).collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn reads_an_answer_head() {
        let answer = parse_answer(
            b"HTTP/1.1 303 See Other\r\nlocation: http://a.test/x?code=abc\r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(answer.status, 303);
        assert_eq!(answer.location.as_deref(), Some("http://a.test/x?code=abc"));
        assert_eq!(answer.body, "body");
        assert!(parse_answer(b"SSH-2.0-OpenSSH\r\n\r\n").is_none());
        assert!(parse_answer(b"HTTP/1.1 303").is_none());
    }

    #[test]
    fn a_url_without_a_request_is_refused_with_a_reason() {
        for (url, reason) in [
            ("http://idp.test/sso?RelayState=x", "request-missing"),
            ("http://idp.test/sso?SAMLRequest=%%%", "request-not-base64"),
            (
                "http://idp.test/sso?SAMLRequest=aGVsbG8=",
                "request-not-deflated",
            ),
            (
                "http://idp.test/sso?SAMLRequest=a&SAMLRequest=b",
                "request-ambiguous",
            ),
        ] {
            match read_request(url) {
                Err(Failure::Refused { reason: got, .. }) => assert_eq!(got, reason, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn post_refuses_https_with_a_hint() {
        let url = url::Url::parse("https://sso.example.test/saml/2/acs/1").unwrap();
        match post_form(&url, b"") {
            Err(Failure::Usage(message)) => {
                assert!(message.contains("leave out --post"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
