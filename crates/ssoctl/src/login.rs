//! `ssoctl login ...`: the sign-in calls a product service makes (AuthService over gRPC), for
//! trying a login by hand and for scripts.
//!
//! Every command prints one JSON object on stdout; a refusal prints the same
//! `{"ok":false,...}` object as the admin commands and exits 1.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};
use serde_json::{Value, json};
use sso_grpc::v1::auth_service_client::AuthServiceClient;
use sso_grpc::v1::{self, Role, begin_sso_login_request::Target};

use tonic::transport::Channel;

use crate::client::{AuthScope, ClientArgs, Remote, block_on};
use crate::{Failure, read_text};

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    #[command(flatten)]
    client: ClientArgs<AuthScope>,
    #[command(subcommand)]
    command: LoginCommand,
}

#[derive(Debug, Subcommand)]
enum LoginCommand {
    /// Start an SP-initiated login: prints the IdP redirect URL, RelayState and request ID.
    #[command(group(ArgGroup::new("target").required(true).args(["org", "email"])))]
    Begin {
        /// The organization to sign in to.
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        /// An email: the organization that verified its domain.
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
        /// Where the browser goes after the login (a path, or a URL on an allowed origin).
        #[arg(long, value_name = "T")]
        return_target: Option<String>,
    },
    /// Exchange the single-use code from the redirect after the ACS for the login.
    Redeem { code: String },
    /// Complete a login from a SAMLResponse posted to the caller's own ACS route.
    Complete {
        #[arg(long, value_name = "ID")]
        org: String,
        /// File holding the SAMLResponse form value (base64), or - for standard input.
        #[arg(long, value_name = "FILE")]
        response: PathBuf,
        /// The RelayState form value.
        #[arg(long, value_name = "R")]
        relay_state: Option<String>,
    },
}

/// Runs one login command.
pub(crate) fn run(args: LoginArgs) -> Result<Value, Failure> {
    block_on(run_async(args))
}

/// The generated client every login command calls through.
type Auth = AuthServiceClient<Channel>;

async fn run_async(args: LoginArgs) -> Result<Value, Failure> {
    let remote = Remote::new(&args.client, None, Auth::new)?;
    match args.command {
        LoginCommand::Begin {
            org,
            email,
            return_target,
        } => {
            let target = match (org, email) {
                (Some(org), _) => Target::OrgId(org),
                (None, Some(email)) => Target::Email(email),
                (None, None) => return Err(Failure::usage("give --org or --email")),
            };
            let message = v1::BeginSsoLoginRequest {
                target: Some(target),
                return_target: return_target.unwrap_or_default(),
            };
            remote
                .call(message, Auth::begin_sso_login, begin_json)
                .await
        }
        LoginCommand::Redeem { code } => {
            let message = v1::RedeemLoginCodeRequest { code };
            remote
                .call(message, Auth::redeem_login_code, login_json)
                .await
        }
        LoginCommand::Complete {
            org,
            response,
            relay_state,
        } => {
            let message = v1::CompleteSsoLoginRequest {
                org_id: org,
                saml_response: read_text(&response)?.trim().to_owned(),
                relay_state: relay_state.unwrap_or_default(),
            };
            remote
                .call(message, Auth::complete_sso_login, login_json)
                .await
        }
    }
}

/// An empty protobuf string as JSON null: "not given" reads better than "".
fn non_empty(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        Value::from(text)
    }
}

fn begin_json(start: &v1::BeginSsoLoginResponse) -> Value {
    json!({
        "ok": true,
        "org_id": start.org_id,
        "request_id": start.request_id,
        "relay_state": start.relay_state,
        "redirect_url": non_empty(&start.redirect_url),
        "post_form_html": non_empty(&start.post_form_html),
    })
}

fn login_json(login: &v1::CompleteSsoLoginResponse) -> Value {
    let user = login.user.as_ref().map(|user| {
        json!({
            "id": user.id,
            "email": user.email,
        })
    });
    let role = match login.role() {
        Role::Unspecified => Value::Null,
        role => Value::from(role.as_str_name()),
    };
    json!({
        "ok": true,
        "login": {
            "user": user,
            "org_id": login.org_id,
            "role": role,
            "project_ids": login.project_ids,
            "membership_created": login.membership_created,
            "session_not_on_or_after": non_empty(&login.session_not_on_or_after),
            "return_target": non_empty(&login.return_target),
        },
    })
}
