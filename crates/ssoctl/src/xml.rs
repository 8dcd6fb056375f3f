//! `ssoctl xml ...`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use sso_xml::{C14nAlgorithm, Canonicalizer, Document, Limits};

use crate::{Failure, read_input};

#[derive(Debug, Subcommand)]
pub(crate) enum XmlCommand {
    /// Print a document's canonical form, as a signature digest sees it.
    ///
    /// Use it when an IdP's signature does not verify: canonicalize what you received and
    /// compare it with what the IdP says it signed.
    C14n(C14nArgs),
}

#[derive(Debug, Args)]
pub(crate) struct C14nArgs {
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

pub(crate) fn run(cmd: XmlCommand) -> Result<(), Failure> {
    match cmd {
        XmlCommand::C14n(args) => c14n(&args),
    }
}

fn c14n(args: &C14nArgs) -> Result<(), Failure> {
    let input = read_input(&args.file)?;
    let limits = Limits {
        max_input_bytes: args.max_bytes,
        ..Limits::default()
    };
    let doc = Document::parse_with(&input, &limits)
        .map_err(|e| Failure::internal(format!("{}: {e}", args.file.display())))?;
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
        .map_err(|e| Failure::internal(format!("writing standard output: {e}")))
}
