//! `ssoctl admin ...`: administration calls to a running sso-server over gRPC.
//!
//! Every command prints one JSON object on stdout. A refusal by the server prints
//! `{"ok":false,"code":...,"reason":"REASON_...","message":...}` and exits 1.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use sso_grpc::v1::admin_service_client::AdminServiceClient;
use sso_grpc::v1::{self, Plan, Reason, Role};
use sso_grpc::{ACTOR_METADATA_KEY, reason_of};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};
use tonic_types::StatusExt as _;

use crate::{Failure, read_input};

/// How long to wait for the server to accept the connection.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    /// The sso-server gRPC address.
    #[arg(
        long,
        env = "SSO_SERVER",
        value_name = "URL",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    server: String,
    /// Bearer token of scope "admin".
    #[arg(
        long,
        env = "SSO_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        global = true
    )]
    token: Option<String>,
    /// Who is acting, recorded in the audit events.
    #[arg(long, env = "SSO_ACTOR", value_name = "NAME", global = true)]
    actor: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Verified email domains of an organization.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// The organization's SSO connection (IdP).
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Just-in-time provisioning.
    #[command(subcommand)]
    Jit(JitCommand),
    /// Require SSO for the organization's members (on needs a successful SSO login first).
    RequireSso { org: String, state: OnOff },
    /// Lift "require SSO" for an organization, audited.
    BreakGlass {
        org: String,
        /// Why; recorded in the audit event.
        #[arg(long, value_name = "TEXT")]
        justification: String,
    },
    /// Login traces of an organization, newest first.
    Traces {
        org: String,
        /// At most 1000; the server's default when absent.
        #[arg(long, value_name = "N")]
        page_size: Option<u32>,
        /// The next_page_token of the previous page.
        #[arg(long, value_name = "T")]
        page_token: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organization.
    Create {
        #[arg(long, value_name = "N")]
        name: String,
        #[arg(long, value_enum)]
        plan: PlanArg,
    },
    /// Show an organization.
    Get { org: String },
    /// Change an organization's plan.
    SetPlan {
        org: String,
        #[arg(value_enum)]
        plan: PlanArg,
    },
}

#[derive(Debug, Subcommand)]
enum DomainCommand {
    /// Add a verified domain.
    Add { org: String, domain: String },
    /// Remove a verified domain.
    Remove { org: String, domain: String },
}

#[derive(Debug, Subcommand)]
enum ConnectionCommand {
    /// Import (or replace) the IdP metadata.
    Import {
        org: String,
        /// IdP metadata XML file, or - for standard input.
        #[arg(long, value_name = "FILE")]
        metadata: PathBuf,
        /// For metadata describing several IdPs: which one.
        #[arg(long, value_name = "ID")]
        entity_id: Option<String>,
    },
    /// Import (or replace) the IdP metadata from an HTTPS URL, and keep the URL for refreshes.
    ImportUrl {
        org: String,
        /// The metadata URL (https).
        #[arg(long, value_name = "URL")]
        url: String,
        /// For metadata describing several IdPs: which one.
        #[arg(long, value_name = "ID")]
        entity_id: Option<String>,
        /// Refresh from the URL this often (300 to 2592000); absent: only on `refresh`.
        #[arg(long, value_name = "SECONDS")]
        refresh_every: Option<u32>,
    },
    /// Fetch the metadata again from its URL now (a failure keeps the configuration).
    Refresh { org: String },
    /// Trust one more IdP signing certificate (key rollover).
    AddCert {
        org: String,
        /// PEM certificate file, or - for standard input.
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
    },
    /// Stop trusting the IdP certificate with this SHA-256 fingerprint.
    RemoveCert {
        org: String,
        /// SHA-256 fingerprint, hex, colons optional.
        #[arg(long, value_name = "HEX")]
        fingerprint: String,
    },
    /// Enable the connection.
    Enable { org: String },
    /// Disable the connection.
    Disable { org: String },
    /// Set the validation opt-ins and clock skew (unset flags are turned off).
    Options {
        org: String,
        /// Accept IdP-initiated (unsolicited) responses.
        #[arg(long)]
        allow_unsolicited: bool,
        /// Accept RSA-SHA1 signatures and SHA-1 digests.
        #[arg(long)]
        allow_sha1: bool,
        /// Allowed clock difference with the IdP, 0 to 3600; 0 or absent means the default.
        #[arg(long, value_name = "SECONDS")]
        clock_skew: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
enum JitCommand {
    /// Turn just-in-time provisioning on with a role and default projects.
    Set {
        org: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A default project; repeat for several.
        #[arg(long = "project", value_name = "ID")]
        projects: Vec<String>,
    },
    /// Turn just-in-time provisioning off.
    Off { org: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PlanArg {
    Starter,
    Plus,
    Growth,
    Enterprise,
}

impl From<PlanArg> for Plan {
    fn from(plan: PlanArg) -> Self {
        match plan {
            PlanArg::Starter => Plan::Starter,
            PlanArg::Plus => Plan::Plus,
            PlanArg::Growth => Plan::Growth,
            PlanArg::Enterprise => Plan::Enterprise,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Viewer,
    Member,
    Manager,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Member => Role::Member,
            RoleArg::Manager => Role::Manager,
            RoleArg::Admin => Role::Admin,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

/// Runs one admin command on a small current-thread runtime.
pub(crate) fn run(args: AdminArgs) -> Result<Value, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::internal(format!("starting the async runtime: {e}")))?;
    runtime.block_on(run_async(args))
}

/// The caller's credentials, added to every request.
pub(crate) struct Caller {
    token: Option<MetadataValue<tonic::metadata::Ascii>>,
    actor: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Caller {
    pub(crate) fn new(token: Option<&str>, actor: Option<&str>) -> Result<Self, Failure> {
        let token = token
            .map(|t| {
                format!("Bearer {t}")
                    .parse()
                    .map_err(|_| Failure::usage("--token: not a valid header value"))
            })
            .transpose()?;
        let actor = actor
            .map(|a| {
                a.parse()
                    .map_err(|_| Failure::usage("--actor: not a valid header value (ASCII only)"))
            })
            .transpose()?;
        Ok(Caller { token, actor })
    }

    pub(crate) fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(CALL_TIMEOUT);
        let metadata = request.metadata_mut();
        if let Some(token) = &self.token {
            metadata.insert("authorization", token.clone());
        }
        if let Some(actor) = &self.actor {
            metadata.insert(ACTOR_METADATA_KEY, actor.clone());
        }
        request
    }
}

/// The error and its causes, on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub(crate) async fn connect(server: &str) -> Result<Channel, Failure> {
    let endpoint = Endpoint::from_shared(server.to_owned())
        .map_err(|e| Failure::usage(format!("--server {server}: {}", error_chain(&e))))?
        .connect_timeout(CONNECT_TIMEOUT);
    endpoint.connect().await.map_err(|e| {
        Failure::internal(format!(
            "cannot connect to sso-server at {server}: {}",
            error_chain(&e)
        ))
    })
}

/// A refusal (or failure) reported by the server, as JSON.
pub(crate) fn refusal(status: &Status) -> Failure {
    let reason = reason_of(status).unwrap_or(Reason::Unspecified);
    // The kebab-case code the service logs and traces (`login-code-used`), when it sent one.
    let reason_code = status
        .get_details_error_info()
        .and_then(|info| info.metadata.get("code").cloned());
    Failure::Remote(json!({
        "ok": false,
        "code": format!("{:?}", status.code()),
        "reason": reason.as_str_name(),
        "reason_code": reason_code,
        "message": status.message(),
    }))
}

async fn run_async(args: AdminArgs) -> Result<Value, Failure> {
    let caller = Caller::new(args.token.as_deref(), args.actor.as_deref())?;
    // Read local input before connecting, so a usage error never needs a server.
    // The metadata XML or certificate PEM file, read before connecting.
    let local_text = match &args.command {
        AdminCommand::Connection(ConnectionCommand::Import { metadata, .. }) => {
            let bytes = read_input(metadata)?;
            Some(
                String::from_utf8(bytes).map_err(|_| {
                    Failure::usage(format!("{}: not UTF-8 text", metadata.display()))
                })?,
            )
        }
        AdminCommand::Connection(ConnectionCommand::AddCert { cert, .. }) => {
            let bytes = read_input(cert)?;
            Some(
                String::from_utf8(bytes)
                    .map_err(|_| Failure::usage(format!("{}: not UTF-8 text", cert.display())))?,
            )
        }
        _ => None,
    };
    let mut client = AdminServiceClient::new(connect(&args.server).await?);
    let c = &caller;
    let result = match args.command {
        AdminCommand::Org(OrgCommand::Create { name, plan }) => client
            .create_org(c.request(v1::CreateOrgRequest {
                name,
                plan: Plan::from(plan).into(),
            }))
            .await
            .map(|r| org_json(&r.into_inner())),
        AdminCommand::Org(OrgCommand::Get { org }) => client
            .get_org(c.request(v1::GetOrgRequest { org_id: org }))
            .await
            .map(|r| org_json(&r.into_inner())),
        AdminCommand::Org(OrgCommand::SetPlan { org, plan }) => client
            .set_plan(c.request(v1::SetPlanRequest {
                org_id: org,
                plan: Plan::from(plan).into(),
            }))
            .await
            .map(|r| org_json(&r.into_inner())),
        AdminCommand::Domain(DomainCommand::Add { org, domain }) => client
            .add_verified_domain(c.request(v1::VerifiedDomainRequest {
                org_id: org,
                domain,
            }))
            .await
            .map(|r| org_json(&r.into_inner())),
        AdminCommand::Domain(DomainCommand::Remove { org, domain }) => client
            .remove_verified_domain(c.request(v1::VerifiedDomainRequest {
                org_id: org,
                domain,
            }))
            .await
            .map(|r| org_json(&r.into_inner())),
        AdminCommand::Connection(ConnectionCommand::Import { org, entity_id, .. }) => client
            .import_idp_metadata(c.request(v1::ImportIdpMetadataRequest {
                org_id: org,
                metadata_xml: local_text.unwrap_or_default(),
                entity_id: entity_id.unwrap_or_default(),
            }))
            .await
            .map(|r| connection_json(&r.into_inner())),
        AdminCommand::Connection(ConnectionCommand::ImportUrl {
            org,
            url,
            entity_id,
            refresh_every,
        }) => client
            .import_idp_metadata_from_url(c.request(v1::ImportIdpMetadataFromUrlRequest {
                org_id: org,
                url,
                entity_id: entity_id.unwrap_or_default(),
                refresh_interval_seconds: refresh_every.unwrap_or(0),
            }))
            .await
            .map(|r| {
                let r = r.into_inner();
                let out = r
                    .connection
                    .as_ref()
                    .map_or_else(|| json!({ "ok": true }), connection_json);
                with_field(
                    out,
                    "source",
                    r.source.as_ref().map_or(Value::Null, source_json),
                )
            }),
        AdminCommand::Connection(ConnectionCommand::Refresh { org }) => client
            .refresh_idp_metadata(c.request(v1::RefreshIdpMetadataRequest { org_id: org }))
            .await
            .map(|r| {
                let r = r.into_inner();
                let out = r
                    .connection
                    .as_ref()
                    .map_or_else(|| json!({ "ok": true }), connection_json);
                let refresh = json!({
                    "result": r.result,
                    "reason": r.reason().as_str_name(),
                    "reason_code": r.reason_code,
                    "message": r.message,
                });
                let out = with_field(out, "refresh", refresh);
                with_field(
                    out,
                    "source",
                    r.source.as_ref().map_or(Value::Null, source_json),
                )
            }),
        AdminCommand::Connection(ConnectionCommand::AddCert { org, .. }) => client
            .add_connection_certificate(c.request(v1::AddConnectionCertificateRequest {
                org_id: org,
                certificate: local_text.unwrap_or_default(),
            }))
            .await
            .map(|r| connection_json(&r.into_inner())),
        AdminCommand::Connection(ConnectionCommand::RemoveCert { org, fingerprint }) => client
            .remove_connection_certificate(c.request(v1::RemoveConnectionCertificateRequest {
                org_id: org,
                fingerprint_sha256: fingerprint,
            }))
            .await
            .map(|r| connection_json(&r.into_inner())),
        AdminCommand::Connection(ConnectionCommand::Enable { org }) => client
            .set_connection_enabled(c.request(v1::SetConnectionEnabledRequest {
                org_id: org,
                enabled: true,
            }))
            .await
            .map(|r| connection_json(&r.into_inner())),
        AdminCommand::Connection(ConnectionCommand::Disable { org }) => client
            .set_connection_enabled(c.request(v1::SetConnectionEnabledRequest {
                org_id: org,
                enabled: false,
            }))
            .await
            .map(|r| connection_json(&r.into_inner())),
        AdminCommand::Connection(ConnectionCommand::Options {
            org,
            allow_unsolicited,
            allow_sha1,
            clock_skew,
        }) => client
            .set_connection_options(c.request(v1::SetConnectionOptionsRequest {
                org_id: org,
                allow_unsolicited,
                allow_sha1,
                clock_skew_seconds: clock_skew.unwrap_or(0),
            }))
            .await
            .map(|r| connection_json(&r.into_inner())),
        AdminCommand::Jit(JitCommand::Set {
            org,
            role,
            projects,
        }) => client
            .set_jit(c.request(v1::SetJitRequest {
                org_id: org,
                role: Role::from(role).into(),
                default_project_ids: projects,
            }))
            .await
            .map(|r| connection_json(&r.into_inner())),
        AdminCommand::Jit(JitCommand::Off { org }) => client
            .set_jit(c.request(v1::SetJitRequest {
                org_id: org,
                role: Role::Unspecified.into(),
                default_project_ids: Vec::new(),
            }))
            .await
            .map(|r| connection_json(&r.into_inner())),
        AdminCommand::RequireSso { org, state } => client
            .set_require_sso(c.request(v1::SetRequireSsoRequest {
                org_id: org,
                require_sso: matches!(state, OnOff::On),
            }))
            .await
            .map(|r| org_json(&r.into_inner())),
        AdminCommand::BreakGlass { org, justification } => client
            .break_glass(c.request(v1::BreakGlassRequest {
                org_id: org,
                justification,
            }))
            .await
            .map(|r| org_json(&r.into_inner())),
        AdminCommand::Traces {
            org,
            page_size,
            page_token,
        } => client
            .list_login_traces(c.request(v1::ListLoginTracesRequest {
                org_id: org,
                page_size: page_size.unwrap_or(0),
                page_token: page_token.unwrap_or_default(),
            }))
            .await
            .map(|r| traces_json(&r.into_inner())),
    };
    result.map_err(|status| refusal(&status))
}

fn org_json(org: &v1::Org) -> Value {
    json!({
        "ok": true,
        "org": {
            "id": org.id,
            "name": org.name,
            "plan": org.plan().as_str_name(),
            "require_sso": org.require_sso,
            "verified_domains": org.verified_domains,
        },
    })
}

fn connection_json(connection: &v1::Connection) -> Value {
    let jit_role = match connection.jit_role() {
        Role::Unspecified => Value::Null,
        role => Value::from(role.as_str_name()),
    };
    let last_login = if connection.last_successful_login_at.is_empty() {
        Value::Null
    } else {
        Value::from(connection.last_successful_login_at.as_str())
    };
    json!({
        "ok": true,
        "connection": {
            "org_id": connection.org_id,
            "idp_entity_id": connection.idp_entity_id,
            "idp_certificate_fingerprints": connection.idp_certificate_fingerprints,
            "enabled": connection.enabled,
            "jit_role": jit_role,
            "jit_default_project_ids": connection.jit_default_project_ids,
            "config_version": connection.config_version,
            "last_successful_login_at": last_login,
            "sp_entity_id": connection.sp_entity_id,
            "acs_url": connection.acs_url,
            "warnings": connection.warnings,
        },
    })
}

/// `object` with `key` set to `value` (an object by construction; anything else is returned
/// as it is).
fn with_field(mut object: Value, key: &str, value: Value) -> Value {
    if let Value::Object(map) = &mut object {
        map.insert(key.to_owned(), value);
    }
    object
}

fn source_json(source: &v1::MetadataSource) -> Value {
    let text = |s: &str| {
        if s.is_empty() {
            Value::Null
        } else {
            Value::from(s)
        }
    };
    json!({
        "url": source.url,
        "entity_id": text(&source.entity_id),
        "refresh_interval_seconds": match source.refresh_interval_seconds {
            0 => Value::Null,
            s => Value::from(s),
        },
        "next_refresh_at": text(&source.next_refresh_at),
        "last_refresh_at": text(&source.last_refresh_at),
        "last_refresh_result": text(&source.last_refresh_result),
    })
}

fn traces_json(response: &v1::ListLoginTracesResponse) -> Value {
    let traces: Vec<Value> = response
        .traces
        .iter()
        .map(|trace| {
            // The detail is JSON from the server; kept as text if it is not.
            let detail = serde_json::from_str::<Value>(&trace.detail_json)
                .unwrap_or_else(|_| Value::from(trace.detail_json.as_str()));
            json!({
                "id": trace.id,
                "occurred_at": trace.occurred_at,
                "kind": trace.kind,
                "outcome": trace.outcome,
                "reason": trace.reason().as_str_name(),
                "reason_code": trace.reason_code,
                "detail": detail,
            })
        })
        .collect();
    let next = if response.next_page_token.is_empty() {
        Value::Null
    } else {
        Value::from(response.next_page_token.as_str())
    };
    json!({
        "ok": true,
        "traces": traces,
        "next_page_token": next,
    })
}
