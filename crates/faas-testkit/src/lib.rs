//! Helpers shared by the integration tests of several crates, so they are written once:
//! free loopback ports, process liveness from `/proc`, a dependency-free HTTP GET for
//! polling health endpoints, raw HTTP exchanges (paths sent as written), real servers per
//! test ([`NatsServer`], [`MqttBroker`]), the project's Docker Engine
//! ([`docker::docker_host`]), and a blocking receiver for asynchronous calls' callbacks
//! ([`CallbackReceiver`]).
//!
//! The policy every test follows: a test never passes by skipping. A tool it needs that is
//! missing (and cannot be installed by `scripts/test.sh` or the server scripts) fails it with
//! the reason; a free port taken by someone else before the server binds it is retried on
//! another port (the servers here do that), never turned into a skip.

mod callbacks;
pub mod docker;
mod servers;

pub use callbacks::{Callback, CallbackReceiver};
pub use servers::{MqttBroker, NatsServer, Registry, ScriptedServer};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// Whether something accepts connections on 127.0.0.1:`port`.
pub fn port_in_use(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// Whether a process is alive (a zombie counts as gone).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or("");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

/// The status of `GET path` on 127.0.0.1:`port`, or `None` when nothing answers in 5 s.
pub fn raw_get_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A status line and what followed it, as a raw exchange gave them.
#[derive(Clone, Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The head (status line and headers) and body, as text.
    pub text: String,
}

impl RawResponse {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let head = self.text.split("\r\n\r\n").next()?;
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// The body (chunked framing, if any, left as it is).
    pub fn body(&self) -> &str {
        self.text
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body)
    }
}

/// Sends `request` (a whole HTTP/1.1 request, written as it should go on the wire: clients
/// such as reqwest rewrite `..` in paths, this does not) to 127.0.0.1:`port` and reads the
/// answer until the server closes or 10 s pass. Send `Connection: close`.
pub fn raw_exchange(port: u16, request: &[u8]) -> std::io::Result<RawResponse> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request)?;
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        // A timeout after a whole answer arrived: keep what came.
        Err(err) if !answer.is_empty() && err.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(err) => return Err(err),
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an HTTP answer: {text:?}"),
            )
        })?;
    Ok(RawResponse { status, text })
}

/// `raw_exchange` of a `POST path` with a short body.
pub fn raw_post(port: u16, path: &str, body: &str) -> std::io::Result<RawResponse> {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    raw_exchange(port, request.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_closed_port_does_not_answer() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX));
        assert_eq!(raw_get_status(free_port(), "/"), None);
    }
}
