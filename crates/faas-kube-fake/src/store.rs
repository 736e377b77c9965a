//! The fake's etcd: objects by kind, namespace and name, one resourceVersion counter, the
//! history of watch events, and the verbs (create, replace, patch, delete) with the API
//! server's checks. Every write runs the simulated controllers afterwards.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::kinds::{self, Kind};
use crate::status::{self, Failure, FieldError};
use crate::validate;

/// A watch event as the API server streams it.
#[derive(Debug, Clone)]
pub struct Event {
    pub resource_version: u64,
    pub kind: &'static Kind,
    pub namespace: String,
    pub event_type: &'static str,
    pub object: Value,
}

/// A pod's log line, or `None` when the pod is gone (ends followers).
#[derive(Debug, Clone)]
pub struct LogEvent {
    pub namespace: String,
    pub pod: String,
    pub line: Option<(DateTime<Utc>, String)>,
}

/// What the simulated kubelet does.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Where every pod is reported to listen (its IP, and the port the EndpointSlices give).
    pub pod_address: SocketAddr,
    /// How long a new pod takes to become Ready.
    pub ready_delay: Duration,
}

const HISTORY: usize = 10_000;

/// A log line: when it was written, and its text.
pub(crate) type LogLine = (DateTime<Utc>, String);

type Key = (usize, String, String);

pub struct Store {
    resource_version: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Event>,
    events: broadcast::Sender<Event>,
    pub(crate) logs: HashMap<(String, String), Vec<LogLine>>,
    pub(crate) log_events: broadcast::Sender<LogEvent>,
    pub(crate) cluster: ClusterSettings,
    pub(crate) ready_at: HashMap<(String, String), Instant>,
    /// Times at which the controllers must look again (pods turning Ready).
    pub(crate) wakeups: Vec<Instant>,
    sequence: u64,
}

fn index(kind: &Kind) -> usize {
    kinds::KINDS
        .iter()
        .position(|k| std::ptr::eq(*k, kind))
        .unwrap_or(usize::MAX)
}

pub(crate) fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = json!({});
            }
            let object = target.as_object_mut().expect("made an object above");
            for (key, value) in fields {
                if value.is_null() {
                    object.remove(key);
                } else {
                    merge_patch(object.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        other => *target = other.clone(),
    }
}

impl Store {
    pub fn new(cluster: ClusterSettings) -> Store {
        Store {
            resource_version: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            events: broadcast::channel(4096).0,
            logs: HashMap::new(),
            log_events: broadcast::channel(4096).0,
            cluster,
            ready_at: HashMap::new(),
            wakeups: Vec::new(),
            sequence: 0,
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// A fresh number for generated names and uids.
    pub(crate) fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    pub fn get(&self, kind: &Kind, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(index(kind), namespace.to_owned(), name.to_owned()))
    }

    /// Objects of a kind, in one namespace or all.
    pub fn list<'a>(
        &'a self,
        kind: &'a Kind,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        let i = index(kind);
        self.objects
            .iter()
            .filter(move |((k, ns, _), _)| *k == i && namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v)
    }

    /// Events after `from` and a receiver for the ones to come, taken together so none is
    /// missed; `Err` when `from` is older than the kept history.
    pub fn watch_from(
        &self,
        from: u64,
    ) -> Result<(Vec<Event>, broadcast::Receiver<Event>), Failure> {
        let oldest = self
            .history
            .front()
            .map_or(self.resource_version, |e| e.resource_version);
        if from + 1 < oldest && self.history.len() >= HISTORY {
            return Err(status::expired(from));
        }
        let past = self
            .history
            .iter()
            .filter(|e| e.resource_version > from)
            .cloned()
            .collect();
        Ok((past, self.events.subscribe()))
    }

    /// Stores (or removes, for `DELETED`) an object and tells the watchers.
    pub(crate) fn write(
        &mut self,
        kind: &'static Kind,
        namespace: &str,
        mut object: Value,
        event_type: &'static str,
    ) -> Value {
        self.resource_version += 1;
        let rv = self.resource_version;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let name = str_at(&object, "/metadata/name")
            .unwrap_or_default()
            .to_owned();
        let key = (index(kind), namespace.to_owned(), name);
        if event_type == "DELETED" {
            self.objects.remove(&key);
        } else {
            self.objects.insert(key, object.clone());
        }
        let event = Event {
            resource_version: rv,
            kind,
            namespace: namespace.to_owned(),
            event_type,
            object: object.clone(),
        };
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(event.clone());
        let _ = self.events.send(event);
        object
    }

    fn check_kind(kind: &Kind, body: &Value) -> Result<(), Failure> {
        if let Some(api_version) = str_at(body, "/apiVersion") {
            if api_version != kind.api_version() {
                return Err(status::bad_request(format!(
                    "the API version in the data ({api_version}) does not match the expected API version ({})",
                    kind.api_version()
                )));
            }
        }
        if let Some(k) = str_at(body, "/kind") {
            if k != kind.kind {
                return Err(status::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    kind.kind
                )));
            }
        }
        Ok(())
    }

    fn check_namespace_exists(&self, kind: &Kind, namespace: &str) -> Result<(), Failure> {
        if kind.namespaced && self.get(&kinds::NAMESPACES, "", namespace).is_none() {
            return Err(status::not_found(&kinds::NAMESPACES, namespace));
        }
        Ok(())
    }

    /// POST: the API server's checks, defaults and metadata, then `ADDED`.
    pub fn create(
        &mut self,
        kind: &'static Kind,
        namespace: Option<&str>,
        mut body: Value,
    ) -> Result<Value, Failure> {
        if !body.is_object() {
            return Err(status::bad_request(
                "the body of the request is not a JSON object",
            ));
        }
        Self::check_kind(kind, &body)?;
        let namespace = if kind.namespaced {
            let path_ns = namespace.ok_or_else(|| {
                status::method_not_allowed(format!("create {} needs a namespace", kind.plural))
            })?;
            match str_at(&body, "/metadata/namespace") {
                Some(ns) if !ns.is_empty() && ns != path_ns => {
                    return Err(status::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                _ => path_ns.to_owned(),
            }
        } else {
            String::new()
        };
        if str_at(&body, "/metadata/name").is_none_or(str::is_empty) {
            if let Some(prefix) = str_at(&body, "/metadata/generateName").map(str::to_owned) {
                let suffix = format!("{:05x}", self.next_sequence() * 7919 % 0xfffff);
                body["metadata"]["name"] = json!(format!("{prefix}{suffix}"));
            }
        }
        let name = str_at(&body, "/metadata/name")
            .unwrap_or_default()
            .to_owned();
        let errors = validate::object(kind, &body);
        if !errors.is_empty() {
            return Err(status::invalid(kind, &name, &errors));
        }
        self.check_namespace_exists(kind, &namespace)?;
        if self.get(kind, &namespace, &name).is_some() {
            return Err(status::already_exists(kind, &name));
        }
        body["apiVersion"] = json!(kind.api_version());
        body["kind"] = json!(kind.kind);
        let sequence = self.next_sequence();
        let metadata = &mut body["metadata"];
        if kind.namespaced {
            metadata["namespace"] = json!(namespace);
        }
        metadata["uid"] = json!(uuid::Uuid::new_v4().to_string());
        metadata["creationTimestamp"] = json!(now_text());
        metadata["generation"] = json!(1);
        if kind.status_subresource {
            body.as_object_mut().map(|o| o.remove("status"));
        }
        self.defaults(kind, &name, sequence, &mut body);
        let created = self.write(kind, &namespace, body, "ADDED");
        crate::controllers::reconcile(self);
        Ok(self
            .get(kind, &namespace, &name)
            .cloned()
            .unwrap_or(created))
    }

    fn defaults(&mut self, kind: &Kind, name: &str, sequence: u64, body: &mut Value) {
        if std::ptr::eq(kind, &kinds::DEPLOYMENTS) && body.pointer("/spec/replicas").is_none() {
            body["spec"]["replicas"] = json!(1);
        }
        if std::ptr::eq(kind, &kinds::SERVICES) {
            if str_at(body, "/spec/clusterIP").is_none_or(str::is_empty) {
                // Allocated as the API server would; never contacted (no traffic leaves 127.0.0.1).
                let ip = format!("10.96.{}.{}", (sequence / 250) % 250, sequence % 250 + 1);
                body["spec"]["clusterIP"] = json!(ip);
                body["spec"]["clusterIPs"] = json!([ip]);
            }
            if body.pointer("/spec/type").is_none() {
                body["spec"]["type"] = json!("ClusterIP");
            }
        }
        if std::ptr::eq(kind, &kinds::NAMESPACES) {
            body["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            body["spec"] = json!({"finalizers": ["kubernetes"]});
            body["status"] = json!({"phase": "Active"});
        }
        if std::ptr::eq(kind, &kinds::SECRETS) && body.get("type").is_none() {
            body["type"] = json!("Opaque");
        }
    }

    /// PUT (or a patched object): the stored object must exist and the body must carry its
    /// current resourceVersion.
    pub fn replace(
        &mut self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
        mut body: Value,
    ) -> Result<Value, Failure> {
        let current = self
            .get(kind, namespace, name)
            .cloned()
            .ok_or_else(|| status::not_found(kind, name))?;
        if !body.is_object() {
            return Err(status::bad_request(
                "the body of the request is not a JSON object",
            ));
        }
        Self::check_kind(kind, &body)?;
        if str_at(&body, "/metadata/name") != Some(name) {
            return Err(status::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                str_at(&body, "/metadata/name").unwrap_or_default()
            )));
        }
        match str_at(&body, "/metadata/resourceVersion") {
            None | Some("") => {
                return Err(status::invalid(
                    kind,
                    name,
                    &[FieldError::invalid(
                        "metadata.resourceVersion",
                        &json!("0x0"),
                        "must be specified for an update",
                    )],
                ))
            }
            Some(rv) if Some(rv) != str_at(&current, "/metadata/resourceVersion") => {
                return Err(status::conflict(kind, name));
            }
            Some(_) => {}
        }
        let errors = validate::object(kind, &body);
        if !errors.is_empty() {
            return Err(status::invalid(kind, name, &errors));
        }
        body["apiVersion"] = json!(kind.api_version());
        body["kind"] = json!(kind.kind);
        for field in ["uid", "creationTimestamp", "namespace", "generation"] {
            body["metadata"][field] = current["metadata"][field].clone();
        }
        if kind.status_subresource {
            body["status"] = current["status"].clone();
            if body["status"].is_null() {
                body.as_object_mut().map(|o| o.remove("status"));
            }
        }
        if std::ptr::eq(kind, &kinds::SERVICES)
            && str_at(&body, "/spec/clusterIP").is_none_or(str::is_empty)
        {
            body["spec"]["clusterIP"] = current["spec"]["clusterIP"].clone();
            body["spec"]["clusterIPs"] = current["spec"]["clusterIPs"].clone();
        }
        if std::ptr::eq(kind, &kinds::DEPLOYMENTS) && body.pointer("/spec/replicas").is_none() {
            body["spec"]["replicas"] = json!(1);
        }
        if body.get("spec") != current.get("spec") {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            body["metadata"]["generation"] = json!(generation);
        }
        if body == current {
            return Ok(current);
        }
        self.write(kind, namespace, body, "MODIFIED");
        crate::controllers::reconcile(self);
        Ok(self.get(kind, namespace, name).cloned().unwrap_or_default())
    }

    /// PATCH with a merge patch (strategic merge patches are applied as merge patches: the
    /// fake's callers send only maps and whole lists).
    pub fn patch(
        &mut self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, Failure> {
        let mut object = self
            .get(kind, namespace, name)
            .cloned()
            .ok_or_else(|| status::not_found(kind, name))?;
        let stated_rv = str_at(patch, "/metadata/resourceVersion").map(str::to_owned);
        let current_rv = str_at(&object, "/metadata/resourceVersion").map(str::to_owned);
        if stated_rv.is_some() && stated_rv != current_rv {
            return Err(status::conflict(kind, name));
        }
        merge_patch(&mut object, patch);
        object["metadata"]["resourceVersion"] = json!(current_rv);
        self.replace(kind, namespace, name, object)
    }

    /// PUT or PATCH on `status`: only the status changes.
    pub fn write_status(
        &mut self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
        new_status: Value,
    ) -> Result<Value, Failure> {
        let mut object = self
            .get(kind, namespace, name)
            .cloned()
            .ok_or_else(|| status::not_found(kind, name))?;
        object["status"] = new_status;
        Ok(self.write(kind, namespace, object, "MODIFIED"))
    }

    /// DELETE: the object, a namespace's contents with it, and then (as the garbage
    /// collector does) whatever it owned.
    pub fn delete(
        &mut self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Value, Failure> {
        let object = self
            .get(kind, namespace, name)
            .cloned()
            .ok_or_else(|| status::not_found(kind, name))?;
        if std::ptr::eq(kind, &kinds::NAMESPACES) {
            let inside: Vec<(usize, String, String)> = self
                .objects
                .keys()
                .filter(|(_, ns, _)| ns == name)
                .cloned()
                .collect();
            for (k, ns, n) in inside {
                self.remove(kinds::KINDS[k], &ns, &n);
            }
        }
        let deleted = self.remove(kind, namespace, name).unwrap_or(object);
        crate::controllers::reconcile(self);
        Ok(deleted)
    }

    pub(crate) fn remove(
        &mut self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let object = self.get(kind, namespace, name)?.clone();
        if std::ptr::eq(kind, &kinds::PODS) {
            self.ready_at
                .remove(&(namespace.to_owned(), name.to_owned()));
            self.logs.remove(&(namespace.to_owned(), name.to_owned()));
            let _ = self.log_events.send(LogEvent {
                namespace: namespace.to_owned(),
                pod: name.to_owned(),
                line: None,
            });
        }
        Some(self.write(kind, namespace, object, "DELETED"))
    }

    /// Every stored object with its kind and namespace (for the controllers).
    pub(crate) fn all(&self) -> Vec<(&'static Kind, String, Value)> {
        self.objects
            .iter()
            .map(|((k, ns, _), v)| (kinds::KINDS[*k], ns.clone(), v.clone()))
            .collect()
    }

    /// Appends a line to a pod's log.
    pub fn append_log(&mut self, namespace: &str, pod: &str, text: &str) -> bool {
        if self.get(&kinds::PODS, namespace, pod).is_none() {
            return false;
        }
        let line = (Utc::now(), text.to_owned());
        self.logs
            .entry((namespace.to_owned(), pod.to_owned()))
            .or_default()
            .push(line.clone());
        let _ = self.log_events.send(LogEvent {
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            line: Some(line),
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut target, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
    }
}
