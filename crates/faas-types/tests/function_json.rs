//! Function bodies parsed as faas-cli and the gateway send them, and written as OpenFaaS
//! writes them.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use faas_types::{
    DeleteFunctionRequest, FunctionDeployment, FunctionResources, FunctionStatus, FunctionUsage,
};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Exactly what faas-cli (Go) sends for `faas-cli deploy` of the nodeinfo sample.
const FAAS_CLI_DEPLOY: &str = r#"{"service":"nodeinfo","image":"functions/nodeinfo:latest","network":"","envProcess":"node main.js","envVars":null,"constraints":[],"secrets":[],"labels":{"com.openfaas.scale.min":"1"},"annotations":null,"limits":null,"requests":null,"readOnlyRootFilesystem":false,"registryAuth":""}"#;

#[test]
fn parses_faas_cli_deploy_body() {
    let d: FunctionDeployment = serde_json::from_str(FAAS_CLI_DEPLOY).unwrap();
    assert_eq!(
        d,
        FunctionDeployment {
            service: "nodeinfo".into(),
            image: "functions/nodeinfo:latest".into(),
            env_process: Some("node main.js".into()),
            constraints: Some(vec![]),
            secrets: Some(vec![]),
            labels: Some(map(&[("com.openfaas.scale.min", "1")])),
            ..Default::default()
        }
    );
    assert_eq!(d.namespace_or_default(), "openfaas-fn");
    d.validate().unwrap();
    // The retired fields are not written back, nor are empty lists.
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"service":"nodeinfo","image":"functions/nodeinfo:latest","envProcess":"node main.js","labels":{"com.openfaas.scale.min":"1"}}"#
    );
}

#[test]
fn null_means_absent_for_every_field() {
    let body = r#"{"service":"f","image":"i","namespace":null,"envProcess":null,"envVars":null,
        "constraints":null,"secrets":null,"labels":null,"annotations":null,"limits":null,
        "requests":null,"readOnlyRootFilesystem":null}"#;
    let d: FunctionDeployment = serde_json::from_str(body).unwrap();
    assert_eq!(
        d,
        FunctionDeployment {
            service: "f".into(),
            image: "i".into(),
            ..Default::default()
        }
    );
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"service":"f","image":"i"}"#
    );
}

#[test]
fn empty_strings_mean_absent_and_unknown_fields_are_ignored() {
    let body = r#"{"service":"f","image":"i","namespace":"","envProcess":"",
        "healthCheck":{"path":"/"},"scaling":null,"topics":["a"]}"#;
    let d: FunctionDeployment = serde_json::from_str(body).unwrap();
    assert_eq!(d.namespace, None);
    assert_eq!(d.env_process, None);
}

#[test]
fn full_deployment_round_trips_in_go_field_order() {
    let d = FunctionDeployment {
        service: "figlet".into(),
        image: "ghcr.io/openfaas/figlet:latest".into(),
        namespace: Some("staging".into()),
        env_process: Some("figlet".into()),
        env_vars: Some(map(&[("write_debug", "true")])),
        constraints: Some(vec!["node.platform.os == linux".into()]),
        secrets: Some(vec!["api-key".into()]),
        labels: Some(map(&[("com.openfaas.scale.zero", "true")])),
        annotations: Some(map(&[("topic", "payments")])),
        limits: Some(FunctionResources {
            memory: Some("128Mi".into()),
            cpu: Some("500m".into()),
            other: map(&[("nvidia.com/gpu", "1")]),
        }),
        requests: Some(FunctionResources {
            memory: Some("64Mi".into()),
            ..Default::default()
        }),
        read_only_root_filesystem: true,
        registry_auth: Some("dXNlcjpwYXNz".into()),
    };
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(
        json,
        concat!(
            r#"{"service":"figlet","image":"ghcr.io/openfaas/figlet:latest","namespace":"staging","#,
            r#""envProcess":"figlet","envVars":{"write_debug":"true"},"#,
            r#""constraints":["node.platform.os == linux"],"secrets":["api-key"],"#,
            r#""labels":{"com.openfaas.scale.zero":"true"},"annotations":{"topic":"payments"},"#,
            r#""limits":{"memory":"128Mi","cpu":"500m","nvidia.com/gpu":"1"},"#,
            r#""requests":{"memory":"64Mi"},"readOnlyRootFilesystem":true,"#,
            r#""registryAuth":"dXNlcjpwYXNz"}"#
        )
    );
    let back: FunctionDeployment = serde_json::from_str(&json).unwrap();
    assert_eq!(back, d);
    back.validate().unwrap();
}

#[test]
fn empty_labels_object_is_kept_as_go_does_for_map_pointers() {
    let d: FunctionDeployment =
        serde_json::from_str(r#"{"service":"f","image":"i","labels":{},"envVars":{}}"#).unwrap();
    assert_eq!(d.labels, Some(BTreeMap::new()));
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"service":"f","image":"i","labels":{}}"#
    );
}

#[test]
fn status_serializes_byte_compatible_with_go() {
    let status = FunctionStatus {
        name: "figlet".into(),
        image: "ghcr.io/openfaas/figlet:latest".into(),
        namespace: Some("openfaas-fn".into()),
        env_process: Some("figlet".into()),
        env_vars: Some(map(&[("A", "1")])),
        constraints: Some(vec!["node.platform.os == linux".into()]),
        secrets: Some(vec!["api-key".into()]),
        labels: Some(map(&[("faas_function", "figlet")])),
        annotations: Some(map(&[("topic", "cron-function")])),
        limits: Some(FunctionResources {
            memory: Some("128Mi".into()),
            cpu: Some("100m".into()),
            other: BTreeMap::new(),
        }),
        requests: Some(FunctionResources {
            memory: Some("64Mi".into()),
            ..Default::default()
        }),
        read_only_root_filesystem: true,
        invocation_count: 1337.0,
        replicas: 2,
        available_replicas: 1,
        created_at: Some(Utc.with_ymd_and_hms(2024, 3, 1, 10, 20, 30).unwrap()),
        usage: Some(FunctionUsage {
            cpu: 0.25,
            total_memory_bytes: 7954432.0,
        }),
    };
    let expected = concat!(
        r#"{"name":"figlet","image":"ghcr.io/openfaas/figlet:latest","namespace":"openfaas-fn","#,
        r#""envProcess":"figlet","envVars":{"A":"1"},"constraints":["node.platform.os == linux"],"#,
        r#""secrets":["api-key"],"labels":{"faas_function":"figlet"},"#,
        r#""annotations":{"topic":"cron-function"},"limits":{"memory":"128Mi","cpu":"100m"},"#,
        r#""requests":{"memory":"64Mi"},"readOnlyRootFilesystem":true,"invocationCount":1337,"#,
        r#""replicas":2,"availableReplicas":1,"createdAt":"2024-03-01T10:20:30Z","#,
        r#""usage":{"cpu":0.25,"totalMemoryBytes":7954432}}"#
    );
    assert_eq!(serde_json::to_string(&status).unwrap(), expected);
    let back: FunctionStatus = serde_json::from_str(expected).unwrap();
    assert_eq!(back, status);
}

#[test]
fn minimal_status_keeps_counts_and_drops_the_rest() {
    let status = FunctionStatus {
        name: "f".into(),
        image: "i".into(),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_string(&status).unwrap(),
        r#"{"name":"f","image":"i","invocationCount":0,"replicas":0,"availableReplicas":0}"#
    );
    let zero_usage = FunctionStatus {
        usage: Some(FunctionUsage::default()),
        ..status
    };
    assert!(serde_json::to_string(&zero_usage)
        .unwrap()
        .ends_with(r#""usage":{}}"#));
}

/// A `/system/functions` answer as the OpenFaaS gateway (faas-netes) returns it.
const GATEWAY_LIST: &str = r#"[
  {"name":"nodeinfo","image":"ghcr.io/openfaas/nodeinfo:latest","namespace":"openfaas-fn",
   "envProcess":"node index.js","labels":{"faas_function":"nodeinfo","com.openfaas.scale.min":"1"},
   "annotations":{"prometheus.io.scrape":"false"},"invocationCount":12,"replicas":1,
   "availableReplicas":1,"createdAt":"2024-03-01T10:20:30.123456789Z",
   "usage":{"cpu":0.0123,"totalMemoryBytes":7954432}},
  {"name":"figlet","image":"ghcr.io/openfaas/figlet:latest","namespace":"openfaas-fn",
   "envProcess":"figlet","labels":{"faas_function":"figlet"},"limits":{"memory":"128Mi"},
   "requests":{"cpu":"50m"},"readOnlyRootFilesystem":true,"invocationCount":0,"replicas":0,
   "availableReplicas":0,"createdAt":"0001-01-01T00:00:00Z"}
]"#;

#[test]
fn parses_gateway_status_list() {
    let list: Vec<FunctionStatus> = serde_json::from_str(GATEWAY_LIST).unwrap();
    assert_eq!(list.len(), 2);
    let nodeinfo = &list[0];
    assert_eq!(nodeinfo.name, "nodeinfo");
    assert_eq!(nodeinfo.invocation_count, 12.0);
    assert_eq!(nodeinfo.available_replicas, 1);
    assert_eq!(
        nodeinfo.created_at.unwrap().timestamp_subsec_nanos(),
        123_456_789
    );
    assert_eq!(nodeinfo.usage.unwrap().total_memory_bytes, 7954432.0);
    let figlet = &list[1];
    assert!(figlet.read_only_root_filesystem);
    assert_eq!(
        figlet.limits.as_ref().unwrap().memory.as_deref(),
        Some("128Mi")
    );
    assert_eq!(figlet.replicas, 0);
    // Go's zero time reads as a time, not as an error.
    assert!(figlet.created_at.is_some());
    // And a round trip keeps everything.
    let again: Vec<FunctionStatus> =
        serde_json::from_str(&serde_json::to_string(&list).unwrap()).unwrap();
    assert_eq!(again, list);
}

#[test]
fn status_accepts_nulls() {
    let s: FunctionStatus = serde_json::from_str(
        r#"{"name":"f","image":"i","invocationCount":null,"replicas":null,
            "availableReplicas":null,"createdAt":null,"usage":null,"labels":null}"#,
    )
    .unwrap();
    assert_eq!(s.replicas, 0);
    assert_eq!(s.created_at, None);
}

#[test]
fn bad_types_are_errors_not_panics() {
    for body in [
        r#"{"service":1,"image":"i"}"#,
        r#"{"service":"f","envVars":["a"]}"#,
        r#"{"service":"f","readOnlyRootFilesystem":"yes"}"#,
        r#""nope""#,
        r#"[1]"#,
        r#"{"service":"f","limits":{"memory":{}}}"#,
    ] {
        assert!(
            serde_json::from_str::<FunctionDeployment>(body).is_err(),
            "{body}"
        );
    }
    assert!(
        serde_json::from_str::<FunctionStatus>(r#"{"name":"f","createdAt":"yesterday"}"#).is_err()
    );
    assert!(serde_json::from_str::<FunctionStatus>(r#"{"name":"f","replicas":-1}"#).is_err());
}

#[test]
fn delete_request_json() {
    let d: DeleteFunctionRequest =
        serde_json::from_str(r#"{"functionName":"figlet","namespace":"dev"}"#).unwrap();
    assert_eq!(d.function_name, "figlet");
    assert_eq!(d.namespace.as_deref(), Some("dev"));
    d.validate().unwrap();
    let d: DeleteFunctionRequest = serde_json::from_str(r#"{"functionName":"figlet"}"#).unwrap();
    assert_eq!(d.namespace_or_default(), "openfaas-fn");
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"functionName":"figlet"}"#
    );
}
