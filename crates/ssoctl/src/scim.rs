//! `ssoctl admin scim token create|list|revoke`: the bearer tokens an org's IdP presents to
//! the org's SCIM endpoint. Every command prints one JSON object.

use clap::Subcommand;
use serde_json::{Value, json};
use sso_grpc::v1;

use crate::Failure;
use crate::admin::{Admin, credential_fields};
use crate::client::Remote;

#[derive(Debug, Subcommand)]
pub(crate) enum ScimCommand {
    /// SCIM tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a SCIM token for the organization's IdP; prints the secret and the SCIM base URL
    /// once.
    Create {
        org: String,
        /// What it is for (which IdP, which app).
        #[arg(long, value_name = "TEXT")]
        description: String,
        /// Lifetime, 1 to 31536000 seconds (a year); absent: a year.
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u32>,
    },
    /// List the organization's SCIM tokens (never their secrets), newest first.
    List { org: String },
    /// Revoke one of the organization's SCIM tokens: the IdP's next call is refused.
    Revoke {
        org: String,
        /// The token's id (from `list`).
        id: String,
    },
}

pub(crate) async fn scim(remote: Remote<Admin>, command: ScimCommand) -> Result<Value, Failure> {
    let ScimCommand::Token(command) = command;
    match command {
        TokenCommand::Create {
            org,
            description,
            ttl,
        } => {
            let message = v1::CreateScimTokenRequest {
                org_id: org,
                description,
                ttl_seconds: ttl.unwrap_or(0),
            };
            remote
                .call(message, Admin::create_scim_token, |created| {
                    json!({
                        "ok": true,
                        "token": created.token.as_ref().map(credential_fields),
                        "secret": created.secret,
                        "scim_base_url": created.scim_base_url,
                    })
                })
                .await
        }
        TokenCommand::List { org } => {
            let message = v1::ListScimTokensRequest { org_id: org };
            remote
                .call(message, Admin::list_scim_tokens, |listed| {
                    let tokens: Vec<Value> = listed.tokens.iter().map(credential_fields).collect();
                    json!({ "ok": true, "tokens": tokens })
                })
                .await
        }
        TokenCommand::Revoke { org, id } => {
            let message = v1::RevokeScimTokenRequest {
                org_id: org,
                token_id: id,
            };
            remote
                .call(
                    message,
                    Admin::revoke_scim_token,
                    |revoked| json!({ "ok": true, "token": credential_fields(revoked) }),
                )
                .await
        }
    }
}
