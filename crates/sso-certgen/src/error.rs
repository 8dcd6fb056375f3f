//! What can go wrong making or reading a key and certificate.

use std::fmt;

use openssl::error::ErrorStack;

/// Why a key or certificate could not be made or read.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// OpenSSL refused a step; `step` names it.
    OpenSsl {
        /// What was being done.
        step: &'static str,
        /// OpenSSL's own errors.
        source: ErrorStack,
    },
    /// A validity instant this platform's `time_t` cannot hold.
    ValidityOutOfRange,
    /// The private key is not the one the certificate names.
    KeyMismatch,
}

impl Error {
    /// A stable, machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::OpenSsl { .. } => "openssl",
            Error::ValidityOutOfRange => "validity-out-of-range",
            Error::KeyMismatch => "key-mismatch",
        }
    }

    /// Maps an OpenSSL error stack to [`Error::OpenSsl`] for `step`.
    pub(crate) fn openssl(step: &'static str) -> impl Fn(ErrorStack) -> Error + Copy {
        move |source| Error::OpenSsl { step, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::OpenSsl { step, source } => write!(f, "{step}: {source}"),
            Error::ValidityOutOfRange => {
                f.write_str("a validity instant is out of range for this platform")
            }
            Error::KeyMismatch => f.write_str("the private key does not match the certificate"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::OpenSsl { source, .. } => Some(source),
            Error::ValidityOutOfRange | Error::KeyMismatch => None,
        }
    }
}
