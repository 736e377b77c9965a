//! What kube-controller-manager and the kubelet would do, simulated so the provider's
//! watches see a living cluster: the deployment controller keeps `spec.replicas` pods per
//! Deployment (replacing them when the template changes) and writes its status; a kubelet
//! that runs no containers reports every pod at the cluster's pod address, Ready after
//! `ready_delay`; the EndpointSlice controller lists each Service's pods; the garbage
//! collector deletes objects whose owners are gone.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use serde_json::{json, Value};

use crate::kinds::{self, Kind};
use crate::selector::LabelSelector;
use crate::store::{now_text, Store};

const GENERATION_ANNOTATION: &str = "fake.rustfaas.dev/deployment-generation";

fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn owner_uids(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("uid").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn owner_reference(kind: &Kind, object: &Value) -> Value {
    json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind,
        "name": text(object, "/metadata/name"),
        "uid": text(object, "/metadata/uid"),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Runs every controller until nothing changes (bounded).
pub fn reconcile(store: &mut Store) {
    for _ in 0..8 {
        let before = store.resource_version();
        garbage_collect(store);
        deployments(store);
        endpoint_slices(store);
        if store.resource_version() == before {
            break;
        }
    }
}

fn garbage_collect(store: &mut Store) {
    loop {
        let all = store.all();
        let uids: HashSet<String> = all
            .iter()
            .map(|(_, _, o)| text(o, "/metadata/uid"))
            .collect();
        let orphans: Vec<(&'static Kind, String, String)> = all
            .iter()
            .filter(|(_, _, o)| {
                let owners = owner_uids(o);
                !owners.is_empty() && owners.iter().all(|u| !uids.contains(u))
            })
            .map(|(k, ns, o)| (*k, ns.clone(), text(o, "/metadata/name")))
            .collect();
        if orphans.is_empty() {
            return;
        }
        for (kind, ns, name) in orphans {
            store.remove(kind, &ns, &name);
        }
    }
}

fn pod_ready(store: &Store, namespace: &str, pod: &str) -> bool {
    store
        .ready_at
        .get(&(namespace.to_owned(), pod.to_owned()))
        .is_some_and(|at| *at <= Instant::now())
}

fn new_pod(store: &mut Store, namespace: &str, deployment: &Value, generation: i64) {
    let name = text(deployment, "/metadata/name");
    let sequence = store.next_sequence();
    let hash = format!(
        "{:010x}",
        (generation as u64).wrapping_mul(0x9e37_79b9) % 0xff_ffff_ffff
    );
    let pod_name = format!("{name}-{hash}-{:05x}", sequence * 104_729 % 0xfffff);
    let mut labels = deployment
        .pointer("/spec/template/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    labels["pod-template-hash"] = json!(hash);
    let mut annotations = deployment
        .pointer("/spec/template/metadata/annotations")
        .cloned()
        .unwrap_or_else(|| json!({}));
    annotations[GENERATION_ANNOTATION] = json!(generation.to_string());
    let mut spec = deployment
        .pointer("/spec/template/spec")
        .cloned()
        .unwrap_or_else(|| json!({}));
    spec["nodeName"] = json!("fake-node");
    let address = store.cluster.pod_address;
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": namespace,
            "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": now_text(),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(&kinds::DEPLOYMENTS, deployment)],
        },
        "spec": spec,
        "status": {
            "phase": "Running",
            "hostIP": address.ip().to_string(),
            "podIP": address.ip().to_string(),
            "podIPs": [{"ip": address.ip().to_string()}],
            "startTime": now_text(),
        },
    });
    let ready_at = Instant::now() + store.cluster.ready_delay;
    store
        .ready_at
        .insert((namespace.to_owned(), pod_name.clone()), ready_at);
    if !store.cluster.ready_delay.is_zero() {
        store.wakeups.push(ready_at);
    }
    store.write(&kinds::PODS, namespace, pod, "ADDED");
    store.append_log(
        namespace,
        &pod_name,
        "Started logging: stderr from function.",
    );
}

/// The pod's status as the kubelet reports it now.
fn pod_status(store: &Store, namespace: &str, pod: &Value) -> Value {
    let ready = pod_ready(store, namespace, &text(pod, "/metadata/name"));
    let mut status = pod["status"].clone();
    let flag = if ready { "True" } else { "False" };
    status["conditions"] = json!([
        {"type": "PodScheduled", "status": "True"},
        {"type": "Initialized", "status": "True"},
        {"type": "ContainersReady", "status": flag},
        {"type": "Ready", "status": flag},
    ]);
    status["containerStatuses"] = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            json!({
                "name": c["name"], "image": c["image"], "ready": ready,
                "restartCount": 0, "started": true,
                "state": {"running": {"startedAt": pod["status"]["startTime"]}},
            })
        })
        .collect();
    status
}

fn deployments(store: &mut Store) {
    let all = store.all();
    for (_, namespace, deployment) in all
        .iter()
        .filter(|(k, _, _)| std::ptr::eq(*k, &kinds::DEPLOYMENTS))
    {
        let uid = text(deployment, "/metadata/uid");
        let desired = deployment
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let generation = deployment
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let mut pods: Vec<Value> = store
            .list(&kinds::PODS, Some(namespace))
            .filter(|p| owner_uids(p).contains(&uid))
            .cloned()
            .collect();
        pods.sort_by_key(|p| text(p, "/metadata/name"));
        // A changed template replaces the pods (a rollout, done at once).
        let (current, stale): (Vec<Value>, Vec<Value>) = pods.into_iter().partition(|p| {
            text(
                p,
                &format!(
                    "/metadata/annotations/{}",
                    GENERATION_ANNOTATION.replace('/', "~1")
                ),
            ) == generation.to_string()
        });
        for pod in &stale {
            store.remove(&kinds::PODS, namespace, &text(pod, "/metadata/name"));
        }
        let mut count = current.len() as i64;
        for pod in current.iter().rev() {
            if count <= desired {
                break;
            }
            store.remove(&kinds::PODS, namespace, &text(pod, "/metadata/name"));
            count -= 1;
        }
        while count < desired {
            new_pod(store, namespace, deployment, generation);
            count += 1;
        }
        // Pod statuses as the kubelet sees them now.
        let pods: Vec<Value> = store
            .list(&kinds::PODS, Some(namespace))
            .filter(|p| owner_uids(p).contains(&uid))
            .cloned()
            .collect();
        let mut ready = 0;
        for pod in pods {
            let status = pod_status(store, namespace, &pod);
            if status["conditions"][3]["status"] == "True" {
                ready += 1;
            }
            if status != pod["status"] {
                let mut pod = pod;
                pod["status"] = status;
                store.write(&kinds::PODS, namespace, pod, "MODIFIED");
            }
        }
        let available = if ready == desired { "True" } else { "False" };
        let status = json!({
            "observedGeneration": generation,
            "replicas": count,
            "updatedReplicas": count,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": (count - ready).max(0),
            "conditions": [{"type": "Available", "status": available,
                            "reason": if available == "True" { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" }}],
        });
        if let Some(current) = store.get(
            &kinds::DEPLOYMENTS,
            namespace,
            &text(deployment, "/metadata/name"),
        ) {
            if current["status"] != status {
                let mut updated = current.clone();
                updated["status"] = status;
                store.write(&kinds::DEPLOYMENTS, namespace, updated, "MODIFIED");
            }
        }
    }
}

fn endpoint_slices(store: &mut Store) {
    let all = store.all();
    let address = store.cluster.pod_address;
    for (_, namespace, service) in all
        .iter()
        .filter(|(k, _, _)| std::ptr::eq(*k, &kinds::SERVICES))
    {
        let Some(selector) = service.pointer("/spec/selector").and_then(Value::as_object) else {
            continue;
        };
        let selector: BTreeMap<String, String> = selector
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let selector = LabelSelector::from_labels(&selector);
        let name = text(service, "/metadata/name");
        let mut endpoints = Vec::new();
        for pod in store
            .list(&kinds::PODS, Some(namespace))
            .filter(|p| selector.matches(p))
        {
            let ready = pod
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            endpoints.push(json!({
                "addresses": [pod["status"]["podIP"]],
                "conditions": {"ready": ready, "serving": ready, "terminating": false},
                "nodeName": "fake-node",
                "targetRef": {"kind": "Pod", "namespace": namespace,
                              "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
            }));
        }
        let ports: Vec<Value> = service
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| json!({"name": p.get("name").cloned().unwrap_or(json!("")),
                            "port": address.port(), "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP"))}))
            .collect();
        let mut labels = service
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or_else(|| json!({}));
        labels["kubernetes.io/service-name"] = json!(name);
        labels["endpointslice.kubernetes.io/managed-by"] = json!("endpointslice-controller.k8s.io");
        let uid = text(service, "/metadata/uid");
        let slice_name = format!("{name}-{}", &uid.get(..5).unwrap_or("fake0"));
        let existing = store
            .get(&kinds::ENDPOINT_SLICES, namespace, &slice_name)
            .cloned();
        let mut slice = existing.clone().unwrap_or_else(|| {
            json!({
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": slice_name,
                    "namespace": namespace,
                    "uid": uuid::Uuid::new_v4().to_string(),
                    "creationTimestamp": now_text(),
                    "generateName": format!("{name}-"),
                    "ownerReferences": [owner_reference(&kinds::SERVICES, service)],
                },
            })
        });
        slice["metadata"]["labels"] = labels;
        slice["addressType"] = json!("IPv4");
        slice["endpoints"] = json!(endpoints);
        slice["ports"] = json!(ports);
        match existing {
            Some(old) if old == slice => {}
            Some(_) => {
                store.write(&kinds::ENDPOINT_SLICES, namespace, slice, "MODIFIED");
            }
            None => {
                store.write(&kinds::ENDPOINT_SLICES, namespace, slice, "ADDED");
            }
        }
    }
}
