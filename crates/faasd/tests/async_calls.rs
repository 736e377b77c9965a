//! Asynchronous calls through a real faasd: accepted with 202, run by the worker, results
//! posted to a real callback receiver; retries, dead letters and replay; no call lost when
//! faasd is killed with calls queued and in flight.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use common::Faasd;
use reqwest::Method;
use serde_json::json;

/// One callback as received.
#[derive(Debug, Clone)]
struct Callback {
    headers: HashMap<String, String>,
    body: String,
}

/// A callback receiver on 127.0.0.1.
struct Receiver {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Callback>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let received: Arc<Mutex<Vec<Callback>>> = Arc::default();
        let sink = received.clone();
        let app = Router::new().route(
            "/cb",
            post(move |headers: HeaderMap, body: Bytes| {
                let sink = sink.clone();
                async move {
                    let headers = headers
                        .iter()
                        .map(|(k, v)| {
                            (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                        })
                        .collect();
                    let body = String::from_utf8_lossy(&body).to_string();
                    sink.lock().unwrap().push(Callback { headers, body });
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { address, received }
    }

    fn url(&self) -> String {
        format!("http://{}/cb", self.address)
    }

    fn all(&self) -> Vec<Callback> {
        self.received.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Callback> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let all = self.all();
            if all.len() >= count {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("only {} of {count} callbacks arrived", self.all().len());
    }
}

async fn async_call(faasd: &Faasd, name: &str, body: &str, callback: &str) -> reqwest::Response {
    faasd
        .client
        .post(faasd.url(&format!("/async-function/{name}")))
        .header("X-Callback-Url", callback)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_async_call_is_accepted_run_and_its_result_posted_back() {
    let receiver = Receiver::start().await;
    let faasd = Faasd::start();
    faasd.deploy_host("upper", "tr a-z A-Z").await;

    let response = faasd
        .client
        .put(faasd.url("/async-function/upper/sub?x=1"))
        .header("X-Callback-Url", receiver.url())
        .header("X-Call-Id", "my-own-id")
        .body("shout")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["x-call-id"], "my-own-id");

    let callbacks = receiver.wait_for(1, Duration::from_secs(20)).await;
    let callback = &callbacks[0];
    assert_eq!(callback.body, "SHOUT");
    assert_eq!(callback.headers["x-call-id"], "my-own-id");
    assert_eq!(callback.headers["x-function-status"], "200");
    assert_eq!(callback.headers["x-function-name"], "upper");
    assert!(callback.headers.contains_key("x-duration-seconds"));
    assert!(callback.headers.contains_key("x-start-time"));
}

#[tokio::test]
async fn unknown_functions_and_bad_callback_urls_are_refused() {
    let faasd = Faasd::start();
    faasd.deploy_host("echo", "cat").await;
    let unknown = async_call(&faasd, "ghost", "x", "http://127.0.0.1:9/cb").await;
    assert_eq!(unknown.status(), 404);
    for bad in ["not a url", "ftp://127.0.0.1/x", "http://"] {
        let response = async_call(&faasd, "echo", "x", bad).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    // Without a callback the call is still accepted and run.
    let response = faasd
        .client
        .post(faasd.url("/async-function/echo"))
        .body("fire and forget")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert!(response.headers().contains_key("x-call-id"));
}

#[tokio::test]
async fn failing_calls_are_retried_then_dead_lettered_and_can_be_replayed() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let faasd = Faasd::start_on(
        &data,
        &[
            ("FAASD_QUEUE_RETRY_ATTEMPTS", "3"),
            ("FAASD_QUEUE_RETRY_MIN_WAIT", "100ms"),
            ("FAASD_QUEUE_RETRY_MAX_WAIT", "200ms"),
        ],
    );
    // Fails until its secret says it is healed (a sandboxed function sees no file of the
    // test's; a secret update reaches its running replica in place).
    let state = |value: &str| json!({"name": "flaky-state", "value": value});
    let created = faasd
        .api(Method::POST, "/system/secrets")
        .json(&state("broken"))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    faasd
        .deploy_accepted(json!({
            "service": "flaky",
            "image": "functions/alpine:latest",
            "envProcess": "sh -c 'grep -q healed \"$secret_mount_path/flaky-state\" && cat || { echo broken; exit 1; }'",
            "secrets": ["flaky-state"],
        }))
        .await;
    faasd.wait_replicas("flaky", 1).await;

    let response = async_call(&faasd, "flaky", "payload", &receiver.url()).await;
    assert_eq!(response.status(), 202);
    let id = response.headers()["x-call-id"]
        .to_str()
        .unwrap()
        .to_string();
    let callbacks = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(callbacks[0].headers["x-function-status"], "500");
    assert_eq!(callbacks[0].headers["x-call-id"], id);

    let deadline = Instant::now() + Duration::from_secs(10);
    let dead = loop {
        let dead: serde_json::Value = faasd
            .api(Method::GET, "/system/queue/dead-letters")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if dead.as_array().is_some_and(|a| !a.is_empty()) || Instant::now() > deadline {
            break dead;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let list = dead.as_array().expect("dead letters");
    assert_eq!(list.len(), 1, "{dead}");
    assert_eq!(list[0]["call"]["id"], id.as_str());
    assert!(faasd.logs().len() < 10_000_000);

    let healed = faasd
        .api(Method::PUT, "/system/secrets")
        .json(&state("healed"))
        .send()
        .await
        .unwrap();
    assert!(healed.status().is_success());
    let replayed = faasd
        .api(
            Method::POST,
            &format!("/system/queue/dead-letters/{id}/replay"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 202);
    let callbacks = receiver.wait_for(2, Duration::from_secs(20)).await;
    let last = callbacks.last().unwrap();
    assert_eq!(last.headers["x-function-status"], "200");
    assert_eq!(last.body, "payload");
    let dead: serde_json::Value = faasd
        .api(Method::GET, "/system/queue/dead-letters")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dead.as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn kill_9_with_calls_queued_and_in_flight_loses_none() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [("FAASD_QUEUE_MAX_INFLIGHT", "50")];
    let mut faasd = Faasd::start_on(&data, &env);
    faasd.deploy_host("slow", "sh -c 'sleep 0.3; cat'").await;
    faasd.scale("slow", 4).await;
    faasd.wait_replicas("slow", 4).await;

    let total = 1000;
    let mut ids = Vec::with_capacity(total);
    let client = faasd.client.clone();
    let url = faasd.url("/async-function/slow");
    let calls: Vec<_> = (0..total)
        .map(|i| {
            let client = client.clone();
            let url = url.clone();
            let callback = receiver.url();
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .header("X-Callback-Url", callback)
                    .body(format!("call {i}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 202);
                response.headers()["x-call-id"]
                    .to_str()
                    .unwrap()
                    .to_string()
            })
        })
        .collect();
    for call in calls {
        ids.push(call.await.unwrap());
    }
    // Crash once the worker is running calls: some have been answered, the rest are in
    // flight or queued.
    receiver.wait_for(1, Duration::from_secs(20)).await;
    let before = receiver.all().len();
    faasd.kill9();
    assert!(before < total, "everything finished before the crash");

    let faasd = Faasd::start_on(&data, &env);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let seen: std::collections::HashSet<String> = receiver
            .all()
            .iter()
            .filter_map(|c| c.headers.get("x-call-id").cloned())
            .collect();
        let missing = ids.iter().filter(|id| !seen.contains(*id)).count();
        if missing == 0 {
            let duplicates = receiver.all().len() - seen.len();
            println!(
                "all {total} calls delivered after kill -9 ({before} before the crash, {duplicates} duplicate callbacks)"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {total} calls lost after kill -9\n{}",
            faasd.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The dead-letter list, as the API shows it.
async fn dead_letters(faasd: &Faasd) -> Vec<serde_json::Value> {
    let list: serde_json::Value = faasd
        .api(Method::GET, "/system/queue/dead-letters")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list.as_array().cloned().expect("a JSON array")
}

#[tokio::test]
async fn calls_queued_for_a_function_deleted_before_they_run_are_all_dead_lettered() {
    let receiver = Receiver::start().await;
    let faasd = Faasd::start_with(&[("FAASD_QUEUE_MAX_INFLIGHT", "1")]);
    // The one consumer is busy with this call while the others wait on the queue.
    faasd.deploy_host("blocker", "sh -c 'sleep 2; cat'").await;
    faasd.deploy_host("doomed", "cat").await;
    let first = async_call(&faasd, "blocker", "first", &receiver.url()).await;
    assert_eq!(first.status(), 202);

    let mut ids = Vec::new();
    for i in 0..10 {
        let request = faasd
            .client
            .post(faasd.url("/async-function/doomed"))
            .body(format!("call {i}"));
        // Half with a callback, half without: neither kind may be lost.
        let request = if i % 2 == 0 {
            request.header("X-Callback-Url", receiver.url())
        } else {
            request
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 202);
        ids.push(
            response.headers()["x-call-id"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    let removed = faasd
        .api(Method::DELETE, "/system/functions")
        .json(&serde_json::json!({"functionName": "doomed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 202);
    assert!(
        receiver.all().is_empty(),
        "the blocker finished before the function was deleted: the test proves nothing"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let letters = loop {
        let letters = dead_letters(&faasd).await;
        if letters.len() >= ids.len() {
            break letters;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {} calls dead-lettered: {letters:?}",
            letters.len(),
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut lettered: Vec<String> = letters
        .iter()
        .map(|letter| letter["call"]["id"].as_str().unwrap().to_string())
        .collect();
    lettered.sort();
    ids.sort();
    assert_eq!(lettered, ids);
    for letter in &letters {
        let reason = letter["reason"].as_str().unwrap();
        assert_eq!(
            reason,
            "doomed could not be called: the platform answered 404: \
             function not found: doomed.openfaas-fn",
        );
    }
    // The list comes in pages.
    let page: serde_json::Value = faasd
        .api(Method::GET, "/system/queue/dead-letters?offset=8&limit=3")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page: Vec<&serde_json::Value> = page.as_array().unwrap().iter().collect();
    assert_eq!(page, letters.iter().skip(8).collect::<Vec<_>>());
    // DELETE removes one letter for good.
    let gone = lettered[0].clone();
    let discarded = faasd
        .api(
            Method::DELETE,
            &format!("/system/queue/dead-letters/{gone}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(discarded.status(), 202);
    assert_eq!(
        discarded.json::<serde_json::Value>().await.unwrap(),
        json!({"discarded": 1})
    );
    let left = dead_letters(&faasd).await;
    assert_eq!(left.len(), ids.len() - 1);
    assert!(left
        .iter()
        .all(|letter| letter["call"]["id"] != gone.as_str()));
    // The five with a callback were still posted, with the gateway's 404; and the blocker's
    // own result came back.
    let callbacks = receiver.wait_for(6, Duration::from_secs(10)).await;
    let statuses: Vec<&str> = callbacks
        .iter()
        .map(|c| c.headers["x-function-status"].as_str())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "404").count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "200").count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn async_paths_with_dot_segments_are_refused() {
    let faasd = Faasd::start();
    faasd.deploy_host("echo", "cat").await;
    for path in [
        "/async-function/echo/../other",
        "/async-function/echo/%2e%2e/metrics",
        "/async-function/echo/a/%2E./b",
    ] {
        let response = faas_testkit::raw_post(faasd.port, path, "x").unwrap();
        assert_eq!(response.status, 400, "{path}: {}", response.text);
        assert_eq!(response.header("x-openfaas-internal"), Some("gateway"));
        assert!(
            response.body().contains("dot segment"),
            "{path}: {}",
            response.text
        );
    }
    let stats: serde_json::Value = faasd
        .api(Method::GET, "/system/queue/stats")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats, serde_json::json!({}), "nothing was queued");
}

#[tokio::test]
async fn the_same_mistake_gets_the_same_status_on_every_route() {
    let faasd = Faasd::start();
    // A name that cannot exist, on the sync and the async route alike.
    for path in ["/function/Bad_Name", "/async-function/Bad_Name"] {
        let response = faasd.client.post(faasd.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.headers()["x-openfaas-internal"],
            "gateway",
            "{path}"
        );
        let text = response.text().await.unwrap();
        assert!(text.starts_with("function not found"), "{path}: {text}");
    }
    // Unknown ids and files: 404s made by the platform, saying so.
    for (method, path) in [
        (Method::POST, "/system/queue/dead-letters/nope/replay"),
        (Method::DELETE, "/system/queue/dead-letters/nope"),
        (Method::GET, "/ui/nope.js"),
    ] {
        let response = faasd.api(method, path).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.headers()["x-openfaas-internal"],
            "gateway",
            "{path}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8",
            "{path}"
        );
    }
    // A bad callback URL is the caller's 400 with the reason.
    faasd.deploy_host("echo", "cat").await;
    let response = async_call(&faasd, "echo", "x", "ftp://127.0.0.1/x").await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["x-openfaas-internal"], "gateway");
}

#[tokio::test]
async fn headers_the_caller_named_in_connection_are_not_stored_or_replayed() {
    let receiver = Receiver::start().await;
    let faasd = Faasd::start();
    // The classic watchdog hands request headers to the process as Http_* variables.
    faasd.deploy_host("env", "env").await;
    let request = format!(
        "POST /async-function/env HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Connection: close, X-Private\r\nX-Private: hop-secret\r\nX-Kept: end-to-end\r\n\
         X-Callback-Url: {}\r\nContent-Length: 1\r\n\r\nx",
        receiver.url()
    );
    let port = faasd.port;
    let answer = tokio::task::spawn_blocking(move || {
        faas_testkit::raw_exchange(port, request.as_bytes()).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(answer.status, 202, "{}", answer.text);
    let callbacks = receiver.wait_for(1, Duration::from_secs(20)).await;
    let env = &callbacks[0].body;
    assert!(env.contains("Http_X_Kept=end-to-end"), "{env}");
    assert!(!env.contains("hop-secret"), "{env}");
    assert!(!env.contains("Http_X_Private"), "{env}");
}

#[tokio::test]
async fn with_the_worker_off_calls_are_kept_and_counted_behind_basic_auth() {
    let faasd = Faasd::start_with(&[("FAASD_QUEUE_WORKER", "false")]);
    faasd.deploy_host("rec", "cat").await;
    for i in 0..2 {
        let response = faasd
            .client
            .post(faasd.url("/async-function/rec"))
            .body(format!("call {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    let unauthenticated = faasd
        .client
        .get(faasd.url("/system/queue/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    // A running worker takes a call within milliseconds; give it a second to prove none
    // does: still both ready, and the function never called.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stats: serde_json::Value = faasd
        .api(Method::GET, "/system/queue/stats")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!({"default": {"ready": 2, "delayed": 0, "leased": 0, "dead_letters": 0}})
    );
    let status = faasd.status("rec").await.unwrap();
    assert_eq!(status["invocationCount"], 0, "{status}");
    assert!(faasd.logs().contains("queue worker is off"));
}
