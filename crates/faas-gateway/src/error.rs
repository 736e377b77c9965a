//! Every error the gateway answers with, and the one place that maps them to HTTP statuses.
//!
//! Errors made by the platform (not by a function) are `text/plain`, say what went wrong, and
//! carry `X-OpenFaaS-Internal: gateway` so clients can tell them from a function's own answer.

use axum::response::{IntoResponse, Response};
use faas_provider::ProviderError;
use faas_types::ValidationError;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::StatusCode;

/// `X-OpenFaaS-Internal`: set on errors the platform made.
pub const INTERNAL_HEADER: HeaderName = HeaderName::from_static("x-openfaas-internal");

/// Why the gateway refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The provider refused or failed; its variant decides the status.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A name or value in the request breaks a rule (400).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The request cannot be read: bad JSON, bad query (400).
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than allowed (413).
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// An upload is, or unpacks to, more than a limit allows (413); the text names the limit.
    #[error("{0}")]
    TooLarge(String),
    /// Missing or wrong basic-auth credentials (401).
    #[error("unauthorized")]
    Unauthorized,
    /// No such thing here (404).
    #[error("{0}")]
    NotFound(String),
    /// The route exists, the method does not (405; the route sets `Allow`).
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(http::Method),
    /// A part of the platform (the queue, say) cannot take the request now (503).
    #[error("{0}")]
    Unavailable(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The function has no ready replica (503).
    #[error("No endpoints available for: {0}.")]
    NoEndpoints(String),
    /// A function at zero replicas was scaled up for a call, but no replica became ready in
    /// time (503; the function stays scaled up, so a retry may succeed).
    #[error("function {function} was scaled up from zero replicas for this call, but no replica became ready within {waited:?}")]
    ColdStartTimeout {
        /// `name.namespace`.
        function: String,
        /// How long the call was held.
        waited: std::time::Duration,
    },
    /// The replica could not be reached or broke the connection (502).
    #[error("{0}")]
    BadGateway(String),
    /// The platform failed to act on some alerts of an AlertManager webhook (500, as
    /// OpenFaaS). Alerts refused for the sender's mistakes alone are a `BadRequest`.
    #[error("cannot scale for every alert: {0}")]
    AlertFailed(String),
    /// The replica did not answer in time (504).
    #[error("{0}")]
    GatewayTimeout(String),
}

impl GatewayError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::Provider(err) => match err {
                ProviderError::NotFound(_) => StatusCode::NOT_FOUND,
                ProviderError::Conflict(_) => StatusCode::CONFLICT,
                ProviderError::Invalid(_) => StatusCode::BAD_REQUEST,
                ProviderError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                ProviderError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            GatewayError::Validation(_) | GatewayError::BadRequest(_) => StatusCode::BAD_REQUEST,
            GatewayError::PayloadTooLarge { .. } | GatewayError::TooLarge(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            GatewayError::Unauthorized => StatusCode::UNAUTHORIZED,
            GatewayError::NotFound(_) => StatusCode::NOT_FOUND,
            GatewayError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::NoEndpoints(_)
            | GatewayError::ColdStartTimeout { .. }
            | GatewayError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::Conflict(_) => StatusCode::CONFLICT,
            GatewayError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            GatewayError::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::AlertFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(%status, error = %self, "request failed");
        }
        let mut body = self.to_string();
        body.push('\n');
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(INTERNAL_HEADER, HeaderValue::from_static("gateway"));
        if let GatewayError::Unauthorized = self {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Restricted\""),
            );
        }
        response
    }
}

/// What handlers return.
pub type GatewayResult<T> = Result<T, GatewayError>;
