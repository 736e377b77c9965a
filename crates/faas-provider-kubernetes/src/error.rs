//! Kubernetes API errors as OpenFaaS statuses: 404 unknown, 409 taken, 400 with the API
//! server's message for what it rejects, 503 with the reason when it cannot be reached.

use faas_provider::ProviderError;

/// What the provider was doing, for the error's text (`"deployment hello.openfaas-fn"`).
pub(crate) fn api_error(what: &str, err: kube::Error) -> ProviderError {
    match err {
        kube::Error::Api(status) => match status.code {
            404 => ProviderError::NotFound(format!("{what} not found")),
            409 if status.reason == "AlreadyExists" => {
                ProviderError::Conflict(format!("{what} already exists"))
            }
            409 => ProviderError::Conflict(format!("{what}: {}", status.message)),
            400 | 422 => ProviderError::Invalid(format!(
                "the Kubernetes API server rejected {what}: {}",
                status.message
            )),
            401 | 403 => ProviderError::Unavailable(format!(
                "the Kubernetes API server refused {what} (check faasd's RBAC): {}",
                status.message
            )),
            code => ProviderError::Unavailable(format!(
                "the Kubernetes API server failed on {what} ({code}): {}",
                status.message
            )),
        },
        kube::Error::SerdeError(err) => ProviderError::Internal(format!(
            "unexpected answer from the Kubernetes API server for {what}: {err}"
        )),
        other => ProviderError::Unavailable(format!(
            "cannot reach the Kubernetes API server for {what}: {other}"
        )),
    }
}

/// True when the API server answered 404.
pub(crate) fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}

/// True when the API server answered 409 (resourceVersion conflict or name taken).
pub(crate) fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 409)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status {
                code,
                reason: reason.to_owned(),
                message: message.to_owned(),
                ..kube::core::Status::default()
            }
            .boxed(),
        )
    }

    #[test]
    fn statuses_map_to_openfaas_ones() {
        let cases = [
            (api(404, "NotFound", "x"), 404),
            (api(409, "AlreadyExists", "x"), 409),
            (api(409, "Conflict", "modified"), 409),
            (api(422, "Invalid", "metadata.name: Invalid value"), 400),
            (api(400, "BadRequest", "bad"), 400),
            (api(403, "Forbidden", "no"), 503),
            (api(500, "InternalError", "boom"), 503),
        ];
        for (err, status) in cases {
            let mapped = api_error("deployment hello.openfaas-fn", err);
            let got = match mapped {
                ProviderError::NotFound(_) => 404,
                ProviderError::Conflict(_) => 409,
                ProviderError::Invalid(_) => 400,
                ProviderError::Unavailable(_) => 503,
                ProviderError::Internal(_) => 500,
            };
            assert_eq!(got, status);
        }
    }

    #[test]
    fn the_api_servers_message_is_kept_for_400() {
        let err = api_error(
            "deployment Bad.openfaas-fn",
            api(422, "Invalid", "metadata.name: Invalid value: \"Bad\""),
        );
        assert!(
            err.to_string().contains("metadata.name: Invalid value"),
            "{err}"
        );
    }
}
