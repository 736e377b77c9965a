//! The portal at `/ui/`: the files of the repository's `ui/` folder built into the gateway (a
//! page, a script, a style sheet, and uPlot's files vendored under `ui/vendor/` by
//! `scripts/vendor-ui.sh`), plus the function store's catalog (faas-cli's built-in
//! `store/catalog.json`). No build step and no outside fetch: a plain `cargo build` serves
//! it. The files load signed out (they hold no secrets) so the page can show its sign-in
//! ([`crate::session`]); everything the page shows comes from the authenticated API.
//! `/` redirects to it (307), as OpenFaaS's gateway does.

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JSON: &str = "application/json";

/// Each file: its name under `/ui/`, its content type and its bytes.
const FILES: [(&str, &str, &str); 6] = [
    ("index.html", HTML, include_str!("../../../ui/index.html")),
    ("app.js", JS, include_str!("../../../ui/app.js")),
    ("style.css", CSS, include_str!("../../../ui/style.css")),
    (
        "uPlot.iife.min.js",
        JS,
        include_str!("../../../ui/vendor/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        CSS,
        include_str!("../../../ui/vendor/uPlot.min.css"),
    ),
    (
        "store.json",
        JSON,
        include_str!("../../faas-cli/store/catalog.json"),
    ),
];

/// Only this origin's files and API; inline styles for uPlot's layout; no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

/// `GET /`: to the portal.
pub(crate) async fn root() -> Redirect {
    Redirect::temporary("/ui/")
}

/// `GET /ui` and `GET /ui/`: the page.
pub(crate) async fn index() -> Response {
    file("index.html")
}

/// `GET /ui/{file}`.
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    file(&name)
}

fn file(name: &str) -> Response {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(CONTENT_SECURITY_POLICY),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
                (
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("same-origin"),
                ),
            ],
            *body,
        )
            .into_response(),
        None => crate::GatewayError::NotFound(format!("no file {name} in /ui/")).into_response(),
    }
}
