//! `ssoctl admin ...`: administration calls to a running sso-server over gRPC.
//!
//! Every command prints one JSON object on stdout. A refusal by the server prints
//! `{"ok":false,"code":...,"reason":"REASON_...","message":...}` and exits 1.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use sso_grpc::v1::admin_service_client::AdminServiceClient;
use sso_grpc::v1::{self, Plan, Role};
use tonic::transport::Channel;

use crate::client::{AdminScope, ClientArgs, Remote, block_on};
use crate::group_rules::{GroupRulesCommand, group_rules, rules_json};
use crate::members::{self, MembersCommand, ProjectsCommand};
use crate::{Failure, read_text};

#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    #[command(flatten)]
    client: ClientArgs<AdminScope>,
    /// Who is acting, recorded in the audit events.
    #[arg(long, env = "SSO_ACTOR", value_name = "NAME", global = true)]
    actor: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Organizations (`orgs` works too).
    #[command(subcommand, visible_alias = "orgs")]
    Org(OrgCommand),
    /// Email domains of an organization: claims proven by DNS, and the operator's path.
    #[command(subcommand, visible_alias = "domains")]
    Domain(DomainCommand),
    /// The organization's SSO connection (IdP).
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Just-in-time provisioning.
    #[command(subcommand)]
    Jit(JitCommand),
    /// The organization's members: list, roles, removal, bulk adds.
    #[command(subcommand)]
    Members(MembersCommand),
    /// The host product's projects, by its own ids.
    #[command(subcommand)]
    Projects(ProjectsCommand),
    /// Require SSO for the organization's members (on needs a successful SSO login first).
    RequireSso { org: String, state: OnOff },
    /// Lift "require SSO" for an organization, audited.
    BreakGlass {
        org: String,
        /// Why; recorded in the audit event.
        #[arg(long, value_name = "TEXT")]
        justification: String,
    },
    /// Test the organization's connection without signing anyone in.
    #[command(subcommand)]
    TestLogin(TestLoginCommand),
    /// Org-scoped admin credentials: bearer tokens that administer one organization only.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Links to the setup portal, where the organization's IT admin sets SSO up alone.
    #[command(subcommand)]
    SetupLink(crate::setup_links::SetupLinkCommand),
    /// SCIM provisioning: the tokens the organization's IdP presents.
    #[command(subcommand)]
    Scim(crate::scim::ScimCommand),
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
    /// Show an organization, with whether "require SSO" is in effect now and why not.
    Get { org: String },
    /// List organizations, oldest first, a page at a time.
    List {
        /// At most 1000; the server's default when absent.
        #[arg(long, value_name = "N")]
        page_size: Option<u32>,
        /// The next_page_token of the previous page.
        #[arg(long, value_name = "T")]
        page_token: Option<String>,
        /// Only organizations whose name starts with this (letter case counts).
        #[arg(long, value_name = "TEXT")]
        name_prefix: Option<String>,
    },
    /// Change an organization's plan.
    SetPlan {
        org: String,
        #[arg(value_enum)]
        plan: PlanArg,
    },
}

#[derive(Debug, Subcommand)]
enum DomainCommand {
    /// Claim a domain: prints the TXT record to publish, then run `verify`.
    Claim { org: String, domain: String },
    /// Look the claim's TXT record up and verify the domain (on a verified one: re-check now).
    Verify { org: String, domain: String },
    /// List the organization's claims and verified domains.
    List { org: String },
    /// Operator only: make a domain verified without DNS, audited.
    Add { org: String, domain: String },
    /// Remove a claim or verified domain.
    Remove { org: String, domain: String },
}

#[derive(Debug, Subcommand)]
enum ConnectionCommand {
    /// Show the connection as stored: options, metadata source, warnings, and whether the
    /// current configuration is proven by a login.
    Get { org: String },
    /// Import (or replace) the IdP metadata.
    Import {
        org: String,
        /// IdP metadata XML file, or - for standard input.
        #[arg(long, value_name = "FILE")]
        metadata: PathBuf,
        /// For metadata describing several IdPs: which one.
        #[arg(long, value_name = "ID")]
        entity_id: Option<String>,
        /// Metadata signing certificate (PEM or base64 DER): the metadata's root signature
        /// must verify with it before anything in it is used.
        #[arg(long, value_name = "FILE")]
        signing_cert: Option<PathBuf>,
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
        /// Metadata signing certificate (PEM or base64 DER), kept with the URL: this fetch and
        /// every refresh verify the metadata's root signature with it.
        #[arg(long, value_name = "FILE")]
        signing_cert: Option<PathBuf>,
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
    /// Directory-driven roles: rules mapping IdP groups to a role and projects.
    #[command(subcommand)]
    GroupRules(GroupRulesCommand),
}

#[derive(Debug, Subcommand)]
enum TestLoginCommand {
    /// Start a test login: open the printed redirect_url in a browser and sign in at the IdP.
    /// Works on a disabled connection too; provisions nobody.
    Begin { org: String },
    /// Show a test login's state, checks, email, JIT preview and whether it proved the
    /// configuration.
    Get { org: String, test_login: String },
}

#[derive(Debug, Subcommand)]
enum CredentialsCommand {
    /// Create a credential for the organization (service-wide admin token only); prints its
    /// secret once.
    Create {
        org: String,
        /// What it is for (who holds it, which job); recorded with it.
        #[arg(long, value_name = "TEXT")]
        description: String,
        /// Lifetime, 1 to 31536000 seconds (a year); absent: 90 days.
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u32>,
    },
    /// List the organization's credentials (never their secrets), newest first.
    List { org: String },
    /// Revoke one of the organization's credentials.
    Revoke {
        org: String,
        /// The credential's id (from `list`, or the number in `sso_org_<id>_...`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum JitCommand {
    /// Turn just-in-time provisioning on with a role and default projects.
    Set {
        org: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A default project, by the host product's id (see `projects upsert`); repeat for
        /// several.
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
pub(crate) enum RoleArg {
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

/// Runs one admin command.
pub(crate) fn run(args: AdminArgs) -> Result<Value, Failure> {
    block_on(run_async(args))
}

/// The generated client every admin command calls through.
pub(crate) type Admin = AdminServiceClient<Channel>;

async fn run_async(args: AdminArgs) -> Result<Value, Failure> {
    let remote = Remote::new(&args.client, args.actor.as_deref(), Admin::new)?;
    match args.command {
        AdminCommand::Org(command) => org(remote, command).await,
        AdminCommand::Domain(command) => domain(remote, command).await,
        AdminCommand::Connection(command) => connection(remote, command).await,
        AdminCommand::Jit(command) => jit(remote, command).await,
        AdminCommand::Members(command) => members::members(remote, command).await,
        AdminCommand::Projects(command) => members::projects(remote, command).await,
        AdminCommand::Credentials(command) => credentials(remote, command).await,
        AdminCommand::SetupLink(command) => crate::setup_links::setup_link(remote, command).await,
        AdminCommand::Scim(command) => crate::scim::scim(remote, command).await,
        AdminCommand::RequireSso { org, state } => {
            let message = v1::SetRequireSsoRequest {
                org_id: org,
                require_sso: matches!(state, OnOff::On),
            };
            remote.call(message, Admin::set_require_sso, org_json).await
        }
        AdminCommand::BreakGlass { org, justification } => {
            let message = v1::BreakGlassRequest {
                org_id: org,
                justification,
            };
            remote.call(message, Admin::break_glass, org_json).await
        }
        AdminCommand::TestLogin(command) => test_login(remote, command).await,
        AdminCommand::Traces {
            org,
            page_size,
            page_token,
        } => {
            let message = v1::ListLoginTracesRequest {
                org_id: org,
                page_size: page_size.unwrap_or(0),
                page_token: page_token.unwrap_or_default(),
            };
            remote
                .call(message, Admin::list_login_traces, traces_json)
                .await
        }
    }
}

async fn org(remote: Remote<Admin>, command: OrgCommand) -> Result<Value, Failure> {
    match command {
        OrgCommand::Create { name, plan } => {
            let message = v1::CreateOrgRequest {
                name,
                plan: Plan::from(plan).into(),
            };
            remote.call(message, Admin::create_org, org_json).await
        }
        OrgCommand::Get { org } => {
            let message = v1::GetOrgRequest { org_id: org };
            remote.call(message, Admin::get_org, org_json).await
        }
        OrgCommand::List {
            page_size,
            page_token,
            name_prefix,
        } => {
            let message = v1::ListOrgsRequest {
                page_size: page_size.unwrap_or(0),
                page_token: page_token.unwrap_or_default(),
                name_prefix: name_prefix.unwrap_or_default(),
            };
            remote.call(message, Admin::list_orgs, orgs_json).await
        }
        OrgCommand::SetPlan { org, plan } => {
            let message = v1::SetPlanRequest {
                org_id: org,
                plan: Plan::from(plan).into(),
            };
            remote.call(message, Admin::set_plan, org_json).await
        }
    }
}

async fn domain(remote: Remote<Admin>, command: DomainCommand) -> Result<Value, Failure> {
    match command {
        DomainCommand::Claim { org, domain } => {
            let message = v1::ClaimDomainRequest {
                org_id: org,
                domain,
            };
            remote
                .call(message, Admin::claim_domain, domain_claim_json)
                .await
        }
        DomainCommand::Verify { org, domain } => {
            let message = v1::VerifyDomainRequest {
                org_id: org,
                domain,
            };
            remote
                .call(message, Admin::verify_domain, domain_claim_json)
                .await
        }
        DomainCommand::List { org } => {
            let message = v1::ListDomainsRequest { org_id: org };
            remote
                .call(message, Admin::list_domains, |response| {
                    let domains: Vec<Value> =
                        response.domains.iter().map(domain_claim_value).collect();
                    json!({ "ok": true, "domains": domains })
                })
                .await
        }
        DomainCommand::Add { org, domain } => {
            let message = v1::VerifiedDomainRequest {
                org_id: org,
                domain,
            };
            remote
                .call(message, Admin::add_verified_domain, org_json)
                .await
        }
        DomainCommand::Remove { org, domain } => {
            let message = v1::VerifiedDomainRequest {
                org_id: org,
                domain,
            };
            remote
                .call(message, Admin::remove_verified_domain, org_json)
                .await
        }
    }
}

async fn connection(remote: Remote<Admin>, command: ConnectionCommand) -> Result<Value, Failure> {
    match command {
        ConnectionCommand::Get { org } => {
            let message = v1::GetConnectionRequest { org_id: org };
            remote
                .call(message, Admin::get_connection, connection_json)
                .await
        }
        ConnectionCommand::Import {
            org,
            metadata,
            entity_id,
            signing_cert,
        } => {
            let message = v1::ImportIdpMetadataRequest {
                org_id: org,
                metadata_xml: read_text(&metadata)?,
                entity_id: entity_id.unwrap_or_default(),
                signing_certificate: optional_text(signing_cert.as_deref())?,
            };
            remote
                .call(message, Admin::import_idp_metadata, connection_json)
                .await
        }
        ConnectionCommand::ImportUrl {
            org,
            url,
            entity_id,
            refresh_every,
            signing_cert,
        } => {
            let message = v1::ImportIdpMetadataFromUrlRequest {
                org_id: org,
                url,
                entity_id: entity_id.unwrap_or_default(),
                refresh_interval_seconds: refresh_every.unwrap_or(0),
                signing_certificate: optional_text(signing_cert.as_deref())?,
            };
            remote
                .call(
                    message,
                    Admin::import_idp_metadata_from_url,
                    import_url_json,
                )
                .await
        }
        ConnectionCommand::Refresh { org } => {
            let message = v1::RefreshIdpMetadataRequest { org_id: org };
            remote
                .call(message, Admin::refresh_idp_metadata, refresh_json)
                .await
        }
        ConnectionCommand::AddCert { org, cert } => {
            let message = v1::AddConnectionCertificateRequest {
                org_id: org,
                certificate: read_text(&cert)?,
            };
            remote
                .call(message, Admin::add_connection_certificate, connection_json)
                .await
        }
        ConnectionCommand::RemoveCert { org, fingerprint } => {
            // Sent as typed: the server parses it, and refuses and audits a malformed one.
            let message = v1::RemoveConnectionCertificateRequest {
                org_id: org,
                fingerprint_sha256: fingerprint,
            };
            remote
                .call(
                    message,
                    Admin::remove_connection_certificate,
                    connection_json,
                )
                .await
        }
        ConnectionCommand::GroupRules(command) => group_rules(remote, command).await,
        ConnectionCommand::Enable { org } => set_enabled(remote, org, true).await,
        ConnectionCommand::Disable { org } => set_enabled(remote, org, false).await,
        ConnectionCommand::Options {
            org,
            allow_unsolicited,
            allow_sha1,
            clock_skew,
        } => {
            let message = v1::SetConnectionOptionsRequest {
                org_id: org,
                allow_unsolicited,
                allow_sha1,
                clock_skew_seconds: clock_skew.unwrap_or(0),
            };
            remote
                .call(message, Admin::set_connection_options, connection_json)
                .await
        }
    }
}

async fn set_enabled(remote: Remote<Admin>, org: String, enabled: bool) -> Result<Value, Failure> {
    let message = v1::SetConnectionEnabledRequest {
        org_id: org,
        enabled,
    };
    remote
        .call(message, Admin::set_connection_enabled, connection_json)
        .await
}

async fn jit(remote: Remote<Admin>, command: JitCommand) -> Result<Value, Failure> {
    let message = match command {
        JitCommand::Set {
            org,
            role,
            projects,
        } => v1::SetJitRequest {
            org_id: org,
            role: Role::from(role).into(),
            default_project_ids: projects,
        },
        // No role turns it off.
        JitCommand::Off { org } => v1::SetJitRequest {
            org_id: org,
            role: Role::Unspecified.into(),
            default_project_ids: Vec::new(),
        },
    };
    remote.call(message, Admin::set_jit, connection_json).await
}

async fn test_login(remote: Remote<Admin>, command: TestLoginCommand) -> Result<Value, Failure> {
    match command {
        TestLoginCommand::Begin { org } => {
            let message = v1::BeginTestLoginRequest { org_id: org };
            remote
                .call(message, Admin::begin_test_login, test_login_start_json)
                .await
        }
        TestLoginCommand::Get { org, test_login } => {
            let message = v1::GetTestLoginRequest {
                org_id: org,
                test_login_id: test_login,
            };
            remote
                .call(message, Admin::get_test_login, test_login_json)
                .await
        }
    }
}

async fn credentials(remote: Remote<Admin>, command: CredentialsCommand) -> Result<Value, Failure> {
    match command {
        CredentialsCommand::Create {
            org,
            description,
            ttl,
        } => {
            let message = v1::CreateOrgCredentialRequest {
                org_id: org,
                description,
                ttl_seconds: ttl.unwrap_or(0),
            };
            remote
                .call(message, Admin::create_org_credential, |created| {
                    let out = created
                        .credential
                        .as_ref()
                        .map_or_else(|| json!({ "ok": true }), credential_json);
                    with_field(out, "secret", Value::from(created.secret.as_str()))
                })
                .await
        }
        CredentialsCommand::List { org } => {
            let message = v1::ListOrgCredentialsRequest { org_id: org };
            remote
                .call(message, Admin::list_org_credentials, |listed| {
                    let credentials: Vec<Value> =
                        listed.credentials.iter().map(credential_fields).collect();
                    json!({ "ok": true, "credentials": credentials })
                })
                .await
        }
        CredentialsCommand::Revoke { org, id } => {
            let message = v1::RevokeOrgCredentialRequest {
                org_id: org,
                credential_id: id,
            };
            remote
                .call(message, Admin::revoke_org_credential, credential_json)
                .await
        }
    }
}

/// Empty text as `null`: the wire's "not set" for a string field.
pub(crate) fn text_or_null(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        Value::from(text)
    }
}

/// A reason code as `null` when there is none.
fn reason_json(reason: v1::Reason, code: &str) -> (Value, Value) {
    if code.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (Value::from(reason.as_str_name()), Value::from(code))
    }
}

fn test_login_start_json(start: &v1::BeginTestLoginResponse) -> Value {
    json!({
        "ok": true,
        "test_login": {
            "id": start.test_login_id,
            "org_id": start.org_id,
            "redirect_url": text_or_null(&start.redirect_url),
            "post_form_html": text_or_null(&start.post_form_html),
            "expires_at": start.expires_at,
            "config_version": start.config_version,
            "connection_enabled": start.connection_enabled,
        },
    })
}

fn test_login_json(test: &v1::TestLogin) -> Value {
    let checks: Vec<Value> = test
        .checks
        .iter()
        .map(|check| {
            let (reason, code) = reason_json(check.reason(), &check.reason_code);
            json!({
                "name": check.name,
                "passed": check.passed,
                "reason": reason,
                "reason_code": code,
                "detail": text_or_null(&check.detail),
            })
        })
        .collect();
    let jit = test.jit.as_ref().map_or(Value::Null, |jit| {
        let (reason, code) = reason_json(jit.reason(), &jit.reason_code);
        let role = match jit.role() {
            Role::Unspecified => Value::Null,
            role => Value::from(role.as_str_name()),
        };
        json!({
            "decision": jit.decision,
            "role": role,
            "project_ids": jit.project_ids,
            "user_exists": jit.user_exists,
            "default_projects_withheld": jit.default_projects_withheld,
            "reason": reason,
            "reason_code": code,
            "detail": text_or_null(&jit.detail),
        })
    });
    let (reason, code) = reason_json(test.reason(), &test.reason_code);
    json!({
        "ok": true,
        "test_login": {
            "id": test.id,
            "org_id": test.org_id,
            "state": test.state().as_str_name(),
            "config_version": test.config_version,
            "proved_configuration": test.proved_configuration,
            "connection_enabled": test.connection_enabled,
            "started_by": test.started_by,
            "started_at": test.started_at,
            "expires_at": test.expires_at,
            "completed_at": text_or_null(&test.completed_at),
            "reason": reason,
            "reason_code": code,
            "message": text_or_null(&test.message),
            "email": text_or_null(&test.email),
            "email_source": text_or_null(&test.email_source),
            "jit": jit,
            "checks": checks,
            "trace_id": text_or_null(&test.trace_id),
        },
    })
}

/// A credential as the JSON of its command: `{"ok":true,"credential":{...}}`.
fn credential_json(credential: &v1::OrgCredential) -> Value {
    json!({ "ok": true, "credential": credential_fields(credential) })
}

pub(crate) fn credential_fields(credential: &v1::OrgCredential) -> Value {
    let revoked_at = text_or_null(&credential.revoked_at);
    json!({
        "id": credential.id,
        "org_id": credential.org_id,
        "description": credential.description,
        "created_by": credential.created_by,
        "created_at": credential.created_at,
        "expires_at": credential.expires_at,
        "revoked_at": revoked_at,
    })
}

fn org_json(org: &v1::Org) -> Value {
    json!({
        "ok": true,
        "org": org_fields(org),
    })
}

/// An org as `org get` and `org list` print it.
fn org_fields(org: &v1::Org) -> Value {
    json!({
        "id": org.id,
        "name": org.name,
        "plan": org.plan().as_str_name(),
        "require_sso": org.require_sso,
        "require_sso_in_effect": org.require_sso_in_effect,
        "require_sso_status": org.require_sso_status,
        "require_sso_explanation": org.require_sso_explanation,
        "verified_domains": org.verified_domains,
    })
}

fn orgs_json(response: &v1::ListOrgsResponse) -> Value {
    let next = text_or_null(&response.next_page_token);
    json!({
        "ok": true,
        "orgs": response.orgs.iter().map(org_fields).collect::<Vec<_>>(),
        "next_page_token": next,
    })
}

fn domain_claim_json(claim: &v1::DomainClaim) -> Value {
    json!({ "ok": true, "domain": domain_claim_value(claim) })
}

/// A domain claim; empty wire strings are `null`.
fn domain_claim_value(claim: &v1::DomainClaim) -> Value {
    let text = text_or_null;
    json!({
        "org_id": claim.org_id,
        "domain": claim.domain,
        "state": claim.state,
        "record": {
            "name": claim.record_name,
            "type": "TXT",
            "value": text(&claim.record_value),
        },
        "verified_by": text(&claim.verified_by),
        "verified_at": text(&claim.verified_at),
        "claimed_at": claim.claimed_at,
        "last_checked_at": text(&claim.last_checked_at),
        "last_check_result": text(&claim.last_check_result),
        "failures_in_a_row": claim.failures_in_a_row,
        "next_check_at": text(&claim.next_check_at),
    })
}

pub(crate) fn connection_json(connection: &v1::Connection) -> Value {
    let jit_role = match connection.jit_role() {
        Role::Unspecified => Value::Null,
        role => Value::from(role.as_str_name()),
    };
    let last_login = text_or_null(&connection.last_successful_login_at);
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
            "allow_unsolicited": connection.allow_unsolicited,
            "allow_sha1": connection.allow_sha1,
            "clock_skew_seconds": connection.clock_skew_seconds,
            "metadata_origin": connection.metadata_origin,
            "metadata_source": connection
                .metadata_source
                .as_ref()
                .map_or(Value::Null, source_json),
            "configuration_changed_at": connection.configuration_changed_at,
            "proven": connection.proven,
            "group_role_rules": rules_json(connection.group_role_rules.as_ref()),
        },
    })
}

/// The connection (if the server sent one) with its metadata source.
fn import_url_json(response: &v1::ImportIdpMetadataFromUrlResponse) -> Value {
    let out = response
        .connection
        .as_ref()
        .map_or_else(|| json!({ "ok": true }), connection_json);
    with_field(
        out,
        "source",
        response.source.as_ref().map_or(Value::Null, source_json),
    )
}

/// The connection (if the server sent one), the outcome of the refresh and the metadata source.
fn refresh_json(response: &v1::RefreshIdpMetadataResponse) -> Value {
    let out = response
        .connection
        .as_ref()
        .map_or_else(|| json!({ "ok": true }), connection_json);
    let refresh = json!({
        "result": response.result,
        "reason": response.reason().as_str_name(),
        "reason_code": response.reason_code,
        "message": response.message,
    });
    let out = with_field(out, "refresh", refresh);
    with_field(
        out,
        "source",
        response.source.as_ref().map_or(Value::Null, source_json),
    )
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
    let text = text_or_null;
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
        "signing_certificate_fingerprint": text(&source.signing_certificate_fingerprint),
        "valid_until": text(&source.valid_until),
        "cache_duration_seconds": match source.cache_duration_seconds {
            0 => Value::Null,
            s => Value::from(s),
        },
    })
}

/// The text of an optional file (or standard input for `-`); empty when not given.
fn optional_text(path: Option<&Path>) -> Result<String, Failure> {
    path.map_or_else(|| Ok(String::new()), read_text)
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
    let next = text_or_null(&response.next_page_token);
    json!({
        "ok": true,
        "traces": traces,
        "next_page_token": next,
    })
}
