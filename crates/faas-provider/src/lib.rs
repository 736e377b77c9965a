//! The provider: what runs function replicas behind the gateway.
//!
//! [`Provider`] is the seam the gateway talks to; [`ProviderError`] carries one HTTP status
//! per variant. Each runtime backend is a crate of its own beside this one and implements the
//! trait: `faas-provider-process` (the embedded default: each replica an `fwatchdog` child
//! process on a loopback port or, sandboxed, a Unix socket in its run directory, function code from packages under the data directory).
//!
//! Beside the trait, what both ends of a replica's connection share: [`ReplicaAddress`] and
//! [`address::connect_unix`], and [`UnixConnection`], the Unix socket registered for reading
//! only that the gateway and `fwatchdog` hold (no reactor wake-up each time the peer reads).

pub mod address;
pub mod error;
pub mod provider;
pub mod unix_connection;

pub use address::ReplicaAddress;
pub use error::ProviderError;
pub use provider::{LogStream, PackageInfo, Provider, ReplicaEndpoint, ReplicaRoute};
pub use unix_connection::UnixConnection;
