//! The optional TOML config file (`--config` / `SSO_CONFIG`): the flags' settings under the flags'
//! names with `_` for `-`. A flag or its environment variable wins over the file, the file over
//! the built-in default. Unknown keys are refused, so a typo cannot silently leave a setting at
//! its default.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::ArgMatches;
use clap::ValueEnum;
use clap::parser::ValueSource;
use serde::Deserialize;

use crate::auth::Token;
use crate::{Args, LogFormat};

/// A config file larger than this is refused rather than read whole.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// What the file may set. Paths are taken relative to the file's directory.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    http_listen: Option<SocketAddr>,
    database_url: Option<String>,
    public_base_url: Option<String>,
    sp_key: Option<PathBuf>,
    sp_cert: Option<PathBuf>,
    /// `scope:secret` entries.
    tokens: Option<Vec<String>>,
    log_format: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    default_return_url: Option<String>,
    return_origins: Option<Vec<String>>,
    dns_server: Option<SocketAddr>,
    domain_recheck_interval: Option<u32>,
    domain_recheck_failures: Option<u32>,
    worker_threads: Option<u16>,
}

/// Fills the settings that no flag or environment variable gave from the file named by
/// `--config`, if any, then checks the settings that need each other. Returns warnings to log
/// once logging is set up (logging's format may itself come from the file).
pub fn apply(args: &mut Args, matches: &ArgMatches) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    if let Some(path) = args.config.clone() {
        let text =
            read_bounded(&path).map_err(|e| format!("config file {}: {e}", path.display()))?;
        let file: FileConfig =
            toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))?;
        // Tokens given by a flag or the environment replace the file's, but the file still
        // holds secrets.
        let has_tokens = file
            .tokens
            .as_ref()
            .is_some_and(|tokens| !tokens.is_empty());
        let dir = path.parent().unwrap_or_else(|| Path::new(""));
        merge(args, matches, file, dir)
            .map_err(|e| format!("config file {}: {e}", path.display()))?;
        if has_tokens {
            warnings.extend(permission_warning(&path)?);
        }
    }
    check_pairs(args)?;
    Ok(warnings)
}

/// True when the setting came from neither the command line nor the environment.
fn open_to_file(matches: &ArgMatches, id: &str) -> bool {
    !matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

fn merge(
    args: &mut Args,
    matches: &ArgMatches,
    file: FileConfig,
    dir: &Path,
) -> Result<(), String> {
    let FileConfig {
        listen,
        http_listen,
        database_url,
        public_base_url,
        sp_key,
        sp_cert,
        tokens,
        log_format,
        tls_cert,
        tls_key,
        default_return_url,
        return_origins,
        dns_server,
        domain_recheck_interval,
        domain_recheck_failures,
        worker_threads,
    } = file;
    let relative = |path: PathBuf| dir.join(path);
    if let Some(v) = listen.filter(|_| open_to_file(matches, "listen")) {
        args.listen = v;
    }
    if let Some(v) = http_listen.filter(|_| open_to_file(matches, "http_listen")) {
        args.http_listen = v;
    }
    if let Some(v) = database_url.filter(|_| open_to_file(matches, "database_url")) {
        args.database_url = v;
    }
    if let Some(v) = public_base_url.filter(|_| open_to_file(matches, "public_base_url")) {
        args.public_base_url = v;
    }
    if let Some(v) = sp_key.filter(|_| open_to_file(matches, "sp_key")) {
        args.sp_key = Some(relative(v));
    }
    if let Some(v) = sp_cert.filter(|_| open_to_file(matches, "sp_cert")) {
        args.sp_cert = Some(relative(v));
    }
    if let Some(v) = tls_cert.filter(|_| open_to_file(matches, "tls_cert")) {
        args.tls_cert = Some(relative(v));
    }
    if let Some(v) = tls_key.filter(|_| open_to_file(matches, "tls_key")) {
        args.tls_key = Some(relative(v));
    }
    if let Some(v) = tokens.filter(|_| open_to_file(matches, "tokens")) {
        args.tokens = v
            .iter()
            .enumerate()
            .map(|(i, token)| {
                token
                    .parse::<Token>()
                    .map_err(|e| format!("tokens entry {}: {e}", i + 1))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(v) = default_return_url.filter(|_| open_to_file(matches, "default_return_url")) {
        args.default_return_url =
            Some(url::Url::parse(&v).map_err(|e| format!("default_return_url {v:?}: {e}"))?);
    }
    if let Some(v) = return_origins.filter(|_| open_to_file(matches, "return_origins")) {
        args.return_origins = v;
    }
    if let Some(v) = dns_server.filter(|_| open_to_file(matches, "dns_server")) {
        args.dns_server = Some(v);
    }
    if let Some(v) =
        domain_recheck_interval.filter(|_| open_to_file(matches, "domain_recheck_interval"))
    {
        args.domain_recheck_interval = at_least_one("domain_recheck_interval", v)?;
    }
    if let Some(v) =
        domain_recheck_failures.filter(|_| open_to_file(matches, "domain_recheck_failures"))
    {
        args.domain_recheck_failures = at_least_one("domain_recheck_failures", v)?;
    }
    if let Some(v) = worker_threads.filter(|_| open_to_file(matches, "worker_threads")) {
        at_least_one("worker_threads", u32::from(v))?;
        args.worker_threads = Some(v);
    }
    if let Some(v) = log_format.filter(|_| open_to_file(matches, "log_format")) {
        args.log_format = LogFormat::from_str(&v, true)
            .map_err(|_| format!("log_format {v:?}: expected \"human\" or \"json\""))?;
    }
    Ok(())
}

/// A count or interval that must be at least 1, as the flag's parser requires.
fn at_least_one(key: &str, value: u32) -> Result<u32, String> {
    if value == 0 {
        return Err(format!("{key}: must be at least 1"));
    }
    Ok(value)
}

/// A warning when others than the file's owner may read it.
fn permission_warning(path: &Path) -> Result<Option<String>, String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| format!("config file {}: {e}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 == 0 {
        return Ok(None);
    }
    Ok(Some(format!(
        "config file {} holds bearer tokens and is readable by group or others (mode {:o}); \
         chmod 600 it",
        path.display(),
        mode & 0o777
    )))
}

/// Settings that only make sense together, checked after the merge since either half may come
/// from the file.
fn check_pairs(args: &Args) -> Result<(), String> {
    if args.sp_cert.is_some() && args.sp_key.is_none() {
        return Err("--sp-cert needs --sp-key".to_owned());
    }
    match (&args.tls_cert, &args.tls_key) {
        (Some(_), None) => Err("--tls-cert needs --tls-key".to_owned()),
        (None, Some(_)) => Err("--tls-key needs --tls-cert".to_owned()),
        _ => Ok(()),
    }
}

/// The file as text, refusing one larger than [`MAX_CONFIG_BYTES`].
fn read_bounded(path: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_CONFIG_BYTES} bytes"),
        ));
    }
    Ok(text)
}
