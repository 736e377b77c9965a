//! The portal's files and its sign-in: the files load signed out (they hold no secrets), a
//! sign-in sets a session cookie that `/system/*` accepts, requests that change state need
//! the CSRF token, failed sign-ins are limited, logout ends the session, and basic auth keeps
//! working unchanged.

mod common;

use axum::body::Body;
use common::{basic, config_with_auth, TestApi, PASSWORD, USER};
use http::{Method, Request, StatusCode};
use serde_json::json;

async fn login(api: &TestApi, user: &str, password: &str, tls: bool) -> common::Answer {
    let mut request = Request::post("/ui/login").header("content-type", "application/json");
    if tls {
        request = request.header("x-forwarded-proto", "https");
    }
    let body = json!({"user": user, "password": password}).to_string();
    api.send(request.body(Body::from(body)).unwrap()).await
}

async fn with_cookie(
    api: &TestApi,
    method: Method,
    uri: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: &str,
) -> common::Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("cookie", format!("theme=dark; {cookie}"));
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    api.send(request.body(Body::from(body.to_owned())).unwrap())
        .await
}

#[tokio::test]
async fn the_portal_loads_signed_out_and_the_root_redirects_to_it() {
    let api = TestApi::with_config(config_with_auth());
    let root = api.get("/").await;
    assert_eq!(root.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(root.header("location"), Some("/ui/"));
    for (path, content_type) in [
        ("/ui/", "text/html"),
        ("/ui", "text/html"),
        ("/ui/index.html", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/style.css", "text/css"),
    ] {
        let answer = api.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert!(
            answer
                .header("content-type")
                .is_some_and(|c| c.starts_with(content_type)),
            "{path}: {:?}",
            answer.header("content-type")
        );
    }
    assert!(api.get("/ui/").await.text().contains("app.js"));
    assert_eq!(api.get("/ui/nope.js").await.status, StatusCode::NOT_FOUND);
    // Signed out, the API is not open, and the page is told so without a browser prompt.
    let session = api.get("/ui/session").await;
    assert_eq!(session.status, StatusCode::OK);
    assert_eq!(session.json()["auth"], "none");
    assert_eq!(
        api.get("/system/functions").await.status,
        StatusCode::UNAUTHORIZED
    );
    // The page's own requests get no WWW-Authenticate: no browser prompt over the portal.
    let scripted = api
        .send(
            Request::get("/system/functions")
                .header("x-requested-with", "rustfaas-portal")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(scripted.status, StatusCode::UNAUTHORIZED);
    assert!(scripted.header("www-authenticate").is_none());
}

#[tokio::test]
async fn a_session_cookie_signs_in_and_csrf_guards_changes() {
    let api = TestApi::with_config(config_with_auth());
    api.provider.add_function("echo", 1);
    let answer = login(&api, USER, PASSWORD, false).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let set_cookie = answer.header("set-cookie").expect("a cookie").to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    assert!(
        cookie.starts_with("rustfaas_session=") && cookie.len() > 60,
        "{cookie}"
    );
    let body = answer.json();
    assert_eq!(body["user"], USER);
    let csrf = body["csrf"].as_str().unwrap().to_owned();

    // Reads need only the cookie.
    let list = with_cookie(&api, Method::GET, "/system/functions", &cookie, None, "").await;
    assert_eq!(list.status, StatusCode::OK);
    let session = with_cookie(&api, Method::GET, "/ui/session", &cookie, None, "").await;
    assert_eq!(session.json()["csrf"], csrf.as_str());
    assert_eq!(session.json()["auth"], "session");

    // Changes need the token too.
    let scale = r#"{"serviceName":"echo","replicas":3}"#;
    let path = "/system/scale-function/echo";
    let refused = with_cookie(&api, Method::POST, path, &cookie, None, scale).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let wrong = with_cookie(&api, Method::POST, path, &cookie, Some("nope"), scale).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(api.provider.replicas("echo"), 1);
    let done = with_cookie(&api, Method::POST, path, &cookie, Some(&csrf), scale).await;
    assert!(done.status.is_success(), "{}", done.text());
    assert_eq!(api.provider.replicas("echo"), 3);

    // Logout ends it: the cookie no longer works, and the 401 asks for no basic auth.
    let out = with_cookie(&api, Method::POST, "/ui/logout", &cookie, None, "").await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = with_cookie(&api, Method::GET, "/system/functions", &cookie, None, "").await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert!(after.header("www-authenticate").is_none());

    // Over TLS (behind a proxy that says so) the cookie is Secure.
    let tls = login(&api, USER, PASSWORD, true).await;
    assert!(tls.header("set-cookie").unwrap().contains("; Secure"));
}

#[tokio::test]
async fn basic_auth_is_unchanged_and_failed_sign_ins_are_limited() {
    let api = TestApi::with_config(config_with_auth());
    let plain = api.get("/system/functions").await;
    assert_eq!(
        plain.header("www-authenticate"),
        Some("Basic realm=\"Restricted\"")
    );
    let request = Request::builder()
        .method(Method::POST)
        .uri("/system/scale-function/echo")
        .header("authorization", basic(USER, PASSWORD))
        .body(Body::from(r#"{"serviceName":"echo","replicas":2}"#))
        .unwrap();
    api.provider.add_function("echo", 1);
    // Basic auth needs no CSRF token: API clients are not browsers holding a cookie.
    assert!(api.send(request).await.status.is_success());
    assert_eq!(api.provider.replicas("echo"), 2);

    let bad = api
        .send(
            Request::post("/ui/login")
                .body(Body::from("not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    for _ in 0..5 {
        let wrong = login(&api, USER, "guess", false).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.header("set-cookie").is_none());
    }
    let limited = login(&api, USER, PASSWORD, false).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
}

/// The vendored uPlot is the version the lockfile pins, keeps its header comment, and its
/// MIT licence travels with it (`scripts/vendor-ui.sh --check` compares the bytes with npm's).
#[test]
fn the_vendored_uplot_matches_its_lockfile_and_keeps_its_licence() {
    let vendor = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/vendor");
    let read = |name: &str| std::fs::read_to_string(vendor.join(name)).unwrap();
    let lock: serde_json::Value = serde_json::from_str(&read("package-lock.json")).unwrap();
    let version = lock["packages"]["node_modules/uplot"]["version"]
        .as_str()
        .unwrap()
        .to_owned();
    let manifest: serde_json::Value = serde_json::from_str(&read("package.json")).unwrap();
    assert_eq!(manifest["dependencies"]["uplot"], version.as_str());
    let script = read("uPlot.iife.min.js");
    let header = format!("/*! https://github.com/leeoniya/uPlot (v{version}) */");
    assert!(script.starts_with(&header), "{}", &script[..80]);
    assert!(read("LICENSE.uplot").contains("The MIT License"));
    assert!(read("uPlot.min.css").contains(".uplot"));
}
