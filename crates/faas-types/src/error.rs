//! The crate-wide error: every typed error of this crate converts into it.

use crate::logs::LogQueryError;
use crate::validate::ValidationError;

/// Any error this crate reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request was decoded but breaks a rule (name, size, limit).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// A `/system/logs` query string has a missing or bad parameter.
    #[error(transparent)]
    LogQuery(#[from] LogQueryError),
    /// A body is not the JSON shape expected.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
}
