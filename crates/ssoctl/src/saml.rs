//! `ssoctl saml ...`: offline SAML checks for admins and scripts.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};
use sso_assertion::{
    Binding, Certificate, ConnectionConfig, IdpMetadata, ServiceProvider, SpKey, ValidationContext,
    validate,
};
use sso_email::{Claims, find_email};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{Failure, read_input};

#[derive(Debug, Subcommand)]
pub(crate) enum SamlCommand {
    /// Check one SAML response offline and print the verdict as JSON.
    ///
    /// Exit status 0: accepted; 1: refused (with a reason code); 2: usage error.
    Verify(VerifyArgs),
    /// Print SP metadata for the IdP to import.
    Metadata(SpArgs),
    /// Print the URL (or HTML form) that starts an SP-initiated login.
    AuthnRequest(AuthnRequestArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IdpArgs {
    /// IdP metadata XML file (entity ID, certificates and endpoints come from it).
    #[arg(long, value_name = "FILE", conflicts_with = "idp_cert")]
    idp_metadata: Option<PathBuf>,
    /// With --idp-metadata holding several IdPs: which one.
    #[arg(long, value_name = "ID")]
    idp_entity_id: Option<String>,
    /// An IdP signing certificate (PEM file); repeat for rollover. Needs --idp-entity-id.
    #[arg(long, value_name = "PEM", requires = "idp_entity_id")]
    idp_cert: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct SpArgs {
    /// SP entity ID (the Audience). With --base-url and --org, derived from them.
    #[arg(long, value_name = "ID", required_unless_present = "org")]
    sp_entity_id: Option<String>,
    /// ACS URL (Destination and Recipient).
    #[arg(long, value_name = "URL", required_unless_present = "org")]
    acs_url: Option<String>,
    /// Public base URL of the service, to derive per-org endpoints with --org.
    #[arg(long, value_name = "URL", requires = "org")]
    base_url: Option<String>,
    /// Organization id, to derive `<base>/saml/2/metadata/<org>` and `<base>/saml/2/acs/<org>`.
    #[arg(long, value_name = "ORG", requires = "base_url")]
    org: Option<String>,
    /// SP private key (PEM): decrypts assertions and signs requests.
    #[arg(long, value_name = "PEM")]
    sp_key: Option<PathBuf>,
    /// SP certificate (PEM), published in SP metadata.
    #[arg(long, value_name = "PEM", requires = "sp_key")]
    sp_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    idp: IdpArgs,
    #[command(flatten)]
    sp: SpArgs,
    /// An outstanding AuthnRequest ID; repeat for several.
    #[arg(long, value_name = "ID")]
    request_id: Vec<String>,
    /// The time to check against (RFC 3339); default: now.
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// Accept IdP-initiated (unsolicited) responses.
    #[arg(long)]
    allow_unsolicited: bool,
    /// Accept SHA-1 signatures and digests.
    #[arg(long)]
    allow_sha1: bool,
    /// Accept 1024-bit RSA signing keys.
    #[arg(long)]
    allow_rsa_1024: bool,
    /// Allowed clock difference with the IdP, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 180)]
    clock_skew: u32,
    /// The response: a file with the XML or the base64 form value, or `-` for standard input.
    #[arg(default_value = "-")]
    response: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum BindingArg {
    Redirect,
    Post,
}

#[derive(Debug, Args)]
pub(crate) struct AuthnRequestArgs {
    #[command(flatten)]
    idp: IdpArgs,
    #[command(flatten)]
    sp: SpArgs,
    /// RelayState to carry through the login.
    #[arg(long, default_value = "")]
    relay_state: String,
    /// How the request travels to the IdP.
    #[arg(long, value_enum, default_value = "redirect")]
    binding: BindingArg,
    /// IdP SSO URL, when the IdP is given by --idp-cert rather than metadata.
    #[arg(long, value_name = "URL")]
    idp_sso_url: Option<String>,
}

fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

impl SpArgs {
    fn service_provider(&self) -> Result<ServiceProvider, Failure> {
        let mut sp = match (&self.base_url, &self.org) {
            (Some(base), Some(org)) => ServiceProvider::for_org(base, org),
            _ => ServiceProvider::new(
                self.sp_entity_id.clone().unwrap_or_default(),
                self.acs_url.clone().unwrap_or_default(),
            ),
        };
        if let Some(key_path) = &self.sp_key {
            let key_pem = read_file(key_path)?;
            let key = match &self.sp_cert {
                Some(cert_path) => {
                    let cert = String::from_utf8_lossy(&read_file(cert_path)?).into_owned();
                    SpKey::from_pem(&key_pem, &cert)
                }
                None => SpKey::from_private_key_pem(&key_pem),
            }
            .map_err(|e| Failure::usage(format!("{}: {e}", key_path.display())))?;
            sp = sp.with_key(key);
        }
        Ok(sp)
    }
}

impl IdpArgs {
    fn connection(
        &self,
        sp: ServiceProvider,
        sso_url: Option<&str>,
    ) -> Result<ConnectionConfig, Failure> {
        if let Some(path) = &self.idp_metadata {
            let xml = read_file(path)?;
            let md = match &self.idp_entity_id {
                Some(id) => IdpMetadata::from_xml_for_entity(&xml, id),
                None => IdpMetadata::from_xml(&xml),
            }
            .map_err(|e| Failure::usage(format!("{}: {} ({e})", path.display(), e.reason())))?;
            return Ok(ConnectionConfig::from_metadata(&md, sp));
        }
        let Some(entity_id) = &self.idp_entity_id else {
            return Err(Failure::usage(
                "give the IdP with --idp-metadata FILE, or --idp-cert PEM and --idp-entity-id ID",
            ));
        };
        let mut certs = Vec::new();
        for path in &self.idp_cert {
            let text = String::from_utf8_lossy(&read_file(path)?).into_owned();
            certs.push(
                Certificate::from_pem_or_base64(&text)
                    .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?,
            );
        }
        let endpoints = sso_url
            .map(|u| {
                vec![
                    sso_assertion::Endpoint {
                        binding: Binding::HttpRedirect,
                        location: u.to_owned(),
                    },
                    sso_assertion::Endpoint {
                        binding: Binding::HttpPost,
                        location: u.to_owned(),
                    },
                ]
            })
            .unwrap_or_default();
        Ok(ConnectionConfig::new(entity_id, certs, endpoints, sp))
    }
}

pub(crate) fn run(cmd: SamlCommand) -> Result<Value, Failure> {
    match cmd {
        SamlCommand::Verify(args) => verify(&args),
        SamlCommand::Metadata(args) => {
            let xml = args
                .service_provider()?
                .metadata_xml()
                .map_err(|e| Failure::internal(e.to_string()))?;
            Ok(Value::String(xml))
        }
        SamlCommand::AuthnRequest(args) => {
            let config = args
                .idp
                .connection(args.sp.service_provider()?, args.idp_sso_url.as_deref())?;
            let now = OffsetDateTime::now_utc();
            let out = match args.binding {
                BindingArg::Redirect => config
                    .redirect_request(&args.relay_state, now)
                    .map(|(_, url)| url.to_string()),
                BindingArg::Post => config
                    .post_request(&args.relay_state, now)
                    .map(|(_, form)| form),
            }
            .map_err(|e| Failure::usage(format!("{}: {e}", e.reason())))?;
            Ok(Value::String(out))
        }
    }
}

fn verify(args: &VerifyArgs) -> Result<Value, Failure> {
    let now = match &args.now {
        Some(t) => OffsetDateTime::parse(t, &Rfc3339)
            .map_err(|e| Failure::usage(format!("--now {t:?} is not RFC 3339: {e}")))?,
        None => OffsetDateTime::now_utc(),
    };
    let mut config = args
        .idp
        .connection(args.sp.service_provider()?, None)?
        .clock_skew(time::Duration::seconds(i64::from(args.clock_skew)));
    config
        .dangerous()
        .allow_unsolicited(args.allow_unsolicited)
        .allow_sha1(args.allow_sha1)
        .allow_rsa_1024(args.allow_rsa_1024);
    let input = read_input(&args.response)?;
    let outstanding: Vec<&str> = args.request_id.iter().map(String::as_str).collect();
    let verified = match validate(&input, &config, &ValidationContext::new(now, &outstanding)) {
        Ok(v) => v,
        Err(e) => return Err(Failure::refused(e.reason(), e.detail().to_owned())),
    };
    let claims = Claims::from(&verified);
    let email = find_email(&claims).map_err(|e| Failure::refused(e.reason(), e.to_string()))?;
    let mut attributes = Map::new();
    for a in verified.attributes() {
        let entry = attributes
            .entry(a.name.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.extend(a.values.iter().cloned().map(Value::String));
        }
    }
    let time = |t: Option<OffsetDateTime>| t.and_then(|t| t.format(&Rfc3339).ok());
    Ok(json!({
        "accepted": true,
        "email": email.email().as_str(),
        "email_source": email.source().code(),
        "email_as_sent": email.value_as_sent(),
        "name_id": verified.name_id().value,
        "name_id_format": verified.name_id().format,
        "issuer": verified.issuer(),
        "assertion_id": verified.assertion_id(),
        "in_response_to": verified.in_response_to(),
        "session_index": verified.session_index(),
        "session_not_on_or_after": time(verified.session_not_on_or_after()),
        "remember_until": time(Some(verified.remember_until())),
        "signed": {
            "response": verified.signed_parts().response,
            "assertion": verified.signed_parts().assertion,
            "key": verified.signing_key().to_string(),
        },
        "encrypted": verified.was_encrypted(),
        "attributes": attributes,
    }))
}
