//! Readiness probes and loopback ports for replicas.
//!
//! A replica is ready when its watchdog answers `GET /_/health` with 200 (lock file written
//! and, in http mode, the upstream accepting connections). The probe is a few bytes of
//! HTTP/1.1 over a fresh connection to its Unix socket or loopback port: no client library
//! needed.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;
use std::time::Duration;

use faas_provider::ReplicaAddress;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const REQUEST: &[u8] = b"GET /_/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

/// True when `GET /_/health` on `address` answers 200 within `limit`.
pub(crate) async fn probe(address: &ReplicaAddress, limit: Duration) -> bool {
    tokio::time::timeout(limit, probe_once(address))
        .await
        .unwrap_or(false)
}

async fn probe_once(address: &ReplicaAddress) -> bool {
    match address {
        ReplicaAddress::Tcp(address) => match TcpStream::connect(address).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                exchange(stream).await
            }
            Err(_) => false,
        },
        ReplicaAddress::Unix(path) => match faas_provider::address::connect_unix(path).await {
            Ok(stream) => exchange(stream).await,
            Err(_) => false,
        },
    }
}

async fn exchange(mut stream: impl AsyncRead + AsyncWrite + Unpin) -> bool {
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
    if elapsed < Duration::from_millis(200) {
        Duration::from_millis(2)
    } else if elapsed < Duration::from_millis(500) {
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

    const ANSWERS: [&[u8]; 2] = [b"HTTP/1.1 200 OK\r\n\r\n", b"HTTP/1.1 503 No\r\n\r\n"];

    #[tokio::test]
    async fn probe_reads_the_status() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = ReplicaAddress::Tcp(listener.local_addr().unwrap());
        tokio::spawn(async move {
            for answer in ANSWERS {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 256];
                let _ = socket.read(&mut buf).await;
                socket.write_all(answer).await.unwrap();
            }
        });
        assert!(probe(&address, Duration::from_secs(2)).await);
        assert!(!probe(&address, Duration::from_secs(2)).await);
    }

    #[tokio::test]
    async fn probe_goes_over_a_unix_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            for answer in ANSWERS {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 256];
                let _ = socket.read(&mut buf).await;
                socket.write_all(answer).await.unwrap();
            }
        });
        let address = ReplicaAddress::unix(&path);
        assert!(probe(&address, Duration::from_secs(2)).await);
        assert!(!probe(&address, Duration::from_secs(2)).await);
        // Nothing there: not ready.
        assert!(
            !probe(
                &ReplicaAddress::unix(dir.path().join("none")),
                Duration::from_secs(2)
            )
            .await
        );
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
