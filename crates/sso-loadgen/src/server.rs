//! One `sso-server` process started for a load run: free loopback ports, a temp directory of
//! its own (SQLite file, log), one bearer token per scope, and its CPU time read from /proc.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tonic::transport::{Channel, Endpoint};

/// The token of scope `auth` every server of a run accepts.
pub const AUTH_TOKEN: &str = "loadgen-auth-token";
/// The token of scope `admin` every server of a run accepts.
pub const ADMIN_TOKEN: &str = "loadgen-admin-token";

/// How long a server may take to migrate and bind its ports.
const START_LIMIT: Duration = Duration::from_secs(60);
/// How long a server may take to finish in-flight calls after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(20);

/// A running server; killed and its directory removed on drop unless [`stop`](Self::stop)
/// ran first.
#[derive(Debug)]
pub struct Server {
    child: Child,
    dir: PathBuf,
    grpc_port: u16,
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

impl Server {
    /// Starts `binary` with `database_url`, or with a SQLite file in its own directory when
    /// `None`. `label` names the directory.
    pub fn start(
        binary: &Path,
        database_url: Option<&str>,
        public_base_url: &str,
        label: &str,
    ) -> Result<Server, String> {
        let dir = std::env::temp_dir().join(format!("sso-loadgen-{}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let database_url = database_url.map_or_else(
            || format!("sqlite://{}?mode=rwc", dir.join("sso.sqlite").display()),
            str::to_owned,
        );
        let (grpc_port, http_port) = (free_port()?, free_port()?);
        let log = std::fs::File::create(dir.join("server.log"))
            .map_err(|e| format!("{}: {e}", dir.join("server.log").display()))?;
        let child = Command::new(binary)
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["--listen", &format!("127.0.0.1:{grpc_port}")])
            .args(["--http-listen", &format!("127.0.0.1:{http_port}")])
            .args(["--database-url", &database_url])
            .args(["--public-base-url", public_base_url])
            .args(["--token", &format!("auth:{AUTH_TOKEN}")])
            .args(["--token", &format!("admin:{ADMIN_TOKEN}")])
            .args(["--log-format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        Ok(Server {
            child,
            dir,
            grpc_port,
        })
    }

    /// The process id, for /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines
            .get(lines.len().saturating_sub(20)..)
            .unwrap_or_default()
            .join("\n")
    }

    /// A gRPC channel once the server accepts connections (it binds after migrating).
    pub async fn wait_until_serving(&mut self) -> Result<Channel, String> {
        let endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{}", self.grpc_port))
            .map_err(|e| e.to_string())?
            .connect_timeout(Duration::from_secs(5));
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "sso-server exited early ({status}):\n{}",
                    self.log_tail()
                ));
            }
            if let Ok(channel) = endpoint.connect().await {
                return Ok(channel);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "sso-server not serving within {START_LIMIT:?}:\n{}",
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(&mut self) -> Result<(), String> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(|e| format!("kill -TERM: {e}"))?;
        if !sent.success() {
            return Err(format!("kill -TERM {}: {sent}", self.child.id()));
        }
        let deadline = Instant::now() + STOP_LIMIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(format!(
                        "sso-server exited with {status}:\n{}",
                        self.log_tail()
                    ));
                }
                Ok(None) if Instant::now() > deadline => {
                    return Err(format!(
                        "sso-server did not stop within {STOP_LIMIT:?} of SIGTERM"
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => return Err(format!("waiting for sso-server: {e}")),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// User plus system CPU time of process `pid` (all its threads), in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    parse_cpu_ticks(&stat).ok_or_else(|| format!("{path}: unexpected format"))
}

/// `utime + stime` (fields 14 and 15) of a /proc/PID/stat line. The command name (field 2)
/// is in parentheses and may itself contain spaces and parentheses, so fields are counted
/// from the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    // `rest` starts at field 3 (state); utime is field 14.
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second, the unit of /proc CPU times.
pub fn ticks_per_second() -> Result<u64, String> {
    let out = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .map_err(|e| format!("getconf CLK_TCK: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .ok()
        .filter(|&t| t > 0)
        .ok_or_else(|| "getconf CLK_TCK: not a positive number".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_the_command_name() {
        let stat = "4242 (sso server) (x) S 1 4242 4242 0 -1 4194560 1200 0 3 0 357 41 0 0 20 0 \
                    6 0 99 123456 789 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(398));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1 2"), None);
        assert_eq!(parse_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn this_process_has_readable_cpu_ticks() {
        let ticks = cpu_ticks(std::process::id());
        assert!(ticks.is_ok(), "{ticks:?}");
        assert!(ticks_per_second().is_ok_and(|t| t >= 10));
    }
}
