//! The fork-per-call modes (classic, serializing, streaming) against the real binary and real
//! child programs.

mod common;

use std::time::{Duration, Instant};

use common::{check_pattern_stream, client, pattern, process_alive, TextBody, Watchdog};

#[tokio::test]
async fn classic_passes_body_headers_path_and_query() {
    let watchdog = Watchdog::start(&[(
        "fprocess",
        r#"sh -c "printf '%s|%s|%s|%s|%s|' \"$Http_Method\" \"$Http_Path\" \"$Http_Query\" \"$Http_X_Custom_Header\" \"$Http_Content_Type\"; cat""#,
    )]);
    let response = client()
        .post(watchdog.url("/some/path?a=1&b=two"))
        .header("X-Custom-Header", "custom value")
        .header("Content-Type", "text/plain")
        .body("the body")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert!(response.headers().contains_key("x-duration-seconds"));
    assert_eq!(
        response.text().await.unwrap(),
        "POST|/some/path|a=1&b=two|custom value|text/plain|the body"
    );
    let logs = watchdog.wait_for_log("Wrote 58 Bytes - Duration: ");
    assert!(logs.contains("Forking fprocess."), "{logs}");
}

#[tokio::test]
async fn fprocess_words_split_like_a_shell_without_a_shell() {
    let watchdog = Watchdog::start(&[("fprocess", r#"printf "%s-%s" "a b" 'c;d'"#)]);
    let text = client().get(watchdog.url("/")).text_body().await;
    assert_eq!(text, "a b-c;d");
}

#[tokio::test]
async fn non_zero_exit_gives_500_with_the_exit_status() {
    let watchdog = Watchdog::start(&[("fprocess", "sh -c 'echo partial; exit 3'")]);
    let response = client().post(watchdog.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.text().await.unwrap(), "exit status 3\npartial\n");
}

#[tokio::test]
async fn a_crashing_process_does_not_take_the_watchdog_down() {
    let watchdog = Watchdog::start(&[("fprocess", "sh -c 'kill -9 $$'")]);
    for _ in 0..3 {
        let response = client().post(watchdog.url("/")).send().await.unwrap();
        assert_eq!(response.status(), 500);
        assert!(response.text().await.unwrap().starts_with("signal: killed"));
    }
    assert_eq!(common::health_status(watchdog.port), Some(200));
}

#[tokio::test]
async fn a_missing_program_gives_500_and_the_watchdog_stays_up() {
    let watchdog = Watchdog::start(&[("fprocess", "/no/such/program")]);
    let response = client().post(watchdog.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("cannot start fprocess"));
    assert_eq!(common::health_status(watchdog.port), Some(200));
}

#[tokio::test]
async fn a_process_that_writes_nothing_answers_empty() {
    let watchdog = Watchdog::start(&[("fprocess", "true")]);
    let response = client()
        .post(watchdog.url("/"))
        .body("ignored")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().len(), 0);
}

#[tokio::test]
async fn combine_output_puts_stderr_in_the_response_only_in_classic_mode() {
    let script = "sh -c 'echo out; echo err >&2'";
    let combined = Watchdog::start(&[("fprocess", script)]);
    let text = client().post(combined.url("/")).text_body().await;
    assert!(text.contains("out") && text.contains("err"), "{text:?}");

    let separate = Watchdog::start(&[("fprocess", script), ("combine_output", "false")]);
    let text = client().post(separate.url("/")).text_body().await;
    assert_eq!(text, "out\n");
    separate.wait_for_log("stderr: err");

    let serializing = Watchdog::start(&[("fprocess", script), ("mode", "serializing")]);
    let text = client().post(serializing.url("/")).text_body().await;
    assert_eq!(text, "out\n");
    serializing.wait_for_log("stderr: err");
}

#[tokio::test]
async fn classic_exec_timeout_kills_the_process_and_its_children_with_408() {
    let watchdog = Watchdog::start(&[
        (
            "fprocess",
            "sh -c 'sleep 30 & echo $! > \"$TMPDIR/child.pid\"; sleep 30'",
        ),
        ("exec_timeout", "500ms"),
        ("write_timeout", "10s"),
    ]);
    let started = Instant::now();
    let response = client().post(watchdog.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 408);
    assert_eq!(response.text().await.unwrap(), "Killed process.\n");
    assert!(started.elapsed() < Duration::from_secs(5));
    let child_pid: u32 = std::fs::read_to_string(watchdog.dir.path().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(child_pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !process_alive(child_pid),
        "the grandchild outlived the timeout"
    );
}

#[tokio::test]
async fn write_timeout_answers_504_when_the_function_is_too_slow() {
    let watchdog = Watchdog::start(&[("fprocess", "sleep 10"), ("write_timeout", "500ms")]);
    let started = Instant::now();
    let response = client().post(watchdog.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn x_timeout_header_shortens_exec_timeout() {
    let watchdog = Watchdog::start(&[
        ("fprocess", "sleep 10"),
        ("mode", "serializing"),
        ("exec_timeout", "20s"),
        ("write_timeout", "20s"),
    ]);
    let started = Instant::now();
    let response = client()
        .post(watchdog.url("/"))
        .header("X-Timeout", "300ms")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 408);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn bodies_from_empty_to_100_mb_round_trip_in_every_fork_mode() {
    for mode in ["classic", "serializing", "streaming"] {
        let watchdog = Watchdog::start(&[
            ("fprocess", "cat"),
            ("mode", mode),
            ("exec_timeout", "60s"),
            ("write_timeout", "60s"),
        ]);
        for size in [0usize, 1, 64 * 1024 + 7, 100 * 1024 * 1024] {
            if size == 100 * 1024 * 1024 && mode == "serializing" {
                continue; // same buffered path as classic; keeps the run short
            }
            let response = client()
                .post(watchdog.url("/"))
                .body(pattern(size))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{mode} {size}");
            assert_eq!(check_pattern_stream(response).await, size, "{mode} {size}");
        }
    }
}

#[tokio::test]
async fn streaming_holds_memory_flat_for_a_100_mb_body() {
    let watchdog = Watchdog::start(&[
        ("fprocess", "cat"),
        ("mode", "streaming"),
        ("exec_timeout", "60s"),
        ("write_timeout", "60s"),
    ]);
    let size = 100 * 1024 * 1024;
    let response = client()
        .post(watchdog.url("/"))
        .body(pattern(size))
        .send()
        .await
        .unwrap();
    assert_eq!(check_pattern_stream(response).await, size);
    let peak_kib = watchdog.peak_rss_kib();
    assert!(peak_kib > 0);
    assert!(
        peak_kib < 20 * 1024,
        "peak RSS {peak_kib} KiB for a 100 MiB body: streaming must not buffer"
    );
}

#[tokio::test]
async fn streaming_sends_output_before_the_process_ends() {
    let watchdog = Watchdog::start(&[
        ("fprocess", "sh -c 'echo first; sleep 2; echo second'"),
        ("mode", "streaming"),
    ]);
    let started = Instant::now();
    let mut response = client().post(watchdog.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().unwrap();
    assert_eq!(&first[..], b"first\n");
    assert!(started.elapsed() < Duration::from_millis(1500));
    let rest = response.chunk().await.unwrap().unwrap();
    assert_eq!(&rest[..], b"second\n");
}

#[tokio::test]
async fn streaming_is_cut_at_exec_timeout() {
    let watchdog = Watchdog::start(&[
        (
            "fprocess",
            "sh -c 'echo first; sleep 30 & echo $! > \"$TMPDIR/child.pid\"; wait; echo second'",
        ),
        ("mode", "streaming"),
        ("exec_timeout", "1s"),
        ("write_timeout", "20s"),
    ]);
    let started = Instant::now();
    let mut response = client().post(watchdog.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().unwrap();
    assert_eq!(&first[..], b"first\n");
    // The stream ends in an error at exec_timeout: the caller can tell it was cut.
    let mut rest = Vec::new();
    let cut = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => rest.extend_from_slice(&chunk),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(
        cut,
        "the stream ended cleanly after {:?}",
        String::from_utf8_lossy(&rest)
    );
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "cut after {took:?}"
    );
    watchdog.wait_for_log("Killing process: exec_timeout passed");
    let child_pid: u32 = std::fs::read_to_string(watchdog.dir.path().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(child_pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !process_alive(child_pid),
        "the function's child outlived exec_timeout"
    );
    assert_eq!(common::health_status(watchdog.port), Some(200));
}

#[tokio::test]
async fn a_flooding_process_is_stopped_in_buffered_and_streaming_modes() {
    let buffered = Watchdog::start(&[("fprocess", "yes"), ("response_buffer_limit", "1000000")]);
    let response = client().post(buffered.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("exceeded 1000000 bytes"));

    let streaming = Watchdog::start(&[("fprocess", "yes"), ("mode", "streaming")]);
    let mut response = client().post(streaming.url("/")).send().await.unwrap();
    let mut read = 0;
    while read < 10_000_000 {
        read += response.chunk().await.unwrap().unwrap().len();
    }
    drop(response);
    // The caller left; the watchdog kills `yes` and stays healthy.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !streaming.logs().contains("caller went away") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        streaming.logs().contains("caller went away"),
        "{}",
        streaming.logs()
    );
    assert_eq!(common::health_status(streaming.port), Some(200));
    assert!(streaming.peak_rss_kib() < 20 * 1024);
}

#[tokio::test]
async fn concurrent_callers_each_get_their_own_answer() {
    let watchdog = Watchdog::start(&[("fprocess", "cat")]);
    let client = client();
    let calls = (0..64).map(|i| {
        let client = client.clone();
        let url = watchdog.url("/");
        async move {
            let body = format!("caller {i}");
            let text = client.post(url).body(body.clone()).text_body().await;
            assert_eq!(text, body);
        }
    });
    futures_join_all(calls).await;
}

#[tokio::test]
async fn marshal_request_wraps_headers_and_body_as_json() {
    let watchdog = Watchdog::start(&[("fprocess", "cat"), ("marshal_request", "true")]);
    let text = client()
        .post(watchdog.url("/"))
        .header("X-Thing", "1")
        .body("hi")
        .text_body()
        .await;
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["body"]["raw"], "aGk=");
    assert_eq!(json["header"]["header"]["X-Thing"][0], "1");
}

#[tokio::test]
async fn marshal_request_buffers_at_most_request_buffer_limit() {
    let watchdog = Watchdog::start(&[
        ("fprocess", "cat"),
        ("marshal_request", "true"),
        ("request_buffer_limit", "1000"),
    ]);
    let response = client()
        .post(watchdog.url("/"))
        .body(vec![b'x'; 1001])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("request_buffer_limit"));
    let fits = client()
        .post(watchdog.url("/"))
        .body(vec![b'x'; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(fits.status(), 200);
}

#[tokio::test]
async fn classic_refuses_methods_it_does_not_serve() {
    let watchdog = Watchdog::start(&[("fprocess", "cat")]);
    let response = client()
        .request(reqwest::Method::OPTIONS, watchdog.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}

async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    for handle in handles {
        handle.await.unwrap();
    }
}

/// A function that floods stderr: the watchdog's log keeps every line, in order, although it
/// is written in batches (some by the flusher thread, some at once by the caller when the
/// buffer passes its limit).
#[tokio::test]
async fn a_flood_of_stderr_reaches_the_log_whole_and_in_order() {
    const LINES: usize = 200_000;
    let script = format!("sh -c 'seq 1 {LINES} | sed s/^/line-/ >&2; echo done'");
    let watchdog = Watchdog::start(&[
        ("fprocess", script.as_str()),
        ("mode", "serializing"),
        ("prefix_logs", "false"),
    ]);
    let text = client().post(watchdog.url("/")).text_body().await;
    assert_eq!(text, "done\n");
    let logs = watchdog.wait_for_log(&format!("line-{LINES}\n"));
    let numbers: Vec<usize> = logs
        .lines()
        .filter_map(|line| line.strip_prefix("line-"))
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), LINES, "lines lost or repeated");
    assert!(
        numbers.windows(2).all(|pair| pair[0] + 1 == pair[1]),
        "lines out of order"
    );
}
