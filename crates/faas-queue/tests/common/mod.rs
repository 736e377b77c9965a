//! Shared test harness: a scripted [`Invoker`], a callback receiver on a real socket, queue
//! openers, and the queue scenarios every backend must pass.
#![allow(dead_code)]

pub mod scenarios;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use faas_queue::{InvokeError, InvokeResponse, Invoker, QueuedCall};

/// What the fake function answers: given the call and how many times this call id was
/// invoked before (0 the first time).
pub type Script = dyn Fn(&QueuedCall, u32) -> Result<InvokeResponse, InvokeError> + Send + Sync;

/// One invocation the fake saw.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub id: String,
    pub queue: String,
    pub attempt: u32,
    pub at: Instant,
}

/// A fake function: answers by a script, optionally after a delay, and records every call and
/// the most calls running at once per queue.
pub struct ScriptedInvoker {
    script: Box<Script>,
    delay: Duration,
    seen: Mutex<Vec<Invocation>>,
    running: Mutex<HashMap<String, (usize, usize)>>,
}

pub fn ok(status: u16, body: &str) -> Result<InvokeResponse, InvokeError> {
    Ok(InvokeResponse {
        status,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: Bytes::from(body.to_string()),
    })
}

impl ScriptedInvoker {
    pub fn new(
        script: impl Fn(&QueuedCall, u32) -> Result<InvokeResponse, InvokeError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Self::with_delay(Duration::ZERO, script)
    }

    pub fn with_delay(
        delay: Duration,
        script: impl Fn(&QueuedCall, u32) -> Result<InvokeResponse, InvokeError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(ScriptedInvoker {
            script: Box::new(script),
            delay,
            seen: Mutex::new(Vec::new()),
            running: Mutex::new(HashMap::new()),
        })
    }

    pub fn invocations(&self) -> Vec<Invocation> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// The most calls from `queue` that ran at once.
    pub fn max_running(&self, queue: &str) -> usize {
        self.running
            .lock()
            .unwrap()
            .get(queue)
            .map_or(0, |(_, max)| *max)
    }
}

#[async_trait]
impl Invoker for ScriptedInvoker {
    async fn invoke(&self, call: &QueuedCall) -> Result<InvokeResponse, InvokeError> {
        let nth = {
            let mut seen = self.seen.lock().unwrap();
            let nth = seen.iter().filter(|i| i.id == call.id).count() as u32;
            seen.push(Invocation {
                id: call.id.clone(),
                queue: call.queue.clone(),
                attempt: call.attempt,
                at: Instant::now(),
            });
            nth
        };
        {
            let mut running = self.running.lock().unwrap();
            let entry = running.entry(call.queue.clone()).or_default();
            entry.0 += 1;
            entry.1 = entry.1.max(entry.0);
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.running.lock().unwrap().get_mut(&call.queue).unwrap().0 -= 1;
        (self.script)(call, nth)
    }
}

/// One post the callback receiver got.
#[derive(Clone, Debug)]
pub struct Posted {
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub at: Instant,
}

impl Posted {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct ReceiverState {
    posts: Vec<Posted>,
    /// Statuses to answer, in order; 200 once they run out.
    statuses: VecDeque<u16>,
}

/// An HTTP server on 127.0.0.1 that records callback posts.
pub struct CallbackReceiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
    server: tokio::task::JoinHandle<()>,
}

impl CallbackReceiver {
    pub async fn start() -> Self {
        Self::answering(&[]).await
    }

    /// Answers the given statuses first, then 200.
    pub async fn answering(statuses: &[u16]) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            posts: Vec::new(),
            statuses: statuses.iter().copied().collect(),
        }));
        let handler_state = state.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let state = handler_state.clone();
            async move {
                let headers = request
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect();
                let body = axum::body::to_bytes(request.into_body(), usize::MAX)
                    .await
                    .unwrap_or_default();
                let mut state = state.lock().unwrap();
                state.posts.push(Posted {
                    headers,
                    body,
                    at: Instant::now(),
                });
                let status = state.statuses.pop_front().unwrap_or(200);
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CallbackReceiver {
            addr,
            state,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/cb", self.addr)
    }

    pub fn posts(&self) -> Vec<Posted> {
        self.state.lock().unwrap().posts.clone()
    }

    /// Waits until `n` posts arrived, or panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Posted> {
        let deadline = Instant::now() + timeout;
        loop {
            let posts = self.posts();
            if posts.len() >= n {
                return posts;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} callback posts within {timeout:?}, got {}",
                posts.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for CallbackReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Polls `check` every 10 ms until it holds, or panics with `what` after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A call to `function` on `queue`.
pub fn call_on(queue: &str, function: &str) -> QueuedCall {
    let mut call = QueuedCall::new(function, "openfaas-fn");
    call.queue = queue.to_string();
    call.body = Bytes::from(format!("body of {}", call.id));
    call
}
