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

/// How to start a [`RunningServer`] beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// The database URL; a SQLite file in the server's temp directory when `None`.
    pub database_url: Option<String>,
    /// The public base URL; `https://sso.example.test` when `None`. `{http_port}` in it becomes
    /// the HTTP port the server gets (`http://127.0.0.1:{http_port}`: browsers reach the ACS).
    pub public_base_url: Option<String>,
    /// More command-line arguments (`--default-return-url`, ...).
    pub args: Vec<String>,
    /// The SP key pair as PEM (private key, certificate), passed as `--sp-key` / `--sp-cert`:
    /// the server then signs AuthnRequests, publishes the certificate in SP metadata and
    /// decrypts encrypted assertions.
    pub sp_key_pem: Option<(String, String)>,
    /// Environment variables besides `PATH` (`SSL_CERT_FILE`, ...).
    pub env: Vec<(String, String)>,
}

/// A new, empty directory under the system temp dir; `name` keeps concurrent tests apart.
///
/// # Panics
/// When the directory cannot be created.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// `sso-server` in `dir` with `args` and an environment of `PATH` and `env`; no stdin, no stdout.
fn server_command(dir: &Path, args: &[String], env: &[(&str, String)]) -> Command {
    let mut command = Command::new(binary("sso-server"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    command
}

/// Runs `sso-server` in `dir` (as [`RunningServer::start_in`]) for a start that must fail, and
/// returns its exit status and standard error.
///
/// # Panics
/// When it cannot start, or is still running after `limit` (it is killed then).
pub fn run_server_to_exit(
    dir: &Path,
    args: &[String],
    env: &[(&str, String)],
    limit: Duration,
) -> (std::process::ExitStatus, String) {
    let stderr_path = dir.join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path)
        .unwrap_or_else(|e| panic!("{}: {e}", stderr_path.display()));
    let mut child = server_command(dir, args, env)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("sso-server starts: {e}"));
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            return (status, text);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sso-server still running after {limit:?}:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The real `sso-server` binary on free loopback ports, with a SQLite file in its own temp
/// directory (or the database of [`ServerOptions`]), JSON logs in `server.log` there, and one
/// bearer token per scope. Killed and cleaned up on drop if the test ends before
/// [`stop`](Self::stop).
#[derive(Debug)]
pub struct RunningServer {
    child: std::process::Child,
    dir: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// The gRPC port.
    pub grpc_port: u16,
    /// The HTTP port.
    pub http_port: u16,
}

impl RunningServer {
    /// Starts the server with tokens `auth:<auth_token>` and `admin:<admin_token>`; `name`
    /// keeps the temp directories of concurrent tests apart.
    ///
    /// # Panics
    /// When the binary cannot be built or started.
    pub fn start(name: &str, auth_token: &str, admin_token: &str) -> RunningServer {
        Self::start_with(name, auth_token, admin_token, ServerOptions::default())
    }

    /// [`start`](Self::start) with other options.
    ///
    /// # Panics
    /// When the binary cannot be built or started.
    pub fn start_with(
        name: &str,
        auth_token: &str,
        admin_token: &str,
        options: ServerOptions,
    ) -> RunningServer {
        let dir = fresh_dir(name);
        let (grpc_port, http_port) = (free_port(), free_port());
        let database_url = options
            .database_url
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.join("sso.sqlite").display()));
        let mut args: Vec<String> = vec![
            "--listen".into(),
            format!("127.0.0.1:{grpc_port}"),
            "--http-listen".into(),
            format!("127.0.0.1:{http_port}"),
            "--database-url".into(),
            database_url,
            "--public-base-url".into(),
            options.public_base_url.map_or_else(
                || "https://sso.example.test".into(),
                |url| url.replace("{http_port}", &http_port.to_string()),
            ),
            "--token".into(),
            format!("auth:{auth_token}"),
            "--token".into(),
            format!("admin:{admin_token}"),
            "--log-format".into(),
            "json".into(),
        ];
        if let Some((key_pem, cert_pem)) = &options.sp_key_pem {
            let (key, cert) = (dir.join("sp-key.pem"), dir.join("sp-cert.pem"));
            for (path, pem) in [(&key, key_pem), (&cert, cert_pem)] {
                std::fs::write(path, pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            args.extend([
                "--sp-key".to_owned(),
                key.display().to_string(),
                "--sp-cert".to_owned(),
                cert.display().to_string(),
            ]);
        }
        args.extend(options.args);
        let env: Vec<(&str, String)> = options
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        RunningServer::start_in(dir, grpc_port, http_port, &args, &env)
    }

    /// The server in `dir` (its working directory, removed on drop; `server.log` goes there)
    /// with exactly `args` and an environment of `PATH` and `env`. `grpc_port` and `http_port`
    /// are what the arguments, environment or config file make it listen on.
    ///
    /// # Panics
    /// When the binary cannot be built or started.
    pub fn start_in(
        dir: PathBuf,
        grpc_port: u16,
        http_port: u16,
        args: &[String],
        env: &[(&str, String)],
    ) -> RunningServer {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let child = Self::spawn(&dir, args, &env);
        RunningServer {
            child,
            dir,
            args: args.to_vec(),
            env,
            grpc_port,
            http_port,
        }
    }

    /// Starts the process, appending its standard error to `server.log`.
    fn spawn(dir: &Path, args: &[String], env: &[(String, String)]) -> std::process::Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap_or_else(|e| panic!("server.log: {e}"));
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        server_command(dir, args, &env)
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("sso-server starts: {e}"))
    }

    /// The server's working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the server with SIGKILL (no graceful shutdown) and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again with the same arguments, ports and database, after
    /// [`kill`](Self::kill) or [`stop`](Self::stop).
    ///
    /// # Panics
    /// When it is still running or cannot be started.
    pub fn restart(&mut self) {
        assert!(
            matches!(self.child.try_wait(), Ok(Some(_))),
            "restart of a server that is still running"
        );
        self.child = Self::spawn(&self.dir, &self.args, &self.env);
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
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
