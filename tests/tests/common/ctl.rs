//! `ssoctl` against a running server, as the system tests drive it: one JSON object per
//! command, an org with a dev-IdP connection, and SP-initiated logins through the dev IdP.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The one JSON object on stdout, after checking the exit code.
pub fn json_of(output: &Output, code: i32) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The string at `pointer`.
pub fn text<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
}

/// `ssoctl` for one server, with its tokens, and a work directory for the dev IdP's keys.
pub struct Ctl {
    /// The server's gRPC port.
    pub port: u16,
    /// Where the dev IdP and files live (not the server's own directory).
    pub work: PathBuf,
    /// The service-wide admin token.
    pub admin_token: &'static str,
    /// The auth token.
    pub auth_token: &'static str,
    /// The audit actor.
    pub actor: &'static str,
}

impl Ctl {
    /// `ssoctl ARGS`, with none of the caller's `SSO_*` environment.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(system_tests::binary("ssoctl"));
        for name in [
            "SSO_SERVER",
            "SSO_ADMIN_TOKEN",
            "SSO_AUTH_TOKEN",
            "SSO_ACTOR",
        ] {
            command.env_remove(name);
        }
        command
            .env("SSO_SERVER", format!("http://127.0.0.1:{}", self.port))
            .env("SSO_ADMIN_TOKEN", self.admin_token)
            .env("SSO_AUTH_TOKEN", self.auth_token)
            .env("SSO_ACTOR", self.actor)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ssoctl runs")
    }

    /// `ssoctl admin ARGS`, exiting with `code`.
    pub fn admin(&self, args: &[&str], code: i32) -> Value {
        let mut all = vec!["admin"];
        all.extend_from_slice(args);
        json_of(&self.run(&all), code)
    }

    /// Writes `value` as JSON into the work directory; its path.
    pub fn file(&self, name: &str, value: &Value) -> String {
        let path = self.work.join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// An org on `plan` with `domain` verified, the dev IdP's connection enabled and JIT on
    /// with `jit_role`; its id.
    pub fn org_with_connection(&self, plan: &str, domain: &str, jit_role: &str) -> String {
        let created = self.admin(&["org", "create", "--name", "Acme", "--plan", plan], 0);
        let org = text(&created, "/org/id").to_owned();
        self.admin(&["domain", "add", &org, domain], 0);
        let idp_dir = self.work.join("dev-idp");
        json_of(
            &self.run(&["dev-idp", "init", "--dir", idp_dir.to_str().unwrap()]),
            0,
        );
        let metadata = idp_dir.join("metadata.xml");
        self.admin(
            &[
                "connection",
                "import",
                &org,
                "--metadata",
                metadata.to_str().unwrap(),
            ],
            0,
        );
        self.admin(&["connection", "enable", &org], 0);
        self.admin(&["jit", "set", &org, "--role", jit_role], 0);
        org
    }

    /// An SP-initiated login of `email` at `org` whose assertion carries these
    /// `name=value` attributes; the `ssoctl login complete` output, exiting with `code`.
    pub fn sign_in_with(&self, org: &str, email: &str, attributes: &[String], code: i32) -> Value {
        let idp = self.work.join("dev-idp");
        let begun = json_of(&self.run(&["login", "begin", "--org", org]), 0);
        let mut args = vec![
            "dev-idp",
            "respond",
            "--dir",
            idp.to_str().unwrap(),
            "--request-url",
            text(&begun, "/redirect_url"),
            "--email",
            email,
        ];
        for attribute in attributes {
            args.extend(["--attribute", attribute.as_str()]);
        }
        let form = json_of(&self.run(&args), 0);
        let response = self.work.join("response.b64");
        std::fs::write(&response, text(&form, "/SAMLResponse")).unwrap();
        json_of(
            &self.run(&[
                "login",
                "complete",
                "--org",
                org,
                "--response",
                response.to_str().unwrap(),
                "--relay-state",
                text(&form, "/RelayState"),
            ]),
            code,
        )
    }
}
