//! Where the autoscaler runs: in this process always, or (with `--provider kubernetes` and
//! `--autoscaler-lease`) only while this replica holds the Lease, so that of several server
//! replicas exactly one scales functions. The same election gates the `Function` operator
//! (`--operator`), so one replica reconciles at a time.
//!
//! The load it scales on is that of every replica together when there are several (a Lease,
//! or a peer list): from Prometheus when `--prometheus-url` is set, otherwise from the peers'
//! `/system/scale-stats` (`--autoscaler-peers`, or `--autoscaler-peers-service`'s
//! EndpointSlices). One replica alone counts its own calls.

use std::sync::Arc;

use faas_gateway::autoscaler::cluster::{FixedPeers, PeerCounters, PeerList, PrometheusCounters};
use faas_gateway::{AutoscalerTask, BasicCredentials, Gateway, LoadSource};

use crate::config::{AutoscalerPeers, Config};

/// Where the autoscaler reads the other replicas' load (`None`: this replica alone).
pub fn load_source(
    config: &Config,
    gateway: &Gateway,
    auth: Option<BasicCredentials>,
) -> anyhow::Result<Option<Arc<dyn LoadSource>>> {
    let leased = matches!(
        config.provider,
        crate::config::ProviderChoice::Kubernetes {
            autoscaler_lease: Some(_),
            ..
        }
    );
    let peers: Option<Arc<dyn PeerList>> = match &config.autoscaler_peers {
        AutoscalerPeers::None => None,
        AutoscalerPeers::Fixed(list) => Some(Arc::new(FixedPeers(list.clone()))),
        #[cfg(feature = "kubernetes")]
        AutoscalerPeers::Service(namespace, name) => Some(Arc::new(ServiceList {
            namespace: namespace.clone(),
            name: name.clone(),
            peers: tokio::sync::OnceCell::new(),
        })),
        #[cfg(not(feature = "kubernetes"))]
        AutoscalerPeers::Service(..) => {
            anyhow::bail!("--autoscaler-peers-service needs faasd built with --features kubernetes")
        }
    };
    match (&config.prometheus_url, peers) {
        (Some(url), _) if leased || !matches!(config.autoscaler_peers, AutoscalerPeers::None) => {
            Ok(Some(Arc::new(PrometheusCounters::new(url))))
        }
        (_, Some(peers)) => Ok(Some(Arc::new(PeerCounters::new(
            peers,
            gateway.instance().to_owned(),
            auth,
        )))),
        _ => {
            if leased {
                tracing::warn!(
                    "the autoscaler counts only the calls of the replica holding the Lease: \
                     give --prometheus-url, --autoscaler-peers-service or --autoscaler-peers \
                     to scale on all of them"
                );
            }
            Ok(None)
        }
    }
}

/// A Service's ready endpoints as the peer list, connected on first use.
#[cfg(feature = "kubernetes")]
struct ServiceList {
    namespace: String,
    name: String,
    peers: tokio::sync::OnceCell<faas_provider_kubernetes::peers::ServicePeers>,
}

#[cfg(feature = "kubernetes")]
impl PeerList for ServiceList {
    fn peers(
        &self,
    ) -> faas_gateway::autoscaler::cluster::BoxFuture<'_, Result<Vec<std::net::SocketAddr>, String>>
    {
        Box::pin(async move {
            let peers = self
                .peers
                .get_or_try_init(|| {
                    faas_provider_kubernetes::peers::ServicePeers::connect(
                        &self.namespace,
                        &self.name,
                    )
                })
                .await
                .map_err(|err| err.to_string())?;
            peers.addresses().await
        })
    }
}

/// This replica's Lease election (`--autoscaler-lease`), shared by the autoscaler and the
/// operator.
#[cfg(feature = "kubernetes")]
pub type Election = faas_provider_kubernetes::lease::Leadership;
/// No election without the kubernetes provider.
#[cfg(not(feature = "kubernetes"))]
pub enum Election {}

/// Joins the Lease election when `--autoscaler-lease` names one (kubernetes provider only).
pub async fn election(config: &Config) -> anyhow::Result<Option<Election>> {
    #[cfg(feature = "kubernetes")]
    if let crate::config::ProviderChoice::Kubernetes {
        autoscaler_lease: Some((namespace, name)),
        ..
    } = &config.provider
    {
        use faas_provider_kubernetes::lease::{Leadership, LeaseConfig};
        let lease = LeaseConfig {
            namespace: namespace.clone(),
            name: name.clone(),
            identity: LeaseConfig::identity_for_this_host(),
            duration: std::time::Duration::from_secs(15),
        };
        let leadership = Leadership::connect(lease)
            .await
            .map_err(|err| anyhow::anyhow!("cannot join the Lease {namespace}/{name}: {err}"))?;
        return Ok(Some(leadership));
    }
    #[cfg(not(feature = "kubernetes"))]
    let _ = config;
    Ok(None)
}

fn spawn(gateway: &Gateway, source: &Option<Arc<dyn LoadSource>>) -> AutoscalerTask {
    match source {
        Some(source) => gateway.start_cluster_autoscaler(source.clone()),
        None => gateway.start_autoscaler(),
    }
}

/// The running autoscaler (or the election that starts and stops it); dropping it stops both.
pub enum RunningAutoscaler {
    /// Held for its `Drop`: the task stops with it.
    Always { _task: AutoscalerTask },
    #[cfg(feature = "kubernetes")]
    Leased(tokio::task::JoinHandle<()>),
}

impl Drop for RunningAutoscaler {
    fn drop(&mut self) {
        #[cfg(feature = "kubernetes")]
        if let RunningAutoscaler::Leased(task) = self {
            task.abort();
        }
    }
}

/// Starts the autoscaler as configured, over `source`'s load of the other replicas: always,
/// or while `election` says this replica holds the Lease.
pub fn start(
    gateway: &Gateway,
    source: Option<Arc<dyn LoadSource>>,
    election: Option<&Election>,
) -> anyhow::Result<RunningAutoscaler> {
    #[cfg(feature = "kubernetes")]
    if let Some(election) = election {
        return Ok(RunningAutoscaler::Leased(leased(
            gateway.clone(),
            source,
            election.subscribe(),
        )));
    }
    #[cfg(not(feature = "kubernetes"))]
    let _ = election;
    Ok(RunningAutoscaler::Always {
        _task: spawn(gateway, &source),
    })
}

#[cfg(feature = "kubernetes")]
fn leased(
    gateway: Gateway,
    source: Option<Arc<dyn LoadSource>>,
    mut leader: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut running = None;
        loop {
            let holds = *leader.borrow_and_update();
            match (holds, running.is_some()) {
                (true, false) => running = Some(spawn(&gateway, &source)),
                (false, true) => running = None,
                _ => {}
            }
            if leader.changed().await.is_err() {
                return;
            }
        }
    })
}
