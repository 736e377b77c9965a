//! Secrets, scale, namespace and `/system/info` bodies.

use std::collections::BTreeMap;

use faas_types::{
    GatewayInfo, NamespaceRequest, ProviderInfo, ScaleServiceRequest, Secret, VersionInfo,
};

#[test]
fn secret_raw_value_is_base64_like_go_bytes() {
    let secret = Secret {
        name: "db-password".into(),
        namespace: Some("openfaas-fn".into()),
        value: None,
        raw_value: Some(vec![0, 1, 2, 0xff, b'h', b'i']),
    };
    let json = serde_json::to_string(&secret).unwrap();
    assert_eq!(
        json,
        r#"{"name":"db-password","namespace":"openfaas-fn","rawValue":"AAEC/2hp"}"#
    );
    let back: Secret = serde_json::from_str(&json).unwrap();
    assert_eq!(back, secret);
    assert_eq!(back.bytes(), vec![0, 1, 2, 0xff, b'h', b'i']);
    back.validate().unwrap();
}

#[test]
fn secret_from_faas_cli() {
    // faas-cli secret create NAME --from-literal
    let s: Secret =
        serde_json::from_str(r#"{"name":"api-key","value":"s3cr3t","namespace":""}"#).unwrap();
    assert_eq!(s.namespace, None);
    assert_eq!(s.bytes(), b"s3cr3t");
    assert_eq!(s.len(), 6);
    assert_eq!(
        serde_json::to_string(&s).unwrap(),
        r#"{"name":"api-key","value":"s3cr3t"}"#
    );
    // faas-cli secret create NAME --from-file sends rawValue; it wins over value.
    let s: Secret =
        serde_json::from_str(r#"{"name":"k","value":"text","rawValue":"Ynl0ZXM="}"#).unwrap();
    assert_eq!(s.bytes(), b"bytes");
    // Unpadded base64 and nulls are accepted; bad base64 is an error.
    let s: Secret = serde_json::from_str(r#"{"name":"k","rawValue":"Ynl0ZXM"}"#).unwrap();
    assert_eq!(s.bytes(), b"bytes");
    let s: Secret = serde_json::from_str(r#"{"name":"k","value":null,"rawValue":null}"#).unwrap();
    assert!(s.is_empty());
    assert!(serde_json::from_str::<Secret>(r#"{"name":"k","rawValue":"!!"}"#).is_err());
}

#[test]
fn secret_debug_hides_the_value() {
    let s = Secret {
        name: "k".into(),
        value: Some("hunter2".into()),
        raw_value: Some(b"hunter3".to_vec()),
        ..Default::default()
    };
    let debug = format!("{s:?}");
    assert!(!debug.contains("hunter"), "{debug}");
    assert!(debug.contains("redacted"));
}

#[test]
fn scale_request_accepts_service_alias() {
    let a: ScaleServiceRequest =
        serde_json::from_str(r#"{"serviceName":"figlet","replicas":3}"#).unwrap();
    let b: ScaleServiceRequest =
        serde_json::from_str(r#"{"service":"figlet","replicas":3,"namespace":null}"#).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.service_name, "figlet");
    assert_eq!(a.namespace_or_default(), "openfaas-fn");
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        r#"{"serviceName":"figlet","replicas":3}"#
    );
    let c: ScaleServiceRequest =
        serde_json::from_str(r#"{"serviceName":"figlet","replicas":0,"namespace":"dev"}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"serviceName":"figlet","replicas":0,"namespace":"dev"}"#
    );
    assert!(
        serde_json::from_str::<ScaleServiceRequest>(r#"{"serviceName":"f","replicas":-1}"#)
            .is_err()
    );
    assert!(
        serde_json::from_str::<ScaleServiceRequest>(r#"{"serviceName":"f","replicas":1.5}"#)
            .is_err()
    );
}

#[test]
fn scale_request_replica_limit() {
    let r = ScaleServiceRequest {
        service_name: "figlet".into(),
        replicas: 1_000_000,
        namespace: None,
    };
    let err = r.validate(1000).unwrap_err();
    assert_eq!(
        err.to_string(),
        "replicas 1000000 is above the maximum of 1000"
    );
    ScaleServiceRequest {
        replicas: 1000,
        ..r.clone()
    }
    .validate(1000)
    .unwrap();
    ScaleServiceRequest {
        replicas: 0,
        ..r.clone()
    }
    .validate(1000)
    .unwrap();
    assert!(ScaleServiceRequest {
        service_name: "../x".into(),
        replicas: 1,
        namespace: None
    }
    .validate(10)
    .is_err());
}

#[test]
fn gateway_info_shape() {
    let info = GatewayInfo {
        provider: ProviderInfo {
            provider: "rustfaas".into(),
            orchestration: "process".into(),
            version: VersionInfo {
                commit_message: String::new(),
                sha: "abc123".into(),
                release: "0.1.0".into(),
            },
        },
        version: VersionInfo {
            commit_message: "Initial".into(),
            sha: "def456".into(),
            release: "0.1.0".into(),
        },
        arch: "x86_64".into(),
        sandbox: None,
    };
    let json = serde_json::to_string(&info).unwrap();
    assert_eq!(
        json,
        concat!(
            r#"{"provider":{"provider":"rustfaas","version":{"sha":"abc123","release":"0.1.0"},"#,
            r#""orchestration":"process"},"#,
            r#""version":{"commit_message":"Initial","sha":"def456","release":"0.1.0"},"#,
            r#""arch":"x86_64"}"#
        )
    );
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["provider"]["provider"], "rustfaas");
    assert_eq!(value["provider"]["orchestration"], "process");
    assert_eq!(value["provider"]["version"]["sha"], "abc123");
    assert_eq!(value["version"]["commit_message"], "Initial");
    assert_eq!(value["arch"], "x86_64");
    assert_eq!(serde_json::from_str::<GatewayInfo>(&json).unwrap(), info);
}

#[test]
fn gateway_info_from_openfaas() {
    // As the OpenFaaS gateway (with faas-netes) answers.
    let body = r#"{"provider":{"provider":"faas-netes-ce","orchestration":"kubernetes","version":{"sha":"5b2f8ec","release":"0.18.5"}},"version":{"commit_message":"Update deps","sha":"8ec0b1e","release":"0.27.5"},"arch":"x86_64"}"#;
    let info: GatewayInfo = serde_json::from_str(body).unwrap();
    assert_eq!(info.provider.provider, "faas-netes-ce");
    assert_eq!(info.provider.version.release, "0.18.5");
    assert_eq!(info.version.sha, "8ec0b1e");
}

#[test]
fn namespace_request_json() {
    let n: NamespaceRequest =
        serde_json::from_str(r#"{"name":"staging","labels":{"openfaas":"1"},"annotations":null}"#)
            .unwrap();
    assert_eq!(n.name, "staging");
    let labels: BTreeMap<String, String> = [("openfaas".to_string(), "1".to_string())].into();
    assert_eq!(n.labels, Some(labels));
    assert_eq!(n.annotations, None);
    n.validate().unwrap();
    assert_eq!(
        serde_json::to_string(&n).unwrap(),
        r#"{"name":"staging","labels":{"openfaas":"1"}}"#
    );
    let bad = NamespaceRequest {
        name: "Staging".into(),
        ..Default::default()
    };
    assert!(bad.validate().is_err());
}
