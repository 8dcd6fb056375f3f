//! The org set up as a calling service would, logins prepared ahead (AuthnRequests begun and
//! responses signed outside the timed part), and one timed phase of `CompleteSsoLogin` calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sso_dev_idp::{Idp, Response};
use sso_grpc::v1::admin_service_client::AdminServiceClient;
use sso_grpc::v1::auth_service_client::AuthServiceClient;
use sso_grpc::v1::{self, Plan, Role, begin_sso_login_request::Target};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic::{Code, Request};

use crate::server::{ADMIN_TOKEN, AUTH_TOKEN};

/// The public base URL the servers are started with: ACS URLs and SP entity IDs hang off it.
pub const BASE_URL: &str = "https://sso.test";
/// The test IdP's entity ID.
pub const IDP_ENTITY: &str = "https://idp.test/metadata";
/// The test IdP's SSO URL: nothing listens there, the responses are made here.
pub const IDP_SSO_URL: &str = "https://idp.test/sso";

/// No single call may hang a run.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How many AuthnRequests are begun at once while preparing.
const PREPARE_CALLERS: usize = 8;
/// At most this many failures are quoted in an error.
const QUOTED_FAILURES: usize = 3;

fn bearer(token: &str) -> Result<MetadataValue<Ascii>, String> {
    format!("Bearer {token}")
        .parse()
        .map_err(|e| format!("token: {e}"))
}

fn request<T>(message: T, token: &MetadataValue<Ascii>) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", token.clone());
    request.set_timeout(CALL_TIMEOUT);
    request
}

/// An admin call, with the actor its audit event names.
fn as_ops<T>(message: T, token: &MetadataValue<Ascii>) -> Request<T> {
    let mut r = request(message, token);
    r.metadata_mut().insert(
        sso_grpc::ACTOR_METADATA_KEY,
        MetadataValue::from_static("loadgen@ops.example.com"),
    );
    r
}

fn call_error(what: &str, status: &tonic::Status) -> String {
    format!("{what}: {:?} {}", status.code(), status.message())
}

/// An org on the Growth plan with a verified domain, the IdP's metadata, the connection
/// enabled and just-in-time provisioning of members, all through AdminService.
#[derive(Debug, Clone)]
pub struct Org {
    /// The id as the wire carries it.
    pub id: String,
    /// The org's ACS URL and SP entity ID, which responses are addressed to.
    acs_url: String,
    sp_entity_id: String,
    /// The verified domain users' emails are in.
    pub domain: String,
}

/// Sets up [`Org`] on the server behind `channel`.
pub async fn set_up_org(channel: Channel, idp: &Idp, domain: &str) -> Result<Org, String> {
    let token = bearer(ADMIN_TOKEN)?;
    let mut admin = AdminServiceClient::new(channel);
    let org = admin
        .create_org(as_ops(
            v1::CreateOrgRequest {
                name: "Load Test Corp".to_owned(),
                plan: Plan::Growth.into(),
            },
            &token,
        ))
        .await
        .map_err(|s| call_error("CreateOrg", &s))?
        .into_inner();
    let id = org.id;
    admin
        .add_verified_domain(as_ops(
            v1::VerifiedDomainRequest {
                org_id: id.clone(),
                domain: domain.to_owned(),
            },
            &token,
        ))
        .await
        .map_err(|s| call_error("AddVerifiedDomain", &s))?;
    admin
        .import_idp_metadata(as_ops(
            v1::ImportIdpMetadataRequest {
                org_id: id.clone(),
                metadata_xml: idp.metadata(),
                entity_id: idp.entity_id().to_owned(),
                signing_certificate: String::new(),
            },
            &token,
        ))
        .await
        .map_err(|s| call_error("ImportIdpMetadata", &s))?;
    admin
        .set_connection_enabled(as_ops(
            v1::SetConnectionEnabledRequest {
                org_id: id.clone(),
                enabled: true,
            },
            &token,
        ))
        .await
        .map_err(|s| call_error("SetConnectionEnabled", &s))?;
    let connection = admin
        .set_jit(as_ops(
            v1::SetJitRequest {
                org_id: id.clone(),
                role: Role::Member.into(),
                default_project_ids: Vec::new(),
            },
            &token,
        ))
        .await
        .map_err(|s| call_error("SetJit", &s))?
        .into_inner();
    if !connection.enabled || connection.jit_role() != Role::Member {
        return Err(format!(
            "the connection is not enabled with JIT members: {connection:?}"
        ));
    }
    Ok(Org {
        acs_url: format!("{BASE_URL}/saml/2/acs/{id}"),
        sp_entity_id: format!("{BASE_URL}/saml/2/metadata/{id}"),
        id,
        domain: domain.to_owned(),
    })
}

/// One login ready to complete: the server it goes to, who it is, and the request.
#[derive(Debug)]
pub struct Prepared {
    server: usize,
    email: String,
    request: v1::CompleteSsoLoginRequest,
}

/// Begins one AuthnRequest per email (login `i` on server `i % servers`) and signs a
/// response to each with a distinct assertion ID (`tag` keeps IDs apart across phases).
pub async fn prepare(
    channels: &[Channel],
    org: &Org,
    idp: Arc<Idp>,
    emails: &[String],
    tag: &str,
) -> Result<Vec<Prepared>, String> {
    if channels.is_empty() {
        return Err("no server".to_owned());
    }
    let token = bearer(AUTH_TOKEN)?;
    let emails: Arc<Vec<String>> = Arc::new(emails.to_vec());

    // AuthnRequests, a few callers at once.
    let mut begun: Vec<Option<(String, String)>> = vec![None; emails.len()];
    let mut tasks = Vec::new();
    for caller in 0..PREPARE_CALLERS {
        let clients: Vec<_> = channels
            .iter()
            .map(|c| AuthServiceClient::new(c.clone()))
            .collect();
        let (emails, token, org_id) = (emails.clone(), token.clone(), org.id.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (caller..emails.len()).step_by(PREPARE_CALLERS) {
                let mut client = clients.get(i % clients.len()).cloned().ok_or("no client")?;
                let started = client
                    .begin_sso_login(request(
                        v1::BeginSsoLoginRequest {
                            target: Some(Target::OrgId(org_id.clone())),
                            return_target: "/".to_owned(),
                        },
                        &token,
                    ))
                    .await
                    .map_err(|s| call_error("BeginSsoLogin", &s))?
                    .into_inner();
                out.push((i, started.request_id, started.relay_state));
            }
            Ok::<_, String>(out)
        }));
    }
    for task in tasks {
        for (i, request_id, relay_state) in task.await.map_err(|e| e.to_string())?? {
            if let Some(slot) = begun.get_mut(i) {
                *slot = Some((request_id, relay_state));
            }
        }
    }

    // Signed responses, on every core: signing is client CPU the timed part must not pay.
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunk = emails.len().div_ceil(threads).max(1);
    let mut signers = Vec::new();
    let indexed: Vec<(usize, (String, String))> = begun
        .into_iter()
        .enumerate()
        .map(|(i, b)| b.map(|b| (i, b)).ok_or("an AuthnRequest is missing"))
        .collect::<Result<_, _>>()?;
    let servers = channels.len();
    let mut rest = indexed;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk.min(rest.len()));
        let part = std::mem::replace(&mut rest, tail);
        let (idp, emails, org, tag) = (idp.clone(), emails.clone(), org.clone(), tag.to_owned());
        signers.push(tokio::task::spawn_blocking(move || {
            let now = time::OffsetDateTime::now_utc();
            part.into_iter()
                .map(|(i, (request_id, relay_state))| {
                    let email = emails.get(i).cloned().unwrap_or_default();
                    let response = Response::new(
                        &org.acs_url,
                        &org.sp_entity_id,
                        &format!("_{tag}{i}"),
                        &email,
                        now,
                    )
                    .answering(&request_id);
                    let saml_response = idp.response(&response).map_err(|e| e.to_string())?;
                    Ok(Prepared {
                        server: i % servers,
                        email,
                        request: v1::CompleteSsoLoginRequest {
                            org_id: org.id.clone(),
                            saml_response,
                            relay_state,
                        },
                    })
                })
                .collect::<Result<Vec<_>, String>>()
        }));
    }
    let mut prepared = Vec::with_capacity(emails.len());
    for signer in signers {
        let signed = signer.await.map_err(|e| format!("signing: {e}"))?;
        prepared.extend(signed.map_err(|e| format!("signing: {e}"))?);
    }
    Ok(prepared)
}

/// What one timed phase measured.
#[derive(Debug)]
pub struct Phase {
    /// Logins completed successfully.
    pub succeeded: usize,
    /// Wall time from the first call to the last answer.
    pub elapsed: Duration,
    /// Latency of each successful call, sorted.
    pub latencies: Vec<Duration>,
    /// The user id each email signed in as.
    pub users: HashMap<String, String>,
}

/// Completes every prepared login with `callers` concurrent callers, each taking the next
/// login from one queue. Fails unless every login succeeded as expected: a new member when
/// `expect_new`, an existing one otherwise, always the prepared email in `org`.
pub async fn run_phase(
    channels: &[Channel],
    org: &Org,
    prepared: Vec<Prepared>,
    callers: usize,
    expect_new: bool,
) -> Result<Phase, String> {
    let token = bearer(AUTH_TOKEN)?;
    let total = prepared.len();
    let queue = Arc::new(Mutex::new(prepared.into_iter()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers.max(1) {
        let clients: Vec<_> = channels
            .iter()
            .map(|c| AuthServiceClient::new(c.clone()))
            .collect();
        let (queue, token, org_id) = (queue.clone(), token.clone(), org.id.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut users = Vec::new();
            let mut failures = Vec::new();
            loop {
                let next = match queue.lock() {
                    Ok(mut queue) => queue.next(),
                    Err(_) => return Err("a caller panicked".to_owned()),
                };
                let Some(Prepared {
                    server,
                    email,
                    request: message,
                }) = next
                else {
                    break;
                };
                let Some(client) = clients.get(server) else {
                    failures.push(format!("no server {server}"));
                    continue;
                };
                let mut client = client.clone();
                let call_started = Instant::now();
                let result = client.complete_sso_login(request(message, &token)).await;
                let latency = call_started.elapsed();
                match result {
                    Ok(response) => {
                        let mut login = response.into_inner();
                        let user = login.user.take().unwrap_or_default();
                        if user.email != email
                            || login.org_id != org_id
                            || login.membership_created != expect_new
                            || login.role() != Role::Member
                        {
                            failures.push(format!(
                                "{email}: signed in as {:?} in org {:?}, role {:?}, \
                                 membership_created {}",
                                user.email,
                                login.org_id,
                                login.role(),
                                login.membership_created
                            ));
                        } else {
                            latencies.push(latency);
                            users.push((email, user.id));
                        }
                    }
                    Err(status) if status.code() == Code::DeadlineExceeded => {
                        failures.push(format!("{email}: no answer within {CALL_TIMEOUT:?}"));
                    }
                    Err(status) => failures.push(call_error(&email, &status)),
                }
            }
            Ok((latencies, users, failures))
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut users = HashMap::with_capacity(total);
    let mut failures = Vec::new();
    for task in tasks {
        let (l, u, f) = task.await.map_err(|e| e.to_string())??;
        latencies.extend(l);
        users.extend(u);
        failures.extend(f);
    }
    let elapsed = started.elapsed();
    if !failures.is_empty() {
        let quoted: Vec<&str> = failures
            .iter()
            .take(QUOTED_FAILURES)
            .map(String::as_str)
            .collect();
        return Err(format!(
            "{} of {total} logins failed, e.g.:\n  {}",
            failures.len(),
            quoted.join("\n  ")
        ));
    }
    if latencies.len() != total || users.len() != total {
        return Err(format!(
            "{total} logins sent, {} succeeded for {} distinct emails",
            latencies.len(),
            users.len()
        ));
    }
    latencies.sort_unstable();
    Ok(Phase {
        succeeded: latencies.len(),
        elapsed,
        latencies,
        users,
    })
}

/// The latency at percentile `p` (nearest rank) of sorted `latencies`.
pub fn percentile(latencies: &[Duration], p: f64) -> Duration {
    if latencies.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * latencies.len() as f64).ceil() as usize;
    latencies
        .get(rank.clamp(1, latencies.len()) - 1)
        .copied()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&ms, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&ms, 100.0), Duration::from_millis(100));
        let three = [1, 2, 3].map(Duration::from_millis);
        assert_eq!(percentile(&three, 50.0), Duration::from_millis(2));
        assert_eq!(percentile(&three, 99.0), Duration::from_millis(3));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
