//! Readiness probes and loopback ports for replicas.
//!
//! A replica is ready when its watchdog answers `GET /_/health` with 200 (lock file written
//! and, in http mode, the upstream accepting connections). The probe is a few bytes of
//! HTTP/1.1 over a fresh loopback connection: no client library needed.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const REQUEST: &[u8] = b"GET /_/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

/// True when `GET /_/health` on `address` answers 200 within `limit`.
pub(crate) async fn probe(address: SocketAddr, limit: Duration) -> bool {
    tokio::time::timeout(limit, probe_once(address))
        .await
        .unwrap_or(false)
}

async fn probe_once(address: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(address).await else {
        return false;
    };
    let _ = stream.set_nodelay(true);
    if stream.write_all(REQUEST).await.is_err() {
        return false;
    }
    // "HTTP/1.1 200" is 12 bytes.
    let mut head = [0u8; 12];
    let mut filled = 0;
    while filled < head.len() {
        match stream.read(&mut head[filled..]).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => filled += n,
        }
    }
    head.starts_with(b"HTTP/1.") && &head[8..12] == b" 200"
}

/// How long to wait before the next readiness probe of a starting replica: very often at
/// first, so a deploy is callable within milliseconds, then less.
pub(crate) fn startup_poll_interval(elapsed: Duration) -> Duration {
    if elapsed < Duration::from_millis(500) {
        Duration::from_millis(5)
    } else if elapsed < Duration::from_secs(3) {
        Duration::from_millis(25)
    } else {
        Duration::from_millis(100)
    }
}

/// Hands out free loopback ports, never one that a live replica of this provider was given.
#[derive(Debug, Default)]
pub(crate) struct PortRegistry {
    taken: Mutex<HashSet<u16>>,
}

impl PortRegistry {
    /// A port that was free a moment ago (the OS picks it). The replica may still lose a race
    /// for it with another program; it then fails to start and is restarted on a new port.
    pub(crate) fn allocate(&self) -> std::io::Result<u16> {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..64 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
                .local_addr()?
                .port();
            if taken.insert(port) {
                return Ok(port);
            }
        }
        Err(std::io::Error::other("no free loopback port found"))
    }

    /// Returns ports of a replica that stopped.
    pub(crate) fn release(&self, ports: &[u16]) {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        for port in ports {
            taken.remove(port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn probe_reads_the_status() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for answer in [&b"HTTP/1.1 200 OK\r\n\r\n"[..], b"HTTP/1.1 503 No\r\n\r\n"] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 256];
                let _ = socket.read(&mut buf).await;
                socket.write_all(answer).await.unwrap();
            }
        });
        assert!(probe(address, Duration::from_secs(2)).await);
        assert!(!probe(address, Duration::from_secs(2)).await);
    }

    #[test]
    fn ports_are_not_handed_out_twice() {
        let registry = PortRegistry::default();
        let a = registry.allocate().unwrap();
        let b = registry.allocate().unwrap();
        assert_ne!(a, b);
        registry.release(&[a, b]);
    }
}
