//! Calls a function through the gateway, as a connector: `POST /function/{name}.{namespace}`
//! (or `/async-function/...`, queued, when asked to) with `X-Topic` and `X-Connector`.

use std::time::Duration;

use reqwest::StatusCode;

/// A call that got no answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// No answer from the gateway.
    #[error("calling {function} through {gateway}: {reason}")]
    Call {
        /// `name.namespace`.
        function: String,
        /// The gateway's URL.
        gateway: String,
        /// Why.
        reason: String,
    },
}

/// Calls functions through one gateway on behalf of one connector.
#[derive(Debug, Clone)]
pub struct GatewayCaller {
    base: String,
    connector: String,
    route: &'static str,
    client: reqwest::Client,
}

impl GatewayCaller {
    /// A caller for the gateway at `base` (e.g. `http://127.0.0.1:8080`) that names itself
    /// `connector` in `X-Connector`; each call may take up to `timeout`.
    pub fn new(base: &str, connector: &str, timeout: Duration) -> Result<GatewayCaller, CallError> {
        // The gateway is this platform's own (loopback, usually): an HTTP proxy set in the
        // environment for outside traffic must not carry these calls (the queue's
        // GatewayInvoker does the same).
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CallError::Client(e.to_string()))?;
        Ok(GatewayCaller {
            base: base.trim_end_matches('/').to_owned(),
            connector: connector.to_owned(),
            route: "function",
            client,
        })
    }

    /// Calls through `/async-function/` instead: the gateway queues each call and answers
    /// 202 at once (OpenFaaS's connectors' `async_invocation`).
    pub fn asynchronous(mut self) -> GatewayCaller {
        self.route = "async-function";
        self
    }

    /// Calls `function` (`name.namespace`) for `topic` with `body`; answers the status and
    /// drains the answer.
    pub async fn call(
        &self,
        function: &str,
        topic: &str,
        body: Vec<u8>,
    ) -> Result<StatusCode, CallError> {
        let failed = |reason: String| CallError::Call {
            function: function.to_owned(),
            gateway: self.base.clone(),
            reason,
        };
        let response = self
            .client
            .post(format!("{}/{}/{function}", self.base, self.route))
            .header("X-Topic", topic)
            .header("X-Connector", &self.connector)
            .body(body)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        response.bytes().await.map_err(|e| failed(e.to_string()))?;
        Ok(status)
    }
}
