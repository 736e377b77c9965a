//! Where the autoscaler runs: in this process always, or (with `--provider kubernetes` and
//! `--autoscaler-lease`) only while this replica holds the Lease, so that of several server
//! replicas exactly one scales functions.

use faas_gateway::{AutoscalerTask, Gateway};

use crate::config::Config;

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

/// Starts the autoscaler as configured.
pub fn start(config: &Config, gateway: &Gateway) -> anyhow::Result<RunningAutoscaler> {
    #[cfg(feature = "kubernetes")]
    if let crate::config::ProviderChoice::Kubernetes {
        autoscaler_lease: Some((namespace, name)),
        ..
    } = &config.provider
    {
        return Ok(RunningAutoscaler::Leased(leased(
            gateway.clone(),
            namespace.clone(),
            name.clone(),
        )));
    }
    #[cfg(not(feature = "kubernetes"))]
    let _ = config;
    Ok(RunningAutoscaler::Always {
        _task: gateway.start_autoscaler(),
    })
}

#[cfg(feature = "kubernetes")]
fn leased(gateway: Gateway, namespace: String, name: String) -> tokio::task::JoinHandle<()> {
    use faas_provider_kubernetes::lease::{Leadership, LeaseConfig};
    tokio::spawn(async move {
        let config = LeaseConfig {
            namespace,
            name,
            identity: LeaseConfig::identity_for_this_host(),
            duration: std::time::Duration::from_secs(15),
        };
        let leadership = match Leadership::connect(config).await {
            Ok(leadership) => leadership,
            Err(err) => {
                tracing::error!("autoscaler lease: {err}; this replica will not autoscale");
                return;
            }
        };
        let mut leader = leadership.subscribe();
        let mut running = None;
        loop {
            let holds = *leader.borrow_and_update();
            match (holds, running.is_some()) {
                (true, false) => running = Some(gateway.start_autoscaler()),
                (false, true) => running = None,
                _ => {}
            }
            if leader.changed().await.is_err() {
                return;
            }
        }
    })
}
