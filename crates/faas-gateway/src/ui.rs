//! The portal at `/ui/`: the files of the repository's `ui/` folder, built into the gateway
//! (a page, a script and a style sheet; no build step). It sits behind the same basic auth as
//! `/system/*`, and its script calls the REST API with the credentials the browser gave.
//! `/` redirects to it (307), as OpenFaaS's gateway does.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

/// Each file: its name under `/ui/`, its content type and its bytes.
const FILES: [(&str, &str, &str); 3] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../../ui/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../ui/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../../ui/style.css"),
    ),
];

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
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, format!("no file {name} in /ui/")).into_response(),
    }
}
