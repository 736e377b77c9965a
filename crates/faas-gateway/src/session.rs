//! Sign-in for the portal: a session cookie in place of basic auth, for browsers (which cannot
//! send credentials in a URL to `fetch`, and headless ones cannot answer a basic-auth prompt).
//!
//! `POST /ui/login` with `{"user","password"}` (the admin credentials) sets a cookie
//! `rustfaas_session` (`HttpOnly`, `SameSite=Strict`, `Path=/`, `Max-Age` of the session's
//! life, `Secure` when the request came over TLS: `X-Forwarded-Proto: https`) and answers the
//! session's CSRF token. Requests that authenticate with the cookie and change state (any
//! method but GET, HEAD, OPTIONS) must carry that token in `X-CSRF-Token`, so another site
//! cannot make the browser act for the user. `POST /ui/logout` ends the session;
//! `GET /ui/session` tells the page whether it is signed in (and the token again).
//!
//! Failed sign-ins are logged with the caller's address and limited per address (5 a minute,
//! then 429 with `Retry-After`). Basic auth keeps working unchanged for API clients:
//! [`require_auth`] accepts either.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::BasicAuth;
use crate::config::BasicCredentials;
use crate::error::GatewayError;
use crate::routes::{parse_json, read_body};
use crate::server::AppState;

/// The cookie's name.
pub const COOKIE_NAME: &str = "rustfaas_session";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lives.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Most sessions kept at once; the oldest goes first.
const MAX_SESSIONS: usize = 1024;
/// Failed sign-ins allowed per address within [`FAILURE_WINDOW`].
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Most addresses tracked for failures; beyond, sign-in is refused until some expire.
const MAX_TRACKED_ADDRESSES: usize = 10_000;

struct Session {
    expires: Instant,
    csrf: String,
}

struct Failures {
    count: u32,
    since: Instant,
}

/// The credentials, the live sessions and the failed sign-ins: what [`require_auth`] checks.
pub struct Auth {
    user: String,
    basic: BasicAuth,
    /// By SHA-256 of the cookie's value: a memory dump does not give usable cookies.
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    Basic,
    Session,
    None,
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// 256 bits from the operating system's generator (through uuid's v4), as hex.
fn random_token() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    a + &b
}

/// The value of our cookie in the request's `Cookie` headers.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

impl Auth {
    /// Checks for `credentials`.
    pub fn new(credentials: &BasicCredentials) -> Auth {
        Auth {
            user: credentials.user.clone(),
            basic: BasicAuth::new(credentials),
            sessions: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The CSRF token of the live session the request's cookie names.
    fn session_csrf(&self, headers: &HeaderMap) -> Option<String> {
        let key = digest(session_cookie(headers)?.as_bytes());
        let mut sessions = self.sessions();
        let session = sessions.get(&key)?;
        if session.expires <= Instant::now() {
            sessions.remove(&key);
            return None;
        }
        Some(session.csrf.clone())
    }

    fn proof(&self, headers: &HeaderMap) -> (Proof, Option<String>) {
        if self.basic.allows(headers) {
            return (Proof::Basic, None);
        }
        match self.session_csrf(headers) {
            Some(csrf) => (Proof::Session, Some(csrf)),
            None => (Proof::None, None),
        }
    }

    /// A new session: its cookie value and CSRF token.
    fn open(&self) -> (String, String) {
        let (cookie, csrf) = (random_token(), random_token());
        let now = Instant::now();
        let mut sessions = self.sessions();
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| *k)
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            digest(cookie.as_bytes()),
            Session {
                expires: now + SESSION_LIFETIME,
                csrf: csrf.clone(),
            },
        );
        (cookie, csrf)
    }

    fn close(&self, headers: &HeaderMap) {
        if let Some(cookie) = session_cookie(headers) {
            self.sessions().remove(&digest(cookie.as_bytes()));
        }
    }

    /// `Some(seconds to wait)` when `address` failed too often lately.
    fn limited(&self, address: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() >= MAX_TRACKED_ADDRESSES {
            failures.retain(|_, f| now.duration_since(f.since) < FAILURE_WINDOW);
            if failures.len() >= MAX_TRACKED_ADDRESSES && !failures.contains_key(&address) {
                return Some(FAILURE_WINDOW.as_secs());
            }
        }
        let entry = failures.get(&address)?;
        let elapsed = now.duration_since(entry.since);
        if elapsed >= FAILURE_WINDOW {
            failures.remove(&address);
            return None;
        }
        (entry.count >= MAX_FAILURES).then(|| (FAILURE_WINDOW - elapsed).as_secs().max(1))
    }

    fn failed(&self, address: IpAddr) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = failures.entry(address).or_insert(Failures {
            count: 0,
            since: now,
        });
        if now.duration_since(entry.since) >= FAILURE_WINDOW {
            *entry = Failures {
                count: 0,
                since: now,
            };
        }
        entry.count += 1;
    }
}

/// Middleware on `/system/*`: basic auth, or a session cookie (with the CSRF token on
/// requests that change state). 401 otherwise; a request that came with a (stale) cookie, or
/// from a script (`X-Requested-With`, which the portal sends), gets no `WWW-Authenticate`, so a
/// browser shows the portal's sign-in rather than its own prompt.
pub async fn require_auth(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    match auth.proof(request.headers()) {
        (Proof::Basic, _) => next.run(request).await,
        (Proof::Session, Some(csrf)) => {
            let safe = matches!(
                *request.method(),
                Method::GET | Method::HEAD | Method::OPTIONS
            );
            let sent = request
                .headers()
                .get(CSRF_HEADER)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if safe || bool::from(sent.ct_eq(csrf.as_bytes())) {
                next.run(request).await
            } else {
                plain(
                    StatusCode::FORBIDDEN,
                    "missing or wrong X-CSRF-Token for a signed-in request",
                )
            }
        }
        _ if session_cookie(request.headers()).is_some()
            || request.headers().contains_key("x-requested-with") =>
        {
            plain(
                StatusCode::UNAUTHORIZED,
                "not signed in, or the session has ended: sign in again",
            )
        }
        _ => GatewayError::Unauthorized.into_response(),
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, format!("{text}\n")).into_response()
}

fn cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::try_from(format!(
        "{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("rustfaas_session=; Max-Age=0"))
}

#[derive(Deserialize)]
struct Login {
    user: String,
    password: String,
}

fn caller(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

/// `POST /ui/login` `{"user","password"}`: a session cookie and `{"user","csrf"}`; 401 on
/// wrong credentials, 429 after too many, 404 when auth is off.
pub(crate) async fn login(State(state): State<AppState>, request: Request) -> Response {
    let Some(auth) = state.auth.clone() else {
        return plain(StatusCode::NOT_FOUND, "auth is off: no sign-in needed");
    };
    let address = caller(&request);
    if let Some(wait) = auth.limited(address) {
        tracing::warn!(client = %address, "portal sign-in refused: too many failures");
        let mut response = plain(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins: wait and try again",
        );
        response.headers_mut().insert(RETRY_AFTER, wait.into());
        return response;
    }
    let (parts, body) = request.into_parts();
    let login = match read_body(&parts.headers, body, 4096)
        .await
        .and_then(|bytes| parse_json::<Login>(&bytes))
    {
        Ok(login) => login,
        Err(err) => return err.into_response(),
    };
    if !auth
        .basic
        .check(login.user.as_bytes(), login.password.as_bytes())
    {
        auth.failed(address);
        tracing::warn!(client = %address, user = %login.user, "portal sign-in failed: wrong user or password");
        return plain(StatusCode::UNAUTHORIZED, "wrong user or password");
    }
    let (value, csrf) = auth.open();
    tracing::info!(client = %address, user = %login.user, "portal sign-in");
    let mut response = Json(json!({"user": auth.user, "csrf": csrf})).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        cookie(&value, SESSION_LIFETIME.as_secs(), over_tls(&parts.headers)),
    );
    response
}

/// `POST /ui/logout`: ends the cookie's session and clears the cookie.
pub(crate) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(auth) = &state.auth {
        auth.close(&headers);
    }
    let mut response = Json(json!({"signedIn": false})).into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie("", 0, over_tls(&headers)));
    response
}

/// `GET /ui/session`: `{"user","csrf","auth","prometheus"}` with `auth` one of `session`, `basic` (the
/// request carried basic auth), `off` (auth is off) or `none` (not signed in: the page shows
/// its form). Always 200, so a signed-out page logs no failed request.
pub(crate) async fn session(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (user, csrf, how) = match &state.auth {
        None => (None, None, "off"),
        Some(auth) => match auth.proof(&headers) {
            (Proof::Basic, _) => (Some(&auth.user), None, "basic"),
            (Proof::Session, csrf) => (Some(&auth.user), csrf, "session"),
            (Proof::None, _) => (None, None, "none"),
        },
    };
    // Whether the charts can also read from Prometheus (the page offers the choice).
    let prometheus = state.config.prometheus_url.is_some() && how != "none";
    Json(json!({"user": user, "csrf": csrf, "auth": how, "prometheus": prometheus})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(&BasicCredentials {
            user: "admin".to_owned(),
            password: "pw".to_owned(),
        })
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::try_from(format!("other=1; {COOKIE_NAME}={value}")).unwrap(),
        );
        headers
    }

    #[test]
    fn sessions_open_and_close() {
        let auth = auth();
        let (value, csrf) = auth.open();
        assert_eq!(value.len(), 64);
        assert_ne!(value, csrf);
        assert_eq!(
            auth.proof(&with_cookie(&value)),
            (Proof::Session, Some(csrf))
        );
        assert_eq!(auth.proof(&with_cookie("forged")).0, Proof::None);
        auth.close(&with_cookie(&value));
        assert_eq!(auth.proof(&with_cookie(&value)).0, Proof::None);
    }

    #[test]
    fn sessions_are_bounded() {
        let auth = auth();
        let first = auth.open().0;
        for _ in 0..MAX_SESSIONS {
            auth.open();
        }
        assert_eq!(auth.sessions().len(), MAX_SESSIONS);
        assert_eq!(auth.proof(&with_cookie(&first)).0, Proof::None);
    }

    #[test]
    fn failures_are_limited_per_address() {
        let auth = auth();
        let (a, b) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2]));
        for _ in 0..MAX_FAILURES {
            assert!(auth.limited(a).is_none());
            auth.failed(a);
        }
        let wait = auth.limited(a).expect("limited");
        assert!((1..=60).contains(&wait));
        assert!(auth.limited(b).is_none());
    }

    #[test]
    fn cookies_say_how_they_may_be_used() {
        let plain = cookie("abc", 60, false);
        assert_eq!(
            plain,
            "rustfaas_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        assert!(cookie("abc", 60, true)
            .to_str()
            .unwrap()
            .ends_with("; Secure"));
    }
}
