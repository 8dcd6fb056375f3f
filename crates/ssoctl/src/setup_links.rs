//! `ssoctl admin setup-link create|list|revoke`: links to the setup portal, where an org's IT
//! admin sets SSO up alone. Every command prints one JSON object.

use clap::Subcommand;
use serde_json::{Value, json};
use sso_grpc::v1;

use crate::Failure;
use crate::admin::{Admin, text_or_null};
use crate::client::Remote;

#[derive(Debug, Subcommand)]
pub(crate) enum SetupLinkCommand {
    /// Create a setup link for the organization (service-wide admin token only); prints its
    /// URL once.
    Create {
        org: String,
        /// Lifetime, 1 to 2592000 seconds (30 days); absent: 24 hours.
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u32>,
        /// What it may do (repeat, or separate by commas): connection, domains, users,
        /// require-sso, sign-ins. Absent: everything.
        #[arg(long = "ability", value_name = "ABILITY", value_delimiter = ',')]
        abilities: Vec<String>,
    },
    /// List the organization's setup links (never their URLs), newest first.
    List { org: String },
    /// Revoke one of the organization's setup links.
    Revoke {
        org: String,
        /// The link's id (from `list`).
        id: String,
    },
}

fn link_fields(link: &v1::SetupLink) -> Value {
    json!({
        "id": link.id,
        "org_id": link.org_id,
        "abilities": link.abilities,
        "created_by": link.created_by,
        "created_at": link.created_at,
        "expires_at": link.expires_at,
        "revoked_at": text_or_null(&link.revoked_at),
    })
}

fn link_json(link: &v1::SetupLink) -> Value {
    json!({ "ok": true, "setup_link": link_fields(link) })
}

pub(crate) async fn setup_link(
    remote: Remote<Admin>,
    command: SetupLinkCommand,
) -> Result<Value, Failure> {
    match command {
        SetupLinkCommand::Create {
            org,
            ttl,
            abilities,
        } => {
            let message = v1::CreateSetupLinkRequest {
                org_id: org,
                ttl_seconds: ttl.unwrap_or(0),
                abilities,
            };
            remote
                .call(message, Admin::create_setup_link, |created| {
                    json!({
                        "ok": true,
                        "setup_link": created.link.as_ref().map(link_fields),
                        "url": created.url,
                    })
                })
                .await
        }
        SetupLinkCommand::List { org } => {
            let message = v1::ListSetupLinksRequest { org_id: org };
            remote
                .call(message, Admin::list_setup_links, |listed| {
                    let links: Vec<Value> = listed.links.iter().map(link_fields).collect();
                    json!({ "ok": true, "setup_links": links })
                })
                .await
        }
        SetupLinkCommand::Revoke { org, id } => {
            let message = v1::RevokeSetupLinkRequest {
                org_id: org,
                link_id: id,
            };
            remote
                .call(message, Admin::revoke_setup_link, link_json)
                .await
        }
    }
}
