//! Where a replica's watchdog listens, and how to connect to it.
//!
//! Unix socket paths are limited to 107 bytes (`sun_path`), and a replica's socket lives deep
//! in the server's data directory. A longer path is reached the way systemd does it: open its
//! directory and connect to `/proc/self/fd/<fd>/<name>`, which the kernel resolves through the
//! open directory.

use std::fmt;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::UnixStream;

/// The longest path `connect(2)` takes in a `sockaddr_un` (108 bytes with the final NUL).
const SUN_PATH_MAX: usize = 107;

/// Where a replica's watchdog listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReplicaAddress {
    /// `ip:port`.
    Tcp(SocketAddr),
    /// A Unix socket, by its path as the server sees it (cheap to clone: the gateway keeps one
    /// per call).
    Unix(Arc<Path>),
}

impl ReplicaAddress {
    /// A Unix socket address.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        ReplicaAddress::Unix(Arc::from(path.into()))
    }

    /// The value for an HTTP `Host` header: `ip:port`, or `localhost` for a Unix socket.
    pub fn host(&self) -> String {
        match self {
            ReplicaAddress::Tcp(address) => address.to_string(),
            ReplicaAddress::Unix(_) => "localhost".to_owned(),
        }
    }
}

impl From<SocketAddr> for ReplicaAddress {
    fn from(address: SocketAddr) -> Self {
        ReplicaAddress::Tcp(address)
    }
}

impl fmt::Display for ReplicaAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplicaAddress::Tcp(address) => write!(f, "{address}"),
            ReplicaAddress::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Connects to the Unix socket at `path`, however long the path is.
pub async fn connect_unix(path: &Path) -> io::Result<UnixStream> {
    if path.as_os_str().len() <= SUN_PATH_MAX {
        return UnixStream::connect(path).await;
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a socket path", path.display()),
        ));
    };
    // Held open until the connection is made: the short path goes through it.
    let dir = File::open(dir)?;
    let short = Path::new("/proc/self/fd")
        .join(dir.as_raw_fd().to_string())
        .join(name);
    if short.as_os_str().len() > SUN_PATH_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("socket name too long: {}", path.display()),
        ));
    }
    let stream = UnixStream::connect(&short).await;
    drop(dir);
    stream
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn connects_to_sockets_at_short_and_long_paths() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("d".repeat(60)).join("e".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        for dir in [root.path(), deep.as_path()] {
            let path = dir.join("w.sock");
            // bind(2) has the same limit: a long path is bound through its directory too.
            let dir_file = File::open(dir).unwrap();
            let listener = tokio::net::UnixListener::bind(if dir == root.path() {
                path.clone()
            } else {
                PathBuf::from(format!("/proc/self/fd/{}/w.sock", dir_file.as_raw_fd()))
            })
            .unwrap();
            let server = tokio::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                stream.write_all(b"hi").await.unwrap();
            });
            let mut stream = connect_unix(&path).await.unwrap();
            let mut text = String::new();
            stream.read_to_string(&mut text).await.unwrap();
            assert_eq!(text, "hi");
            server.await.unwrap();
        }
        assert!(deep.join("w.sock").as_os_str().len() > SUN_PATH_MAX);
        let missing = connect_unix(&deep.join("missing.sock")).await.unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn addresses_show_and_give_a_host() {
        let tcp = ReplicaAddress::from(SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(tcp.to_string(), "127.0.0.1:8080");
        assert_eq!(tcp.host(), "127.0.0.1:8080");
        let unix = ReplicaAddress::unix("/run/x/w.sock");
        assert_eq!(unix.to_string(), "unix:/run/x/w.sock");
        assert_eq!(unix.host(), "localhost");
    }
}
