//! `ssoctl`: the command-line tool of the SSO service.
//!
//! Offline commands work on files and need no server:
//!
//! ```text
//! ssoctl xml c14n --exclusive --with-comments response.xml
//! ssoctl saml verify --idp-metadata idp.xml --sp-entity-id ID --acs-url URL response.b64
//! ssoctl saml metadata --base-url https://sso.example.com --org org_42
//! ssoctl saml authn-request --idp-metadata idp.xml --base-url https://sso.example.com --org org_42
//! ```
//!
//! Admin commands call a running sso-server over gRPC (`--server`, `--token`, `--actor`, or
//! `SSO_SERVER`, `SSO_ADMIN_TOKEN`, `SSO_ACTOR`):
//!
//! ```text
//! ssoctl admin org create --name "Example Corp" --plan growth
//! ssoctl admin connection import ORG --metadata idp.xml
//! ssoctl admin test-login begin ORG
//! ssoctl admin test-login get ORG TEST_LOGIN_ID
//! ssoctl admin require-sso ORG on
//! ssoctl admin projects upsert ORG --file projects.json
//! ssoctl admin members list ORG --role admin
//! ssoctl admin credentials create ORG --description "terraform" --ttl 2592000
//! ```
//!
//! `--token` takes the service-wide admin token or an org credential (`sso_org_...`), which
//! may run the commands about its own organization only.
//!
//! Login commands call it as a product service would (`--token` or `SSO_AUTH_TOKEN`, scope
//! "auth"), and `dev-idp` plays a local IdP for trying a login (see README.md):
//!
//! ```text
//! ssoctl login begin --email alice@example.com
//! ssoctl dev-idp respond --dir idp --request-url URL --email alice@example.com --post
//! ssoctl login redeem CODE
//! ```
//!
//! Exit status: 0 success, 1 refused (the reason is printed) or server unreachable, 2 usage
//! error.
#![forbid(unsafe_code)]
// A command-line tool speaks on stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod admin;
mod client;
mod dev_idp;
mod group_rules;
mod login;
mod members;
mod saml;
mod scim;
mod setup_links;
mod xml;

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(
    name = "ssoctl",
    version,
    about = "Command-line tool of the SSO service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// XML tools.
    #[command(subcommand)]
    Xml(xml::XmlCommand),
    /// SAML tools.
    #[command(subcommand)]
    Saml(saml::SamlCommand),
    /// Administration calls to a running sso-server (gRPC).
    Admin(admin::AdminArgs),
    /// Sign-in calls of a product service to a running sso-server (gRPC).
    Login(login::LoginArgs),
    /// A local test identity provider, for trying logins on one machine.
    #[command(subcommand)]
    DevIdp(dev_idp::DevIdpCommand),
}

/// Why a command did not succeed, and how to say so.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad arguments or unreadable files: exit 2.
    Usage(String),
    /// The input was checked and refused: JSON on stdout, exit 1.
    Refused {
        reason: &'static str,
        detail: String,
    },
    /// The server refused or failed the call: this JSON on stdout, exit 1.
    Remote(Value),
    /// Something else failed: exit 1.
    Internal(String),
}

impl Failure {
    pub(crate) fn usage(msg: impl Into<String>) -> Self {
        Failure::Usage(msg.into())
    }
    pub(crate) fn refused(reason: &'static str, detail: String) -> Self {
        Failure::Refused { reason, detail }
    }
    pub(crate) fn internal(msg: impl Into<String>) -> Self {
        Failure::Internal(msg.into())
    }
}

/// A file's bytes, or standard input for `-`.
pub(crate) fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| Failure::usage(format!("reading standard input: {e}")))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

/// A text file (metadata XML, a PEM certificate, a base64 form value), or standard input for `-`.
pub(crate) fn read_text(path: &Path) -> Result<String, Failure> {
    String::from_utf8(read_input(path)?)
        .map_err(|_| Failure::usage(format!("{}: not UTF-8 text", path.display())))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Xml(cmd) => xml::run(cmd).map(|()| None),
        Command::Saml(cmd) => saml::run(cmd).map(Some),
        Command::Admin(args) => admin::run(args).map(Some),
        Command::Login(args) => login::run(args).map(Some),
        Command::DevIdp(cmd) => dev_idp::run(cmd).map(Some),
    };
    match result {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(Value::String(text))) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Some(value)) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(Failure::Refused { reason, detail }) => {
            println!(
                "{}",
                json!({"accepted": false, "reason": reason, "detail": detail})
            );
            ExitCode::from(1)
        }
        Err(Failure::Remote(value)) => {
            println!("{value}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("ssoctl: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Internal(msg)) => {
            eprintln!("ssoctl: {msg}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::ffi::OsStr;

    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// The shared client flags keep each family's token variable, and stay global.
    #[test]
    fn client_flags_keep_their_variables() {
        let cli = Cli::command();
        for (family, token_env) in [("admin", "SSO_ADMIN_TOKEN"), ("login", "SSO_AUTH_TOKEN")] {
            let command = cli.find_subcommand(family).unwrap();
            let arg = |id: &str| {
                command
                    .get_arguments()
                    .find(|a| a.get_id() == id)
                    .unwrap_or_else(|| panic!("{family} --{id}"))
            };
            let server = arg("server");
            assert_eq!(server.get_env(), Some(OsStr::new("SSO_SERVER")), "{family}");
            assert_eq!(
                server.get_default_values(),
                [OsStr::new("http://127.0.0.1:50051")],
                "{family}"
            );
            let token = arg("token");
            assert_eq!(token.get_env(), Some(OsStr::new(token_env)), "{family}");
            assert!(token.is_hide_env_values_set(), "{family}");
            assert!(server.is_global_set() && token.is_global_set(), "{family}");
        }
        let login = cli.find_subcommand("login").unwrap();
        assert!(login.get_arguments().all(|a| a.get_id() != "actor"));
    }

    #[test]
    fn client_flags_parse_after_the_subcommand() {
        let matches = Cli::command()
            .try_get_matches_from([
                "ssoctl",
                "admin",
                "org",
                "get",
                "org_1",
                "--server",
                "http://sso.test:1",
                "--token",
                "t",
                "--actor",
                "alice",
            ])
            .unwrap();
        let (_, admin) = matches.subcommand().unwrap();
        let (_, org) = admin.subcommand().unwrap();
        let (_, get) = org.subcommand().unwrap();
        for (id, value) in [
            ("server", "http://sso.test:1"),
            ("token", "t"),
            ("actor", "alice"),
        ] {
            assert_eq!(get.get_one::<String>(id).map(String::as_str), Some(value));
        }
    }
}
