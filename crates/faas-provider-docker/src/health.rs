//! Readiness: a replica is ready when its watchdog answers `GET /_/health` with 200 on the
//! port the engine published on 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether `GET /_/health` on `address` answers 200 within a second.
pub(crate) async fn healthy(address: SocketAddr) -> bool {
    tokio::time::timeout(PROBE_TIMEOUT, probe(address))
        .await
        .unwrap_or(false)
}

async fn probe(address: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(address).await else {
        return false;
    };
    let request = b"GET /_/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    if stream.read_exact(&mut head).await.is_err() {
        return false;
    }
    head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}
