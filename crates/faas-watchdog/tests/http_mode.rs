//! `http` mode: fprocess started once, calls reverse-proxied to it.

mod common;

use std::time::{Duration, Instant};

use common::{check_pattern_stream, client, fixtures, free_port, pattern, TextBody, Watchdog};

fn upstream_vars(upstream_port: u16) -> Vec<(String, String)> {
    vec![
        ("mode".into(), "http".into()),
        (
            "fprocess".into(),
            format!("python3 {}", fixtures().join("upstream.py").display()),
        ),
        ("UPSTREAM_PORT".into(), upstream_port.to_string()),
        (
            "upstream_url".into(),
            format!("http://127.0.0.1:{upstream_port}"),
        ),
    ]
}

fn start(extra: &[(&str, &str)]) -> Watchdog {
    let upstream_port = free_port();
    let mut vars = upstream_vars(upstream_port);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Watchdog::start(&borrowed)
}

#[tokio::test]
async fn proxies_method_path_query_headers_and_body() {
    let watchdog = start(&[]);
    let response = client()
        .put(watchdog.url("/some/where?x=1"))
        .header("X-Custom", "yes")
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-upstream-method"], "PUT");
    assert_eq!(response.headers()["x-upstream-path"], "/some/where?x=1");
    assert_eq!(response.text().await.unwrap(), "payload");

    let headers = client()
        .get(watchdog.url("/headers"))
        .header("X-Custom", "yes")
        .text_body()
        .await;
    assert!(
        headers.to_lowercase().contains("x-custom: yes"),
        "{headers}"
    );
    watchdog.wait_for_log("PUT /some/where - 200 OK - ContentLength: 7B");
}

#[tokio::test]
async fn health_is_503_until_the_upstream_listens() {
    let upstream_port = free_port();
    let mut vars = upstream_vars(upstream_port);
    vars.push(("START_DELAY".into(), "1.5".into()));
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let watchdog = Watchdog::spawn(&borrowed);
    // The first answer, once the watchdog listens, comes while the upstream still sleeps.
    assert_eq!(first_health_answer(&watchdog), 503);
    assert!(!watchdog.lock_file().exists());
    watchdog.wait_healthy(Duration::from_secs(15));
    assert!(watchdog.lock_file().exists());
}

/// The first status `/_/health` answers once the watchdog listens (within 10 s).
fn first_health_answer(watchdog: &Watchdog) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = common::health_status(watchdog.port) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the watchdog never listened:\n{}",
            watchdog.logs()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test]
async fn suppress_lock_reports_readiness_without_a_lock_file() {
    let upstream_port = free_port();
    let mut vars = upstream_vars(upstream_port);
    vars.push(("START_DELAY".into(), "1.5".into()));
    vars.push(("suppress_lock".into(), "true".into()));
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let watchdog = Watchdog::spawn(&borrowed);
    // Not "always healthy": 503 while the upstream does not listen yet, then 200.
    assert_eq!(first_health_answer(&watchdog), 503);
    watchdog.wait_healthy(Duration::from_secs(15));
    assert!(!watchdog.lock_file().exists());
    let logs = watchdog.wait_for_log("\"suppress_lock\" is enabled");
    assert!(!logs.contains("Writing lock-file"), "{logs}");
    let response = client().get(watchdog.url("/sleep/0")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn log_callid_puts_the_call_id_in_the_log_line() {
    let with = start(&[("log_callid", "true")]);
    let without = start(&[]);
    for watchdog in [&with, &without] {
        let response = client()
            .get(watchdog.url("/logged/here"))
            .header("X-Call-Id", "call-4f2a")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    with.wait_for_log("call-4f2a GET /logged/here - 200 OK");
    let logs = without.wait_for_log("GET /logged/here - 200 OK");
    assert!(!logs.contains("call-4f2a"), "{logs}");
}

#[tokio::test]
async fn bodies_from_empty_to_100_mb_round_trip() {
    let watchdog = start(&[("exec_timeout", "60s"), ("write_timeout", "60s")]);
    for size in [0usize, 1, 1024 * 1024, 100 * 1024 * 1024] {
        let response = client()
            .post(watchdog.url("/"))
            .body(pattern(size))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{size}");
        assert_eq!(check_pattern_stream(response).await, size);
    }
    assert!(watchdog.peak_rss_kib() < 20 * 1024, "proxy must stream");
}

#[tokio::test]
async fn buffer_http_sends_a_content_length() {
    let watchdog = start(&[("buffer_http", "true")]);
    // A streamed (chunked) request body: the python upstream only reads Content-Length
    // bodies, so the echo proves the watchdog buffered it and set the length.
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("part one, "), Ok("part two")];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let text = client()
        .post(watchdog.url("/"))
        .body(body)
        .text_body()
        .await;
    assert_eq!(text, "part one, part two");
}

#[tokio::test]
async fn buffer_http_buffers_at_most_request_buffer_limit() {
    let watchdog = start(&[("buffer_http", "true"), ("request_buffer_limit", "1000")]);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(vec![b'x'; 600]), Ok(vec![b'y'; 600])];
    let response = client()
        .post(watchdog.url("/"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let text = client()
        .post(watchdog.url("/"))
        .body("small")
        .text_body()
        .await;
    assert_eq!(text, "small");
}

#[tokio::test]
async fn exec_timeout_gives_504() {
    let watchdog = start(&[("exec_timeout", "300ms")]);
    let started = Instant::now();
    let response = client().get(watchdog.url("/sleep/5")).send().await.unwrap();
    assert_eq!(response.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(3));
    // The next call is fine.
    let response = client().get(watchdog.url("/sleep/0")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_dead_upstream_is_restarted() {
    let watchdog = start(&[]);
    let pid: u32 = client()
        .get(watchdog.url("/pid"))
        .text_body()
        .await
        .parse()
        .unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut new_pid = None;
    while Instant::now() < deadline {
        if let Ok(response) = client().get(watchdog.url("/pid")).send().await {
            if response.status() == 200 {
                let text = response.text().await.unwrap();
                if text != pid.to_string() {
                    new_pid = Some(text);
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        new_pid.is_some(),
        "upstream never came back: {}",
        watchdog.logs()
    );
    watchdog.wait_for_log("Forked function has terminated: signal: killed");
}

#[tokio::test]
async fn ready_path_reflects_the_upstream_and_saturation() {
    let dir = tempfile::tempdir().unwrap();
    let ready_file = dir.path().join("ready");
    let ready_text = ready_file.display().to_string();
    let watchdog = start(&[
        ("ready_path", "/ready"),
        ("READY_FILE", ready_text.as_str()),
        ("max_inflight", "1"),
    ]);
    assert_eq!(common::raw_get(watchdog.port, "/_/ready"), Some(503));
    std::fs::write(&ready_file, "").unwrap();
    assert_eq!(common::raw_get(watchdog.port, "/_/ready"), Some(200));

    let slow = tokio::spawn({
        let url = watchdog.url("/sleep/1");
        async move { client().get(url).send().await.unwrap().status() }
    });
    // Busy once the slow call is in flight (it takes 1 s; a slow machine takes longer to send
    // it, so wait for the condition rather than a fixed time).
    let deadline = Instant::now() + Duration::from_secs(5);
    while common::raw_get(watchdog.port, "/_/ready") != Some(429) {
        assert!(
            Instant::now() < deadline && !slow.is_finished(),
            "/_/ready never answered 429 while a call was in flight"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!slow.is_finished());
    let second = client().get(watchdog.url("/")).send().await.unwrap();
    assert_eq!(second.status(), 429);
    assert_eq!(slow.await.unwrap(), 200);
    assert_eq!(common::raw_get(watchdog.port, "/_/ready"), Some(200));
}

#[tokio::test]
async fn an_unreachable_upstream_without_fprocess_gives_500_after_ready() {
    // No fprocess: the watchdog proxies to an upstream it does not own. Point it at a port
    // that a short-lived listener holds, so it becomes ready, then close the listener.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let watchdog = Watchdog::start(&[("mode", "http"), ("upstream_url", url.as_str())]);
    drop(listener);
    let response = client().get(watchdog.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.headers()["x-openfaas-internal"], "fwatchdog");
}

#[tokio::test]
async fn a_killed_watchdog_takes_its_upstream_with_it() {
    let mut watchdog = start(&[]);
    let upstream: u32 = client()
        .get(watchdog.url("/pid"))
        .text_body()
        .await
        .parse()
        .unwrap();
    assert!(faas_testkit::process_alive(upstream));
    // SIGKILL: the watchdog runs no cleanup; the kernel's parent-death signal must do it.
    std::process::Command::new("kill")
        .args(["-9", &watchdog.pid().to_string()])
        .status()
        .unwrap();
    watchdog.wait_exit(Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(10);
    while faas_testkit::process_alive(upstream) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !faas_testkit::process_alive(upstream),
        "the upstream {upstream} outlived its watchdog"
    );
}
