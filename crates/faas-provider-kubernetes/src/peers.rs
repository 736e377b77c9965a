//! The server replicas behind one Service, for the autoscaler that sums their load: the
//! ready endpoints of the Service's EndpointSlices (label `kubernetes.io/service-name`), each
//! on the slice's `http` port (else its first), read with one list call per look.

use std::net::SocketAddr;

use faas_provider::ProviderError;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::ListParams;
use kube::{Api, Client};

use crate::endpoints::ready_endpoints;

/// The ready replicas of one Service.
pub struct ServicePeers {
    slices: Api<EndpointSlice>,
    service: String,
}

impl ServicePeers {
    /// The Service `service` in `namespace`, through `client`.
    pub fn new(client: Client, namespace: &str, service: &str) -> ServicePeers {
        ServicePeers {
            slices: Api::namespaced(client, namespace),
            service: service.to_owned(),
        }
    }

    /// Connects with the in-cluster configuration or `KUBECONFIG`.
    pub async fn connect(namespace: &str, service: &str) -> Result<ServicePeers, ProviderError> {
        let client = Client::try_default().await.map_err(|err| {
            ProviderError::Unavailable(format!(
                "no Kubernetes configuration (in-cluster or KUBECONFIG): {err}"
            ))
        })?;
        Ok(Self::new(client, namespace, service))
    }

    /// The ready replicas' addresses now, sorted, without repeats.
    pub async fn addresses(&self) -> Result<Vec<SocketAddr>, String> {
        let params =
            ListParams::default().labels(&format!("kubernetes.io/service-name={}", self.service));
        let slices =
            self.slices.list(&params).await.map_err(|err| {
                format!("cannot list the EndpointSlices of {}: {err}", self.service)
            })?;
        let mut addresses: Vec<SocketAddr> = slices
            .items
            .iter()
            .flat_map(ready_endpoints)
            .map(|endpoint| endpoint.address)
            .collect();
        addresses.sort();
        addresses.dedup();
        Ok(addresses)
    }
}
