//! Leader election on a `coordination.k8s.io/v1` Lease, so that among several server
//! replicas exactly one runs the autoscaler. The holder renews the Lease every third of its
//! duration; a replica takes it over only once it has expired, with the Lease's
//! resourceVersion as the precondition (so of two contenders one wins); a holder that could
//! not renew for two thirds of the duration steps down before anyone may take over.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which Lease, and who this replica is.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// This replica's identity (its pod name, made unique).
    pub identity: String,
    /// How long a holder's claim lasts without renewal.
    pub duration: Duration,
}

impl LeaseConfig {
    /// An identity for this process: the host's name (a pod's name, in a cluster) and a
    /// random suffix, so a pod restarted under the same name is a new contender.
    pub fn identity_for_this_host() -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "faasd".to_owned());
        let suffix = format!(
            "{:08x}",
            std::process::id() ^ (now().subsec_nanosecond() as u32)
        );
        format!("{host}-{suffix}")
    }
}

/// Whether this replica holds the Lease; the election runs until this is dropped.
pub struct Leadership {
    leader: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl Leadership {
    /// Starts contending for the Lease.
    pub fn start(client: Client, config: LeaseConfig) -> Leadership {
        let (sender, leader) = watch::channel(false);
        let task = tokio::spawn(contend(
            Api::namespaced(client, &config.namespace),
            config,
            sender,
        ));
        Leadership { leader, task }
    }

    /// Connects with the in-cluster configuration or `KUBECONFIG` and starts contending.
    pub async fn connect(config: LeaseConfig) -> Result<Leadership, faas_provider::ProviderError> {
        let client = Client::try_default().await.map_err(|err| {
            faas_provider::ProviderError::Unavailable(format!(
                "no Kubernetes configuration (in-cluster or KUBECONFIG): {err}"
            ))
        })?;
        Ok(Self::start(client, config))
    }

    /// Changes of leadership (`true`: this replica holds the Lease).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leader.clone()
    }

    /// Holds it now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// What this replica should do with the Lease as read.
#[derive(Debug, PartialEq, Eq)]
pub enum LeaseStep {
    /// It is ours: renew it.
    Renew,
    /// Free or expired: take it.
    Acquire,
    /// Someone else holds it.
    Follow,
}

/// Decides, from the Lease's spec, at `at`.
pub fn step(spec: Option<&LeaseSpec>, identity: &str, at: Timestamp) -> LeaseStep {
    let Some(spec) = spec else {
        return LeaseStep::Acquire;
    };
    match spec.holder_identity.as_deref() {
        Some(holder) if holder == identity => LeaseStep::Renew,
        None | Some("") => LeaseStep::Acquire,
        Some(_) => {
            let millis = i64::from(spec.lease_duration_seconds.unwrap_or(15)) * 1000;
            let renewed = spec.renew_time.as_ref().map(|t| t.0);
            match renewed {
                Some(renewed) if renewed.as_millisecond() + millis > at.as_millisecond() => {
                    LeaseStep::Follow
                }
                _ => LeaseStep::Acquire,
            }
        }
    }
}

fn claim(config: &LeaseConfig, previous: Option<&LeaseSpec>, renewing: bool) -> LeaseSpec {
    let now = MicroTime(now());
    let transitions = previous.and_then(|s| s.lease_transitions).unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(config.identity.clone()),
        lease_duration_seconds: Some(config.duration.as_secs().max(1) as i32),
        acquire_time: if renewing {
            previous.and_then(|s| s.acquire_time.clone())
        } else {
            Some(now.clone())
        },
        renew_time: Some(now),
        lease_transitions: Some(if renewing || previous.is_none() {
            transitions
        } else {
            transitions + 1
        }),
        ..LeaseSpec::default()
    }
}

/// One look at the Lease: `Ok(true)` when this replica holds it afterwards.
async fn attempt(leases: &Api<Lease>, config: &LeaseConfig) -> Result<bool, kube::Error> {
    let current = leases.get_opt(&config.name).await?;
    let Some(mut lease) = current else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(config.name.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(claim(config, None, false)),
        };
        return match leases.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(err) if crate::error::is_conflict(&err) => Ok(false),
            Err(err) => Err(err),
        };
    };
    let decision = step(lease.spec.as_ref(), &config.identity, now());
    if decision == LeaseStep::Follow {
        return Ok(false);
    }
    lease.spec = Some(claim(
        config,
        lease.spec.as_ref(),
        decision == LeaseStep::Renew,
    ));
    match leases
        .replace(&config.name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => Ok(true),
        // Someone else wrote first (took it, or we lost a race): follow.
        Err(err) if crate::error::is_conflict(&err) => Ok(false),
        Err(err) => Err(err),
    }
}

async fn contend(leases: Api<Lease>, config: LeaseConfig, leader: watch::Sender<bool>) {
    let period = config.duration / 3;
    let step_down_after = config.duration * 2 / 3;
    let mut last_held = tokio::time::Instant::now();
    loop {
        match attempt(&leases, &config).await {
            Ok(held) => {
                if held {
                    last_held = tokio::time::Instant::now();
                }
                if *leader.borrow() != held {
                    tracing::info!(identity = %config.identity, "autoscaler lease {}", if held { "acquired" } else { "lost" });
                }
                leader.send_if_modified(|l| std::mem::replace(l, held) != held);
            }
            Err(err) => {
                tracing::warn!(
                    "autoscaler lease {}/{}: {err}",
                    config.namespace,
                    config.name
                );
                if *leader.borrow() && last_held.elapsed() >= step_down_after {
                    tracing::warn!("cannot renew the autoscaler lease: stepping down");
                    leader.send_replace(false);
                }
            }
        }
        // A holder looks again in time to step down by its deadline, whatever the period.
        let pause = if *leader.borrow() {
            let left = step_down_after.saturating_sub(last_held.elapsed());
            period.min(left.max(Duration::from_millis(10)))
        } else {
            period
        };
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renewed_secs_ago: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(
                Timestamp::from_second(1_000_000 - renewed_secs_ago).unwrap(),
            )),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_lease_is_renewed_followed_or_taken_over_when_expired() {
        let at = Timestamp::from_second(1_000_000).unwrap();
        assert_eq!(step(None, "a", at), LeaseStep::Acquire);
        assert_eq!(step(Some(&spec("a", 3)), "a", at), LeaseStep::Renew);
        assert_eq!(step(Some(&spec("b", 3)), "a", at), LeaseStep::Follow);
        assert_eq!(step(Some(&spec("b", 16)), "a", at), LeaseStep::Acquire);
        assert_eq!(step(Some(&spec("b", 15)), "a", at), LeaseStep::Acquire);
        assert_eq!(step(Some(&spec("b", 14)), "a", at), LeaseStep::Follow);
        assert_eq!(step(Some(&spec("", 1)), "a", at), LeaseStep::Acquire);
    }
}
