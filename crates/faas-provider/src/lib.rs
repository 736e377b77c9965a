//! The provider: what runs function replicas behind the gateway.
//!
//! [`Provider`] is the seam the gateway talks to. The `process` backend (the embedded default,
//! cargo feature `process`) runs each replica as an `fwatchdog` child process on a loopback
//! port, in its own working directory, with its secrets as files and its output in a
//! per-function log; function code arrives as packages stored content-addressed under the data
//! directory. See [`process`] for its data layout, replica environment and package format.

pub mod error;
#[cfg(feature = "process")]
pub mod process;
pub mod provider;

pub use error::ProviderError;
#[cfg(feature = "process")]
pub use process::{ProcessConfig, ProcessProvider, ReplicaInfo};
pub use provider::{LogStream, PackageInfo, Provider, ReplicaEndpoint};
