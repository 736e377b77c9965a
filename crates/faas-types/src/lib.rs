//! OpenFaaS wire types for rustfaas.
//!
//! This crate holds the JSON shapes that the gateway, the providers, the CLI and the
//! connectors exchange, with the exact field names of OpenFaaS's `faas-provider` Go types,
//! so that `faas-cli`, the OpenFaaS UI and connectors written for OpenFaaS work unchanged.
//! It also holds the checks a request must pass before anything acts on it
//! ([`validate`]). It does no I/O.
//!
//! Decoding follows Go's habits: `null` means "absent" for every field, unknown fields
//! (and the retired `network`) are ignored, and empty optional fields
//! are left out when encoding, as Go's `omitempty` does.
//!
//! Modules, in the order a deployment meets them:
//! - [`function`] — [`FunctionDeployment`] (deploy/update body), [`FunctionStatus`] (list and
//!   get answers), [`DeleteFunctionRequest`], [`parse_function_ref`] for `name.namespace`.
//! - [`scale`] — [`ScaleServiceRequest`].
//! - [`secret`] — [`Secret`], with `rawValue` as base64 like Go's `[]byte`.
//! - [`namespace`] — [`NamespaceRequest`] and [`DEFAULT_NAMESPACE`].
//! - [`logs`] — [`LogRequest`] (parsed from `/system/logs` query strings) and [`LogMessage`].
//! - [`info`] — [`GatewayInfo`], [`ProviderInfo`], [`VersionInfo`] for `/system/info`.
//! - [`labels`] — label and annotation keys OpenFaaS gives meaning to.
//! - [`validate`] — name rules and size limits, with [`ValidationError`].
//! - [`rfc3339`] — timestamps written the way Go writes `time.Time`.
//! - [`call_path`] — the sub-path of a call, kept inside its function (no dot segments).
//! - [`error`] — the crate-wide [`Error`].

pub mod call_path;
pub mod duration;
pub mod error;
pub mod function;
mod go_float;
pub mod hop_by_hop;
pub mod info;
pub mod labels;
pub mod logs;
pub mod namespace;
mod nullable;
pub mod registry;
pub mod rfc3339;
pub mod scale;
pub mod secret;
pub mod validate;

pub use error::Error;
pub use function::{
    parse_function_ref, DeleteFunctionRequest, FunctionDeployment, FunctionResources,
    FunctionStatus, FunctionUsage,
};
pub use info::{GatewayInfo, ProviderInfo, SandboxInfo, VersionInfo};
pub use logs::{LogMessage, LogQueryError, LogRequest};
pub use namespace::{NamespaceRequest, DEFAULT_NAMESPACE};
pub use scale::ScaleServiceRequest;
pub use secret::Secret;
pub use validate::ValidationError;
