//! The server's edges against a real faasd: idle keep-alive and slow clients are cut off
//! within their timeouts, calls longer than those timeouts are not, connections past the cap
//! are answered 503, and the open-file soft limit is raised at start.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{raw_status, Faasd};

fn connect(faasd: &Faasd) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", faasd.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection (end of stream or reset); how long it took,
/// or `None` when it stayed open past `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(started.elapsed())
            }
            Err(_) => return None,
        }
    }
}

/// Sends a keep-alive `GET /healthz` and reads its whole answer.
fn healthz_kept_alive(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.ends_with(b"\r\n\r\nOK") {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"));
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let faasd = Faasd::start_with(&[
        ("FAASD_IDLE_TIMEOUT", "1s"),
        ("FAASD_HEADER_READ_TIMEOUT", "30s"),
    ]);
    let mut stream = connect(&faasd);
    healthz_kept_alive(&mut stream);
    // Still open and usable before the timeout.
    healthz_kept_alive(&mut stream);
    let took = closed_within(&mut stream, Duration::from_secs(5))
        .expect("an idle connection stayed open past 5 s with a 1 s idle timeout");
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
}

#[test]
fn slow_and_silent_clients_are_cut_off_at_the_header_read_timeout() {
    let faasd = Faasd::start_with(&[
        ("FAASD_IDLE_TIMEOUT", "60s"),
        ("FAASD_HEADER_READ_TIMEOUT", "1s"),
    ]);
    // Connects and says nothing.
    let mut silent = connect(&faasd);
    // Sends a head one header every 200 ms, never finishing it (slowloris).
    let mut slow = connect(&faasd);
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let mut writer = slow.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for i in 0..50 {
            std::thread::sleep(Duration::from_millis(200));
            if writer
                .write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                .is_err()
            {
                return;
            }
        }
    });
    for (what, stream) in [("silent", &mut silent), ("slowloris", &mut slow)] {
        let took = closed_within(stream, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("the {what} connection stayed open past 5 s"));
        assert!(
            took < Duration::from_secs(3),
            "{what}: closed after {took:?}"
        );
    }
    trickle.join().unwrap();
    assert_eq!(raw_status(faasd.port, "/healthz"), Some(200));
}

#[tokio::test]
async fn calls_longer_than_the_timeouts_are_not_cut() {
    let faasd = Faasd::start_with(&[
        ("FAASD_IDLE_TIMEOUT", "1s"),
        ("FAASD_HEADER_READ_TIMEOUT", "1s"),
    ]);
    faasd.deploy_host("slow", "sh -c 'sleep 2.5; cat'").await;
    let started = Instant::now();
    let (status, body) = faasd.invoke("slow", "still here").await;
    assert_eq!((status, body.as_str()), (200, "still here"));
    assert!(started.elapsed() >= Duration::from_millis(2500));
}

#[test]
fn connections_past_the_cap_are_answered_503() {
    let faasd = Faasd::start_with(&[
        ("FAASD_MAX_CONNECTIONS", "8"),
        ("FAASD_HEADER_READ_TIMEOUT", "60s"),
    ]);
    let held: Vec<TcpStream> = (0..8).map(|_| connect(&faasd)).collect();
    // The server counts a connection once it has accepted it: wait for the ninth to be refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let answer = faas_testkit::raw_exchange(
            faasd.port,
            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        if answer.status == 503 || Instant::now() > deadline {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert_eq!(refused.header("x-openfaas-internal"), Some("gateway"));
    assert!(refused.body().contains("too many open connections"));

    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while raw_status(faasd.port, "/healthz") != Some(200) {
        assert!(
            Instant::now() < deadline,
            "still refused after the held connections closed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `Max open files` soft and hard limits of a process.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap()
        .to_string();
    let fields: Vec<&str> = line.split_whitespace().collect();
    (fields[3].to_string(), fields[4].to_string())
}

#[test]
fn faasd_raises_its_open_file_soft_limit_to_the_hard_limit() {
    let (_, hard) = open_file_limits(std::process::id());
    let hard_number: u64 = hard.parse().unwrap_or(u64::MAX);
    assert!(
        hard_number > 512,
        "the hard limit here is {hard}: nothing to raise"
    );
    let dir = tempfile::tempdir().unwrap();
    let limit = format!("--nofile=512:{hard}");
    let faasd = Faasd::start_via(&["prlimit", &limit, "--"], &dir.path().join("data"), &[]);
    assert_eq!(open_file_limits(faasd.pid()), (hard.clone(), hard));
}

#[test]
fn an_empty_admin_password_file_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("secrets")).unwrap();
    std::fs::write(data.join("secrets/basic-auth-password"), "  \n").unwrap();
    let mut child = Faasd::spawn(&data, common::free_port(), &[]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "faasd started with an empty password"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(data.with_extension("log")).unwrap();
    assert!(log.contains("empty admin password"), "{log}");
}

#[tokio::test]
async fn package_uploads_past_the_limits_are_413_and_leave_nothing_behind() {
    use std::io::Write as _;
    let faasd = Faasd::start_with(&[
        ("FAASD_MAX_PACKAGE_BYTES", "1000000"),
        ("FAASD_MAX_PACKAGE_UNPACKED_BYTES", "4000000"),
    ]);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![0u8; 32 << 20]).unwrap();
    let bomb = encoder.finish().unwrap();
    let big = vec![0x1f_u8; 1_500_000];
    for (archive, expected) in [
        (bomb, "(--max-package-unpacked-bytes)"),
        (big, "(--max-package-bytes)"),
    ] {
        let answer = faasd
            .api(reqwest::Method::PUT, "/system/packages/bomb:1")
            .body(archive)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 413);
        assert!(answer.text().await.unwrap().contains(expected));
    }
    let list: serde_json::Value = faasd
        .api(reqwest::Method::GET, "/system/packages")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list, serde_json::json!([]));
    let staged: Vec<String> = std::fs::read_dir(faasd.data.join("packages"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".tmp-"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
}
