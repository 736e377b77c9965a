//! The gateway's REST API as faas-cli uses it, with errors that say what to do next.

use std::time::Duration;

use faas_types::{
    DeleteFunctionRequest, FunctionDeployment, FunctionStatus, GatewayInfo, NamespaceRequest,
    Secret,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::auth_config::Credentials;

/// How long an API call (not invoke, logs or push) may take.
const API_TIMEOUT: Duration = Duration::from_secs(60);

/// A call to the gateway that failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Nothing answers at the gateway's address.
    #[error("cannot reach the gateway at {gateway}: is faasd running? start it with `faasd` or `bash scripts/demo.sh`, or point -g/--gateway or OPENFAAS_URL at your gateway ({reason})")]
    Unreachable {
        /// The gateway URL.
        gateway: String,
        /// The underlying error.
        reason: String,
    },
    /// 401.
    #[error("unauthorized (401) at {gateway}: run `faas-cli login -g {gateway}` (faasd prints the command at start-up; its admin password is in <data-dir>/secrets/basic-auth-password)")]
    Unauthorized {
        /// The gateway URL.
        gateway: String,
    },
    /// 404 for something named.
    #[error("{what} not found{hint}")]
    NotFound {
        /// What was looked for, e.g. `function hello in namespace openfaas-fn`.
        what: String,
        /// What to do.
        hint: String,
    },
    /// Any other unexpected status.
    #[error("{action}: the gateway answered {status}{body}", body = if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        /// What was being done.
        action: String,
        /// The status.
        status: StatusCode,
        /// The answer's text.
        body: String,
    },
    /// The gateway URL is not usable.
    #[error("invalid gateway URL {gateway:?}: {reason}")]
    BadUrl {
        /// The URL.
        gateway: String,
        /// Why.
        reason: String,
    },
    /// The answer could not be read.
    #[error("{action}: cannot read the gateway's answer: {reason}")]
    Decode {
        /// What was being done.
        action: String,
        /// Why.
        reason: String,
    },
    /// The request timed out.
    #[error("{action}: no answer from {gateway} within {seconds}s")]
    Timeout {
        /// What was being done.
        action: String,
        /// The gateway URL.
        gateway: String,
        /// The limit.
        seconds: u64,
    },
}

/// A stored package, as `PUT /system/packages/{name}:{tag}` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageInfo {
    /// `name:tag`.
    #[serde(default)]
    pub image: String,
    /// `sha256:<hex>`.
    #[serde(default)]
    pub digest: String,
    /// Bytes.
    #[serde(default)]
    pub size: u64,
}

/// A client for one gateway.
#[derive(Debug, Clone)]
pub struct GatewayClient {
    base: String,
    http: reqwest::Client,
    credentials: Option<Credentials>,
}

impl GatewayClient {
    /// A client for `gateway` (http or https), sending `credentials` on `/system/*`.
    pub fn new(
        gateway: &str,
        credentials: Option<Credentials>,
        tls_no_verify: bool,
    ) -> Result<GatewayClient, GatewayError> {
        let base = gateway.trim().trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base).map_err(|e| GatewayError::BadUrl {
            gateway: base.clone(),
            reason: e.to_string(),
        })?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(GatewayError::BadUrl {
                gateway: base,
                reason: "it must start with http:// or https://".into(),
            });
        }
        let loopback = url.host_str().is_some_and(|host| {
            host == "localhost"
                || host
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!(
                "faas-cli/",
                env!("CARGO_PKG_VERSION"),
                " (rustfaas)"
            ))
            .danger_accept_invalid_certs(tls_no_verify);
        if loopback {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| GatewayError::BadUrl {
            gateway: base.clone(),
            reason: e.to_string(),
        })?;
        Ok(GatewayClient {
            base,
            http,
            credentials,
        })
    }

    /// The gateway URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The function's URL (`/function/name[.ns]`).
    pub fn function_url(&self, name: &str, namespace: Option<&str>) -> String {
        format!("{}/function/{}", self.base, function_ref(name, namespace))
    }

    /// The function's async URL.
    pub fn async_function_url(&self, name: &str, namespace: Option<&str>) -> String {
        format!(
            "{}/async-function/{}",
            self.base,
            function_ref(name, namespace)
        )
    }

    /// A request to the API with credentials.
    fn system(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.credentials {
            Some(Credentials::Basic { user, password }) => request.basic_auth(user, Some(password)),
            Some(Credentials::Bearer(token)) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A plain request (function calls, health).
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends `request`, mapping transport failures and 401.
    pub async fn send(
        &self,
        action: &str,
        request: RequestBuilder,
        timeout: Option<Duration>,
    ) -> Result<Response, GatewayError> {
        let request = match timeout {
            Some(t) => request.timeout(t),
            None => request,
        };
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(action, e, timeout))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(GatewayError::Unauthorized {
                gateway: self.base.clone(),
            });
        }
        Ok(response)
    }

    fn transport_error(
        &self,
        action: &str,
        error: reqwest::Error,
        timeout: Option<Duration>,
    ) -> GatewayError {
        if error.is_timeout() {
            return GatewayError::Timeout {
                action: action.to_owned(),
                gateway: self.base.clone(),
                seconds: timeout.unwrap_or_default().as_secs(),
            };
        }
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(s) = source {
            reason = s.to_string();
            source = s.source();
        }
        GatewayError::Unreachable {
            gateway: self.base.clone(),
            reason,
        }
    }

    async fn expect(
        &self,
        action: &str,
        response: Response,
        ok: &[StatusCode],
    ) -> Result<Response, GatewayError> {
        if ok.contains(&response.status()) {
            return Ok(response);
        }
        Err(status_error(action, response).await)
    }

    async fn json<T: serde::de::DeserializeOwned>(
        action: &str,
        response: Response,
    ) -> Result<T, GatewayError> {
        let bytes = response.bytes().await.map_err(|e| GatewayError::Decode {
            action: action.to_owned(),
            reason: e.to_string(),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| GatewayError::Decode {
            action: action.to_owned(),
            reason: e.to_string(),
        })
    }

    /// `GET /healthz`: the status, or an error when nothing answers.
    pub async fn healthz(&self, timeout: Duration) -> Result<StatusCode, GatewayError> {
        let url = format!("{}/healthz", self.base);
        let response = self
            .send("checking health", self.http.get(url), Some(timeout))
            .await?;
        Ok(response.status())
    }

    /// `GET /system/functions`.
    pub async fn list_functions(
        &self,
        namespace: Option<&str>,
    ) -> Result<Vec<FunctionStatus>, GatewayError> {
        let action = "listing functions";
        let mut request = self.system(Method::GET, "/system/functions");
        if let Some(ns) = namespace {
            request = request.query(&[("namespace", ns)]);
        }
        let response = self.send(action, request, Some(API_TIMEOUT)).await?;
        let response = self.expect(action, response, &[StatusCode::OK]).await?;
        let list: Option<Vec<FunctionStatus>> = Self::json(action, response).await?;
        Ok(list.unwrap_or_default())
    }

    /// `GET /system/function/{name}`.
    pub async fn function_status(
        &self,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<FunctionStatus, GatewayError> {
        let action = format!("describing function {name}");
        let mut request = self.system(Method::GET, &format!("/system/function/{name}"));
        if let Some(ns) = namespace {
            request = request.query(&[("namespace", ns)]);
        }
        let response = self.send(&action, request, Some(API_TIMEOUT)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(not_found_function(name, namespace));
        }
        let response = self.expect(&action, response, &[StatusCode::OK]).await?;
        Self::json(&action, response).await
    }

    /// `POST` (create) or `PUT` (update) `/system/functions`; the raw status for the caller's
    /// decision (404 on update, 409 on create).
    pub async fn deploy(
        &self,
        deployment: &FunctionDeployment,
        update: bool,
    ) -> Result<(StatusCode, String), GatewayError> {
        let method = if update { Method::PUT } else { Method::POST };
        let action = format!("deploying {}", deployment.service);
        let request = self.system(method, "/system/functions").json(deployment);
        let response = self.send(&action, request, Some(API_TIMEOUT)).await?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        Ok((status, body.trim().to_owned()))
    }

    /// `DELETE /system/functions`.
    pub async fn delete_function(
        &self,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<(), GatewayError> {
        let action = format!("removing {name}");
        let body = DeleteFunctionRequest {
            function_name: name.to_owned(),
            namespace: namespace.map(str::to_owned),
        };
        let request = self.system(Method::DELETE, "/system/functions").json(&body);
        let response = self.send(&action, request, Some(API_TIMEOUT)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(not_found_function(name, namespace));
        }
        self.expect(&action, response, &[StatusCode::OK, StatusCode::ACCEPTED])
            .await?;
        Ok(())
    }

    /// `GET /system/info`.
    pub async fn info(&self) -> Result<GatewayInfo, GatewayError> {
        let action = "reading the gateway's version";
        let response = self
            .send(
                action,
                self.system(Method::GET, "/system/info"),
                Some(API_TIMEOUT),
            )
            .await?;
        let response = self.expect(action, response, &[StatusCode::OK]).await?;
        Self::json(action, response).await
    }

    /// `GET /system/namespaces`.
    pub async fn namespaces(&self) -> Result<Vec<String>, GatewayError> {
        let action = "listing namespaces";
        let response = self
            .send(
                action,
                self.system(Method::GET, "/system/namespaces"),
                Some(API_TIMEOUT),
            )
            .await?;
        let response = self.expect(action, response, &[StatusCode::OK]).await?;
        let list: Option<Vec<String>> = Self::json(action, response).await?;
        Ok(list.unwrap_or_default())
    }

    /// `GET /system/namespace/{name}`.
    pub async fn namespace(&self, name: &str) -> Result<NamespaceRequest, GatewayError> {
        let action = format!("reading namespace {name}");
        let path = format!("/system/namespace/{}", encode_path_segment(name));
        let response = self
            .send(&action, self.system(Method::GET, &path), Some(API_TIMEOUT))
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(not_found_namespace(name));
        }
        let response = self.expect(&action, response, &[StatusCode::OK]).await?;
        Self::json(&action, response).await
    }

    /// `POST` (create) or `PUT` (update) `/system/namespace/{name}`.
    pub async fn put_namespace(
        &self,
        namespace: &NamespaceRequest,
        update: bool,
    ) -> Result<(), GatewayError> {
        let (method, verb) = if update {
            (Method::PUT, "updating")
        } else {
            (Method::POST, "creating")
        };
        let action = format!("{verb} namespace {}", namespace.name);
        let path = format!("/system/namespace/{}", encode_path_segment(&namespace.name));
        let request = self.system(method, &path).json(namespace);
        let response = self.send(&action, request, Some(API_TIMEOUT)).await?;
        match response.status() {
            StatusCode::NOT_FOUND if update => Err(not_found_namespace(&namespace.name)),
            StatusCode::NOT_FOUND => Err(GatewayError::Status {
                action: format!("{action} (this gateway does not manage namespaces)"),
                status: StatusCode::NOT_FOUND,
                body: response.text().await.unwrap_or_default().trim().to_owned(),
            }),
            _ => self
                .expect(
                    &action,
                    response,
                    &[StatusCode::OK, StatusCode::CREATED, StatusCode::ACCEPTED],
                )
                .await
                .map(|_| ()),
        }
    }

    /// `DELETE /system/namespace/{name}`.
    pub async fn delete_namespace(&self, name: &str) -> Result<(), GatewayError> {
        let action = format!("deleting namespace {name}");
        let path = format!("/system/namespace/{}", encode_path_segment(name));
        let response = self
            .send(
                &action,
                self.system(Method::DELETE, &path),
                Some(API_TIMEOUT),
            )
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(not_found_namespace(name));
        }
        self.expect(&action, response, &[StatusCode::OK, StatusCode::ACCEPTED])
            .await?;
        Ok(())
    }

    /// `GET /system/secrets`.
    pub async fn list_secrets(&self, namespace: Option<&str>) -> Result<Vec<Secret>, GatewayError> {
        let action = "listing secrets";
        let mut request = self.system(Method::GET, "/system/secrets");
        if let Some(ns) = namespace {
            request = request.query(&[("namespace", ns)]);
        }
        let response = self.send(action, request, Some(API_TIMEOUT)).await?;
        let response = self.expect(action, response, &[StatusCode::OK]).await?;
        let list: Option<Vec<Secret>> = Self::json(action, response).await?;
        Ok(list.unwrap_or_default())
    }

    /// `POST` (create) or `PUT` (update) `/system/secrets`.
    pub async fn put_secret(&self, secret: &Secret, update: bool) -> Result<(), GatewayError> {
        let (method, verb) = if update {
            (Method::PUT, "updating")
        } else {
            (Method::POST, "creating")
        };
        let action = format!("{verb} secret {}", secret.name);
        let request = self.system(method, "/system/secrets").json(secret);
        let response = self.send(&action, request, Some(API_TIMEOUT)).await?;
        match response.status() {
            StatusCode::OK | StatusCode::CREATED | StatusCode::ACCEPTED => Ok(()),
            StatusCode::CONFLICT => Err(GatewayError::Status {
                action: format!(
                    "{action} (it exists already: use `faas-cli secret update {}`)",
                    secret.name
                ),
                status: StatusCode::CONFLICT,
                body: response.text().await.unwrap_or_default().trim().to_owned(),
            }),
            StatusCode::NOT_FOUND if update => Err(GatewayError::NotFound {
                what: format!("secret {}", secret.name),
                hint: format!(": create it with `faas-cli secret create {}`", secret.name),
            }),
            _ => Err(status_error(&action, response).await),
        }
    }

    /// `DELETE /system/secrets`.
    pub async fn delete_secret(
        &self,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<(), GatewayError> {
        let action = format!("removing secret {name}");
        let body = Secret {
            name: name.to_owned(),
            namespace: namespace.map(str::to_owned),
            ..Secret::default()
        };
        let request = self.system(Method::DELETE, "/system/secrets").json(&body);
        let response = self.send(&action, request, Some(API_TIMEOUT)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(GatewayError::NotFound {
                what: format!("secret {name}"),
                hint: ": see `faas-cli secret list`".to_owned(),
            });
        }
        self.expect(&action, response, &[StatusCode::OK, StatusCode::ACCEPTED])
            .await?;
        Ok(())
    }

    /// `GET /system/logs?...`: the streaming answer.
    pub async fn logs(
        &self,
        query: &str,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<Response, GatewayError> {
        let action = format!("reading logs of {name}");
        let request = self.system(Method::GET, &format!("/system/logs?{query}"));
        let response = self.send(&action, request, None).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(not_found_function(name, namespace));
        }
        self.expect(&action, response, &[StatusCode::OK]).await
    }

    /// `PUT /system/packages/{image}`: uploads a package.
    pub async fn push_package(
        &self,
        image: &str,
        archive: Vec<u8>,
    ) -> Result<PackageInfo, GatewayError> {
        let action = format!("pushing {image}");
        let path = format!("/system/packages/{}", encode_path_segment(image));
        let request = self
            .system(Method::PUT, &path)
            .header(reqwest::header::CONTENT_TYPE, "application/gzip")
            .body(archive);
        let response = self
            .send(&action, request, Some(Duration::from_secs(600)))
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            let body = response.text().await.unwrap_or_default();
            return Err(GatewayError::Status {
                action: format!("{action} (this gateway has no package store: rustfaas's faasd has one; with OpenFaaS, build and push a container image instead)"),
                status: StatusCode::NOT_FOUND,
                body: body.trim().to_owned(),
            });
        }
        if response.status() == StatusCode::BAD_REQUEST && image.contains('/') {
            let body = response.text().await.unwrap_or_default();
            return Err(GatewayError::Status {
                action: format!("{action} (package names are lowercase path components such as `team/hello:tag`; check `image:` in the stack file)"),
                status: StatusCode::BAD_REQUEST,
                body: body.trim().to_owned(),
            });
        }
        let response = self
            .expect(&action, response, &[StatusCode::OK, StatusCode::CREATED])
            .await?;
        Self::json(&action, response).await
    }
}

/// `name` or `name.namespace`.
pub fn function_ref(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() && !name.contains('.') => format!("{name}.{ns}"),
        _ => name.to_owned(),
    }
}

fn not_found_function(name: &str, namespace: Option<&str>) -> GatewayError {
    let ns = namespace.unwrap_or(faas_types::DEFAULT_NAMESPACE);
    GatewayError::NotFound {
        what: format!("function {name} in namespace {ns}"),
        hint: ": see `faas-cli list` for what is deployed, or deploy it with `faas-cli up`"
            .to_owned(),
    }
}

fn not_found_namespace(name: &str) -> GatewayError {
    GatewayError::NotFound {
        what: format!("namespace {name}"),
        hint: ": see `faas-cli namespaces`, or create it with `faas-cli namespace create`"
            .to_owned(),
    }
}

/// An error for an unexpected status, with the answer's text.
pub async fn status_error(action: &str, response: Response) -> GatewayError {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let mut body = body.trim().to_owned();
    if body.len() > 2000 {
        body.truncate(2000);
        body.push_str("...");
    }
    GatewayError::Status {
        action: action.to_owned(),
        status,
        body,
    }
}

/// Percent-encodes a path segment (keeps letters, digits and `-._~:`).
pub fn encode_path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encodes a query value.
pub fn encode_query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_refs() {
        assert_eq!(function_ref("a", None), "a");
        assert_eq!(function_ref("a", Some("ns")), "a.ns");
        assert_eq!(function_ref("a.x", Some("ns")), "a.x");
    }

    #[test]
    fn encodes() {
        assert_eq!(encode_path_segment("hello:latest"), "hello:latest");
        assert_eq!(encode_path_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(
            encode_query_value("2024-01-01T00:00:00+01:00"),
            "2024-01-01T00%3A00%3A00%2B01%3A00"
        );
    }

    #[test]
    fn rejects_non_http_urls() {
        assert!(GatewayClient::new("ftp://x", None, false).is_err());
        assert!(GatewayClient::new("not a url", None, false).is_err());
        let c = GatewayClient::new("http://127.0.0.1:8080/", None, false).unwrap();
        assert_eq!(c.base(), "http://127.0.0.1:8080");
        assert_eq!(
            c.function_url("f", Some("dev")),
            "http://127.0.0.1:8080/function/f.dev"
        );
    }
}
