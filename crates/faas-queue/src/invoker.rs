//! How the worker calls a function: the [`Invoker`] trait, and [`GatewayInvoker`], which calls
//! it through the gateway's `/function/` proxy like any synchronous caller.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use faas_types::hop_by_hop::HopByHop;

use crate::QueuedCall;

/// The function's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvokeResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers, in order.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Bytes,
}

impl InvokeResponse {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Why the function gave no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The function (or the gateway in front of it) refused or dropped the connection.
    #[error("connection refused: {0}")]
    ConnectionRefused(String),
    /// No answer in time.
    #[error("the call timed out")]
    Timeout,
    /// No such function.
    #[error("function not found: {0}")]
    NotFound(String),
    /// The function's answer was larger than the worker keeps (`GatewayInvoker`'s cap).
    #[error("the function's answer is larger than {0} bytes, the most the queue worker keeps")]
    TooLarge(usize),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl InvokeError {
    /// The status the callback reports for this failure (`X-Function-Status`).
    pub fn status(&self) -> u16 {
        match self {
            InvokeError::ConnectionRefused(_) => 502,
            InvokeError::Timeout => 504,
            InvokeError::NotFound(_) => 404,
            InvokeError::TooLarge(_) => 413,
            InvokeError::Other(_) => 500,
        }
    }

    /// Whether the worker retries this failure as a connection error (the policy's
    /// `retry_connection_errors`); timeouts are retried when 504 is a retried code.
    pub fn is_connection_error(&self) -> bool {
        matches!(self, InvokeError::ConnectionRefused(_))
    }
}

/// Calls a function for the worker. faasd implements it with [`GatewayInvoker`]; tests with a
/// fake.
#[async_trait]
pub trait Invoker: Send + Sync + 'static {
    /// Calls the function named in `call` with its method, path, query, headers and body.
    async fn invoke(&self, call: &QueuedCall) -> Result<InvokeResponse, InvokeError>;
}

/// The headers of `headers` passed on when a queued call is replayed or its result posted:
/// not the hop-by-hop ones (faas-types' one rule, `Connection`-listed names included), nor
/// the host and framing the new request sets for itself.
pub(crate) fn end_to_end(headers: &[(String, String)]) -> impl Iterator<Item = &(String, String)> {
    let rule = HopByHop::of(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    headers.iter().filter(move |(name, _)| {
        !rule.drops(name)
            && !name.eq_ignore_ascii_case("host")
            && !name.eq_ignore_ascii_case("content-length")
    })
}

/// Invokes functions through the gateway's `/function/{name}.{namespace}{path}` proxy, so an
/// asynchronous call is balanced, scaled from zero and counted like a synchronous one.
/// Plain HTTP only.
#[derive(Clone, Debug)]
pub struct GatewayInvoker {
    base_url: String,
    client: reqwest::Client,
    max_answer_bytes: usize,
}

impl GatewayInvoker {
    /// `base_url` is the gateway's address, e.g. `http://127.0.0.1:8080`; `timeout` bounds one
    /// call (set it above the gateway's upstream timeout).
    pub fn new(base_url: impl Into<String>, timeout: Duration) -> Result<Self, InvokeError> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .map_err(|err| InvokeError::Other(format!("cannot build the HTTP client: {err}")))?;
        Ok(GatewayInvoker {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            client,
            max_answer_bytes: Self::DEFAULT_MAX_ANSWER_BYTES,
        })
    }

    /// The default cap on a function's answer: 32 MiB, as on an asynchronous call's body.
    pub const DEFAULT_MAX_ANSWER_BYTES: usize = 32 << 20;

    /// Keeps at most `limit` bytes of a function's answer; a longer one fails the call with
    /// [`InvokeError::TooLarge`] (status 413 on the callback; the call is dead-lettered).
    pub fn with_max_answer_bytes(mut self, limit: usize) -> Self {
        self.max_answer_bytes = limit;
        self
    }

    /// The URL a call is sent to.
    pub fn url_for(&self, call: &QueuedCall) -> String {
        let mut url = format!("{}/function/{}", self.base_url, call.function);
        if !call.namespace.is_empty() {
            url.push('.');
            url.push_str(&call.namespace);
        }
        if !call.path.is_empty() && !call.path.starts_with('/') {
            url.push('/');
        }
        url.push_str(&call.path);
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(&call.query);
        }
        url
    }
}

#[async_trait]
impl Invoker for GatewayInvoker {
    async fn invoke(&self, call: &QueuedCall) -> Result<InvokeResponse, InvokeError> {
        let method = reqwest::Method::from_bytes(call.method.as_bytes())
            .map_err(|_| InvokeError::Other(format!("bad method {:?}", call.method)))?;
        let mut request = self
            .client
            .request(method, self.url_for(call))
            .body(call.body.clone());
        for (name, value) in end_to_end(&call.headers) {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
            })
            .collect();
        if response
            .content_length()
            .is_some_and(|len| len > self.max_answer_bytes as u64)
        {
            return Err(InvokeError::TooLarge(self.max_answer_bytes));
        }
        let mut response = response;
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > self.max_answer_bytes {
                return Err(InvokeError::TooLarge(self.max_answer_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        Ok(InvokeResponse {
            status,
            headers,
            body,
        })
    }
}

fn classify(err: reqwest::Error) -> InvokeError {
    if err.is_timeout() {
        InvokeError::Timeout
    } else if err.is_connect() {
        InvokeError::ConnectionRefused(err.to_string())
    } else {
        InvokeError::Other(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_urls() {
        let invoker =
            GatewayInvoker::new("http://127.0.0.1:8080/", Duration::from_secs(1)).unwrap();
        let mut call = QueuedCall::new("echo", "openfaas-fn");
        assert_eq!(
            invoker.url_for(&call),
            "http://127.0.0.1:8080/function/echo.openfaas-fn"
        );
        call.path = "/a/b".into();
        call.query = "x=1".into();
        assert_eq!(
            invoker.url_for(&call),
            "http://127.0.0.1:8080/function/echo.openfaas-fn/a/b?x=1"
        );
    }
}
