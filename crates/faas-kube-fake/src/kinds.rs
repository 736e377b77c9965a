//! The resources the fake serves, and how their REST paths name them.

/// How a resource's names are checked (as the API server checks them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most objects).
    Subdomain,
    /// RFC 1123 label (namespaces).
    Label,
    /// RFC 1035 label (services: must start with a letter).
    Dns1035,
}

/// One resource type.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    pub plural: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub names: NameRule,
    /// Has a `status` subresource: writes to the object keep its status.
    pub status_subresource: bool,
}

impl Kind {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps`, or `secrets` for the core group (as in Status messages).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Deployment.apps`, or `Service` for the core group (as in Invalid messages).
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

const fn kind(
    plural: &'static str,
    group: &'static str,
    kind: &'static str,
    namespaced: bool,
    names: NameRule,
    status_subresource: bool,
) -> Kind {
    Kind {
        plural,
        group,
        version: "v1",
        kind,
        namespaced,
        names,
        status_subresource,
    }
}

pub static NAMESPACES: Kind = kind("namespaces", "", "Namespace", false, NameRule::Label, true);
pub static SERVICES: Kind = kind("services", "", "Service", true, NameRule::Dns1035, true);
pub static SECRETS: Kind = kind("secrets", "", "Secret", true, NameRule::Subdomain, false);
pub static PODS: Kind = kind("pods", "", "Pod", true, NameRule::Subdomain, true);
pub static DEPLOYMENTS: Kind = kind(
    "deployments",
    "apps",
    "Deployment",
    true,
    NameRule::Subdomain,
    true,
);
pub static ENDPOINT_SLICES: Kind = kind(
    "endpointslices",
    "discovery.k8s.io",
    "EndpointSlice",
    true,
    NameRule::Subdomain,
    false,
);
pub static FUNCTIONS: Kind = kind(
    "functions",
    "openfaas.com",
    "Function",
    true,
    NameRule::Subdomain,
    true,
);
pub static LEASES: Kind = kind(
    "leases",
    "coordination.k8s.io",
    "Lease",
    true,
    NameRule::Subdomain,
    false,
);

/// The metrics API's pod usage (metrics.k8s.io/v1beta1), as metrics-server serves it.
pub static POD_METRICS: Kind = Kind {
    plural: "pods",
    group: "metrics.k8s.io",
    version: "v1beta1",
    kind: "PodMetrics",
    namespaced: true,
    names: NameRule::Subdomain,
    status_subresource: false,
};

/// Every resource the fake serves.
pub static KINDS: [&Kind; 9] = [
    &NAMESPACES,
    &SERVICES,
    &SECRETS,
    &PODS,
    &DEPLOYMENTS,
    &ENDPOINT_SLICES,
    &FUNCTIONS,
    &LEASES,
    &POD_METRICS,
];

/// What a request path names.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: &'static Kind,
    /// The namespace in the path (`None` for cluster-wide lists and cluster objects).
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

fn find(group: &str, version: &str, plural: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.group == group && k.version == version && k.plural == plural)
}

/// `/api/v1/...` or `/apis/{group}/{version}/...`; `None` when the path names nothing served.
pub fn parse(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let target = |plural: &str, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        let kind = find(group, version, plural)?;
        if namespace.is_some() && !kind.namespaced {
            return None;
        }
        Some(Target {
            kind,
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
            subresource: sub.map(str::to_owned),
        })
    };
    match rest {
        [plural] => target(plural, None, None, None),
        ["namespaces", namespace, plural] if find(group, version, plural).is_some() => {
            target(plural, Some(namespace), None, None)
        }
        [plural, name] => target(plural, None, Some(name), None),
        [plural, name, sub] => target(plural, None, Some(name), Some(sub)),
        ["namespaces", namespace, plural, name] => {
            target(plural, Some(namespace), Some(name), None)
        }
        ["namespaces", namespace, plural, name, sub] => {
            target(plural, Some(namespace), Some(name), Some(sub))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_resources_as_the_api_server_does() {
        let t = parse("/apis/apps/v1/namespaces/openfaas-fn/deployments/hello/scale").unwrap();
        assert_eq!(t.kind, &DEPLOYMENTS);
        assert_eq!(t.namespace.as_deref(), Some("openfaas-fn"));
        assert_eq!(t.name.as_deref(), Some("hello"));
        assert_eq!(t.subresource.as_deref(), Some("scale"));
        let t = parse("/api/v1/namespaces/openfaas-fn").unwrap();
        assert_eq!(t.kind, &NAMESPACES);
        assert_eq!(t.name.as_deref(), Some("openfaas-fn"));
        let t = parse("/api/v1/namespaces/openfaas-fn/secrets").unwrap();
        assert_eq!(t.kind, &SECRETS);
        assert!(t.name.is_none());
        let t = parse("/apis/discovery.k8s.io/v1/endpointslices").unwrap();
        assert_eq!(t.kind, &ENDPOINT_SLICES);
        assert!(t.namespace.is_none());
        assert!(parse("/apis/apps/v2/deployments").is_none());
        assert!(parse("/healthz").is_none());
    }
}
