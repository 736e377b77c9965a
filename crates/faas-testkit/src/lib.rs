//! Helpers shared by the integration tests of several crates, so they are written once:
//! free loopback ports, process liveness from `/proc`, a dependency-free HTTP GET for
//! polling health endpoints, and real servers per test ([`NatsServer`], [`MqttBroker`]).

mod servers;

pub use servers::{MqttBroker, NatsServer, ScriptedServer};

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
