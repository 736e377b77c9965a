//! The provider's error type. Each variant maps to one HTTP status in the gateway.

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The function, secret, namespace or package does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The name is taken (409).
    #[error("{0}")]
    Conflict(String),
    /// The request is invalid (400); the text says what is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The provider cannot do it now (503), e.g. no replica could be started.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (500): I/O on the data directory and the like.
    #[error("{0}")]
    Internal(String),
}

impl From<faas_types::ValidationError> for ProviderError {
    fn from(err: faas_types::ValidationError) -> Self {
        ProviderError::Invalid(err.to_string())
    }
}

impl From<std::io::Error> for ProviderError {
    fn from(err: std::io::Error) -> Self {
        ProviderError::Internal(err.to_string())
    }
}
