//! `ssoctl`: the command-line tool of the SSO service.
//!
//! Offline commands work on files and need no server:
//!
//! ```text
//! ssoctl xml c14n --exclusive --with-comments response.xml
//! ```
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sso_xml::{C14nAlgorithm, Canonicalizer, Document, Limits};

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

#[derive(Debug, Subcommand)]
enum Command {
    /// XML tools.
    #[command(subcommand)]
    Xml(XmlCommand),
}

#[derive(Debug, Subcommand)]
enum XmlCommand {
    /// Print a document's canonical form, as a signature digest sees it.
    ///
    /// Use it when an IdP's signature does not verify: canonicalize what you received and
    /// compare it with what the IdP says it signed.
    C14n(C14nArgs),
}

#[derive(Debug, Args)]
struct C14nArgs {
    /// Exclusive XML Canonicalization 1.0 (the default; what SAML signatures use).
    #[arg(long, conflicts_with = "inclusive")]
    exclusive: bool,
    /// Canonical XML 1.0 (inclusive).
    #[arg(long)]
    inclusive: bool,
    /// Keep comments.
    #[arg(long)]
    with_comments: bool,
    /// The exclusive algorithm's InclusiveNamespaces PrefixList, space-separated
    /// (`#default` for the default namespace).
    #[arg(long, value_name = "PREFIXES", conflicts_with = "inclusive")]
    inclusive_prefixes: Option<String>,
    /// Largest input accepted, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_bytes: usize,
    /// The XML file, or `-` for standard input.
    file: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            #[allow(clippy::print_stderr)] // a CLI reports errors on stderr
            {
                eprintln!("ssoctl: {msg}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Xml(XmlCommand::C14n(args)) => c14n(&args),
    }
}

fn c14n(args: &C14nArgs) -> Result<(), String> {
    let input = if args.file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf)
            .map_err(|e| format!("reading standard input: {e}"))?;
        buf
    } else {
        std::fs::read(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?
    };
    let limits = Limits {
        max_input_bytes: args.max_bytes,
        ..Limits::default()
    };
    let doc = Document::parse_with(&input, &limits)
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    let algorithm = match (args.inclusive, args.with_comments) {
        (false, false) => C14nAlgorithm::Exclusive,
        (false, true) => C14nAlgorithm::ExclusiveWithComments,
        (true, false) => C14nAlgorithm::Inclusive,
        (true, true) => C14nAlgorithm::InclusiveWithComments,
    };
    let mut c = Canonicalizer::new(algorithm);
    if let Some(p) = &args.inclusive_prefixes {
        c = c.inclusive_prefixes(p.split_whitespace());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    c.canonicalize(doc.document_node(), None, &mut out)
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing standard output: {e}"))
}
