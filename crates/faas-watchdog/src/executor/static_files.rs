//! `static` mode: serves the files under `static_path` (index files, ranges, content types
//! and path-traversal safety come from tower-http's `ServeDir`).

use std::convert::Infallible;
use std::path::Path;

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tower_http::services::ServeDir;
use tower_service::Service;

use crate::body::{BoxError, ResponseBody};

/// Serves a directory.
pub struct StaticExecutor {
    files: ServeDir,
}

impl StaticExecutor {
    pub fn new(root: &Path) -> StaticExecutor {
        StaticExecutor {
            files: ServeDir::new(root).append_index_html_on_directories(true),
        }
    }

    pub async fn call(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        let mut files = self.files.clone();
        let answer: Result<_, Infallible> = files.call(request).await;
        match answer {
            Ok(response) => response.map(|b| b.map_err(|e| Box::new(e) as BoxError).boxed_unsync()),
            Err(never) => match never {},
        }
    }
}
