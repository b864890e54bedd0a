//! The error type of the portable-file layer.

use std::fmt;
use std::path::Path;

use super::policy::PolicyCode;

/// What kind of failure an [`Error`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Reading or writing a file failed (including a missing key or trust-store file).
    Io,
    /// The bytes are not well-formed JSON or gzip, or not UTF-8.
    Parse,
    /// A hard cap (file size, decompressed size, JSON depth) was exceeded.
    Limit,
    /// Verification, freshness, trust or schema policy rejected the file; see
    /// [`Error::policy_code`].
    Policy,
    /// A key is malformed, of the wrong kind, or unusable for the requested operation.
    Key,
    /// A payload is structurally valid JSON but not a valid document of its format.
    Payload,
    /// The engine refused the operation (for example a duplicate snapshot id on import).
    Engine,
}

/// An error from [`crate::formats`].
///
/// Policy failures carry LQFT 1.2.2's policy code ([`Error::policy_code`]), whose exit-code
/// mapping ([`PolicyCode::exit_code`]) scripts rely on. The message never contains secret key
/// material.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    policy: Option<PolicyCode>,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            policy: None,
            message: message.into(),
            source: None,
        }
    }

    /// A policy failure with LQFT's code.
    pub(crate) fn policy(code: PolicyCode, message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Policy,
            policy: Some(code),
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn io(path: &Path, action: &str, source: std::io::Error) -> Self {
        Error {
            kind: ErrorKind::Io,
            policy: None,
            message: format!("cannot {action} {}: {source}", path.display()),
            source: Some(Box::new(source)),
        }
    }

    pub(crate) fn payload(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Payload, message)
    }

    pub(crate) fn key(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Key, message)
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// LQFT's policy code for a policy failure, `None` for other failures.
    pub fn policy_code(&self) -> Option<PolicyCode> {
        self.policy
    }

    /// The message without the policy code.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `lqft` command's exit status for this error: LQFT's 10–17 for policy failures,
    /// 1 for everything else (LQFT exits 1 on unhandled errors).
    pub fn exit_code(&self) -> i32 {
        self.policy.map_or(1, PolicyCode::exit_code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.policy {
            Some(code) => write!(f, "{} [{}]", self.message, code.as_str()),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Result alias of [`crate::formats`].
pub type Result<T> = std::result::Result<T, Error>;
