//! The ways a call reaches the function: forked per call, proxied to a long-running process, or
//! served from files.

pub mod fork;
pub mod http;
pub mod static_files;

use std::sync::Arc;
use std::time::Duration;

use ::http::{Request, Response};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::config::{Config, Mode};

/// The executor chosen by `mode`.
pub enum Executor {
    Fork(fork::ForkExecutor),
    Http(Box<http::HttpExecutor>),
    Static(static_files::StaticExecutor),
}

impl Executor {
    /// Builds the executor; in `http` mode this starts `fprocess`.
    pub fn start(config: Arc<Config>) -> Executor {
        match config.mode {
            Mode::Classic | Mode::Streaming | Mode::Serializing => {
                Executor::Fork(fork::ForkExecutor::new(config))
            }
            Mode::Http => Executor::Http(Box::new(http::HttpExecutor::start(config))),
            Mode::Static => {
                Executor::Static(static_files::StaticExecutor::new(&config.static_path))
            }
        }
    }

    /// Resolves when calls can be answered.
    pub async fn wait_ready(&self) {
        if let Executor::Http(proxy) = self {
            proxy.wait_ready().await;
        }
    }

    /// Answers one call; `slot` is the inbound connection's upstream connection (http mode).
    pub async fn call(
        &self,
        request: Request<Incoming>,
        slot: &http::UpstreamSlot,
    ) -> Response<ResponseBody> {
        match self {
            Executor::Fork(fork) => fork.call(request).await,
            Executor::Http(proxy) => proxy.call(request, slot).await,
            Executor::Static(files) => files.call(request).await,
        }
    }

    /// The upstream's own readiness, where it has a `ready_path`.
    pub async fn upstream_ready(&self) -> Option<bool> {
        match self {
            Executor::Http(proxy) => proxy.upstream_ready().await,
            _ => None,
        }
    }

    /// Stops any long-running process.
    pub async fn stop(&self, grace: Duration) {
        if let Executor::Http(proxy) = self {
            proxy.stop(grace).await;
        }
    }
}
