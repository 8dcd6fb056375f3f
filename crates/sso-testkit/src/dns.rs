//! A real DNS server on loopback for the tests of domain claims: dnsmasq, authoritative for
//! the TXT records a test gives and answering NXDOMAIN for every other name. Restarting it
//! with other records (same port) is how a test publishes or removes a record.
//!
//! dnsmasq is a Debian package (`dnsmasq-base`); `cargo xtask test` installs it. A test that
//! needs it fails, naming the package, when it is missing.
//!
//! ```no_run
//! use sso_testkit::dns::TestDns;
//!
//! let mut dns = TestDns::start(&[("_sso-verification.acme.example", "sso-verification=abc")]);
//! let server = dns.addr(); // 127.0.0.1:<port>, UDP and TCP
//! dns.set_records(&[]); // the record is gone
//! # let _ = server;
//! ```

use std::io::Read;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long dnsmasq gets to answer its first query.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A running dnsmasq on `127.0.0.1:<port>`, stopped on drop.
#[derive(Debug)]
pub struct TestDns {
    child: Option<Child>,
    port: u16,
    /// Whether names without records are refused (REFUSED) instead of NXDOMAIN.
    refuse_unknown: bool,
}

impl TestDns {
    /// Starts dnsmasq with these TXT records, `(name, value)`; a name given twice has two
    /// records.
    pub fn start(records: &[(&str, &str)]) -> Self {
        Self::start_with(records, false)
    }

    /// Like [`start`](Self::start), but names without records get REFUSED (a name server
    /// that fails) instead of NXDOMAIN.
    pub fn start_refusing(records: &[(&str, &str)]) -> Self {
        Self::start_with(records, true)
    }

    fn start_with(records: &[(&str, &str)], refuse_unknown: bool) -> Self {
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut dns = Self {
                child: None,
                port,
                refuse_unknown,
            };
            match dns.spawn(records) {
                Ok(()) => return dns,
                Err(e) => last_error = e,
            }
        }
        panic!("dnsmasq did not start: {last_error}");
    }

    /// Where it listens, UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Replaces the records: restarts dnsmasq on the same port with these.
    pub fn set_records(&mut self, records: &[(&str, &str)]) {
        self.stop();
        let mut last_error = String::new();
        for _ in 0..20 {
            match self.spawn(records) {
                Ok(()) => return,
                // The port may take a moment to be free again.
                Err(e) => last_error = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "dnsmasq did not restart on port {}: {last_error}",
            self.port
        );
    }

    /// Stops dnsmasq: the port then answers nothing.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn spawn(&mut self, records: &[(&str, &str)]) -> Result<(), String> {
        let mut command = Command::new(dnsmasq());
        command.args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--pid-file",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--no-negcache",
            "--cache-size=0",
        ]);
        command.arg(format!("--port={}", self.port));
        if !self.refuse_unknown {
            // Every name is local: what has no record does not exist.
            command.arg("--local=/#/");
        }
        for (name, value) in records {
            command.arg(format!("--txt-record={name},{value}"));
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run dnsmasq ({e}): install the Debian package dnsmasq-base \
                     (`cargo xtask test` does)"
                )
            });
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                return Err(format!("dnsmasq exited ({status}): {stderr}"));
            }
            if answers(self.addr()) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "no answer on {} within {READY_WITHIN:?}",
                    self.addr()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A name server that never answers: a bound UDP socket and TCP listener nobody reads, for
/// lookups that must time out.
#[derive(Debug)]
pub struct SilentDns {
    udp: UdpSocket,
    _tcp: TcpListener,
}

impl SilentDns {
    /// Binds both on a free loopback port.
    pub fn start() -> Self {
        for _ in 0..20 {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
                return Self { udp, _tcp: tcp };
            }
        }
        panic!("no free loopback port for a silent name server");
    }

    /// Where it (does not) listen.
    pub fn addr(&self) -> SocketAddr {
        self.udp.local_addr().unwrap()
    }
}

/// The dnsmasq binary: Debian installs it in /usr/sbin, which a user's PATH may lack.
fn dnsmasq() -> &'static str {
    const SBIN: &str = "/usr/sbin/dnsmasq";
    if std::path::Path::new(SBIN).exists() {
        SBIN
    } else {
        "dnsmasq"
    }
}

/// A loopback port free for UDP and TCP right now.
fn free_port() -> u16 {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

/// Whether a DNS server answers a query at `addr` (any answer will do).
fn answers(addr: SocketAddr) -> bool {
    let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
    // ID 0x5353, recursion desired, one question: "probe." TXT IN.
    let mut query = vec![0x53, 0x53, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    query.extend_from_slice(b"\x05probe\x00\x00\x10\x00\x01");
    if socket.send_to(&query, addr).is_err() {
        return false;
    }
    let mut buffer = [0u8; 512];
    matches!(socket.recv_from(&mut buffer), Ok((n, _)) if n >= 12 && buffer[..2] == [0x53, 0x53])
}
