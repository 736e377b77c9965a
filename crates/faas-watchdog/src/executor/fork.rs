//! Fork-per-call modes: `classic`, `serializing` and `streaming`.
//!
//! The request body is streamed to the process's stdin as it arrives. `classic` and
//! `serializing` buffer stdout and answer when the process exits (500 with the exit status on
//! failure, 408 when `exec_timeout` kills it). `streaming` sends a 200 at once and streams stdout
//! to the caller as it is written, holding only a few chunks in memory.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::body::{self, BoxError, ResponseBody};
use crate::config::{Config, Mode};
use crate::process::{describe_exit, GroupKiller, LogRelay};
use crate::{cgi_env, log_line};

const CHUNK: usize = 64 * 1024;

/// Runs `fprocess` once per call.
pub struct ForkExecutor {
    config: Arc<Config>,
    relay: LogRelay,
    /// `fprocess`'s program, looked up in `PATH` once.
    program: PathBuf,
}

/// What the process wrote and how it ended, for the buffered modes.
struct Finished {
    output: Vec<u8>,
    status: std::process::ExitStatus,
}

enum Failure {
    TimedOut,
    Spawn(std::io::Error),
    TooLarge(usize),
    Io(std::io::Error),
}

impl ForkExecutor {
    pub fn new(config: Arc<Config>) -> ForkExecutor {
        let relay = LogRelay {
            prefix: config.prefix_logs,
            max_line: config.log_buffer_size,
        };
        let program = find_program(
            &config.process[0],
            std::env::var_os("PATH").as_deref().unwrap_or_default(),
        );
        ForkExecutor {
            config,
            relay,
            program,
        }
    }

    pub async fn call(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        let started = Instant::now();
        let timeout = effective_timeout(self.config.exec_timeout, &request);
        match self.config.mode {
            Mode::Streaming => self.streaming(request, started, timeout).await,
            _ => self.buffered(request, started, timeout).await,
        }
    }

    fn command(&self, parts: &http::request::Parts) -> Command {
        let argv = &self.config.process;
        let mut command = Command::new(&self.program);
        // The program's own name as argv[0], as a shell would pass it.
        command.arg0(&argv[0]);
        command
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .process_group(0);
        if self.config.cgi_headers {
            command.envs(cgi_env::request_env(parts));
        }
        command
    }

    async fn buffered(
        &self,
        request: Request<Incoming>,
        started: Instant,
        timeout: Option<Duration>,
    ) -> Response<ResponseBody> {
        let (parts, incoming) = request.into_parts();
        let caller_type = parts.headers.get(http::header::CONTENT_TYPE).cloned();
        let input = if self.config.marshal_request {
            match body::collect_capped(incoming, self.config.request_buffer_limit).await {
                Ok(bytes) => Input::Bytes(marshal_request(&parts, &bytes)),
                Err(answer) => return answer,
            }
        } else {
            Input::Stream(incoming)
        };
        let mut command = self.command(&parts);
        log_line!("Forking fprocess.");
        let result = self.run_buffered(&mut command, input, timeout).await;
        drop(command);
        let took = started.elapsed().as_secs_f64();
        match result {
            Ok(Finished { output, status }) if status.success() => {
                self.log_output(&output, took);
                let mut response = Response::new(body::full(output));
                let content_type = self
                    .config
                    .content_type
                    .as_ref()
                    .and_then(|t| HeaderValue::from_str(t).ok())
                    .or(caller_type);
                if let Some(content_type) = content_type {
                    response
                        .headers_mut()
                        .insert(http::header::CONTENT_TYPE, content_type);
                }
                insert_duration(&mut response, took);
                response
            }
            Ok(Finished { output, status }) => {
                let reason = describe_exit(status);
                if self.config.write_debug {
                    log_line!("Success=false, Error={reason}");
                    log_line!("Out={}", String::from_utf8_lossy(&output));
                }
                log_line!("{reason} - Duration: {took:.6}s");
                let mut text = Vec::with_capacity(reason.len() + 1 + output.len());
                text.extend_from_slice(reason.as_bytes());
                text.push(b'\n');
                text.extend_from_slice(&output);
                let mut response = Response::new(body::full(text));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                insert_duration(&mut response, took);
                response
            }
            Err(Failure::TimedOut) => {
                log_line!("Killing process: {}", self.config.process.join(" "));
                body::text(StatusCode::REQUEST_TIMEOUT, "Killed process.\n")
            }
            Err(Failure::Spawn(err)) => {
                log_line!("cannot start fprocess {:?}: {err}", self.config.process[0]);
                body::text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "cannot start fprocess {:?}: {err}\n",
                        self.config.process[0]
                    ),
                )
            }
            Err(Failure::TooLarge(limit)) => {
                log_line!("function output exceeded {limit} bytes; process killed");
                body::text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "function output exceeded {limit} bytes (response_buffer_limit); process killed\n"
                    ),
                )
            }
            Err(Failure::Io(err)) => body::text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("error talking to fprocess: {err}\n"),
            ),
        }
    }

    fn log_output(&self, output: &[u8], took: f64) {
        if self.config.write_debug {
            use std::io::Write;
            let _ = std::io::stdout().write_all(output);
            log_line!("Duration: {took:.6}s");
        } else {
            log_line!("Wrote {} Bytes - Duration: {took:.6}s", output.len());
        }
    }

    async fn run_buffered(
        &self,
        command: &mut Command,
        input: Input,
        timeout: Option<Duration>,
    ) -> Result<Finished, Failure> {
        let combine = self.config.combine_output && self.config.mode == Mode::Classic;
        let merged_reader = if combine {
            let (reader, writer) = std::io::pipe().map_err(Failure::Spawn)?;
            let writer_copy = writer.try_clone().map_err(Failure::Spawn)?;
            command.stdout(writer_copy).stderr(writer);
            Some(reader)
        } else {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
            None
        };
        let mut child = command.spawn().map_err(Failure::Spawn)?;
        // The command holds the pipe's write ends: close ours so EOF comes when the child's do.
        command.stdout(Stdio::null()).stderr(Stdio::null());
        let mut killer = GroupKiller::new(child.id());
        let limit = self.config.response_buffer_limit;
        let killer_ref = &killer;

        let stdout: Box<dyn AsyncRead + Unpin + Send> = match merged_reader {
            Some(reader) => {
                let fd: OwnedFd = reader.into();
                Box::new(tokio::net::unix::pipe::Receiver::from_owned_fd(fd).map_err(Failure::Io)?)
            }
            None => Box::new(child.stdout.take().ok_or_else(missing_pipe)?),
        };
        let stderr = child.stderr.take();
        let stdin = child.stdin.take();
        let relay = self.relay;

        let work = async {
            let feed = feed_stdin(input, stdin);
            let read = async {
                let read = read_limited(stdout, limit).await;
                if read.is_err() {
                    // Stop a flooding process now, so its stdin and stderr close too.
                    killer_ref.signal(nix::sys::signal::Signal::SIGKILL);
                }
                read
            };
            let logs = async {
                if let Some(stderr) = stderr {
                    relay.relay(stderr, "stderr").await;
                }
            };
            let (_, output, _) = tokio::join!(feed, read, logs);
            let output = output?;
            let status = child.wait().await.map_err(Failure::Io)?;
            Ok::<_, Failure>(Finished { output, status })
        };
        let result = match timeout {
            Some(limit) => match tokio::time::timeout(limit, work).await {
                Ok(result) => result,
                Err(_) => Err(Failure::TimedOut),
            },
            None => work.await,
        };
        match result {
            Ok(finished) => {
                killer.disarm();
                Ok(finished)
            }
            Err(failure) => {
                killer.kill();
                Err(failure)
            }
        }
    }

    async fn streaming(
        &self,
        request: Request<Incoming>,
        started: Instant,
        timeout: Option<Duration>,
    ) -> Response<ResponseBody> {
        let (parts, incoming) = request.into_parts();
        let mut command = self.command(&parts);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        log_line!("Forking fprocess.");
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                log_line!("cannot start fprocess {:?}: {err}", self.config.process[0]);
                return body::text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "cannot start fprocess {:?}: {err}\n",
                        self.config.process[0]
                    ),
                );
            }
        };
        drop(command);
        let killer = GroupKiller::new(child.id());
        let stdin = child.stdin.take();
        tokio::spawn(feed_stdin(Input::Stream(incoming), stdin));
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(self.relay.relay(stderr, "stderr"));
        }
        let (sender, receiver) = mpsc::channel(4);
        let deadline = timeout.map(|t| tokio::time::Instant::from_std(started + t));
        tokio::spawn(pump_stdout(child, killer, sender, deadline, started));

        let mut response = Response::new(body::ResponseBody::new(ChannelBody { receiver }));
        if let Some(content_type) = self
            .config
            .content_type
            .as_ref()
            .and_then(|t| HeaderValue::from_str(t).ok())
        {
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, content_type);
        }
        response
    }
}

/// Copies a streaming child's stdout into the response channel, then reaps it and logs.
async fn pump_stdout(
    mut child: Child,
    mut killer: GroupKiller,
    sender: mpsc::Sender<Result<Frame<Bytes>, BoxError>>,
    deadline: Option<tokio::time::Instant>,
    started: Instant,
) {
    let Some(mut stdout) = child.stdout.take() else {
        return;
    };
    let mut written: u64 = 0;
    let copy = async {
        loop {
            let mut chunk = BytesMut::with_capacity(CHUNK);
            match stdout.read_buf(&mut chunk).await {
                Ok(0) => return true,
                Ok(n) => {
                    written += n as u64;
                    if sender.send(Ok(Frame::data(chunk.freeze()))).await.is_err() {
                        return false; // the caller went away
                    }
                }
                Err(_) => return true,
            }
        }
    };
    let completed = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, copy).await.ok(),
        None => Some(copy.await),
    };
    let took = started.elapsed().as_secs_f64();
    match completed {
        Some(true) => {
            let waited = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, child.wait()).await.ok(),
                None => Some(child.wait().await),
            };
            match waited {
                Some(Ok(status)) => {
                    killer.disarm();
                    if !status.success() {
                        log_line!("{} - Duration: {took:.6}s", describe_exit(status));
                    }
                    log_line!("Wrote {written} Bytes - Duration: {took:.6}s");
                }
                _ => {
                    killer.kill();
                    log_line!("Killing process: exec_timeout passed after {took:.6}s");
                    let _ = child.wait().await;
                }
            }
        }
        Some(false) => {
            killer.kill();
            let _ = child.wait().await;
            log_line!(
                "caller went away; process killed after {written} Bytes - Duration: {took:.6}s"
            );
        }
        None => {
            killer.kill();
            let _ = child.wait().await;
            log_line!(
                "Killing process: exec_timeout passed after {took:.6}s, Wrote {written} Bytes"
            );
            let _ = sender
                .send(Err(Box::<dyn std::error::Error + Send + Sync>::from(
                    "exec_timeout passed",
                )))
                .await;
        }
    }
}

/// The response body of a streaming call: frames sent by [`pump_stdout`].
struct ChannelBody {
    receiver: mpsc::Receiver<Result<Frame<Bytes>, BoxError>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.receiver.poll_recv(cx)
    }
}

enum Input {
    Stream(Incoming),
    Bytes(Vec<u8>),
}

/// Writes the request body to the child's stdin, then closes it. A child that stops reading
/// early (broken pipe) is not an error: the rest of the body is discarded.
async fn feed_stdin(input: Input, stdin: Option<ChildStdin>) {
    let Some(mut stdin) = stdin else { return };
    match input {
        Input::Bytes(bytes) => {
            let _ = stdin.write_all(&bytes).await;
        }
        Input::Stream(mut incoming) => {
            while let Some(frame) = incoming.frame().await {
                let Ok(frame) = frame else { break };
                if let Ok(data) = frame.into_data() {
                    if stdin.write_all(&data).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    let _ = stdin.shutdown().await;
}

async fn read_limited(
    mut stream: impl AsyncRead + Unpin,
    limit: usize,
) -> Result<Vec<u8>, Failure> {
    let mut output = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = stream.read(&mut chunk).await.map_err(Failure::Io)?;
        if n == 0 {
            return Ok(output);
        }
        if output.len() + n > limit {
            return Err(Failure::TooLarge(limit));
        }
        output.extend_from_slice(&chunk[..n]);
    }
}

fn missing_pipe() -> Failure {
    Failure::Io(std::io::Error::other("child has no stdout pipe"))
}

fn insert_duration(response: &mut Response<ResponseBody>, took: f64) {
    if let Ok(value) = HeaderValue::from_str(&format!("{took:.6}")) {
        response.headers_mut().insert("X-Duration-Seconds", value);
    }
}

/// Where `PATH` finds `program` (a name without `/`), looked up once instead of by every call's
/// exec: each directory before the right one costs a failed `execve`. A name with a `/`, or
/// one `PATH` does not have now, is left as it is, to be looked up (or reported missing) when
/// it runs.
fn find_program(program: &str, path: &std::ffi::OsStr) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    if program.contains('/') {
        return PathBuf::from(program);
    }
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| PathBuf::from(program))
}

const X_TIMEOUT: http::HeaderName = http::HeaderName::from_static("x-timeout");

/// `exec_timeout`, shortened by a request's `X-Timeout` header (of-watchdog).
pub fn effective_timeout<B>(configured: Duration, request: &Request<B>) -> Option<Duration> {
    let asked = request
        .headers()
        .get(X_TIMEOUT)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::duration::parse)
        .filter(|d| !d.is_zero());
    match (configured.is_zero(), asked) {
        (true, asked) => asked,
        (false, Some(asked)) => Some(asked.min(configured)),
        (false, None) => Some(configured),
    }
}

/// The classic watchdog's `marshal_request` envelope:
/// `{"header":{"header":{..}},"body":{"raw":"<base64>"}}`.
fn marshal_request(parts: &http::request::Parts, body: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let mut headers = serde_json::Map::new();
    for name in parts.headers.keys() {
        let values: Vec<serde_json::Value> = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| serde_json::Value::String(v.to_string()))
            .collect();
        headers.insert(
            cgi_env::canonical_env_name(name.as_str()).replace('_', "-"),
            serde_json::Value::Array(values),
        );
    }
    let envelope = serde_json::json!({
        "header": { "header": headers },
        "body": { "raw": base64::engine::general_purpose::STANDARD.encode(body) },
    });
    serde_json::to_vec(&envelope).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    #[test]
    fn programs_are_found_in_path_once() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("data"), "").unwrap();
        let dirs = [
            Path::new("relative/dir"),
            Path::new("/nonexistent"),
            dir.path(),
        ];
        let path = std::env::join_paths(dirs).unwrap();
        assert_eq!(find_program("tool", &path), tool);
        assert_eq!(find_program("data", &path), PathBuf::from("data"));
        assert_eq!(find_program("missing", &path), PathBuf::from("missing"));
        assert_eq!(find_program("./tool", &path), PathBuf::from("./tool"));
    }
}
