//! A minimal HTTP/1.1 server (standard library only) that calls `handler::handle` with each
//! request's body and answers with what it returns. It listens on 127.0.0.1:$PORT, which the
//! platform sets for each replica, and keeps connections alive for the watchdog's pool.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_string());
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).expect("bind 127.0.0.1:$PORT");
    println!("rust listening on 127.0.0.1:{port}");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = serve(stream);
        });
    }
}

/// Serves requests on one connection until the peer closes it.
fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut content_length = 0usize;
        let mut close = request_line.trim_end().ends_with("HTTP/1.0");
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
                if name == "content-length" {
                    content_length = value.parse().unwrap_or(0);
                } else if name == "connection" {
                    close = value.eq_ignore_ascii_case("close");
                }
            }
        }
        let mut body = vec![0u8; content_length];
        reader.read_exact(&mut body)?;
        let request = String::from_utf8_lossy(&body).into_owned();

        let response = handler::handle(request);

        write!(
            writer,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{}\r\n",
            response.len(),
            if close { "Connection: close\r\n" } else { "" }
        )?;
        writer.write_all(response.as_bytes())?;
        writer.flush()?;
        if close {
            return Ok(());
        }
    }
}
