//! The `/function/*` proxy over real sockets: a gateway on `127.0.0.1:0` in front of echo
//! upstreams standing in for replicas.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{closed_address, config, Echo, TestServer, Upstream};
use futures_util::StreamExt;
use http::{Method, StatusCode};

async fn echo_of(response: reqwest::Response) -> Echo {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn every_method_is_proxied() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);

    for method in [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ] {
        let response = server
            .call(method.clone(), "/function/echo")
            .body("payload")
            .send()
            .await
            .unwrap();
        let echo = echo_of(response).await;
        assert_eq!(echo.method, method.as_str());
        assert_eq!(echo.body, "payload");
        assert_eq!(echo.upstream, "a");
    }

    let head = server
        .call(Method::HEAD, "/function/echo")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["x-upstream"], "a");
    assert!(head.bytes().await.unwrap().is_empty());

    let trace = server
        .call(Method::TRACE, "/function/echo")
        .send()
        .await
        .unwrap();
    assert_eq!(trace.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(upstream.calls(), 7);
}

#[tokio::test]
async fn path_and_query_pass_through() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);

    let cases = [
        ("/function/echo", "/", None),
        ("/function/echo/", "/", None),
        ("/function/echo?x=1", "/", Some("x=1")),
        ("/function/echo.openfaas-fn", "/", None),
        ("/function/echo/a/b", "/a/b", None),
        (
            "/function/echo.openfaas-fn/a/b%20c/?x=1&y=%2F&z",
            "/a/b%20c/",
            Some("x=1&y=%2F&z"),
        ),
    ];
    for (path, expected_path, expected_query) in cases {
        let response = server.call(Method::GET, path).send().await.unwrap();
        let echo = echo_of(response).await;
        assert_eq!(echo.path, expected_path, "{path}");
        assert_eq!(echo.query.as_deref(), expected_query, "{path}");
    }
}

#[tokio::test]
async fn paths_with_dot_segments_are_refused_before_the_replica() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);
    let port = server.address.port();
    for path in [
        "/function/echo/../other",
        "/function/echo/%2e%2e/metrics",
        "/function/echo/a/.%2E/b",
        "/function/echo/./x",
    ] {
        let response = tokio::task::spawn_blocking(move || faas_testkit::raw_post(port, path, "x"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status, 400, "{path}: {}", response.text);
        assert_eq!(response.header("x-openfaas-internal"), Some("gateway"));
        assert!(response.body().contains("dot segment"), "{}", response.text);
    }
    // Dots inside a segment are the function's business.
    let fine = tokio::task::spawn_blocking(move || {
        faas_testkit::raw_post(port, "/function/echo/a..b/.x", "x")
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(fine.status, 200, "{}", fine.text);
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test]
async fn namespaced_functions_resolve() {
    let upstream = Upstream::start("dev").await;
    let server = TestServer::start().await;
    server.provider.add_function_in("dev", "echo", 1);
    server
        .provider
        .set_endpoints_in("dev", "echo", &[upstream.address]);
    let echo = echo_of(
        server
            .call(Method::GET, "/function/echo.dev/x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(echo.upstream, "dev");
    let missing = server
        .call(Method::GET, "/function/echo")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn headers_are_injected() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);

    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let response = server
        .call(Method::POST, "/function/echo")
        .header("x-custom", "kept")
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    let call_id = response.headers()["x-call-id"].to_str().unwrap().to_owned();
    let start = response.headers()["x-start-time"]
        .to_str()
        .unwrap()
        .to_owned();
    let echo = echo_of(response).await;
    assert!(uuid::Uuid::parse_str(&call_id).is_ok(), "{call_id}");
    assert_eq!(echo.header("x-call-id"), Some(call_id.as_str()));
    assert_eq!(echo.header("x-start-time"), Some(start.as_str()));
    assert!(start.parse::<u128>().unwrap() >= before);
    assert_eq!(echo.header("x-forwarded-for"), Some("127.0.0.1"));
    let gateway_host = server.address.to_string();
    assert_eq!(echo.header("x-forwarded-host"), Some(gateway_host.as_str()));
    assert_eq!(
        echo.header("host"),
        Some(upstream.address.to_string().as_str())
    );
    assert_eq!(echo.header("x-custom"), Some("kept"));
    assert_eq!(echo.header("content-type"), Some("text/plain"));

    // The caller's call id is kept; an earlier X-Forwarded-For is extended.
    let response = server
        .call(Method::GET, "/function/echo")
        .header("x-call-id", "my-call-1")
        .header("x-forwarded-for", "10.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-call-id"], "my-call-1");
    let echo = echo_of(response).await;
    assert_eq!(echo.header("x-call-id"), Some("my-call-1"));
    assert_eq!(echo.header("x-forwarded-for"), Some("10.0.0.1, 127.0.0.1"));
}

#[tokio::test]
async fn hop_by_hop_headers_are_stripped_both_ways() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);

    let response = server
        .call(Method::GET, "/function/echo")
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "1")
        .header("keep-alive", "timeout=5")
        .header("proxy-authorization", "Basic abc")
        .header("proxy-whatever", "1")
        .header("te", "trailers")
        .header("upgrade", "websocket")
        .header("x-kept", "1")
        .send()
        .await
        .unwrap();
    let echo = echo_of(response).await;
    for gone in [
        "x-secret",
        "keep-alive",
        "proxy-authorization",
        "proxy-whatever",
        "te",
        "upgrade",
    ] {
        assert_eq!(echo.header(gone), None, "{gone} reached the function");
    }
    assert_eq!(echo.header("x-kept"), Some("1"));

    let response = server
        .call(Method::GET, "/function/echo/hop")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert!(headers.get("x-private").is_none());
    assert!(headers.get("keep-alive").is_none());
    assert!(headers.get("proxy-authenticate").is_none());
    assert_eq!(headers["x-kept"], "1");
    assert_eq!(response.text().await.unwrap(), "hop");
}

#[tokio::test]
async fn responses_stream_as_they_are_written() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);

    let started = Instant::now();
    let response = server
        .call(Method::GET, "/function/echo/stream?chunks=4&delay_ms=300")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.bytes_stream();
    let mut arrivals = Vec::new();
    let mut text = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        arrivals.push(started.elapsed());
        text.extend_from_slice(&chunk);
    }
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "chunk 0\nchunk 1\nchunk 2\nchunk 3\n"
    );
    let first = arrivals[0];
    let last = *arrivals.last().unwrap();
    // The last chunk is written 900 ms after the first: the first must not wait for it.
    assert!(
        last - first >= Duration::from_millis(600),
        "first {first:?}, last {last:?}"
    );
}

#[tokio::test]
async fn request_bodies_stream_too() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);

    // Each chunk is sent only after the previous one came back through gateway and
    // function: a gateway that buffered the request body would hang here.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body_stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    sender.send(Ok(b"one\n".to_vec())).await.unwrap();
    let response = server
        .call(Method::POST, "/function/echo/mirror")
        .body(reqwest::Body::wrap_stream(body_stream))
        .send();
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("headers arrive before the request body ends")
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut received = Vec::new();
    for next in [&b"two\n"[..], b"three\n"] {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("a chunk comes back before the body ends")
            .unwrap()
            .unwrap();
        received.extend_from_slice(&chunk);
        sender.send(Ok(next.to_vec())).await.unwrap();
    }
    drop(sender);
    while let Some(chunk) = stream.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(received, b"one\ntwo\nthree\n");
}

#[tokio::test]
async fn large_bodies_pass_whole() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);
    let body: Vec<u8> = (0..(8 << 20)).map(|i| (i % 251) as u8).collect();
    let response = server
        .call(Method::POST, "/function/echo/mirror")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap() == body);
}

#[tokio::test]
async fn hundred_concurrent_callers() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);

    let calls = (0..100).map(|i| {
        let request = server
            .call(Method::POST, &format!("/function/echo/n/{i}"))
            .body(format!("body {i}"))
            .send();
        async move {
            let response = request.await.unwrap();
            let call_id = response.headers()["x-call-id"].to_str().unwrap().to_owned();
            let echo = echo_of(response).await;
            assert_eq!(echo.path, format!("/n/{i}"));
            assert_eq!(echo.body, format!("body {i}"));
            assert_eq!(echo.header("x-call-id"), Some(call_id.as_str()));
            call_id
        }
    });
    let ids = futures_util::future::join_all(calls).await;
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 100);
    assert_eq!(upstream.calls(), 100);
    let count = server.gateway.invocations().count("openfaas-fn", "echo");
    assert_eq!(count, 100);
}

#[tokio::test]
async fn least_in_flight_avoids_the_busy_replica() {
    let a = Upstream::start("a").await;
    let b = Upstream::start("b").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[a.address, b.address]);

    // One long call occupies a replica...
    let long = server
        .call(Method::GET, "/function/echo/sleep?ms=1500")
        .send();
    let long = tokio::spawn(long);
    // Wait for it to reach its replica (not a fixed sleep: a slow machine takes longer).
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.calls() + b.calls() == 0 {
        assert!(
            Instant::now() < deadline,
            "the long call never reached a replica"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let busy = if a.calls() == 1 { "a" } else { "b" };
    assert_eq!(a.calls() + b.calls(), 1);

    // ...so quick calls meanwhile all go to the other one.
    for _ in 0..10 {
        let echo = echo_of(
            server
                .call(Method::GET, "/function/echo")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_ne!(echo.upstream, busy);
    }
    let long = long.await.unwrap().unwrap();
    assert_eq!(long.headers()["x-upstream"], busy);
    assert_eq!(long.text().await.unwrap(), "slept");
}

#[tokio::test]
async fn concurrent_calls_spread_over_replicas() {
    let a = Upstream::start("a").await;
    let b = Upstream::start("b").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[a.address, b.address]);

    let calls = (0..20).map(|_| {
        server
            .call(Method::GET, "/function/echo/sleep?ms=300")
            .send()
    });
    let responses = futures_util::future::join_all(calls).await;
    let mut by_upstream: HashMap<String, usize> = HashMap::new();
    for response in responses {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let label = response.headers()["x-upstream"]
            .to_str()
            .unwrap()
            .to_owned();
        *by_upstream.entry(label).or_default() += 1;
    }
    assert!(
        by_upstream["a"] >= 7 && by_upstream["b"] >= 7,
        "{by_upstream:?}"
    );
}

#[tokio::test]
async fn upstream_down_is_502() {
    let server = TestServer::start().await;
    server.deploy("down", &[closed_address().await]);
    let response = server
        .call(Method::POST, "/function/down")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(response.headers()["x-openfaas-internal"], "gateway");
    assert!(response.headers().contains_key("x-call-id"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains("cannot connect to function down.openfaas-fn"),
        "{text}"
    );
    assert_eq!(server.gateway.invocations().count("openfaas-fn", "down"), 1);
}

#[tokio::test]
async fn slow_upstream_is_504() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start_with(faas_gateway::GatewayConfig {
        upstream_timeout: Duration::from_millis(300),
        ..config()
    })
    .await;
    server.deploy("slow", &[upstream.address]);
    let started = Instant::now();
    let response = server
        .call(Method::GET, "/function/slow/sleep?ms=3000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(response.headers()["x-openfaas-internal"], "gateway");
    let text = response.text().await.unwrap();
    assert!(text.contains("did not answer within"), "{text}");

    // A fast call on the same function still works.
    let fast = server
        .call(Method::GET, "/function/slow")
        .send()
        .await
        .unwrap();
    assert_eq!(fast.status(), StatusCode::OK);
}

#[tokio::test]
async fn calls_wait_for_a_replica_to_become_ready() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.provider.add_function("late", 1);

    let call = tokio::spawn(server.call(Method::GET, "/function/late").send());
    // The replica turns ready once the call has found none and is polling for one (its first
    // lookup on the way in, one under the start lock, then the polls).
    let lookups = &server.provider.endpoint_lookups;
    let deadline = Instant::now() + Duration::from_secs(5);
    while lookups.load(std::sync::atomic::Ordering::Relaxed) < 3 {
        assert!(
            Instant::now() < deadline && !call.is_finished(),
            "the call never waited for a replica"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(!call.is_finished());
    server.provider.set_endpoints("late", &[upstream.address]);
    let response = call.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test]
async fn ready_wait_gives_up_with_503() {
    let server = TestServer::start_with(faas_gateway::GatewayConfig {
        ready_wait: Duration::from_millis(300),
        ..config()
    })
    .await;
    server.provider.add_function("never", 2);
    let started = Instant::now();
    let response = server
        .call(Method::GET, "/function/never")
        .send()
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(waited >= Duration::from_millis(280), "{waited:?}");
    assert!(waited < Duration::from_millis(1500), "{waited:?}");
    assert_eq!(
        response.text().await.unwrap().trim(),
        "No endpoints available for: never."
    );
}

#[tokio::test]
async fn a_malformed_chunked_body_is_the_callers_400_and_not_counted() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);
    let port = server.address.port();
    let answer = tokio::task::spawn_blocking(move || {
        faas_testkit::raw_exchange(
            port,
            b"POST /function/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
              Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ-not-a-size\r\nmore\r\n0\r\n\r\n",
        )
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(answer.header("x-openfaas-internal"), Some("gateway"));
    assert!(
        answer.body().contains("cannot read the request body"),
        "{}",
        answer.text
    );
    let status: serde_json::Value = server
        .client
        .get(server.url("/system/function/echo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        status["invocationCount"], 0,
        "the caller's mistake is not the function's call"
    );
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("code=\"502\""), "{metrics}");
}

#[tokio::test]
async fn invocation_count_increments() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);

    for path in [
        "/function/echo",
        "/function/echo/x",
        "/function/echo/status/500",
    ] {
        server.call(Method::GET, path).send().await.unwrap();
    }
    // Unknown functions are not counted.
    server
        .call(Method::GET, "/function/nope")
        .send()
        .await
        .unwrap();

    let list: serde_json::Value = server
        .client
        .get(server.url("/system/functions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["name"], "echo");
    assert_eq!(list[0]["invocationCount"], 3);
    let status: serde_json::Value = server
        .client
        .get(server.url("/system/function/echo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["invocationCount"], 3);
}

#[tokio::test]
async fn function_errors_pass_through_untouched() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);
    let response = server
        .call(Method::GET, "/function/echo/status/503")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The function's own error is not marked as the platform's.
    assert!(response.headers().get("x-openfaas-internal").is_none());
    assert_eq!(response.text().await.unwrap(), "as asked");
}

#[tokio::test]
async fn logs_follow_streams_new_lines() {
    let server = TestServer::start().await;
    server.provider.add_function("echo", 1);
    server.provider.add_log(common::log_line("echo", "old"));
    let response = server
        .client
        .get(server.url("/system/logs?name=echo&follow=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut stream = response.bytes_stream();
    let mut buffer = Vec::new();
    assert_eq!(next_line(&mut stream, &mut buffer).await["text"], "old");
    // The stream stays open: a line written now arrives (the follower subscribed to live
    // lines before the stored ones were sent, so no wait is needed).
    server
        .provider
        .push_live_log(common::log_line("echo", "new"));
    assert_eq!(next_line(&mut stream, &mut buffer).await["text"], "new");
}

async fn next_line<S>(stream: &mut S, buffer: &mut Vec<u8>) -> serde_json::Value
where
    S: futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
{
    loop {
        if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            return serde_json::from_slice(&line).unwrap();
        }
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("a line arrives while the stream stays open")
            .unwrap()
            .unwrap();
        buffer.extend_from_slice(&chunk);
    }
}

#[tokio::test]
async fn oversized_json_over_a_socket_gets_a_clean_413() {
    let server = TestServer::start().await;
    for _ in 0..5 {
        let response = server
            .client
            .post(server.url("/system/functions"))
            .body(vec![b'['; 10 << 20])
            .send()
            .await
            .expect("the 413 is read, not a reset connection");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    assert_eq!(server.provider.function_count(), 0);
}
