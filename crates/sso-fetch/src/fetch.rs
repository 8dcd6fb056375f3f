//! The fetcher: one GET, following a few redirects, each hop checked from scratch.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use http_body_util::{BodyExt as _, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONNECTION, CONTENT_LENGTH, HOST, LOCATION, USER_AGENT};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use openssl::ssl::{SslConnector, SslMethod, SslVersion};
use openssl::x509::X509;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use url::{Host, Url};

use crate::address::{blocked_range, is_loopback};
use crate::error::FetchError;

/// Default size limit: real IdP metadata is a few kilobytes; federation aggregates that large
/// are not meant for one connection.
pub const DEFAULT_MAX_BYTES: usize = 2 * 1024 * 1024;
/// Default limit on the whole fetch: resolving, connecting, every redirect and reading.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of redirects followed.
pub const DEFAULT_MAX_REDIRECTS: u32 = 3;
/// The longest URL accepted.
const MAX_URL_LEN: usize = 4096;

const ACCEPTED_TYPES: &str =
    "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1";

/// Fetches documents by URL for an admin, within limits. Cheap to clone.
///
/// Built with [`Fetcher::builder`]; [`Fetcher::default`] has the default limits, trusts the
/// system's root certificates and refuses loopback.
#[derive(Debug, Clone)]
pub struct Fetcher {
    max_bytes: usize,
    timeout: Duration,
    max_redirects: u32,
    extra_roots: Vec<X509>,
    allow_loopback: bool,
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::builder().build()
    }
}

/// Settings of a [`Fetcher`].
#[derive(Debug, Clone)]
pub struct FetcherBuilder {
    fetcher: Fetcher,
}

impl FetcherBuilder {
    /// The largest document accepted, in bytes. Default: 2 MiB.
    #[must_use]
    pub fn max_bytes(mut self, max: usize) -> Self {
        self.fetcher.max_bytes = max;
        self
    }

    /// The limit on the whole fetch, redirects included. Default: 10 s.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.fetcher.timeout = timeout;
        self
    }

    /// How many redirects are followed. Default: 3.
    #[must_use]
    pub fn max_redirects(mut self, max: u32) -> Self {
        self.fetcher.max_redirects = max;
        self
    }

    /// Trusts `root` besides the system's root certificates (a private CA, a test server).
    #[must_use]
    pub fn add_root_certificate(mut self, root: X509) -> Self {
        self.fetcher.extra_roots.push(root);
        self
    }

    /// The fetcher.
    pub fn build(self) -> Fetcher {
        self.fetcher
    }
}

/// Options that weaken the fetcher's protections: for tests only, never a production setting.
pub mod danger {
    use super::FetcherBuilder;

    /// Lets the fetcher connect to loopback addresses (127.0.0.0/8, `::1`), over HTTPS and
    /// over plain HTTP. Every other non-public range stays blocked, and plain HTTP still
    /// reaches nothing but loopback.
    #[must_use]
    pub fn allow_loopback(mut builder: FetcherBuilder) -> FetcherBuilder {
        builder.fetcher.allow_loopback = true;
        builder
    }
}

/// A fetched document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fetched {
    /// The body, at most the size limit.
    pub body: Vec<u8>,
    /// The URL that answered, after redirects.
    pub final_url: String,
    /// How many redirects were followed.
    pub redirects: u32,
}

/// Aborts the HTTP connection task when the fetch ends, however it ends (a timeout drops the
/// fetch mid-way).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A URL's parts, checked.
struct Target {
    url: Url,
    host: String,
    tls: bool,
    port: u16,
}

/// One stream type for plain and TLS connections.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

enum Hop {
    Body(Vec<u8>),
    Redirect(Url),
}

impl Fetcher {
    /// Default settings, to adjust.
    pub fn builder() -> FetcherBuilder {
        FetcherBuilder {
            fetcher: Fetcher {
                max_bytes: DEFAULT_MAX_BYTES,
                timeout: DEFAULT_TIMEOUT,
                max_redirects: DEFAULT_MAX_REDIRECTS,
                extra_roots: Vec::new(),
                allow_loopback: false,
            },
        }
    }

    /// Whether loopback addresses (and plain HTTP to them) are allowed ([`danger`]).
    pub fn allows_loopback(&self) -> bool {
        self.allow_loopback
    }

    /// GETs `url`: HTTPS to public addresses only, at most the size limit, within the time
    /// limit, following at most the redirect limit, each redirect checked like the first URL.
    pub async fn fetch(&self, url: &str) -> Result<Fetched, FetchError> {
        let limit = self.timeout;
        tokio::time::timeout(limit, self.fetch_within_time(url))
            .await
            .map_err(|_| FetchError::Timeout { limit })?
    }

    async fn fetch_within_time(&self, url: &str) -> Result<Fetched, FetchError> {
        let mut url = parse_url(url)?;
        let mut redirects = 0;
        loop {
            let target = self.check_url(url)?;
            match self.get(&target).await? {
                Hop::Body(body) => {
                    return Ok(Fetched {
                        body,
                        final_url: target.url.to_string(),
                        redirects,
                    });
                }
                Hop::Redirect(next) => {
                    if redirects >= self.max_redirects {
                        return Err(FetchError::TooManyRedirects {
                            limit: self.max_redirects,
                        });
                    }
                    redirects += 1;
                    url = next;
                }
            }
        }
    }

    fn check_url(&self, url: Url) -> Result<Target, FetchError> {
        let tls = match url.scheme() {
            "https" => true,
            "http" if self.allow_loopback => false,
            "http" => {
                return Err(FetchError::Scheme {
                    url: url.to_string(),
                    detail: "plain HTTP is refused; use https".into(),
                });
            }
            other => {
                return Err(FetchError::Scheme {
                    url: url.to_string(),
                    detail: format!("scheme {other:?} is refused; use https"),
                });
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::InvalidUrl {
                url: url.to_string(),
                detail: "credentials in the URL are not accepted".into(),
            });
        }
        let host = match url.host() {
            Some(Host::Domain(d)) => d.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            None => {
                return Err(FetchError::InvalidUrl {
                    url: url.to_string(),
                    detail: "no host".into(),
                });
            }
        };
        let port = url.port_or_known_default().unwrap_or(443);
        Ok(Target {
            url,
            host,
            tls,
            port,
        })
    }

    /// Every address of the host, each checked; none is used unless all pass.
    async fn resolve(&self, target: &Target) -> Result<Vec<SocketAddr>, FetchError> {
        let addresses: Vec<SocketAddr> = match target.url.host() {
            Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), target.port)],
            Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), target.port)],
            _ => tokio::net::lookup_host((target.host.as_str(), target.port))
                .await
                .map_err(|e| {
                    FetchError::failed(&target.url, format!("cannot resolve {}: {e}", target.host))
                })?
                .collect(),
        };
        if addresses.is_empty() {
            return Err(FetchError::failed(
                &target.url,
                format!("{} has no address", target.host),
            ));
        }
        for address in &addresses {
            if let Some(range) = blocked_range(address.ip(), self.allow_loopback) {
                return Err(FetchError::BlockedAddress {
                    host: target.host.clone(),
                    address: address.ip(),
                    range,
                });
            }
            if !target.tls && !is_loopback(address.ip()) {
                return Err(FetchError::Scheme {
                    url: target.url.to_string(),
                    detail: format!(
                        "plain HTTP reaches loopback only, and {} is {}",
                        target.host,
                        address.ip()
                    ),
                });
            }
        }
        Ok(addresses)
    }

    /// Connects to the first checked address that accepts, and does TLS when asked.
    async fn connect(&self, target: &Target) -> Result<Box<dyn Stream>, FetchError> {
        let addresses = self.resolve(target).await?;
        let mut last_error = None;
        let mut tcp = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last_error = Some(format!("{address}: {e}")),
            }
        }
        let Some(tcp) = tcp else {
            return Err(FetchError::failed(
                &target.url,
                format!(
                    "cannot connect: {}",
                    last_error.unwrap_or_else(|| "no address".into())
                ),
            ));
        };
        if !target.tls {
            return Ok(Box::new(tcp));
        }
        let tls_error = |detail: String| FetchError::Tls {
            host: target.host.clone(),
            detail,
        };
        let ssl = self
            .tls_connector()
            .and_then(|c| c.configure())
            .and_then(|c| c.into_ssl(&target.host))
            .map_err(|e| tls_error(e.to_string()))?;
        let mut stream =
            tokio_openssl::SslStream::new(ssl, tcp).map_err(|e| tls_error(e.to_string()))?;
        if let Err(e) = Pin::new(&mut stream).connect().await {
            let verify = stream.ssl().verify_result();
            let detail = if verify.as_raw() == 0 {
                e.to_string()
            } else {
                format!("certificate verification failed: {}", verify.error_string())
            };
            return Err(tls_error(detail));
        }
        Ok(Box::new(stream))
    }

    /// System roots plus the extra ones; TLS 1.2 or later; SNI and host name checks are the
    /// connector's defaults.
    fn tls_connector(&self) -> Result<SslConnector, openssl::error::ErrorStack> {
        let mut builder = SslConnector::builder(SslMethod::tls_client())?;
        builder.set_min_proto_version(Some(SslVersion::TLS1_2))?;
        for root in &self.extra_roots {
            builder.cert_store_mut().add_cert(root.clone())?;
        }
        Ok(builder.build())
    }

    /// One request on its own connection.
    async fn get(&self, target: &Target) -> Result<Hop, FetchError> {
        let stream = self.connect(target).await?;
        let fail = |e: hyper::Error| FetchError::failed(&target.url, e);
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(fail)?;
        let _connection = AbortOnDrop(tokio::spawn(async move {
            // The outcome reaches the caller through the response.
            let _ = connection.await;
        }));
        let host_header = match (target.url.host(), target.url.port()) {
            (Some(Host::Ipv6(ip)), Some(port)) => format!("[{ip}]:{port}"),
            (Some(Host::Ipv6(ip)), None) => format!("[{ip}]"),
            (_, Some(port)) => format!("{}:{port}", target.host),
            (_, None) => target.host.clone(),
        };
        let path = match target.url.query() {
            Some(query) => format!("{}?{query}", target.url.path()),
            None => target.url.path().to_owned(),
        };
        let request = Request::get(path)
            .header(HOST, host_header)
            .header(ACCEPT, ACCEPTED_TYPES)
            .header(USER_AGENT, concat!("sso-fetch/", env!("CARGO_PKG_VERSION")))
            .header(CONNECTION, "close")
            .body(Empty::new())
            .map_err(|e| FetchError::failed(&target.url, e))?;
        let response = sender.send_request(request).await.map_err(fail)?;
        let status = response.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            let next = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| target.url.join(l).ok());
            return match next {
                Some(next) if next.as_str().len() <= MAX_URL_LEN => Ok(Hop::Redirect(next)),
                _ => Err(FetchError::HttpStatus {
                    status: status.as_u16(),
                    url: target.url.to_string(),
                }),
            };
        }
        if status != StatusCode::OK {
            return Err(FetchError::HttpStatus {
                status: status.as_u16(),
                url: target.url.to_string(),
            });
        }
        self.read_body(target, response).await.map(Hop::Body)
    }

    /// The body, counted while reading: a server cannot make us hold more than the limit,
    /// whatever its Content-Length says.
    async fn read_body(
        &self,
        target: &Target,
        response: Response<Incoming>,
    ) -> Result<Vec<u8>, FetchError> {
        let limit = self.max_bytes;
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(FetchError::TooLarge { limit });
        }
        let initial = declared
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .min(limit);
        let mut body = Vec::with_capacity(initial);
        let mut incoming = response.into_body();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| FetchError::failed(&target.url, e))?;
            if let Ok(data) = frame.into_data() {
                if body.len().saturating_add(data.len()) > limit {
                    return Err(FetchError::TooLarge { limit });
                }
                body.extend_from_slice(&data);
            }
        }
        Ok(body)
    }
}

fn parse_url(text: &str) -> Result<Url, FetchError> {
    let invalid = |detail: String| FetchError::InvalidUrl {
        url: text.chars().take(200).collect(),
        detail,
    };
    if text.len() > MAX_URL_LEN {
        return Err(invalid(format!("longer than {MAX_URL_LEN} bytes")));
    }
    Url::parse(text.trim()).map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn urls_without_a_usable_host_or_with_credentials_are_invalid() {
        let fetcher = Fetcher::default();
        for text in ["not a url", "https://", "/relative/path"] {
            let error = parse_url(text)
                .and_then(|u| fetcher.check_url(u).map(|_| ()))
                .unwrap_err();
            assert_eq!(error.reason(), "metadata-url-invalid", "{text}: {error}");
        }
        let error = fetcher
            .check_url(parse_url("https://user:secret@idp.example.com/md").unwrap())
            .err()
            .unwrap();
        assert_eq!(error.reason(), "metadata-url-invalid");
        assert!(!error.to_string().is_empty());
        let long = format!("https://idp.example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(
            parse_url(&long).unwrap_err().reason(),
            "metadata-url-invalid"
        );
    }

    #[test]
    fn only_https_is_accepted_by_default() {
        let fetcher = Fetcher::default();
        for text in [
            "http://idp.example.com/md",
            "ftp://idp.example.com/md",
            "file:///etc/passwd",
            "gopher://idp.example.com/",
        ] {
            let error = fetcher.check_url(parse_url(text).unwrap()).err().unwrap();
            assert_eq!(error.reason(), "metadata-url-scheme", "{text}");
        }
        let target = fetcher
            .check_url(parse_url("https://idp.example.com/md").unwrap())
            .ok()
            .unwrap();
        assert!(target.tls);
        assert_eq!(target.port, 443);
    }
}
