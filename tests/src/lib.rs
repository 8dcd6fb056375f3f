//! Harness for whole-system tests: build the workspace's binaries once and run them as a user
//! would.
#![forbid(unsafe_code)]
// Test harness: a failure to start what a test needs is that test's failure.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The shared test corpus beside the repository.
pub fn corpus_dir() -> PathBuf {
    repo_root().join("../shared/corpus")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// Path to a workspace binary, built (once per test process) in the debug profile.
///
/// # Panics
/// When the build fails: the test cannot run without its binary.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--bins",
                "--workspace",
                "--exclude",
                "xtask",
            ])
            .current_dir(repo_root())
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "building the workspace binaries failed: {status:?}"
        );
    });
    target_dir().join("debug").join(name)
}

/// A free TCP port on loopback, for a server started next.
///
/// # Panics
/// When no port can be bound: the test cannot run.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// The real `sso-server` binary on free loopback ports, with a SQLite file in its own temp
/// directory, JSON logs in `server.log` there, and one bearer token per scope. Killed and
/// cleaned up on drop if the test ends before [`stop`](Self::stop).
#[derive(Debug)]
pub struct RunningServer {
    child: std::process::Child,
    dir: PathBuf,
    /// The gRPC port.
    pub grpc_port: u16,
    /// The HTTP port.
    pub http_port: u16,
}

/// Optional settings for [`RunningServer::start_with`].
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// The SP key pair as PEM (private key, certificate), passed as `--sp-key` / `--sp-cert`:
    /// the server then signs AuthnRequests, publishes the certificate in SP metadata and
    /// decrypts encrypted assertions.
    pub sp_key_pem: Option<(String, String)>,
}

impl RunningServer {
    /// Starts the server with tokens `auth:<auth_token>` and `admin:<admin_token>`; `name`
    /// keeps the temp directories of concurrent tests apart.
    ///
    /// # Panics
    /// When the binary cannot be built or started.
    pub fn start(name: &str, auth_token: &str, admin_token: &str) -> RunningServer {
        RunningServer::start_with(name, auth_token, admin_token, &ServerOptions::default())
    }

    /// [`start`](Self::start) with [`ServerOptions`].
    ///
    /// # Panics
    /// When the binary cannot be built or started, or the key files cannot be written.
    pub fn start_with(
        name: &str,
        auth_token: &str,
        admin_token: &str,
        options: &ServerOptions,
    ) -> RunningServer {
        let binary = binary("sso-server");
        let dir = std::env::temp_dir().join(format!("{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let (grpc_port, http_port) = (free_port(), free_port());
        let log = std::fs::File::create(dir.join("server.log"))
            .unwrap_or_else(|e| panic!("server.log: {e}"));
        let mut command = Command::new(binary);
        command
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["--listen", &format!("127.0.0.1:{grpc_port}")])
            .args(["--http-listen", &format!("127.0.0.1:{http_port}")])
            .args([
                "--database-url",
                &format!("sqlite://{}?mode=rwc", dir.join("sso.sqlite").display()),
            ])
            .args(["--public-base-url", "https://sso.example.test"])
            .args(["--token", &format!("auth:{auth_token}")])
            .args(["--token", &format!("admin:{admin_token}")])
            .args(["--log-format", "json"]);
        if let Some((key_pem, cert_pem)) = &options.sp_key_pem {
            let (key, cert) = (dir.join("sp-key.pem"), dir.join("sp-cert.pem"));
            for (path, pem) in [(&key, key_pem), (&cert, cert_pem)] {
                std::fs::write(path, pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            command
                .arg("--sp-key")
                .arg(&key)
                .arg("--sp-cert")
                .arg(&cert);
        }
        let child = command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("sso-server starts: {e}"));
        RunningServer {
            child,
            dir,
            grpc_port,
            http_port,
        }
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Panics with the log if the server has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("sso-server exited early ({status}):\n{}", self.log());
        }
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; returns its status.
    ///
    /// # Panics
    /// When the signal cannot be sent or the server does not stop in time.
    pub fn stop(&mut self, limit: Duration) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        assert!(matches!(sent, Ok(s) if s.success()), "kill -TERM: {sent:?}");
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(exit)) = self.child.try_wait() {
                return exit;
            }
            assert!(
                Instant::now() < deadline,
                "sso-server did not stop within {limit:?} of SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
