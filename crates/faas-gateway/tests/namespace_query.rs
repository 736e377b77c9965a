//! The namespace of a `/system` request that takes one: the body's, else `?namespace=` (older
//! OpenFaaS clients send it only there), else `openfaas-fn`; a body and a query string that
//! name different namespaces are a 400.

mod common;

use common::TestApi;
use http::StatusCode;

async fn api_with_dev() -> TestApi {
    let api = TestApi::new();
    let created = api.post("/system/namespace/dev", "").await;
    assert!(created.status.is_success(), "{}", created.text());
    api
}

#[tokio::test]
async fn functions_take_the_namespace_from_the_query_string() {
    let api = api_with_dev().await;
    let deployed = api
        .post(
            "/system/functions?namespace=dev",
            r#"{"service":"figlet","image":"functions/figlet:1"}"#,
        )
        .await;
    assert_eq!(deployed.status, StatusCode::ACCEPTED, "{}", deployed.text());
    assert!(api.provider.function("dev", "figlet").is_some());
    assert!(api.provider.function("openfaas-fn", "figlet").is_none());

    let updated = api
        .put(
            "/system/functions?namespace=dev",
            r#"{"service":"figlet","image":"functions/figlet:2"}"#,
        )
        .await;
    assert_eq!(updated.status, StatusCode::ACCEPTED, "{}", updated.text());
    assert_eq!(
        api.provider.function("dev", "figlet").unwrap().image,
        "functions/figlet:2"
    );

    let scaled = api
        .post(
            "/system/scale-function/figlet?namespace=dev",
            r#"{"serviceName":"figlet","replicas":3}"#,
        )
        .await;
    assert_eq!(scaled.status, StatusCode::ACCEPTED, "{}", scaled.text());
    assert_eq!(api.provider.function("dev", "figlet").unwrap().replicas, 3);

    // What faas-cli 0.13 and older send: the name in the body, the namespace in the query.
    let deleted = api
        .delete(
            "/system/functions?namespace=dev",
            r#"{"functionName":"figlet"}"#,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.text());
    assert!(api.provider.function("dev", "figlet").is_none());
}

#[tokio::test]
async fn the_body_namespace_counts_and_the_default_is_openfaas_fn() {
    let api = api_with_dev().await;
    let answer = api
        .post(
            "/system/functions",
            r#"{"service":"a","image":"x","namespace":"dev"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert!(api.provider.function("dev", "a").is_some());
    let answer = api
        .post("/system/functions", r#"{"service":"b","image":"x"}"#)
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert!(api.provider.function("openfaas-fn", "b").is_some());
    // The same namespace in both places is fine.
    let answer = api
        .delete(
            "/system/functions?namespace=dev",
            r#"{"functionName":"a","namespace":"dev"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    // An empty query value means absent.
    let answer = api
        .delete("/system/functions?namespace=", r#"{"functionName":"b"}"#)
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(api.provider.function_count(), 0);
}

#[tokio::test]
async fn a_body_and_a_query_that_disagree_are_refused() {
    let api = api_with_dev().await;
    api.post("/system/functions", r#"{"service":"figlet","image":"x"}"#)
        .await;
    let cases = [
        (
            "POST",
            "/system/functions?namespace=dev",
            r#"{"service":"other","image":"x","namespace":"openfaas-fn"}"#,
        ),
        (
            "PUT",
            "/system/functions?namespace=dev",
            r#"{"service":"figlet","image":"y","namespace":"openfaas-fn"}"#,
        ),
        (
            "DELETE",
            "/system/functions?namespace=dev",
            r#"{"functionName":"figlet","namespace":"openfaas-fn"}"#,
        ),
        (
            "POST",
            "/system/scale-function/figlet?namespace=dev",
            r#"{"serviceName":"figlet","replicas":2,"namespace":"openfaas-fn"}"#,
        ),
        (
            "POST",
            "/system/secrets?namespace=dev",
            r#"{"name":"s","value":"v","namespace":"openfaas-fn"}"#,
        ),
        (
            "PUT",
            "/system/secrets?namespace=dev",
            r#"{"name":"s","value":"v","namespace":"openfaas-fn"}"#,
        ),
        (
            "DELETE",
            "/system/secrets?namespace=dev",
            r#"{"name":"s","namespace":"openfaas-fn"}"#,
        ),
    ];
    for (method, uri, body) in cases {
        let answer = api
            .request(method.parse().unwrap(), uri, body.to_owned())
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{method} {uri}");
        assert!(
            answer.text().contains("\"openfaas-fn\"") && answer.text().contains("\"dev\""),
            "{method} {uri}: {}",
            answer.text()
        );
    }
    // Nothing changed.
    let figlet = api.provider.function("openfaas-fn", "figlet").unwrap();
    assert_eq!(figlet.image, "x");
    assert_eq!(api.provider.function_count(), 1);
    // A bad namespace in the query is a 400 too.
    let answer = api
        .delete(
            "/system/functions?namespace=..",
            r#"{"functionName":"figlet"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn secrets_take_the_namespace_from_the_query_string() {
    let api = api_with_dev().await;
    let created = api
        .post(
            "/system/secrets?namespace=dev",
            r#"{"name":"db","value":"1"}"#,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert!(api.provider.secret("dev", "db").is_some());
    assert!(api.provider.secret("openfaas-fn", "db").is_none());
    let updated = api
        .put(
            "/system/secrets?namespace=dev",
            r#"{"name":"db","value":"2"}"#,
        )
        .await;
    assert_eq!(updated.status, StatusCode::ACCEPTED, "{}", updated.text());
    let listed = api.get("/system/secrets?namespace=dev").await.json();
    assert_eq!(listed[0]["name"], "db");
    let deleted = api
        .delete("/system/secrets?namespace=dev", r#"{"name":"db"}"#)
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.text());
    assert!(api.provider.secret("dev", "db").is_none());
}
