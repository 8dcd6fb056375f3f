//! The real `sso-server` as it runs in production: several servers on one PostgreSQL
//! database, and a server killed without warning in the middle of logins.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sso_grpc::reason_of;
use sso_grpc::v1::auth_service_client::AuthServiceClient;
use sso_grpc::v1::{self, Plan, Reason, Role};
use sso_store::OrgId;
use sso_testkit::idp::{BASE_URL, Idp, Response};
use system_tests::{RunningServer, ServerOptions};
use time::OffsetDateTime;
use tonic::Code;
use tonic::transport::Channel;

mod common;
use common::{
    HttpResponse, OrgSetup, post_form, query_param, set_up_org, wait_until_serving, with_token,
};

const AUTH: &str = "auth-token-of-the-cluster-test";
const ADMIN: &str = "admin-token-of-the-cluster-test";
const APP: &str = "https://app.example.test";

fn options(database_url: Option<String>) -> ServerOptions {
    ServerOptions {
        database_url,
        public_base_url: Some(BASE_URL.to_owned()),
        args: vec!["--default-return-url".into(), format!("{APP}/sso")],
        ..ServerOptions::default()
    }
}

async fn cluster_org(channel: Channel, idp: &Idp) -> String {
    let setup = OrgSetup {
        name: "Cluster",
        plan: Plan::Enterprise,
        domain: "cluster.example",
        metadata_xml: String::from_utf8(idp.metadata()).unwrap(),
        jit_role: Role::Viewer,
    };
    set_up_org(channel, ADMIN, setup).await.0
}

/// One login begun over gRPC and answered by the IdP: (email, SAMLResponse, RelayState).
async fn prepared(
    auth: &mut AuthServiceClient<Channel>,
    idp: &Idp,
    org: &str,
    n: usize,
) -> (String, String, String) {
    let email = format!("user{n}@cluster.example");
    let start = auth
        .begin_sso_login(with_token(
            v1::BeginSsoLoginRequest {
                target: Some(v1::begin_sso_login_request::Target::OrgId(org.into())),
                return_target: "/home".into(),
            },
            Some(AUTH),
        ))
        .await
        .unwrap()
        .into_inner();
    let org_id = OrgId::new(org.parse().unwrap());
    let response = Response::new(
        org_id,
        &format!("_k{n}_{}", start.request_id),
        &email,
        OffsetDateTime::now_utc(),
    )
    .answering(&start.request_id);
    let raw = String::from_utf8(idp.response(&response)).unwrap();
    (email, raw, start.relay_state)
}

async fn post_acs(port: u16, org: &str, saml_response: &str, relay_state: &str) -> HttpResponse {
    post_form(
        port,
        &format!("/saml/2/acs/{org}"),
        &[("SAMLResponse", saml_response), ("RelayState", relay_state)],
    )
    .await
}

/// The login code of a completed login, or the reason of a refused one, from the redirect.
fn verdict(answer: &HttpResponse) -> Result<String, String> {
    assert_eq!(answer.status, 303, "{}", answer.raw);
    let location = answer.header("location").unwrap();
    match (
        query_param(location, "code"),
        query_param(location, "error"),
    ) {
        (Some(code), None) => Ok(code),
        (None, Some(error)) => Err(error),
        other => panic!("neither code nor error: {other:?} in {location}"),
    }
}

async fn is_member(auth: &mut AuthServiceClient<Channel>, org: &str, email: &str) -> bool {
    let answer = auth
        .check_password_login(with_token(
            v1::CheckPasswordLoginRequest {
                email: email.into(),
                org_id: org.into(),
            },
            Some(AUTH),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(answer.allowed, "{answer:?}");
    answer.member
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_accept_a_response_once() {
    sso_testkit::on_postgres("system", "two_servers", |db| async move {
        let idp = Idp::generate("cluster IdP");
        // Both start at once on a fresh database: migrations must not collide.
        let mut a =
            RunningServer::start_with("cluster_a", AUTH, ADMIN, options(Some(db.url.clone())));
        let mut b = RunningServer::start_with("cluster_b", AUTH, ADMIN, options(Some(db.url)));
        let channel_a = wait_until_serving(&mut a).await;
        let channel_b = wait_until_serving(&mut b).await;
        let org = cluster_org(channel_a.clone(), &idp).await;
        let mut auth_a = AuthServiceClient::new(channel_a);
        let mut auth_b = AuthServiceClient::new(channel_b);

        for n in 0..5 {
            let (email, response, relay) = prepared(&mut auth_a, &idp, &org, n).await;
            let (at_a, at_b) = tokio::join!(
                post_acs(a.http_port, &org, &response, &relay),
                post_acs(b.http_port, &org, &response, &relay)
            );
            let verdicts = [verdict(&at_a), verdict(&at_b)];
            let codes: Vec<&String> = verdicts.iter().filter_map(|v| v.as_ref().ok()).collect();
            let errors: Vec<&String> = verdicts.iter().filter_map(|v| v.as_ref().err()).collect();
            assert_eq!(codes.len(), 1, "{verdicts:?}");
            assert_eq!(errors, [&"replayed".to_owned()], "{verdicts:?}");

            // The code is good on either server, once.
            let (first, second) = if n % 2 == 0 {
                (&mut auth_b, &mut auth_a)
            } else {
                (&mut auth_a, &mut auth_b)
            };
            let login = first
                .redeem_login_code(with_token(
                    v1::RedeemLoginCodeRequest {
                        code: codes[0].clone(),
                    },
                    Some(AUTH),
                ))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(login.user.unwrap().email, email);
            let again = second
                .redeem_login_code(with_token(
                    v1::RedeemLoginCodeRequest {
                        code: codes[0].clone(),
                    },
                    Some(AUTH),
                ))
                .await
                .unwrap_err();
            assert_eq!(again.code(), Code::FailedPrecondition);
            assert_eq!(reason_of(&again), Some(Reason::LoginCodeUsed));
        }
        a.assert_running();
        b.assert_running();
    })
    .await;
}

async fn killed_mid_load(name: &str, database_url: Option<String>) {
    const LOGINS: usize = 60;
    let idp = Idp::generate("restart IdP");
    let mut server = RunningServer::start_with(name, AUTH, ADMIN, options(database_url));
    let channel = wait_until_serving(&mut server).await;
    let org = cluster_org(channel.clone(), &idp).await;
    let mut auth = AuthServiceClient::new(channel);
    let mut logins = Vec::new();
    for n in 0..LOGINS {
        logins.push(prepared(&mut auth, &idp, &org, n).await);
    }

    // Logins from four browsers at once; the server is killed (SIGKILL) after the first few
    // complete.
    let port = server.http_port;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let queue = std::sync::Arc::new(tokio::sync::Mutex::new(
        logins.clone().into_iter().enumerate(),
    ));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let queue = queue.clone();
        let done_tx = done_tx.clone();
        let org = org.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let Some((n, (_, response, relay))) = queue.lock().await.next() else {
                    break;
                };
                let path = format!("/saml/2/acs/{org}");
                let form = [
                    ("SAMLResponse", response.as_str()),
                    ("RelayState", relay.as_str()),
                ];
                let answer = common::try_post_form(port, &path, &form).await;
                let _ = done_tx.send((n, answer));
            }
        }));
    }
    drop(done_tx);
    let mut outcomes = vec![None; LOGINS];
    let mut completed = 0;
    while let Some((n, answer)) = done_rx.recv().await {
        if matches!(&answer, Some(a) if a.status == 303) {
            completed += 1;
        }
        outcomes[n] = Some(answer);
        if completed == 10 {
            server.kill();
        }
    }
    for worker in workers {
        worker.await.unwrap();
    }
    assert!(
        completed >= 10,
        "only {completed} logins completed before the kill"
    );

    server.restart();
    let channel = wait_until_serving(&mut server).await;
    let mut auth = AuthServiceClient::new(channel);
    let mut committed = 0;
    let mut retried = 0;
    for (n, (email, response, relay)) in logins.iter().enumerate() {
        match outcomes[n].clone().flatten() {
            Some(answer) if answer.status == 303 => {
                // Answered before the kill: committed, and its code survives the restart.
                let code = verdict(&answer).unwrap_or_else(|e| panic!("login {n} refused: {e}"));
                assert!(is_member(&mut auth, &org, email).await, "login {n} lost");
                let login = auth
                    .redeem_login_code(with_token(v1::RedeemLoginCodeRequest { code }, Some(AUTH)))
                    .await
                    .unwrap_or_else(|e| panic!("code of login {n} lost: {e:?}"))
                    .into_inner();
                assert_eq!(&login.user.unwrap().email, email);
                committed += 1;
            }
            Some(answer) => panic!("login {n} answered before the kill: {}", answer.raw),
            None => {
                // Cut off or never sent: posted again, it either completes now or was
                // committed before the kill (then it is a replay and the member exists).
                let again = post_acs(server.http_port, &org, response, relay).await;
                if let Err(reason) = verdict(&again) {
                    assert_eq!(reason, "replayed", "login {n}");
                }
                assert!(
                    is_member(&mut auth, &org, email).await,
                    "login {n}: no member"
                );
                retried += 1;
            }
        }
    }
    assert_eq!(committed + retried, LOGINS);
    assert!(committed >= 10);
    server.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_committed_login_on_sqlite() {
    killed_mid_load("killed_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_committed_login_on_postgres() {
    sso_testkit::on_postgres("system", "killed", |db| async move {
        killed_mid_load("killed_postgres", Some(db.url)).await;
    })
    .await;
}
