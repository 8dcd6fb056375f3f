//! `sso-server`: the SSO service. Reads flags and environment, connects to and migrates the
//! database, and serves gRPC (AuthService, AdminService, `grpc.health.v1`, server reflection
//! v1) and HTTP (`/healthz`, SP metadata) until SIGINT or SIGTERM, finishing requests in flight.
//! Settings come from flags, environment or a TOML file (`--config`), in that order; with
//! `--tls-cert` and `--tls-key` both listeners speak TLS.
//!
//! Calls need `authorization: Bearer <secret>` with a token of the service's scope (`auth` or
//! `admin`), or for AdminService an org credential (`sso_org_...`, made by
//! `CreateOrgCredential`, checked against the database and limited to its org). With no
//! tokens configured every call is allowed, and the server only binds loopback addresses.
#![forbid(unsafe_code)]

mod auth;
mod config;
mod http;
mod recheck;
mod refresh;
mod scim;
mod test_page;
mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use axum::serve::ListenerExt as _;
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use sso_assertion::SpKey;
use sso_domains::TxtLookup;
use sso_grpc::v1::admin_service_server::AdminServiceServer;
use sso_grpc::v1::auth_service_server::AuthServiceServer;
use sso_grpc::{AdminServiceImpl, AuthServiceImpl, system_clock};
use sso_provisioning::{DomainChecks, Provisioner};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::auth::{Scope, Token, Tokens};

/// glibc's malloc and free were about a sixth of the server's CPU per login under load; a
/// thread-caching allocator takes most of that back (BENCHMARKS.md, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The SSO service: gRPC and SAML HTTP endpoints.
#[derive(Debug, Parser)]
#[command(name = "sso-server", version, about)]
struct Args {
    /// TOML config file with the same settings (names with `_`, `tokens` as a list); flags and
    /// environment override it.
    #[arg(long, env = "SSO_CONFIG")]
    config: Option<PathBuf>,
    /// gRPC listen address.
    #[arg(long, env = "SSO_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// HTTP listen address (health, SAML metadata).
    #[arg(long, env = "SSO_HTTP_LISTEN", default_value = "127.0.0.1:8080")]
    http_listen: SocketAddr,
    /// Database URL: `sqlite://PATH?mode=rwc` or `postgres://...`. By default a SQLite file
    /// `sso.db` in the working directory, created on first start.
    #[arg(
        long,
        env = "SSO_DATABASE_URL",
        default_value = "sqlite://sso.db?mode=rwc"
    )]
    database_url: String,
    /// Public base URL: SP entity IDs and ACS URLs are built on it.
    #[arg(
        long,
        env = "SSO_PUBLIC_BASE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    public_base_url: String,
    /// SP private key (PEM, PKCS#8 or PKCS#1), to sign AuthnRequests.
    #[arg(long, env = "SSO_SP_KEY")]
    sp_key: Option<PathBuf>,
    /// SP certificate (PEM) published in SP metadata; needs --sp-key.
    #[arg(long, env = "SSO_SP_CERT")]
    sp_cert: Option<PathBuf>,
    /// A bearer token, `SCOPE:SECRET` with scope `auth` or `admin`; repeatable. The
    /// environment takes a comma-separated list.
    #[arg(
        long = "token",
        env = "SSO_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    tokens: Vec<Token>,
    /// Where logins without an absolute return target go (IdP-initiated logins), with
    /// `?code=...` added; return targets given as a path are joined onto it.
    #[arg(long, env = "SSO_DEFAULT_RETURN_URL")]
    default_return_url: Option<url::Url>,
    /// An origin return targets may point to (`https://app.example.com`); repeatable, the
    /// environment takes a comma-separated list. Without any, every http(s) URL is accepted.
    #[arg(
        long = "return-origin",
        env = "SSO_RETURN_ORIGINS",
        value_delimiter = ','
    )]
    return_origins: Vec<String>,
    /// Log format.
    #[arg(long, env = "SSO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// TLS certificate chain (PEM, leaf first) for both listeners; needs --tls-key.
    #[arg(long, env = "SSO_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM, unencrypted) for --tls-cert.
    #[arg(long, env = "SSO_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// The name server that domain claims' TXT records are looked up on (`IP:PORT`, UDP and
    /// TCP). By default the system's (`/etc/resolv.conf`).
    #[arg(long, env = "SSO_DNS_SERVER")]
    dns_server: Option<SocketAddr>,
    /// Seconds between re-verifications of each domain verified by DNS.
    #[arg(long, env = "SSO_DOMAIN_RECHECK_INTERVAL", default_value_t = 86_400,
          value_parser = clap::value_parser!(u32).range(1..))]
    domain_recheck_interval: u32,
    /// Re-verifications in a row that find the record gone after which a domain drops back to
    /// pending (it then routes no logins and allows no JIT).
    #[arg(long, env = "SSO_DOMAIN_RECHECK_FAILURES", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..))]
    domain_recheck_failures: u32,
    /// Threads that serve requests (gRPC, HTTP, response validation). By default one per CPU,
    /// less one on SQLite: SQLite runs every statement on its connection's own thread, which
    /// is busy on every login and gets a CPU of its own (BENCHMARKS.md, "Worker threads").
    #[arg(long, env = "SSO_WORKER_THREADS",
          value_parser = clap::value_parser!(u16).range(1..))]
    worker_threads: Option<u16>,
    /// For tests only: let metadata URLs reach loopback addresses, over plain HTTP too.
    /// Off by default: metadata is fetched over HTTPS from public addresses only.
    #[arg(long, env = "SSO_ALLOW_HTTP_METADATA_LOOPBACK")]
    allow_http_metadata_loopback: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

fn main() -> ExitCode {
    let mut command = Args::command();
    let matches = command.get_matches_mut();
    let mut args =
        Args::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut command).exit());
    let warnings = config::apply(&mut args, &matches).unwrap_or_else(|message| {
        command
            .error(clap::error::ErrorKind::ValueValidation, message)
            .exit()
    });
    init_logging(args.log_format);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let workers = worker_threads(args.worker_threads, &args.database_url, cpus);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(workers, cpus, "worker threads");
    match runtime.block_on(run(args)) {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// How many threads serve requests: the setting when given, else one per CPU, less one when
/// the database is SQLite (never fewer than one). sqlx runs each SQLite connection on a thread
/// of its own that every statement of every login passes through; with as many workers as
/// CPUs, three busy threads share two CPUs and the workers wake each other for every
/// statement's result (BENCHMARKS.md, "Worker threads").
fn worker_threads(setting: Option<u16>, database_url: &str, cpus: usize) -> usize {
    match setting {
        Some(n) => usize::from(n).max(1),
        None if database_url.starts_with("sqlite:") => cpus.saturating_sub(1).max(1),
        None => cpus.max(1),
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Refuses to serve every caller on a non-loopback address, and warns about bearer tokens
/// travelling in clear text.
fn check_exposure(args: &Args, tokens: &Tokens) -> Result<(), String> {
    if tokens.is_empty() {
        for addr in [args.listen, args.http_listen] {
            if !addr.ip().is_loopback() {
                return Err(format!(
                    "no tokens configured (--token / SSO_TOKENS): refusing to listen on \
                     non-loopback address {addr}"
                ));
            }
        }
        tracing::warn!(
            "no tokens configured: every gRPC call is allowed, and the server listens on \
             loopback only"
        );
    } else if args.tls_cert.is_none() {
        for addr in [args.listen, args.http_listen] {
            if !addr.ip().is_loopback() {
                tracing::warn!(
                    %addr,
                    "TLS is off (--tls-cert / --tls-key): bearer tokens travel in clear text"
                );
            }
        }
    }
    Ok(())
}

/// Connects to the database and sets the provisioner up from the flags.
async fn provisioner(args: &Args) -> Result<Provisioner, String> {
    let mut provisioner = Provisioner::connect(&args.database_url, args.public_base_url.clone())
        .await
        .map_err(|e| format!("database {}: {e}", redact(&args.database_url)))?
        .with_return_origins(args.return_origins.clone());
    if args.return_origins.is_empty() {
        tracing::warn!(
            "no --return-origin configured: BeginSsoLogin accepts any http(s) return target"
        );
    }
    if let Some(key) = sp_key(args.sp_key.as_deref(), args.sp_cert.as_deref())? {
        provisioner = provisioner.with_sp_key(key);
    }
    Ok(provisioner.with_domain_checks(DomainChecks {
        interval: time::Duration::seconds(i64::from(args.domain_recheck_interval)),
        failures_to_unverify: args.domain_recheck_failures,
    }))
}

/// The TXT lookup of domain claims, on `--dns-server` or the system's name servers.
fn dns_lookup(args: &Args) -> TxtLookup {
    let mut builder = TxtLookup::builder();
    if let Some(server) = args.dns_server {
        builder = builder.name_server(server);
    }
    let lookup = builder.build();
    match lookup.setup_error() {
        Some(why) => tracing::warn!(
            "no DNS resolver ({why}): domain verification will fail until --dns-server is set"
        ),
        None => tracing::info!(
            name_servers = lookup.name_servers(),
            "domain claims are looked up in DNS"
        ),
    }
    lookup
}

/// The metadata fetcher of AdminService and the periodic refresh.
fn fetcher(args: &Args) -> sso_fetch::Fetcher {
    let mut fetcher = sso_fetch::Fetcher::builder();
    if args.allow_http_metadata_loopback {
        tracing::warn!("metadata URLs may reach loopback addresses (a test setting)");
        fetcher = sso_fetch::danger::allow_loopback(fetcher);
    }
    fetcher.build()
}

/// The gRPC services: health, reflection, and AuthService and AdminService behind their
/// tokens.
async fn grpc_router(
    provisioner: &Provisioner,
    fetcher: &sso_fetch::Fetcher,
    lookup: &TxtLookup,
    tokens: &Tokens,
) -> Result<tonic::transport::server::Router, String> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    for name in [
        <AuthServiceServer<AuthServiceImpl> as NamedService>::NAME,
        <AdminServiceServer<AdminServiceImpl> as NamedService>::NAME,
    ] {
        health_reporter
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(sso_grpc::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| format!("reflection: {e}"))?;
    let clock = system_clock();
    Ok(Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_service(AuthServiceServer::with_interceptor(
            AuthServiceImpl::new(provisioner.clone(), clock.clone()),
            tokens.interceptor(Scope::Auth),
        ))
        // The interceptor checks the service-wide token; an org credential passes it by its
        // prefix and is checked against the database by `AdminServer`, before any handler.
        .add_service(InterceptedService::new(
            AdminServiceImpl::new(provisioner.clone(), clock)
                .with_fetcher(fetcher.clone())
                .with_dns_lookup(lookup.clone())
                .into_server(),
            tokens.interceptor(Scope::Admin),
        )))
}

async fn run(mut args: Args) -> Result<(), String> {
    let tokens = Tokens::new(std::mem::take(&mut args.tokens));
    check_exposure(&args, &tokens)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::TlsConfigs::load(cert, key)?),
        _ => None,
    };
    let provisioner = provisioner(&args).await?;

    let grpc_listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("gRPC listener {}: {e}", args.listen))?;
    let http_listener = TcpListener::bind(args.http_listen)
        .await
        .map_err(|e| format!("HTTP listener {}: {e}", args.http_listen))?;
    let grpc_addr = grpc_listener.local_addr().map_err(|e| e.to_string())?;
    let http_addr = http_listener.local_addr().map_err(|e| e.to_string())?;

    let fetcher = fetcher(&args);
    let lookup = dns_lookup(&args);
    let grpc = grpc_router(&provisioner, &fetcher, &lookup, &tokens).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        // An error means the sender is gone: stop as well.
        let _ = rx.wait_for(|stop| *stop).await;
    };

    tokio::spawn(purge_periodically(
        provisioner.clone(),
        stopped(stop_rx.clone()),
    ));
    let router = http_app(&args, &provisioner, &fetcher, &lookup);
    let refresh_task = tokio::spawn(refresh::run(provisioner.clone(), fetcher, stop_rx.clone()));
    let recheck_task = tokio::spawn(recheck::run(
        provisioner.clone(),
        lookup,
        std::time::Duration::from_secs(u64::from(args.domain_recheck_interval)),
        stop_rx.clone(),
    ));
    let (grpc_task, http_task) = match &tls {
        None => (
            // Each accepted socket gets TCP_NODELAY: a custom incoming stream bypasses tonic's
            // own setting, and Nagle's algorithm against delayed ACKs adds ~40 ms to small
            // request/response exchanges.
            tokio::spawn(grpc.serve_with_incoming_shutdown(
                TcpListenerStream::new(grpc_listener).map(|accepted| {
                    accepted.inspect(|tcp| {
                        if let Err(e) = tcp.set_nodelay(true) {
                            tracing::warn!(error = %e, "TCP_NODELAY not set");
                        }
                    })
                }),
                stopped(stop_rx.clone()),
            )),
            tokio::spawn(
                axum::serve(
                    http_listener.tap_io(|tcp| {
                        if let Err(e) = tcp.set_nodelay(true) {
                            tracing::warn!(error = %e, "TCP_NODELAY not set");
                        }
                    }),
                    router,
                )
                .with_graceful_shutdown(stopped(stop_rx))
                .into_future(),
            ),
        ),
        Some(configs) => {
            let grpc_ready = tls::accept_loop(grpc_listener, configs.grpc.clone(), stop_rx.clone());
            let http_ready = tls::accept_loop(http_listener, configs.http.clone(), stop_rx.clone());
            (
                tokio::spawn(grpc.serve_with_incoming_shutdown(
                    tls::incoming(grpc_ready),
                    stopped(stop_rx.clone()),
                )),
                tokio::spawn(
                    axum::serve(tls::TlsListener::new(http_ready, http_addr), router)
                        .with_graceful_shutdown(stopped(stop_rx))
                        .into_future(),
                ),
            )
        }
    };
    tracing::info!(grpc = %grpc_addr, http = %http_addr, tls = tls.is_some(), "serving");

    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop_tx.send(true);
    });

    let grpc_result = grpc_task.await;
    let http_result = http_task.await;
    let _ = refresh_task.await;
    let _ = recheck_task.await;
    match grpc_result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("gRPC server: {e}")),
        Err(e) => return Err(format!("gRPC server task: {e}")),
    }
    match http_result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("HTTP server: {e}")),
        Err(e) => Err(format!("HTTP server task: {e}")),
    }
}

/// Everything on the HTTP listener: health, SP metadata and the ACS, the setup portal's pages,
/// and the orgs' SCIM endpoints.
fn http_app(
    args: &Args,
    provisioner: &Provisioner,
    fetcher: &sso_fetch::Fetcher,
    lookup: &TxtLookup,
) -> axum::Router {
    let portal = sso_portal::router(sso_portal::PortalState {
        provisioner: provisioner.clone(),
        fetcher: fetcher.clone(),
        lookup: lookup.clone(),
        secure_cookies: args.public_base_url.starts_with("https://"),
    });
    let scim = sso_scim::router(
        scim::ScimBackend::new(provisioner.clone()),
        sso_scim::ScimConfig::new(args.public_base_url.trim_end_matches('/')),
    );
    http::router(http::HttpState {
        provisioner: provisioner.clone(),
        default_return_url: args.default_return_url.clone(),
    })
    .merge(portal)
    .merge(scim)
}

/// How often expired AuthnRequests, replay-cache entries and login codes are deleted.
const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// Deletes expired one-time values every [`PURGE_INTERVAL`] until `stop` resolves. Every
/// server does it; the deletes are idempotent, so several servers on one database only repeat
/// each other's work.
async fn purge_periodically(provisioner: Provisioner, stop: impl std::future::Future<Output = ()>) {
    let mut ticks = tokio::time::interval(PURGE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = ticks.tick() => {}
        }
        match provisioner
            .purge_expired(time::OffsetDateTime::now_utc())
            .await
        {
            Ok(purged) => tracing::debug!(
                authn_requests = purged.authn_requests,
                assertions = purged.assertions,
                login_codes = purged.login_codes,
                test_logins = purged.test_logins,
                "purged expired one-time values"
            ),
            Err(e) => tracing::warn!("purging expired one-time values failed: {e}"),
        }
    }
}

/// The SP key pair, when configured.
fn sp_key(key: Option<&Path>, cert: Option<&Path>) -> Result<Option<SpKey>, String> {
    let Some(key) = key else {
        return Ok(None);
    };
    let key_pem = std::fs::read(key).map_err(|e| format!("--sp-key {}: {e}", key.display()))?;
    let sp_key = match cert {
        Some(cert) => {
            let cert_pem = std::fs::read_to_string(cert)
                .map_err(|e| format!("--sp-cert {}: {e}", cert.display()))?;
            SpKey::from_pem(&key_pem, &cert_pem)
        }
        None => SpKey::from_private_key_pem(&key_pem),
    }
    .map_err(|e| format!("SP key: {e}"))?;
    Ok(Some(sp_key))
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user_info = url.get(scheme + 3..at).unwrap_or_default();
            let user = user_info.split(':').next().unwrap_or_default();
            format!(
                "{}{user}:***{}",
                url.get(..scheme + 3).unwrap_or_default(),
                url.get(at..).unwrap_or_default()
            )
        }
        _ => url.to_owned(),
    }
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("SIGINT handler: {e}");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("SIGTERM handler: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::worker_threads;

    #[test]
    fn sqlite_leaves_one_cpu_to_its_connection_thread() {
        let sqlite = "sqlite://sso.db?mode=rwc";
        let postgres = "postgres://sso@db.internal/sso";
        assert_eq!(worker_threads(None, sqlite, 2), 1);
        assert_eq!(worker_threads(None, sqlite, 8), 7);
        assert_eq!(worker_threads(None, sqlite, 1), 1);
        assert_eq!(worker_threads(None, postgres, 2), 2);
        assert_eq!(worker_threads(None, postgres, 1), 1);
        // A setting wins either way.
        assert_eq!(worker_threads(Some(4), sqlite, 2), 4);
        assert_eq!(worker_threads(Some(1), postgres, 8), 1);
    }
}
