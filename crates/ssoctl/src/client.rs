//! What every gRPC command shares: the client flags, the caller's credentials, and one call to
//! a running sso-server whose answer (or refusal) becomes the printed JSON.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};
use sso_grpc::v1::Reason;
use sso_grpc::{ACTOR_METADATA_KEY, reason_of};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};
use tonic_types::StatusExt as _;

use crate::Failure;

/// How long to wait for the server to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The token a command family sends: admin and login commands use tokens of different scopes,
/// read from different environment variables.
pub(crate) trait TokenScope: Debug + Send + Sync + 'static {
    /// The environment variable holding the token.
    const ENV: &'static str;
    /// The `--token` help line.
    const HELP: &'static str;
}

/// Tokens of scope "admin", for `ssoctl admin`.
#[derive(Debug)]
pub(crate) enum AdminScope {}

impl TokenScope for AdminScope {
    const ENV: &'static str = "SSO_ADMIN_TOKEN";
    const HELP: &'static str = "Bearer token of scope \"admin\", or an org credential \
                                (sso_org_...) for that organization's commands";
}

/// Tokens of scope "auth", for `ssoctl login`.
#[derive(Debug)]
pub(crate) enum AuthScope {}

impl TokenScope for AuthScope {
    const ENV: &'static str = "SSO_AUTH_TOKEN";
    const HELP: &'static str = "Bearer token of scope \"auth\"";
}

/// The flags of every gRPC command: where the server is and the token to send.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs<S: TokenScope> {
    /// The sso-server gRPC address.
    #[arg(
        long,
        env = "SSO_SERVER",
        value_name = "URL",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    server: String,
    #[arg(
        long,
        env = S::ENV,
        help = S::HELP,
        value_name = "TOKEN",
        hide_env_values = true,
        global = true
    )]
    token: Option<String>,
    #[arg(skip)]
    scope: PhantomData<S>,
}

/// Runs one command's future on a small current-thread runtime.
pub(crate) fn block_on(
    command: impl Future<Output = Result<Value, Failure>>,
) -> Result<Value, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::internal(format!("starting the async runtime: {e}")))?
        .block_on(command)
}

/// The one call a command makes to the server, with the caller's credentials.
///
/// Connecting waits for [`Remote::call`], so a command reads its local input first and a usage
/// error never needs a server.
pub(crate) struct Remote<C> {
    server: String,
    caller: Caller,
    client: fn(Channel) -> C,
}

impl<C> Remote<C> {
    /// Checks the credentials from `args` (and the audit `actor`); `client` wraps the channel
    /// in the service's generated client.
    pub(crate) fn new<S: TokenScope>(
        args: &ClientArgs<S>,
        actor: Option<&str>,
        client: fn(Channel) -> C,
    ) -> Result<Self, Failure> {
        Ok(Remote {
            server: args.server.clone(),
            caller: Caller::new(args.token.as_deref(), actor)?,
            client,
        })
    }

    /// Connects, sends `message` through `method` and renders the answer as JSON. A refusal
    /// becomes the `{"ok":false,...}` JSON of [`refusal`].
    pub(crate) async fn call<M, R>(
        self,
        message: M,
        method: impl AsyncFnOnce(&mut C, Request<M>) -> Result<Response<R>, Status>,
        render: impl FnOnce(&R) -> Value,
    ) -> Result<Value, Failure> {
        let mut client = (self.client)(connect(&self.server).await?);
        let response = method(&mut client, self.caller.request(message))
            .await
            .map_err(|status| refusal(&status))?;
        Ok(render(response.get_ref()))
    }
}

/// The caller's credentials, added to the request.
struct Caller {
    token: Option<MetadataValue<Ascii>>,
    actor: Option<MetadataValue<Ascii>>,
}

impl Caller {
    fn new(token: Option<&str>, actor: Option<&str>) -> Result<Self, Failure> {
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

    fn request<T>(&self, message: T) -> Request<T> {
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

/// A channel to `server`: a malformed address is a usage error, an unreachable one is not.
async fn connect(server: &str) -> Result<Channel, Failure> {
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
fn refusal(status: &Status) -> Failure {
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
