//! The TXT lookup that checks a claim, through a real stub resolver (hickory): the system's
//! name servers (`/etc/resolv.conf`) or one given name server, UDP with TCP fallback, no
//! cache (a removed record must be seen as removed), hosts file never consulted, and a bound
//! on the whole lookup.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::{Name, ResolveError, ResolveErrorKind, TokioResolver};

use crate::error::CheckError;
use crate::record::{ClaimToken, Finding, read_values, record_name};

/// How long one query waits for an answer by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Queries per lookup (the first and one retry).
const ATTEMPTS: usize = 2;

/// Checks claims by looking up their TXT record. Cheap to clone; one per service.
///
/// ```no_run
/// use sso_domains::{ClaimToken, TxtLookup};
///
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let lookup = TxtLookup::builder()
///     .name_server("127.0.0.1:5353".parse()?)
///     .build();
/// let token = ClaimToken::generate()?;
/// // Publish `_sso-verification.bigcorp.com TXT "sso-verification=<token>"`, then:
/// lookup.check("bigcorp.com", &token).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TxtLookup {
    /// The resolver, or why the system configuration could not give one.
    resolver: Result<TokioResolver, String>,
    /// What it asks, for logs.
    description: String,
    /// The bound on one whole lookup.
    deadline: Duration,
}

impl fmt::Debug for TxtLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxtLookup")
            .field("name_servers", &self.description)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Default for TxtLookup {
    /// The system's name servers, default timeout.
    fn default() -> Self {
        Self::builder().build()
    }
}

/// Settings of a [`TxtLookup`].
#[derive(Debug, Clone)]
pub struct TxtLookupBuilder {
    name_server: Option<SocketAddr>,
    timeout: Duration,
}

impl TxtLookupBuilder {
    /// Asks this name server (UDP and TCP on its port) instead of the system's. It must
    /// resolve the domains' names recursively, or be authoritative for them (tests).
    #[must_use]
    pub fn name_server(mut self, address: SocketAddr) -> Self {
        self.name_server = Some(address);
        self
    }

    /// How long one query waits (default [`DEFAULT_TIMEOUT`]); a lookup makes at most two.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The lookup. Never fails: when the system configuration cannot be read, every check
    /// fails with `domain-lookup-failed` naming why ([`TxtLookup::setup_error`]).
    pub fn build(self) -> TxtLookup {
        let (resolver, description) = match self.name_server {
            Some(address) => {
                let servers =
                    NameServerConfigGroup::from_ips_clear(&[address.ip()], address.port(), true);
                let config = ResolverConfig::from_parts(None, Vec::new(), servers);
                let builder =
                    TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
                (Ok(builder), address.to_string())
            }
            None => (
                TokioResolver::builder_tokio().map_err(|e| e.to_string()),
                "the system's name servers".to_owned(),
            ),
        };
        let resolver = resolver.map(|mut builder| {
            configure(builder.options_mut(), self.timeout);
            builder.build()
        });
        TxtLookup {
            resolver,
            description,
            deadline: self.timeout * (ATTEMPTS as u32) + Duration::from_secs(1),
        }
    }
}

/// The options every lookup runs with, whatever the system configuration says.
fn configure(options: &mut ResolverOpts, timeout: Duration) {
    options.timeout = timeout;
    options.attempts = ATTEMPTS;
    // A cached answer would hide a record that was just published or removed.
    options.cache_size = 0;
    options.positive_max_ttl = Some(Duration::ZERO);
    options.negative_max_ttl = Some(Duration::ZERO);
    options.use_hosts_file = ResolveHosts::Never;
    options.edns0 = true;
    options.try_tcp_on_error = true;
}

impl TxtLookup {
    /// Settings, starting from the system's name servers and [`DEFAULT_TIMEOUT`].
    pub fn builder() -> TxtLookupBuilder {
        TxtLookupBuilder {
            name_server: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Why the system's resolver configuration could not be read, if it could not: then every
    /// check fails with `domain-lookup-failed`.
    pub fn setup_error(&self) -> Option<&str> {
        self.resolver.as_ref().err().map(String::as_str)
    }

    /// Which name servers it asks, for logs: an address, or the system's.
    pub fn name_servers(&self) -> &str {
        &self.description
    }

    /// Looks up `_sso-verification.<domain>` and checks that one of its TXT values is
    /// `sso-verification=<token>`. `domain` is the ASCII form (`sso_email::Email::domain()`).
    ///
    /// Errors: `domain-record-missing` (no such name, no TXT record, or no verification value
    /// among them), `domain-token-mismatch` (verification values, none with this token),
    /// `domain-lookup-failed`, `domain-lookup-timeout`.
    pub async fn check(&self, domain: &str, token: &ClaimToken) -> Result<(), CheckError> {
        let name = record_name(domain);
        let resolver = self
            .resolver
            .as_ref()
            .map_err(|e| CheckError::LookupFailed {
                name: name.clone(),
                detail: format!("no resolver: {e}"),
            })?;
        // Fully qualified, so no search domain is ever appended.
        let fqdn = Name::from_ascii(format!("{name}.")).map_err(|e| CheckError::LookupFailed {
            name: name.clone(),
            detail: format!("not a DNS name: {e}"),
        })?;
        let answer = tokio::time::timeout(self.deadline, resolver.txt_lookup(fqdn))
            .await
            .map_err(|_| CheckError::Timeout {
                name: name.clone(),
                after: self.deadline,
            })?;
        let lookup = match answer {
            Ok(lookup) => lookup,
            Err(error) => return Err(classify(name, &error, self.deadline)),
        };
        let values = lookup.iter().map(|txt| txt.txt_data().concat());
        match read_values(values, token) {
            Finding::Proven => Ok(()),
            Finding::OtherTokens(found) => Err(CheckError::TokenMismatch { name, found }),
            Finding::Nothing => Err(CheckError::RecordMissing { name }),
        }
    }
}

/// A resolver error as a check error: no such name (NXDOMAIN) or no TXT record at it (an
/// empty NOERROR answer) is a definitive `domain-record-missing`; a timeout is
/// `domain-lookup-timeout`; anything else (SERVFAIL, REFUSED, no server reachable, an
/// unreadable answer) is `domain-lookup-failed`.
fn classify(name: String, error: &ResolveError, deadline: Duration) -> CheckError {
    let detail = match error.kind() {
        ResolveErrorKind::Proto(proto) => match proto.kind() {
            ProtoErrorKind::NoRecordsFound { response_code, .. } => match response_code {
                ResponseCode::NXDomain | ResponseCode::NoError => {
                    return CheckError::RecordMissing { name };
                }
                code => format!("the name server answered {code}"),
            },
            ProtoErrorKind::Timeout => {
                return CheckError::Timeout {
                    name,
                    after: deadline,
                };
            }
            _ => error.to_string(),
        },
        _ => error.to_string(),
    };
    CheckError::LookupFailed { name, detail }
}
