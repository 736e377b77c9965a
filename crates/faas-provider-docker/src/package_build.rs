//! Server-side builds: a package uploaded to `PUT /system/packages/NAME:TAG` (the tar.gz
//! faas-cli makes, whose root holds the template's Dockerfile and the handler) is built into
//! the image `NAME:TAG` by the engine itself (the classic builder, which reads a gzip-ed build
//! context as it is), so a team needs neither a registry nor Docker on the laptop. The image
//! carries this server's owner label and the package's digest.

use std::collections::HashMap;
use std::time::Duration;

use bollard::query_parameters::{BuildImageOptions, ListImagesOptions};
use bytes::Bytes;
use faas_provider::{PackageInfo, ProviderError};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::spec::label;

/// How long one build may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);
/// The label holding the uploaded package's digest.
const PACKAGE_DIGEST: &str = "com.rustfaas.package-digest";

/// `name` or `name:tag` as an image reference with a tag (`latest` when none).
fn reference(image: &str) -> Result<String, ProviderError> {
    let valid = !image.is_empty()
        && image.len() <= 255
        && image
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:".contains(&b))
        && !image.starts_with(['.', '-', '/', ':']);
    if !valid {
        return Err(ProviderError::Invalid(format!(
            "{image:?} is not an image name: use lower-case name[:tag], e.g. hello:latest"
        )));
    }
    let has_tag = image
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'));
    Ok(if has_tag {
        image.to_owned()
    } else {
        format!("{image}:latest")
    })
}

/// Builds the package's Dockerfile into `image`.
pub(crate) async fn build(
    engine: &Engine,
    owner: &str,
    image: &str,
    archive: Bytes,
) -> Result<PackageInfo, ProviderError> {
    let image = reference(image)?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&archive)));
    let size = archive.len() as u64;
    let options = BuildImageOptions {
        t: Some(image.clone()),
        rm: true,
        forcerm: true,
        labels: Some(HashMap::from([
            (label::OWNER.to_owned(), owner.to_owned()),
            (PACKAGE_DIGEST.to_owned(), digest.clone()),
        ])),
        ..Default::default()
    };
    let docker = engine.raw().await?;
    let building = async {
        let mut steps = docker.build_image(options, None, Some(bollard::body_full(archive)));
        let mut log: Vec<String> = Vec::new();
        while let Some(step) = steps.next().await {
            match step {
                Ok(info) => {
                    if let Some(text) = info.stream {
                        log.extend(text.lines().map(str::to_owned));
                        let keep = log.len().saturating_sub(20);
                        log.drain(..keep);
                    }
                    if let Some(detail) = info.error_detail {
                        let message = detail.message.unwrap_or_default();
                        return Err(failed(&image, &message, &log));
                    }
                }
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    return Err(failed(&image, &error, &log))
                }
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 400 | 500,
                    message,
                }) => return Err(failed(&image, &message, &log)),
                Err(err) => return Err(engine.error(&format!("build {image}"), err)),
            }
        }
        Ok(())
    };
    tokio::time::timeout(BUILD_TIMEOUT, building)
        .await
        .map_err(|_| {
            ProviderError::Unavailable(format!(
                "building {image} took longer than {BUILD_TIMEOUT:?}"
            ))
        })??;
    tracing::info!(%image, %digest, "package built into an image");
    Ok(PackageInfo {
        image,
        digest,
        size,
    })
}

fn failed(image: &str, message: &str, log: &[String]) -> ProviderError {
    ProviderError::Invalid(format!(
        "building {image} from the package failed: {message} (the package's root needs a Dockerfile that builds with the engine's local images)\n{}",
        log.join("\n")
    ))
}

/// Images this server built from packages.
pub(crate) async fn list(engine: &Engine, owner: &str) -> Result<Vec<PackageInfo>, ProviderError> {
    let docker = engine.raw().await?;
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![format!("{}={owner}", label::OWNER)],
    )]);
    let images = docker
        .list_images(Some(ListImagesOptions {
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|e| engine.error("list images", e))?;
    let mut packages = Vec::new();
    for image in images {
        let digest = image
            .labels
            .get(PACKAGE_DIGEST)
            .cloned()
            .unwrap_or_default();
        for tag in image.repo_tags {
            packages.push(PackageInfo {
                image: tag,
                digest: digest.clone(),
                size: u64::try_from(image.size).unwrap_or(0),
            });
        }
    }
    packages.sort_by(|a, b| a.image.cmp(&b.image));
    Ok(packages)
}

#[cfg(test)]
mod tests {
    #[test]
    fn references() {
        assert_eq!(super::reference("hello").unwrap(), "hello:latest");
        assert_eq!(super::reference("hello:1").unwrap(), "hello:1");
        assert_eq!(
            super::reference("127.0.0.1:5000/hello").unwrap(),
            "127.0.0.1:5000/hello:latest"
        );
        assert!(super::reference("Hello").is_err());
        assert!(super::reference("").is_err());
        assert!(super::reference("a b").is_err());
    }
}
