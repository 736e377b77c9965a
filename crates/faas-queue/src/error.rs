//! The crate-wide error: what a queue operation can fail with.

/// Why a queue operation failed.
///
/// The gateway maps these to statuses: [`QueueError::InvalidCall`] is the caller's fault (400),
/// [`QueueError::NotFound`] is 404, everything else means the queue cannot take the call now
/// (503).
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The call cannot be queued as it is (bad queue name, bad callback URL, ...).
    #[error("invalid call: {0}")]
    InvalidCall(String),
    /// No dead letter (or call) with this id.
    #[error("no dead letter with id {0:?}")]
    NotFound(String),
    /// The delivery's lease expired and the call was handed to another consumer; only that
    /// consumer may settle it now.
    #[error("the lease on call {0} was lost (it expired and the call was delivered again)")]
    LeaseLost(String),
    /// The queue was closed.
    #[error("the queue is closed")]
    Closed,
    /// The backend (disk, NATS server) is unreachable or refused the operation.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The backend's storage failed.
    #[error("queue storage: {0}")]
    Storage(String),
    /// A stored record could not be encoded or decoded.
    #[error("queue record: {0}")]
    Encoding(#[from] serde_json::Error),
    /// File system error (creating the queue directory).
    #[error("queue I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl QueueError {
    /// The HTTP status the gateway answers with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            QueueError::InvalidCall(_) => 400,
            QueueError::NotFound(_) => 404,
            QueueError::LeaseLost(_) => 409,
            _ => 503,
        }
    }
}

#[cfg(feature = "embedded")]
macro_rules! storage_from {
    ($($ty:ty),*) => {$(
        impl From<$ty> for QueueError {
            fn from(err: $ty) -> Self {
                QueueError::Storage(err.to_string())
            }
        }
    )*};
}

#[cfg(feature = "embedded")]
storage_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
