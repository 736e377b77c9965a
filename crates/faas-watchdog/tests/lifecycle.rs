//! Start-up, health, limits, metrics, static files and shutdown.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{client, TextBody, Watchdog, BINARY};

fn run_with_env(vars: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TMPDIR", dir.path())
        .env("bind_address", "127.0.0.1")
        .env("port", common::free_port().to_string())
        .env("metrics_port", "off");
    for (k, v) in vars {
        command.env(k, v);
    }
    command.output().unwrap()
}

#[test]
fn bad_configuration_exits_non_zero_with_one_clear_line() {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "fprocess"),
        (
            &[("fprocess", "cat"), ("mode", "turbo")],
            "unknown mode \"turbo\"",
        ),
        (
            &[("fprocess", "cat"), ("exec_timeout", "10 parsecs")],
            "exec_timeout",
        ),
        (&[("mode", "http")], "upstream_url"),
    ];
    for (vars, needle) in cases {
        let output = run_with_env(vars);
        assert!(!output.status.success(), "{vars:?} should fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(needle),
            "{stderr:?} should mention {needle}"
        );
    }
}

#[test]
fn a_taken_port_is_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let output = run_with_env(&[("fprocess", "cat"), ("port", port.as_str())]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen"));
}

#[test]
fn run_healthcheck_follows_the_lock_file() {
    let watchdog = Watchdog::start(&[("fprocess", "cat")]);
    let check = |dir: &std::path::Path| {
        std::process::Command::new(BINARY)
            .arg("--run-healthcheck")
            .env_clear()
            .env("fprocess", "cat")
            .env("TMPDIR", dir)
            .status()
            .unwrap()
            .success()
    };
    assert!(check(watchdog.dir.path()));
    let empty = tempfile::tempdir().unwrap();
    assert!(!check(empty.path()));
}

#[tokio::test]
async fn two_watchdogs_share_a_host_with_their_own_lock_files_and_metrics_ports() {
    let one = Watchdog::start(&[("fprocess", "cat")]);
    let two = Watchdog::start(&[("fprocess", "cat")]);
    assert!(one.lock_file().exists() && two.lock_file().exists());
    assert_ne!(one.metrics_port, two.metrics_port);
}

#[tokio::test]
async fn max_inflight_answers_429_above_the_limit() {
    let watchdog = Watchdog::start(&[("fprocess", "sleep 1"), ("max_inflight", "2")]);
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let url = watchdog.url("/");
            tokio::spawn(async move { client().post(url).send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut codes = Vec::new();
    for call in calls {
        codes.push(call.await.unwrap());
    }
    codes.sort();
    assert_eq!(codes, vec![200, 200, 429, 429, 429]);
    // Slots are released once calls finish.
    let status = client()
        .post(watchdog.url("/"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn metrics_count_calls_by_code_and_method() {
    // A body of "fail" makes the process exit 1: the watchdog answers 500.
    let watchdog = Watchdog::start(&[(
        "fprocess",
        r#"sh -c 'body=$(cat); echo "$body"; [ "$body" != fail ]'"#,
    )]);
    for body in ["x", "fail", "x", "fail", "x"] {
        let status = client()
            .post(watchdog.url("/"))
            .body(body)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, if body == "fail" { 500 } else { 200 });
    }
    let status = client()
        .get(watchdog.url("/"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let text = client()
        .get(format!(
            "http://127.0.0.1:{}/metrics",
            watchdog.metrics_port
        ))
        .text_body()
        .await;
    assert!(
        text.contains("http_requests_total{code=\"200\",method=\"post\"} 3"),
        "{text}"
    );
    assert!(text.contains("http_requests_total{code=\"200\",method=\"get\"} 1"));
    assert!(
        text.contains("http_requests_total{code=\"500\",method=\"post\"} 2"),
        "{text}"
    );
    assert!(text.contains("http_request_duration_seconds_count{code=\"200\",method=\"post\"} 3"));
    assert!(text.contains("http_request_duration_seconds_count{code=\"500\",method=\"post\"} 2"));
    assert!(text.contains("http_requests_in_flight 0"));
}

#[tokio::test]
async fn read_timeout_closes_a_connection_that_never_sends_its_headers() {
    let watchdog = Watchdog::start(&[("fprocess", "cat"), ("read_timeout", "300ms")]);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", watchdog.port)).unwrap();
    stream.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let mut buffer = Vec::new();
    let _ = stream.read_to_end(&mut buffer);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the connection stayed open past read_timeout"
    );
}

#[tokio::test]
async fn sigterm_drains_in_flight_calls_then_exits() {
    let mut watchdog = Watchdog::start(&[
        ("fprocess", "sh -c 'sleep 1; echo done'"),
        ("healthcheck_interval", "300ms"),
        ("write_timeout", "10s"),
    ]);
    let call = tokio::spawn({
        let url = watchdog.url("/");
        async move {
            let response = client().post(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    });
    // The call is in flight once its process is forked (an async wait: the call's task
    // runs on this thread).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !watchdog.logs().contains("Forking fprocess") {
        assert!(
            Instant::now() < deadline,
            "the call never forked its process"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    watchdog.terminate();
    while common::health_status(watchdog.port) != Some(503) {
        assert!(
            Instant::now() < deadline,
            "health never turned 503 after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!watchdog.lock_file().exists());
    assert_eq!(call.await.unwrap(), (200, "done\n".to_string()));
    assert_eq!(watchdog.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(watchdog.logs().contains("SIGTERM"));
}

#[tokio::test]
async fn static_mode_serves_files_and_refuses_traversal() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(site.path().join("data.txt"), "plain data").unwrap();
    let root = site.path().display().to_string();
    let watchdog = Watchdog::start(&[("mode", "static"), ("static_path", root.as_str())]);
    let home = client().get(watchdog.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert_eq!(home.text().await.unwrap(), "<h1>home</h1>");
    let data = client()
        .get(watchdog.url("/data.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(data.headers()["content-type"], "text/plain");
    assert_eq!(data.text().await.unwrap(), "plain data");
    let missing = client().get(watchdog.url("/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    // A raw request with a traversal path, which clients would normalise away.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", watchdog.port)).unwrap();
    stream
        .write_all(b"GET /../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(!answer.contains("root:"), "{answer}");
}

#[tokio::test]
async fn secrets_are_readable_where_the_function_is_told() {
    let mount_point = std::path::Path::new("/var/openfaas/secrets");
    let existed_before = mount_point.exists();
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("api-key"), "s3cret").unwrap();
    let source = secrets.path().display().to_string();
    let watchdog = Watchdog::start(&[
        (
            "fprocess",
            r#"sh -c 'cat "$secret_mount_path/api-key"; echo " at $secret_mount_path"'"#,
        ),
        ("secrets_bind_from", source.as_str()),
    ]);
    let text = client().post(watchdog.url("/")).text_body().await;
    let running_as_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if running_as_root && existed_before && !watchdog.logs().contains("secrets stay at") {
        assert_eq!(text, "s3cret at /var/openfaas/secrets\n");
    } else {
        assert_eq!(text, format!("s3cret at {source}\n"));
    }
    // The host's filesystem is left as it was: no /var/openfaas/secrets made for the mount.
    assert_eq!(mount_point.exists(), existed_before);
}

#[tokio::test]
async fn die_with_parent_exits_when_the_server_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("watchdog.pid");
    let port = common::free_port();
    let mut parent = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#""$0" & echo $! > "$1"; exec sleep 60"#)
        .arg(BINARY)
        .arg(&pid_file)
        .env("fprocess", "cat")
        .env("die_with_parent", "true")
        .env("bind_address", "127.0.0.1")
        .env("port", port.to_string())
        .env("metrics_port", "off")
        .env("TMPDIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::health_status(port) != Some(200) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let watchdog_pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(common::process_alive(watchdog_pid));
    parent.kill().unwrap();
    parent.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while common::process_alive(watchdog_pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !common::process_alive(watchdog_pid),
        "fwatchdog outlived its parent"
    );
}

/// One HTTP/1.1 exchange over the Unix socket at `path`: the whole answer as text.
fn unix_exchange(path: &std::path::Path, request: &str) -> std::io::Result<String> {
    let mut stream = std::os::unix::net::UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

#[test]
fn unix_socket_takes_the_place_of_the_port() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("watchdog.sock");
    // A socket left by an earlier run is replaced.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let socket_text = socket.display().to_string();
    let mut watchdog = Watchdog::spawn(&[("fprocess", "cat"), ("unix_socket", &socket_text)]);
    let health = "GET /_/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(answer) = unix_exchange(&socket, health) {
            if answer.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "never healthy:\n{}",
            watchdog.logs()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let call =
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    let answer = unix_exchange(&socket, call).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Nothing listens on the port it was also given.
    assert!(std::net::TcpStream::connect(("127.0.0.1", watchdog.port)).is_err());
    // Log lines reach stderr within the watchdog's flush delay.
    let listening = format!("Listening on unix:{socket_text}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !watchdog.logs().contains(&listening) {
        assert!(Instant::now() < deadline, "{}", watchdog.logs());
        std::thread::sleep(Duration::from_millis(10));
    }
    // Gone with the watchdog.
    watchdog.terminate();
    assert_eq!(watchdog.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!socket.exists());

    // Anything but a socket at the path is left alone and reported.
    std::fs::write(&socket, "data").unwrap();
    let output = run_with_env(&[("fprocess", "cat"), ("unix_socket", &socket_text)]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen on unix socket"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&socket).unwrap(), "data");
}
