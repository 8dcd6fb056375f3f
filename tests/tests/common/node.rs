//! Node.js servers of the browser tests (the samlify IdP, the example app): started, waited
//! for, and killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A node process serving on `port`, its output in files under `dir`; killed on drop.
pub struct NodeServer {
    name: &'static str,
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl NodeServer {
    /// Starts `node script args` with `env` and waits until `GET path` answers 200.
    pub async fn start(
        name: &'static str,
        dir: &Path,
        script: &Path,
        args: &[&str],
        env: &[(&str, String)],
        port: u16,
        path: &str,
    ) -> NodeServer {
        let log = |suffix: &str| std::fs::File::create(dir.join(format!("{name}.{suffix}")));
        let child = Command::new("node")
            .arg(script)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log("stdout").unwrap())
            .stderr(log("stderr").unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: node does not start: {e}"));
        let mut server = NodeServer {
            name,
            child,
            port,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{name} exited ({status}):\n{}", server.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "{name} not serving in time:\n{}",
                server.stderr()
            );
            if let Some(r) = super::try_http(port, "GET", path, None, b"").await {
                assert_eq!(r.status, 200, "{name} GET {path}: {}", r.raw);
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.stderr", self.name))).unwrap_or_default()
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
