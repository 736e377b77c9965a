//! A callback receiver on 127.0.0.1 for asynchronous calls (`X-Callback-Url`), for tests
//! that run without an async runtime: each request it gets is answered 202 and kept.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

/// One request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Callback {
    /// The request line's method.
    pub method: String,
    /// The request line's path.
    pub path: String,
    /// Headers, names lowercased.
    pub headers: HashMap<String, String>,
    /// The body (read by `Content-Length`).
    pub body: Vec<u8>,
}

/// Receives callbacks on a loopback port until dropped.
pub struct CallbackReceiver {
    port: u16,
    received: mpsc::Receiver<Callback>,
}

impl CallbackReceiver {
    /// Listens on 127.0.0.1 on a port of the system's choosing.
    pub fn start() -> CallbackReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a callback receiver");
        let port = listener.local_addr().expect("its address").port();
        let (sender, received) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                match read_request(stream) {
                    Some(callback) => {
                        if sender.send(callback).is_err() {
                            return;
                        }
                    }
                    None => continue,
                }
            }
        });
        CallbackReceiver { port, received }
    }

    /// The URL to give as `X-Callback-Url`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    /// The next callback, or a panic saying none came within `limit`.
    pub fn wait(&self, limit: Duration) -> Callback {
        self.received
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("no callback arrived at {} within {limit:?}", self.url()))
    }
}

/// Reads one HTTP/1.1 request and answers it 202; `None` when it is not one.
fn read_request(stream: std::net::TcpStream) -> Option<Callback> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let (method, path) = (words.next()?.to_owned(), words.next()?.to_owned());
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = stream;
    stream
        .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .ok()?;
    Some(Callback {
        method,
        path,
        headers,
        body,
    })
}
