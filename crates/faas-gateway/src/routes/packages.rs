//! Function packages (our addition to OpenFaaS's API): `PUT`/`POST /system/packages/{name}`
//! (`name` may be a repository path such as `me/hello`) stores a raw tar.gz body as `name:tag` (tag from `name:tag`, else `?tag=`, else `latest`),
//! usable as a deployment's `image`; `GET /system/packages` lists them.

use axum::extract::{Path, Request, State};
use axum::Json;
use faas_provider::PackageInfo;
use faas_types::validate::validate_function_name;
use http::StatusCode;
use serde::Deserialize;

use crate::error::{GatewayError, GatewayResult};
use crate::server::AppState;

/// Tag used when none is given.
pub const DEFAULT_TAG: &str = "latest";

#[derive(Deserialize)]
struct TagQuery {
    tag: Option<String>,
}

/// `GET /system/packages`.
pub(crate) async fn list(State(state): State<AppState>) -> GatewayResult<Json<Vec<PackageInfo>>> {
    Ok(Json(state.provider.list_packages().await?))
}

/// `PUT`/`POST /system/packages/{name[:tag]}[?tag=]`: 201 with the stored package.
pub(crate) async fn upload(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> GatewayResult<(StatusCode, Json<PackageInfo>)> {
    let query_tag = axum::extract::Query::<TagQuery>::try_from_uri(request.uri())
        .map_err(|err| GatewayError::BadRequest(format!("invalid query string: {err}")))?
        .0
        .tag
        .filter(|t| !t.is_empty());
    let image = image_reference(&name, query_tag.as_deref())?;
    let (parts, body) = request.into_parts();
    let staged = stage_upload(&state, &parts.headers, body).await?;
    let info = state.provider.put_package_file(&image, &staged).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// How much an upload may be, and unpack to.
#[derive(Clone, Copy, Debug)]
struct UploadLimits {
    /// Bytes of the upload (the compressed archive).
    upload: u64,
    /// Bytes of its decompressed tar stream.
    unpacked: u64,
    /// Decompressed bytes per compressed byte (checked past the first MiB).
    ratio: u64,
}

/// Decompressed bytes below which the ratio is not checked: small archives of text or zeros
/// compress far and harm no one.
const RATIO_FLOOR: u64 = 1 << 20;

/// Streams the request body into a temporary file in the provider's staging directory,
/// decompressing it on the way to count what it unpacks to: 413 past any limit, before
/// anything is stored. The file is removed when the returned handle drops (unless the
/// provider moved it into its store).
async fn stage_upload(
    state: &AppState,
    headers: &http::HeaderMap,
    body: axum::body::Body,
) -> GatewayResult<tempfile::TempPath> {
    let limits = UploadLimits {
        upload: state.config.max_package_bytes as u64,
        unpacked: state.config.max_package_unpacked_bytes,
        ratio: state.config.max_package_ratio,
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = body.into_data_stream();
    if let Some(declared) = declared.filter(|len| *len > limits.upload) {
        drain(&mut body, declared.min(limits.upload.saturating_mul(2))).await;
        return Err(too_large_upload(limits.upload));
    }
    let dir = state
        .provider
        .package_staging_dir()
        .unwrap_or_else(std::env::temp_dir);
    let internal = |err: std::io::Error| {
        GatewayError::Provider(faas_provider::ProviderError::Internal(format!(
            "cannot stage the upload in {}: {err}",
            dir.display()
        )))
    };
    let staged = tempfile::Builder::new()
        .prefix(".tmp-upload-")
        .tempfile_in(&dir)
        .map_err(internal)?;
    let (file, path) = staged.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut meter = UnpackMeter::new(limits);
    while let Some(chunk) = futures_util::StreamExt::next(&mut body).await {
        let chunk = chunk.map_err(|err| {
            GatewayError::BadRequest(format!("cannot read the request body: {err}"))
        })?;
        if let Err(err) = meter.feed(&chunk) {
            drain(&mut body, limits.upload.saturating_sub(meter.uploaded)).await;
            return Err(err);
        }
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .map_err(internal)?;
    }
    if meter.uploaded == 0 {
        return Err(GatewayError::BadRequest(
            "the package body is empty: send a tar.gz".to_owned(),
        ));
    }
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(internal)?;
    Ok(path)
}

/// Reads and drops up to `most` more bytes of a refused upload (10 s at most), so the client,
/// still sending, reads the 413 instead of a reset connection.
async fn drain(body: &mut axum::body::BodyDataStream, most: u64) {
    let mut left = most;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = futures_util::StreamExt::next(body).await {
            left = left.saturating_sub(chunk.len() as u64);
            if left == 0 {
                break;
            }
        }
    })
    .await;
}

fn too_large_upload(limit: u64) -> GatewayError {
    GatewayError::TooLarge(format!(
        "the package upload is larger than the limit of {limit} bytes (--max-package-bytes)"
    ))
}

/// Counts an upload and what its gzip stream decompresses to, chunk by chunk.
struct UnpackMeter {
    limits: UploadLimits,
    uploaded: u64,
    /// `None` once the stream is not (or no longer) gzip: the store's own checks then say
    /// what is wrong with it.
    decoder: Option<flate2::write::GzDecoder<Counter>>,
}

/// A sink that only counts, and refuses to take more than `limit` bytes.
struct Counter {
    count: u64,
    limit: u64,
}

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.count += buf.len() as u64;
        if self.count > self.limit {
            return Err(std::io::Error::other(OVER_LIMIT));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const OVER_LIMIT: &str = "unpacked size over the limit";

impl UnpackMeter {
    fn new(limits: UploadLimits) -> UnpackMeter {
        let counter = Counter {
            count: 0,
            limit: limits.unpacked,
        };
        UnpackMeter {
            limits,
            uploaded: 0,
            decoder: Some(flate2::write::GzDecoder::new(counter)),
        }
    }

    fn feed(&mut self, chunk: &[u8]) -> GatewayResult<()> {
        use std::io::Write;
        self.uploaded += chunk.len() as u64;
        if self.uploaded > self.limits.upload {
            return Err(too_large_upload(self.limits.upload));
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(());
        };
        if let Err(err) = decoder.write_all(chunk) {
            if err.to_string() == OVER_LIMIT {
                return Err(GatewayError::TooLarge(format!(
                    "the package unpacks to more than the limit of {} bytes \
                     (--max-package-unpacked-bytes)",
                    self.limits.unpacked
                )));
            }
            self.decoder = None;
            return Ok(());
        }
        let unpacked = decoder.get_ref().count;
        if unpacked > RATIO_FLOOR && unpacked / self.uploaded.max(1) > self.limits.ratio {
            return Err(GatewayError::TooLarge(format!(
                "the package unpacks to more than {} times its size (--max-package-ratio)",
                self.limits.ratio
            )));
        }
        Ok(())
    }
}

/// `name:tag` from the path segment and the query's tag, both validated.
fn image_reference(segment: &str, query_tag: Option<&str>) -> GatewayResult<String> {
    let (name, tag) = match segment.split_once(':') {
        Some((name, tag)) => (name, tag),
        None => (segment, query_tag.unwrap_or(DEFAULT_TAG)),
    };
    // A repository path such as `me/hello` (what `faas-cli new --prefix` makes): every
    // component a DNS label, so no empty, `.` or `..` component can reach the store.
    for component in name.split('/') {
        validate_function_name(component)?;
    }
    if name.split('/').count() > 8 {
        return Err(GatewayError::BadRequest(format!(
            "invalid package name {name:?}: at most 8 path components"
        )));
    }
    if !is_valid_tag(tag) {
        return Err(GatewayError::BadRequest(format!(
            "invalid package tag {tag:?}: must be 1 to 128 letters, digits, '_', '.' or '-', \
             not starting with '.' or '-'"
        )));
    }
    Ok(format!("{name}:{tag}"))
}

/// A Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    matches!(bytes.first(), Some(first) if word(first))
        && bytes.len() <= 128
        && bytes.iter().all(|b| word(b) || matches!(b, b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        assert_eq!(image_reference("hello", None).unwrap(), "hello:latest");
        assert_eq!(image_reference("hello", Some("v1")).unwrap(), "hello:v1");
        assert_eq!(image_reference("hello:v2", Some("v1")).unwrap(), "hello:v2");
        assert!(image_reference("Hello", None).is_err());
        assert!(image_reference("hello:", None).is_err());
        assert!(image_reference("hello:-x", None).is_err());
        assert!(image_reference("../x", None).is_err());
        assert!(image_reference("hello:a/b", None).is_err());
        assert_eq!(image_reference("me/hello:v1", None).unwrap(), "me/hello:v1");
        assert!(image_reference("me//hello", None).is_err());
        assert!(image_reference("me/../hello", None).is_err());
        assert!(image_reference("/hello", None).is_err());
    }
}
