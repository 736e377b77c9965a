//! Bad input at the edge: each answered with a clear 4xx and no change to state.

mod common;

use common::Faasd;
use reqwest::Method;
use serde_json::json;

async fn state(faasd: &Faasd) -> (String, String, String) {
    let functions = faasd
        .api(Method::GET, "/system/functions")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let secrets = faasd
        .api(Method::GET, "/system/secrets")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let packages = faasd
        .api(Method::GET, "/system/packages")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (strip_counts(&functions), secrets, packages)
}

/// Function lists without the fields that move on their own.
fn strip_counts(list: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(list).unwrap_or_default();
    if let Some(items) = value.as_array_mut() {
        for item in items {
            if let Some(map) = item.as_object_mut() {
                map.remove("usage");
                map.remove("invocationCount");
            }
        }
    }
    value.to_string()
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let faasd = Faasd::start();
    faasd.deploy_host("keep", "cat").await;
    let before = state(&faasd).await;

    let cases: Vec<(Method, &str, Vec<u8>, &str)> = vec![
        (Method::POST, "/system/functions", br#"{"service":"Bad_Name","image":"x"}"#.to_vec(), "function name"),
        (Method::POST, "/system/functions", br#"{"service":"ok","image":"x","namespace":"../etc"}"#.to_vec(), "namespace"),
        (Method::POST, "/system/functions", b"{not json".to_vec(), "invalid JSON body"),
        (Method::POST, "/system/functions", br#"{"service":"ok","image":""}"#.to_vec(), "image"),
        (Method::POST, "/system/secrets", br#"{"name":"../../etc/passwd","value":"x"}"#.to_vec(), "secret"),
        (Method::POST, "/system/secrets", br#"{"name":"a/b","value":"x"}"#.to_vec(), "secret"),
        (Method::POST, "/system/scale-function/keep", br#"{"serviceName":"keep","replicas":100000}"#.to_vec(), "replicas"),
        (Method::PUT, "/system/packages/..%2F..%2Fevil:1", b"whatever".to_vec(), "\"..\""),
        (Method::PUT, "/system/packages/notatar:1", b"this is not a tar.gz".to_vec(), "tar.gz"),
        (Method::POST, "/system/functions", br#"{"service":"needs","image":"functions/alpine","envProcess":"cat","secrets":["missing-secret"]}"#.to_vec(), "missing-secret"),
    ];
    for (method, path, body, needle) in cases {
        let response = faasd
            .api(method.clone(), path)
            .header("Content-Type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        // Every case is a request the platform refuses as it stands: 400, never another
        // 4xx (a 404 from a missing route would otherwise pass).
        assert_eq!(status, 400, "{method} {path}: {text}");
        assert!(
            text.to_lowercase().contains(&needle.to_lowercase()),
            "{method} {path}: {text:?} should mention {needle:?}"
        );
    }
    // 10 MB of junk JSON: the server may answer before reading it all and close, so send it
    // over a raw socket and read whatever answer came back.
    let status = raw_post(&faasd, "/system/functions", &vec![b'['; 10 * 1024 * 1024]);
    assert!(
        status == Some(413) || status == Some(400),
        "10 MB of junk answered {status:?}"
    );

    let unknown = faasd
        .api(Method::POST, "/system/scale-function/ghost")
        .json(&json!({"serviceName":"ghost","replicas":1}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(state(&faasd).await, before);
    assert_eq!(faasd.invoke("keep", "still here").await.0, 200);
}

fn raw_post(faasd: &Faasd, path: &str, body: &[u8]) -> Option<u16> {
    use base64::Engine as _;
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", faasd.port)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", faasd.user, faasd.password));
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    std::str::from_utf8(answer.get(9..12)?).ok()?.parse().ok()
}
