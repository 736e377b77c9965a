//! A minimal hello-world HTTP/1.1 server: the upstream for `fwatchdog`'s http mode in the
//! benchmark (`bench/watchdog.sh`) and in integration tests.
//!
//! Usage: `hello_upstream [PORT]`, or the port in the `port` environment variable. It binds
//! 127.0.0.1 only, answers every request with `200 Hello, world!\n` over keep-alive
//! connections, and prints `listening on 127.0.0.1:<port>` once bound, so a caller that passes
//! port 0 can read the port it got.

use std::convert::Infallible;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const GREETING: &[u8] = b"Hello, world!\n";

fn main() -> ExitCode {
    let text = match std::env::args()
        .nth(1)
        .or_else(|| std::env::var("port").ok())
    {
        Some(text) => text,
        None => {
            eprintln!("hello_upstream: give the port as the first argument or in env `port`");
            return ExitCode::from(2);
        }
    };
    let port: u16 = match text.trim().parse() {
        Ok(port) => port,
        Err(_) => {
            eprintln!("hello_upstream: {text:?} is not a port number (0-65535)");
            return ExitCode::from(2);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("hello_upstream: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hello_upstream: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(port: u16) -> std::io::Result<()> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {bound}")?;
        out.flush()?;
    }

    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                // Out of file descriptors and the like: back off instead of exiting or spinning.
                eprintln!("hello_upstream: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Best effort: a failure here costs latency, not correctness.
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            // Errors are the client's doing (reset, malformed request): drop the connection.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}

async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the request body to its end without keeping it, so the connection stays reusable.
    let mut body = request.into_body();
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
    let mut response = Response::new(Full::new(Bytes::from_static(GREETING)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}
