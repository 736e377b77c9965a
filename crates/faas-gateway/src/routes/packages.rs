//! Function packages (our addition to OpenFaaS's API): `PUT`/`POST /system/packages/{name}`
//! (`name` may be a repository path such as `me/hello`) stores a raw tar.gz body as `name:tag` (tag from `name:tag`, else `?tag=`, else `latest`),
//! usable as a deployment's `image`; `GET /system/packages` lists them.

use axum::extract::{Path, Request, State};
use axum::Json;
use faas_provider::PackageInfo;
use faas_types::validate::validate_function_name;
use http::StatusCode;
use serde::Deserialize;

use super::read_body;
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
    let archive = read_body(&parts.headers, body, state.config.max_package_bytes).await?;
    if archive.is_empty() {
        return Err(GatewayError::BadRequest(
            "the package body is empty: send a tar.gz".to_owned(),
        ));
    }
    let info = state.provider.put_package(&image, archive).await?;
    Ok((StatusCode::CREATED, Json(info)))
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
