//! The fetcher against local servers: HTTPS with a certificate made at run time, plain HTTP,
//! and servers that send too much, too slowly, or redirect forever.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::X509;
use sso_certgen::{CertifiedKey, KeyType};
use sso_fetch::{FetchError, Fetcher, FetcherBuilder, danger};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

const METADATA: &[u8] = b"<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"https://idp.test\"/>";

/// What a test server does with a request for `path`.
enum Reply {
    /// Writes these bytes and closes.
    Raw(Vec<u8>),
    /// Reads the request and never answers.
    Silent,
    /// Sends headers, then one byte every 100 ms, forever.
    Trickle,
}

type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

fn ok(body: &[u8]) -> Reply {
    let mut raw = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/samlmetadata+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    Reply::Raw(raw)
}

fn status(code: u16, headers: &str) -> Reply {
    Reply::Raw(
        format!("HTTP/1.1 {code} X\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n")
            .into_bytes(),
    )
}

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, handler: Handler) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let path = text.split(' ').nth(1).unwrap_or("/").to_owned();
    assert!(
        text.to_ascii_lowercase().contains("\r\nhost: "),
        "no Host header: {text}"
    );
    match handler(&path) {
        Reply::Raw(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Reply::Silent => tokio::time::sleep(Duration::from_secs(60)).await,
        Reply::Trickle => {
            let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n";
            if stream.write_all(head).await.is_err() {
                return;
            }
            for _ in 0..600 {
                if stream.write_all(b"<").await.is_err() || stream.flush().await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A plain HTTP server on 127.0.0.1.
async fn http_server(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler: Handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_one(stream, handler.clone()));
        }
    });
    addr
}

struct Pki {
    ca: X509,
    leaf: X509,
    leaf_key: PKey<Private>,
}

/// A CA made now, and a server certificate it signed for `localhost` only (no IP address).
fn pki() -> Pki {
    let p256 = KeyType::Ec(Nid::X9_62_PRIME256V1);
    let ca = CertifiedKey::builder("sso-fetch test CA")
        .key_type(p256)
        .valid_days(0, 2)
        .ca()
        .build()
        .unwrap();
    let leaf = CertifiedKey::builder("localhost")
        .key_type(p256)
        .valid_days(0, 2)
        .dns("localhost")
        .issued_by(&ca)
        .build()
        .unwrap();
    Pki {
        ca: ca.certificate().clone(),
        leaf: leaf.certificate().clone(),
        leaf_key: leaf.key().clone(),
    }
}

/// An HTTPS server on 127.0.0.1 presenting the `pki` server certificate.
async fn https_server(
    pki: &Pki,
    handler: impl Fn(&str) -> Reply + Send + Sync + 'static,
) -> SocketAddr {
    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    acceptor.set_private_key(&pki.leaf_key).unwrap();
    acceptor.set_certificate(&pki.leaf).unwrap();
    acceptor.add_extra_chain_cert(pki.ca.clone()).unwrap();
    let acceptor = Arc::new(acceptor.build());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler: Handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let handler = handler.clone();
            tokio::spawn(async move {
                let ssl = openssl::ssl::Ssl::new(acceptor.context()).unwrap();
                let mut stream = tokio_openssl::SslStream::new(ssl, tcp).unwrap();
                if Pin::new(&mut stream).accept().await.is_ok() {
                    serve_one(stream, handler).await;
                }
            });
        }
    });
    addr
}

/// A fetcher for local test servers: loopback allowed, short timeout.
fn local() -> FetcherBuilder {
    danger::allow_loopback(Fetcher::builder()).timeout(Duration::from_secs(2))
}

fn reason(result: Result<sso_fetch::Fetched, FetchError>) -> &'static str {
    match result {
        Ok(fetched) => panic!("fetched {} bytes", fetched.body.len()),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            e.reason()
        }
    }
}

#[tokio::test]
async fn https_with_a_trusted_root_fetches_the_document() {
    let pki = pki();
    let addr = https_server(&pki, |path| {
        assert_eq!(path, "/idp/metadata?tenant=7");
        ok(METADATA)
    })
    .await;
    let fetcher = local().add_root_certificate(pki.ca.clone()).build();
    let url = format!("https://localhost:{}/idp/metadata?tenant=7", addr.port());
    let fetched = fetcher.fetch(&url).await.unwrap();
    assert_eq!(fetched.body, METADATA);
    assert_eq!(fetched.redirects, 0);
    assert_eq!(fetched.final_url, url);
}

#[tokio::test]
async fn https_without_trust_or_for_another_name_fails_tls() {
    let pki = pki();
    let addr = https_server(&pki, |_| ok(METADATA)).await;
    // The system roots do not know the test CA.
    let untrusted = local().build();
    let url = format!("https://localhost:{}/md", addr.port());
    let error = untrusted.fetch(&url).await.unwrap_err();
    assert_eq!(error.reason(), "metadata-tls-failed", "{error}");
    assert!(error.to_string().contains("verif"), "{error}");
    // Trusted CA, but the certificate names localhost, not 127.0.0.1.
    let trusted = local().add_root_certificate(pki.ca.clone()).build();
    let url = format!("https://127.0.0.1:{}/md", addr.port());
    assert_eq!(reason(trusted.fetch(&url).await), "metadata-tls-failed");
}

#[tokio::test]
async fn plain_http_reaches_loopback_only_with_the_test_option() {
    let addr = http_server(|_| ok(METADATA)).await;
    let url = format!("http://127.0.0.1:{}/md", addr.port());
    assert_eq!(local().build().fetch(&url).await.unwrap().body, METADATA);
    // Default fetcher: refused before any connection.
    assert_eq!(
        reason(Fetcher::default().fetch(&url).await),
        "metadata-url-scheme"
    );
    let url = format!("http://localhost:{}/md", addr.port());
    assert_eq!(
        reason(Fetcher::default().fetch(&url).await),
        "metadata-url-scheme"
    );
}

#[tokio::test]
async fn non_public_addresses_are_refused_before_connecting() {
    let addr = http_server(|_| panic!("the server must not be reached")).await;
    let port = addr.port();
    let strict = Fetcher::default();
    for url in [
        "https://10.0.0.1/metadata".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://[fd00::1]/md".to_owned(),
        "https://[::ffff:10.0.0.1]/md".to_owned(),
        "https://0x7f.1/md".to_owned(),
        format!("https://[::1]:{port}/md"),
        format!("https://127.0.0.1:{port}/md"),
        // A host name resolving to 127.0.0.1.
        format!("https://localhost:{port}/md"),
    ] {
        let error = strict.fetch(&url).await.unwrap_err();
        assert_eq!(
            error.reason(),
            "metadata-url-blocked-address",
            "{url}: {error}"
        );
    }
    // Allowing loopback allows nothing else.
    let loopback = local().build();
    for url in [
        "http://10.0.0.1/md",
        "https://169.254.169.254/md",
        "http://[fe80::1]/md",
    ] {
        assert_eq!(
            reason(loopback.fetch(url).await),
            "metadata-url-blocked-address",
            "{url}"
        );
    }
}

#[tokio::test]
async fn only_https_urls_are_accepted() {
    let strict = Fetcher::default();
    for url in [
        "http://idp.example.com/md",
        "ftp://idp.example.com/md",
        "file:///etc/passwd",
        "ldap://idp.example.com/",
    ] {
        assert_eq!(
            reason(strict.fetch(url).await),
            "metadata-url-scheme",
            "{url}"
        );
    }
    for url in [
        "",
        "idp.example.com/md",
        "https://user:pw@idp.example.com/md",
    ] {
        assert_eq!(
            reason(strict.fetch(url).await),
            "metadata-url-invalid",
            "{url:?}"
        );
    }
}

#[tokio::test]
async fn documents_over_the_size_limit_are_refused() {
    let big = vec![b'<'; 100 * 1024];
    let chunk = big.clone();
    let addr = http_server(move |path| match path {
        // Declared up front.
        "/declared" => ok(&chunk),
        // No length: read until the server closes; counted while reading.
        "/undeclared" => {
            let mut raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
            raw.extend_from_slice(&chunk);
            Reply::Raw(raw)
        }
        // A Content-Length that lies low does not help either: hyper reads only that much.
        _ => ok(b"<x/>"),
    })
    .await;
    let fetcher = local().max_bytes(64 * 1024).build();
    for path in ["/declared", "/undeclared"] {
        let url = format!("http://127.0.0.1:{}{path}", addr.port());
        let error = fetcher.fetch(&url).await.unwrap_err();
        assert_eq!(error.reason(), "metadata-too-large", "{path}");
        assert!(error.to_string().contains("65536"), "{error}");
    }
    // Under the limit, the same server is fine.
    let roomy = local().max_bytes(big.len()).build();
    let url = format!("http://127.0.0.1:{}/undeclared", addr.port());
    assert_eq!(roomy.fetch(&url).await.unwrap().body.len(), big.len());
    // The default limit is 2 MiB.
    assert_eq!(sso_fetch::DEFAULT_MAX_BYTES, 2 * 1024 * 1024);
}

#[tokio::test]
async fn silent_and_trickling_servers_time_out() {
    let addr = http_server(|path| match path {
        "/silent" => Reply::Silent,
        _ => Reply::Trickle,
    })
    .await;
    let fetcher = local().timeout(Duration::from_millis(800)).build();
    for path in ["/silent", "/trickle"] {
        let url = format!("http://127.0.0.1:{}{path}", addr.port());
        let started = Instant::now();
        let error = fetcher.fetch(&url).await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(error.reason(), "metadata-fetch-timeout", "{path}: {error}");
        assert!(
            took >= Duration::from_millis(800) && took < Duration::from_secs(3),
            "{path}: {took:?}"
        );
    }
}

#[tokio::test]
async fn redirects_are_limited_and_each_is_checked() {
    let addr = http_server(|path| {
        let hop: u32 = path
            .strip_prefix("/hop/")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        match path {
            "/to-private" => status(302, "Location: http://10.0.0.1/md\r\n"),
            "/to-metadata-service" => status(
                307,
                "Location: https://169.254.169.254/latest/meta-data/\r\n",
            ),
            "/to-ftp" => status(301, "Location: ftp://127.0.0.1/md\r\n"),
            "/no-location" => status(302, ""),
            "/missing" => status(404, ""),
            _ if hop >= 4 => ok(METADATA),
            _ => status(301, &format!("Location: /hop/{}\r\n", hop + 1)),
        }
    })
    .await;
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", addr.port());
    let fetcher = local().build();
    // Three redirects (relative Locations) are followed...
    let fetched = fetcher.fetch(&url("/hop/1")).await.unwrap();
    assert_eq!(fetched.body, METADATA);
    assert_eq!(fetched.redirects, 3);
    assert!(
        fetched.final_url.ends_with("/hop/4"),
        "{}",
        fetched.final_url
    );
    // ... a fourth is not.
    assert_eq!(
        reason(fetcher.fetch(&url("/hop/0")).await),
        "metadata-too-many-redirects"
    );
    let one = local().max_redirects(1).build();
    assert_eq!(
        reason(one.fetch(&url("/hop/2")).await),
        "metadata-too-many-redirects"
    );
    // Every hop is checked like the first URL.
    assert_eq!(
        reason(fetcher.fetch(&url("/to-private")).await),
        "metadata-url-blocked-address"
    );
    assert_eq!(
        reason(fetcher.fetch(&url("/to-metadata-service")).await),
        "metadata-url-blocked-address"
    );
    assert_eq!(
        reason(fetcher.fetch(&url("/to-ftp")).await),
        "metadata-url-scheme"
    );
    assert_eq!(
        reason(fetcher.fetch(&url("/no-location")).await),
        "metadata-http-status"
    );
    let error = fetcher.fetch(&url("/missing")).await.unwrap_err();
    assert_eq!(
        error,
        FetchError::HttpStatus {
            status: 404,
            url: url("/missing")
        }
    );
}

#[tokio::test]
async fn a_closed_port_is_a_fetch_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}/md");
    assert_eq!(
        reason(local().build().fetch(&url).await),
        "metadata-fetch-failed"
    );
    assert!(
        !FetchError::Failed {
            url,
            detail: String::new()
        }
        .is_refusal()
    );
}
