//! The `/system/*` API in process (`oneshot` on the router): routing, validation, status
//! codes, auth, and the shapes of answers.

mod common;

use axum::body::Body;
use axum::extract::Request;
use common::{basic, config, config_with_auth, log_line, TestApi, PASSWORD, USER};
use faas_gateway::GatewayConfig;
use http::{Method, StatusCode};

const FIGLET: &str = r#"{"service":"figlet","image":"functions/figlet:latest"}"#;

fn assert_internal(answer: &common::Answer) {
    assert_eq!(answer.header("x-openfaas-internal"), Some("gateway"));
    assert!(answer
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    assert!(!answer.body.is_empty(), "errors say what went wrong");
}

#[tokio::test]
async fn healthz_is_ok() {
    let api = TestApi::new();
    let answer = api.get("/healthz").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), "OK");
}

#[tokio::test]
async fn unknown_routes_are_404() {
    let api = TestApi::new();
    for path in ["/nope", "/system/nope", "/system/function/", "/functions/x"] {
        let answer = api.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_internal(&answer);
    }
}

#[tokio::test]
async fn deploy_list_update_delete() {
    let api = TestApi::new();
    let answer = api.post("/system/functions", FIGLET).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
    assert_eq!(api.provider.function_count(), 1);
    assert_eq!(
        api.provider
            .function("openfaas-fn", "figlet")
            .unwrap()
            .image,
        "functions/figlet:latest"
    );

    let again = api.post("/system/functions", FIGLET).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_internal(&again);

    let list = api.get("/system/functions").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    let list = list.json();
    assert_eq!(list[0]["name"], "figlet");
    assert_eq!(list[0]["invocationCount"], 0);
    assert_eq!(list[0]["replicas"], 1);

    let updated = api
        .put(
            "/system/functions",
            r#"{"service":"figlet","image":"functions/figlet:2"}"#,
        )
        .await;
    assert_eq!(updated.status, StatusCode::ACCEPTED);
    assert_eq!(
        api.provider
            .function("openfaas-fn", "figlet")
            .unwrap()
            .image,
        "functions/figlet:2"
    );
    let missing = api
        .put("/system/functions", r#"{"service":"nope","image":"x"}"#)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let status = api.get("/system/function/figlet").await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json()["image"], "functions/figlet:2");
    let status = api.get("/system/function/nope").await;
    assert_eq!(status.status, StatusCode::NOT_FOUND);

    let deleted = api
        .delete(
            "/system/functions",
            r#"{"functionName":"figlet","namespace":"openfaas-fn"}"#,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    assert_eq!(api.provider.function_count(), 0);
    let deleted = api
        .delete("/system/functions", r#"{"functionName":"figlet"}"#)
        .await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND);
    let empty = api
        .delete("/system/functions", r#"{"functionName":""}"#)
        .await;
    assert_eq!(empty.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deploy_uses_the_body_namespace() {
    let api = TestApi::new();
    api.post("/system/namespace/dev", "").await;
    let answer = api
        .post(
            "/system/functions?namespace=dev",
            r#"{"service":"figlet","image":"x","namespace":"dev"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert!(api.provider.function("dev", "figlet").is_some());
    let list = api.get("/system/functions?namespace=dev").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let list = api.get("/system/functions").await.json();
    assert_eq!(list.as_array().unwrap().len(), 0);
    let status = api.get("/system/function/figlet?namespace=dev").await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json()["namespace"], "dev");
}

#[tokio::test]
async fn bodies_are_json_whatever_the_content_type() {
    let api = TestApi::new();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/system/functions")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(FIGLET))
        .unwrap();
    assert_eq!(api.send(request).await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn nulls_and_unknown_fields_are_accepted() {
    let api = TestApi::new();
    let body = r#"{"service":"figlet","image":"x","namespace":null,"envVars":null,
        "labels":null,"annotations":null,"secrets":null,"constraints":null,"limits":null,
        "requests":null,"envProcess":null,"readOnlyRootFilesystem":null,
        "registryAuth":"old","network":"func_functions","somethingNew":{"a":[1,2]}}"#;
    let answer = api.post("/system/functions", body).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
    assert!(api.provider.function("openfaas-fn", "figlet").is_some());
}

#[tokio::test]
async fn bad_json_is_400_with_the_reason() {
    let api = TestApi::new();
    for body in ["", "{", "not json", r#"{"service":42}"#, "42"] {
        let answer = api.post("/system/functions", body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_internal(&answer);
        assert!(answer.text().contains("JSON"), "{}", answer.text());
    }
    assert_eq!(api.provider.function_count(), 0);
}

#[tokio::test]
async fn invalid_names_are_400_with_the_reason() {
    let api = TestApi::new();
    for service in ["Figlet", "-x", "a_b", "../etc", &"a".repeat(64)] {
        let body = format!(r#"{{"service":"{service}","image":"x"}}"#);
        let answer = api.post("/system/functions", &body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{service}");
        assert!(
            answer.text().contains("invalid function name"),
            "{}",
            answer.text()
        );
    }
    let answer = api
        .post(
            "/system/functions",
            r#"{"service":"ok","image":"x","namespace":"Bad_NS"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.text().contains("invalid namespace"));
    let answer = api.post("/system/functions", r#"{"service":"ok"}"#).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.text().contains("image"));
    let answer = api.get("/system/functions?namespace=..").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = api.get("/system/function/Bad").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.provider.function_count(), 0);
}

#[tokio::test]
async fn ten_megabytes_of_junk_is_refused_without_state_change() {
    let api = TestApi::new();
    let junk = "x".repeat(10 << 20);
    let answer = api.post("/system/functions", &junk).await;
    assert!(
        matches!(
            answer.status,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::BAD_REQUEST
        ),
        "{}",
        answer.status
    );
    assert_internal(&answer);

    // A body without Content-Length (streamed) is cut at the limit too.
    let chunks = (0..160).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'{'; 1 << 16])));
    let request = Request::builder()
        .method(Method::POST)
        .uri("/system/functions")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let answer = api.send(request).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Valid JSON that is too large: a huge label.
    let big = format!(
        r#"{{"service":"big","image":"x","labels":{{"a":"{}"}}}}"#,
        "v".repeat(10 << 20)
    );
    let answer = api.post("/system/functions", &big).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(api.provider.function_count(), 0);
}

#[tokio::test]
async fn never_204() {
    let api = TestApi::new();
    let calls: Vec<(Method, &str, &str)> = vec![
        (Method::POST, "/system/functions", FIGLET),
        (Method::PUT, "/system/functions", FIGLET),
        (
            Method::POST,
            "/system/scale-function/figlet",
            r#"{"serviceName":"figlet","replicas":2}"#,
        ),
        (
            Method::POST,
            "/system/secrets",
            r#"{"name":"s","value":"v"}"#,
        ),
        (
            Method::PUT,
            "/system/secrets",
            r#"{"name":"s","value":"w"}"#,
        ),
        (Method::DELETE, "/system/secrets", r#"{"name":"s"}"#),
        (
            Method::DELETE,
            "/system/functions",
            r#"{"functionName":"figlet"}"#,
        ),
        (Method::POST, "/system/namespace/dev", ""),
        (
            Method::PUT,
            "/system/namespace/dev",
            r#"{"labels":{"a":"b"}}"#,
        ),
        (Method::DELETE, "/system/namespace/dev", ""),
    ];
    for (method, path, body) in calls {
        let answer = api.request(method.clone(), path, body.to_owned()).await;
        assert!(
            answer.status == StatusCode::ACCEPTED || answer.status == StatusCode::CREATED,
            "{method} {path}: {} {}",
            answer.status,
            answer.text()
        );
    }
}

#[tokio::test]
async fn scale_accepts_service_alias_and_path_name() {
    let api = TestApi::new();
    api.provider.add_function("figlet", 1);
    let answer = api
        .post(
            "/system/scale-function/figlet",
            r#"{"service":"figlet","replicas":3}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
    assert_eq!(
        api.provider
            .function("openfaas-fn", "figlet")
            .unwrap()
            .replicas,
        3
    );

    let answer = api
        .post(
            "/system/scale-function/figlet",
            r#"{"serviceName":"figlet","replicas":0,"namespace":"openfaas-fn"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(
        api.provider
            .function("openfaas-fn", "figlet")
            .unwrap()
            .replicas,
        0
    );

    let answer = api
        .post("/system/scale-function/figlet", r#"{"replicas":2}"#)
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(
        api.provider
            .function("openfaas-fn", "figlet")
            .unwrap()
            .replicas,
        2
    );

    let answer = api
        .post(
            "/system/scale-function/figlet",
            r#"{"serviceName":"other","replicas":2}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = api
        .post("/system/scale-function/nope", r#"{"replicas":2}"#)
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = api
        .post("/system/scale-function/figlet", r#"{"replicas":-1}"#)
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = api
        .post(
            "/system/scale-function/figlet",
            r#"{"replicas":3000000000}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        api.provider
            .function("openfaas-fn", "figlet")
            .unwrap()
            .replicas,
        2
    );
}

#[tokio::test]
async fn info_shape() {
    let api = TestApi::new();
    let answer = api.get("/system/info").await;
    assert_eq!(answer.status, StatusCode::OK);
    let info = answer.json();
    assert_eq!(info["provider"]["provider"], "fake");
    assert_eq!(info["provider"]["orchestration"], "memory");
    assert_eq!(info["provider"]["version"]["sha"], "fakesha");
    assert_eq!(info["version"]["sha"], "abc123");
    assert_eq!(info["version"]["release"], "0.1.0");
    assert_eq!(info["version"]["commit_message"], "test build");
    assert_eq!(info["arch"], std::env::consts::ARCH);
}

#[tokio::test]
async fn secrets_are_never_returned() {
    let api = TestApi::new();
    let answer = api
        .post(
            "/system/secrets",
            r#"{"name":"db-pass","value":"hunter2","namespace":""}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let answer = api
        .post("/system/secrets", r#"{"name":"raw","rawValue":"AAEC/2hp"}"#)
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(
        api.provider.secret("openfaas-fn", "raw").unwrap().bytes(),
        vec![0, 1, 2, 0xff, b'h', b'i']
    );
    let again = api
        .post("/system/secrets", r#"{"name":"db-pass","value":"x"}"#)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let list = api.get("/system/secrets").await;
    assert_eq!(list.status, StatusCode::OK);
    let text = list.text();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("AAEC"), "{text}");
    assert!(!text.contains("value"), "{text}");
    let mut names: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["db-pass", "raw"]);

    let answer = api
        .put("/system/secrets", r#"{"name":"db-pass","value":"new"}"#)
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(
        api.provider
            .secret("openfaas-fn", "db-pass")
            .unwrap()
            .value
            .as_deref(),
        Some("new")
    );
    let answer = api
        .put("/system/secrets", r#"{"name":"nope","value":"new"}"#)
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = api
        .post("/system/secrets", r#"{"name":"../etc/passwd","value":"x"}"#)
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.text().contains("invalid secret name"));

    let answer = api.delete("/system/secrets", r#"{"name":"db-pass"}"#).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert!(api.provider.secret("openfaas-fn", "db-pass").is_none());
    let answer = api.delete("/system/secrets", r#"{"name":"db-pass"}"#).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn namespaces() {
    let api = TestApi::new();
    let answer = api
        .post("/system/namespace/dev", r#"{"labels":{"team":"a"}}"#)
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let again = api.post("/system/namespace/dev", "").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let list = api.get("/system/namespaces").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json(), serde_json::json!(["dev", "openfaas-fn"]));
    let one = api.get("/system/namespace/dev").await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["name"], "dev");
    assert_eq!(one.json()["labels"]["team"], "a");
    let mismatch = api.put("/system/namespace/dev", r#"{"name":"prod"}"#).await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    let bad = api.post("/system/namespace/Bad", "").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        api.get("/system/namespace/none").await.status,
        StatusCode::NOT_FOUND
    );
    let deleted = api.delete("/system/namespace/dev", "").await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn logs_are_ndjson() {
    let api = TestApi::new();
    api.provider.add_function("figlet", 1);
    api.provider.add_log(log_line("figlet", "first"));
    api.provider.add_log(log_line("figlet", "second"));
    api.provider.add_log(log_line("other", "not mine"));
    let answer = api
        .get("/system/logs?name=figlet&namespace=openfaas-fn")
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/x-ndjson"));
    let lines: Vec<serde_json::Value> = answer
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["text"], "first");
    assert_eq!(lines[0]["name"], "figlet");
    assert_eq!(lines[0]["namespace"], "openfaas-fn");
    assert_eq!(lines[0]["instance"], "figlet-0");
    assert!(lines[0]["timestamp"].is_string());

    let tail = api.get("/system/logs?name=figlet&tail=1").await;
    assert_eq!(tail.text().lines().count(), 1);
    assert!(tail.text().contains("second"));

    assert_eq!(
        api.get("/system/logs").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.get("/system/logs?name=figlet&since=yesterday")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.get("/system/logs?name=Bad").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.get("/system/logs?name=nope").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn packages_upload_and_list() {
    let api = TestApi::new();
    let archive = vec![0x1f_u8, 0x8b, 8, 0, 1, 2, 3];
    let answer = api
        .request(Method::PUT, "/system/packages/hello:v1", archive.clone())
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    assert_eq!(answer.json()["image"], "hello:v1");
    assert_eq!(answer.json()["size"], 7);
    let answer = api
        .request(
            Method::POST,
            "/system/packages/hello?tag=v2",
            archive.clone(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.json()["image"], "hello:v2");
    let answer = api
        .request(Method::PUT, "/system/packages/hello", archive.clone())
        .await;
    assert_eq!(answer.json()["image"], "hello:latest");

    let list = api.get("/system/packages").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json().as_array().unwrap().len(), 3);

    let bad = api
        .request(Method::PUT, "/system/packages/Hello", archive.clone())
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let empty = api
        .request(Method::PUT, "/system/packages/hello", Vec::<u8>::new())
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    // Over max_package_bytes (4 MiB in tests).
    let big = api
        .request(Method::PUT, "/system/packages/hello", vec![0u8; 5 << 20])
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        api.get("/system/packages")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn package_bombs_are_413_before_anything_is_stored() {
    // 64 MiB of zeros compress to about 64 KiB: a ratio near 1,000.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 1 << 20);
    let api = TestApi::new();
    let answer = api
        .request(Method::PUT, "/system/packages/bomb", bomb.clone())
        .await;
    assert_eq!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        answer.text()
    );
    assert_eq!(
        answer.text(),
        "the package unpacks to more than 100 times its size (--max-package-ratio)\n"
    );

    let api = TestApi::with_config(GatewayConfig {
        max_package_unpacked_bytes: 8 << 20,
        max_package_ratio: 1_000_000,
        ..common::config()
    });
    let answer = api
        .request(Method::PUT, "/system/packages/bomb", bomb)
        .await;
    assert_eq!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        answer.text()
    );
    assert!(
        answer
            .text()
            .contains("more than the limit of 8388608 bytes"),
        "{}",
        answer.text()
    );
    // Within the limits, it is stored.
    let fine = gzip(&vec![7u8; 4 << 20]);
    let answer = api
        .request(Method::PUT, "/system/packages/fine", fine)
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    let list = api.get("/system/packages").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn auth_guards_system_routes() {
    let api = TestApi::with_config(config_with_auth());
    for path in [
        "/system/functions",
        "/system/info",
        "/system/secrets",
        "/system/namespaces",
        "/system/packages",
        "/system/function/x",
        "/system/logs?name=x",
    ] {
        let answer = api.get(path).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Basic realm=\"Restricted\"")
        );
        assert_internal(&answer);
    }
    // No state change without credentials.
    let answer = api.post("/system/functions", FIGLET).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.provider.function_count(), 0);

    let with = |authorization: String| {
        Request::builder()
            .uri("/system/functions")
            .header("authorization", authorization)
            .body(Body::empty())
            .unwrap()
    };
    for wrong in [
        basic(USER, "wrong"),
        basic("root", PASSWORD),
        basic(USER, &format!("{PASSWORD}x")),
        basic(USER, ""),
        basic("", ""),
        "Bearer abc".to_owned(),
        "Basic !!!".to_owned(),
        "Basic".to_owned(),
    ] {
        let answer = api.send(with(wrong.clone())).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{wrong}");
    }
    assert_eq!(
        api.send(with(basic(USER, PASSWORD))).await.status,
        StatusCode::OK
    );
    // The scheme is case-insensitive.
    let lower = basic(USER, PASSWORD).replacen("Basic", "basic", 1);
    assert_eq!(api.send(with(lower)).await.status, StatusCode::OK);

    // /healthz and /function/* stay open.
    assert_eq!(api.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(
        api.get("/function/nope").await.status,
        StatusCode::NOT_FOUND
    );

    let api = api.logged_in();
    assert_eq!(
        api.post("/system/functions", FIGLET).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn function_calls_to_unknown_functions_are_404() {
    let api = TestApi::new();
    for path in [
        "/function/nope",
        "/function/nope/",
        "/function/nope/a/b?x=1",
        "/function/nope.dev",
        "/function/Bad",
        "/function/a.b.c",
    ] {
        let answer = api.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_internal(&answer);
        assert!(
            answer.text().contains("function not found"),
            "{}",
            answer.text()
        );
    }
}

#[tokio::test]
async fn function_at_zero_that_cannot_start_is_503_after_the_cold_start_timeout() {
    // Issue 6 changed this: a function at zero replicas is scaled up and the call held, where
    // it used to be refused at once.
    let api = TestApi::with_config(faas_gateway::GatewayConfig {
        cold_start_timeout: std::time::Duration::from_millis(300),
        ..config()
    });
    api.provider.add_function("idle", 0);
    let started = std::time::Instant::now();
    let answer = api.post("/function/idle", "hi").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        answer.text().contains("scaled up from zero replicas")
            && answer.text().contains("idle.openfaas-fn"),
        "{}",
        answer.text()
    );
    assert_internal(&answer);
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(280),
        "{waited:?}"
    );
    assert!(waited < std::time::Duration::from_secs(2), "{waited:?}");
    // The scale request stands: a replica may still come.
    assert_eq!(api.provider.replicas("idle"), 1);
}

#[tokio::test]
async fn other_methods_on_functions_are_405() {
    let api = TestApi::new();
    api.provider.add_function("figlet", 1);
    let answer = api
        .request(Method::TRACE, "/function/figlet", Body::empty())
        .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(answer.header("allow").is_some());
}

#[tokio::test]
async fn other_methods_on_system_routes_are_405() {
    let api = TestApi::new();
    let answer = api
        .request(Method::PATCH, "/system/functions", Body::empty())
        .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_internal(&answer);
    let allow = answer.header("allow").unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("DELETE"), "{allow}");
}
