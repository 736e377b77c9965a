//! HTTP basic auth for `/system/*` (the portal's session cookie is in [`crate::session`]).
//!
//! Credentials are compared as SHA-256 digests with [`subtle::ConstantTimeEq`]: fixed-length
//! digests keep the comparison's time independent of where the bytes differ and of their
//! lengths, and user and password are both always compared.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::AUTHORIZATION;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::BasicCredentials;
use crate::error::GatewayError;

/// The expected credentials, kept as digests.
pub struct BasicAuth {
    user: [u8; 32],
    password: [u8; 32],
}

impl BasicAuth {
    /// Prepares the check for `credentials`.
    pub fn new(credentials: &BasicCredentials) -> BasicAuth {
        BasicAuth {
            user: digest(credentials.user.as_bytes()),
            password: digest(credentials.password.as_bytes()),
        }
    }

    /// True when `headers` carry `Authorization: Basic` with the expected user and password.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some((user, password)) = headers
            .get(AUTHORIZATION)
            .and_then(|value| decode_basic(value.as_bytes()))
        else {
            return false;
        };
        self.check(&user, &password)
    }

    /// True when `user` and `password` are the expected ones (the portal's sign-in form).
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        let (user, password) = (digest(user), digest(password));
        // `&` on `Choice` evaluates both sides: no early exit on a wrong user.
        bool::from(user.ct_eq(&self.user) & password.ct_eq(&self.password))
    }
}

/// Splits `Basic base64(user:password)` into user and password.
fn decode_basic(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (scheme, encoded) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim_ascii()).ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let password = decoded[colon + 1..].to_vec();
    let mut user = decoded;
    user.truncate(colon);
    Some((user, password))
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Middleware: 401 with `WWW-Authenticate: Basic realm="Restricted"` unless the request
/// carries the expected credentials.
pub async fn require_basic_auth(
    State(auth): State<Arc<BasicAuth>>,
    request: Request,
    next: Next,
) -> Response {
    if auth.allows(request.headers()) {
        next.run(request).await
    } else {
        GatewayError::Unauthorized.into_response()
    }
}
