//! The load of every server replica together, for the one replica that autoscales.
//!
//! Several gateways behind one Service each count only the calls they proxy; the replica
//! holding the autoscaler's Lease must scale on all of them. A [`LoadSource`] fetches the
//! other replicas' counters each look:
//!
//! - [`PeerCounters`]: asks each peer's `GET /system/scale-stats` (this module's
//!   [`ScaleStats`] JSON) on its own address, found by a [`PeerList`] (a fixed list, or a
//!   Service's EndpointSlices in `faasd`). Answers carry the answering process's `instance`
//!   id, so this replica skips itself when the list includes it; its own counters are added
//!   from memory.
//! - [`PrometheusCounters`]: one instant query per counter over every scraped replica
//!   (`gateway_function_invocation_started`, `gateway_function_invocation_total{code="200"}`,
//!   `gateway_function_invocation_inflight`, `gateway_functions_seconds_sum`), by `instance`. Prometheus scrapes this replica too, so
//!   its own counters are not added again.
//!
//! [`ClusterLoad`] turns the samples into counters that only grow: per peer it keeps the
//! last value seen and adds the increase (a counter that went down is a restarted replica:
//! its whole value is new), so a peer that leaves or restarts never makes the total go back.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use http::{Request, Uri};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::BasicCredentials;
use crate::functions::CallStats;
use crate::server::AppState;

/// A boxed future, for the object-safe traits below.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How long one peer or one Prometheus query may take before the look goes on without it.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
const LARGEST_ANSWER: usize = 8 << 20;
/// A peer not heard from for this long is forgotten (it left; one coming back later is new).
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// One function's counters on one replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCounters {
    /// The function's namespace.
    pub namespace: String,
    /// The function's name.
    pub name: String,
    /// Calls started so far.
    pub started: u64,
    /// Calls answered 200 so far (absent from older replicas' answers: 0).
    #[serde(default)]
    pub answered_ok: u64,
    /// Calls in flight now.
    pub in_flight: u64,
    /// Summed duration of finished calls, in microseconds.
    pub busy_micros: u64,
}

/// `GET /system/scale-stats`: this replica's counters for every function it has proxied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleStats {
    /// This process's id (random at start), so an autoscaler can tell itself from its peers.
    pub instance: String,
    /// Every function this replica has counted.
    pub functions: Vec<FunctionCounters>,
}

/// The counters of one replica, as a [`LoadSource`] saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerLoad {
    /// Which replica (its instance id, or Prometheus's `instance` label).
    pub peer: String,
    /// Its counters.
    pub functions: Vec<FunctionCounters>,
}

/// What a look learned from the other replicas.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// The replicas that answered.
    pub peers: Vec<PeerLoad>,
    /// Peers that did not answer, with why (logged by the autoscaler).
    pub failures: Vec<String>,
}

/// Where the autoscaler reads the other replicas' load.
pub trait LoadSource: Send + Sync {
    /// One look at every replica.
    fn fetch(&self) -> BoxFuture<'_, Result<Fetched, String>>;
    /// Whether its samples include this replica's own calls.
    fn includes_self(&self) -> bool;
}

/// Where the other replicas listen.
pub trait PeerList: Send + Sync {
    /// The peers' addresses now (may include this replica's own).
    fn peers(&self) -> BoxFuture<'_, Result<Vec<SocketAddr>, String>>;
}

/// A fixed list of peers (`faasd --autoscaler-peers`).
pub struct FixedPeers(pub Vec<SocketAddr>);

impl PeerList for FixedPeers {
    fn peers(&self) -> BoxFuture<'_, Result<Vec<SocketAddr>, String>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

async fn get_json(uri: Uri, auth: Option<&BasicCredentials>) -> Result<Value, String> {
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = Request::get(uri);
    if let Some(auth) = auth {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", auth.user, auth.password));
        request = request.header(http::header::AUTHORIZATION, format!("Basic {token}"));
    }
    let request = request.body(Body::empty()).map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(FETCH_TIMEOUT, client.request(request))
        .await
        .map_err(|_| format!("no answer in {FETCH_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = tokio::time::timeout(
        FETCH_TIMEOUT,
        http_body_util::Limited::new(response.into_body(), LARGEST_ANSWER).collect(),
    )
    .await
    .map_err(|_| format!("no whole answer in {FETCH_TIMEOUT:?}"))?
    .map_err(|e| e.to_string())?
    .to_bytes();
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))
}

/// Reads the peers' `/system/scale-stats`, all at once.
pub struct PeerCounters {
    peers: Arc<dyn PeerList>,
    /// This replica's instance id: its own answer is skipped.
    own_instance: String,
    /// The gateways' shared basic-auth credentials (`None` when auth is off).
    auth: Option<BasicCredentials>,
}

impl PeerCounters {
    /// Peers from `peers`, asked with `auth`; answers from `own_instance` are skipped.
    pub fn new(
        peers: Arc<dyn PeerList>,
        own_instance: String,
        auth: Option<BasicCredentials>,
    ) -> PeerCounters {
        PeerCounters {
            peers,
            own_instance,
            auth,
        }
    }
}

impl LoadSource for PeerCounters {
    fn fetch(&self) -> BoxFuture<'_, Result<Fetched, String>> {
        Box::pin(async move {
            let addresses = self.peers.peers().await?;
            let asks = addresses.iter().map(|address| async move {
                let uri: Uri = format!("http://{address}/system/scale-stats")
                    .parse()
                    .map_err(|e: http::uri::InvalidUri| e.to_string())?;
                let answer = get_json(uri, self.auth.as_ref()).await?;
                serde_json::from_value::<ScaleStats>(answer).map_err(|e| e.to_string())
            });
            let answers = futures_util::future::join_all(asks).await;
            let mut fetched = Fetched::default();
            for (address, answer) in addresses.iter().zip(answers) {
                match answer {
                    Ok(stats) if stats.instance == self.own_instance => {}
                    Ok(stats) => fetched.peers.push(PeerLoad {
                        peer: stats.instance,
                        functions: stats.functions,
                    }),
                    Err(err) => fetched.failures.push(format!("{address}: {err}")),
                }
            }
            Ok(fetched)
        })
    }

    fn includes_self(&self) -> bool {
        false
    }
}

/// Reads every replica's counters from a Prometheus that scrapes them all.
pub struct PrometheusCounters {
    base: String,
}

impl PrometheusCounters {
    /// Prometheus at `base` (`http://host:port`).
    pub fn new(base: &str) -> PrometheusCounters {
        PrometheusCounters {
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// `sum by (instance, function_name) (METRIC)`: value per (instance, function label).
    async fn query(&self, metric: &str) -> Result<Vec<(String, String, f64)>, String> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair(
                "query",
                &format!("sum by (instance, function_name) ({metric})"),
            )
            .finish();
        let uri: Uri = format!("{}/api/v1/query?{query}", self.base)
            .parse()
            .map_err(|e: http::uri::InvalidUri| e.to_string())?;
        let answer = get_json(uri, None).await?;
        if answer["status"] != "success" {
            return Err(format!(
                "query failed: {}",
                answer["error"].as_str().unwrap_or("no reason given")
            ));
        }
        let mut out = Vec::new();
        for series in answer["data"]["result"].as_array().into_iter().flatten() {
            let instance = series["metric"]["instance"].as_str().unwrap_or_default();
            let function = series["metric"]["function_name"]
                .as_str()
                .unwrap_or_default();
            let value = series["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0);
            if let Some(value) = value {
                out.push((instance.to_owned(), function.to_owned(), value));
            }
        }
        Ok(out)
    }
}

impl LoadSource for PrometheusCounters {
    fn fetch(&self) -> BoxFuture<'_, Result<Fetched, String>> {
        Box::pin(async move {
            let (started, answered_ok, in_flight, busy) = tokio::try_join!(
                self.query("gateway_function_invocation_started"),
                self.query(r#"gateway_function_invocation_total{code="200"}"#),
                self.query("gateway_function_invocation_inflight"),
                self.query("gateway_functions_seconds_sum"),
            )?;
            let mut by_peer: HashMap<String, HashMap<String, FunctionCounters>> = HashMap::new();
            for (which, series) in [(0, started), (1, in_flight), (2, busy), (3, answered_ok)] {
                for (instance, function, value) in series {
                    // OpenFaaS's label is `name.namespace`; a namespace has no dot.
                    let Some((name, namespace)) = function.rsplit_once('.') else {
                        continue;
                    };
                    let c = by_peer
                        .entry(instance)
                        .or_default()
                        .entry(function.clone())
                        .or_insert_with(|| FunctionCounters {
                            namespace: namespace.to_owned(),
                            name: name.to_owned(),
                            started: 0,
                            answered_ok: 0,
                            in_flight: 0,
                            busy_micros: 0,
                        });
                    match which {
                        0 => c.started = value as u64,
                        1 => c.in_flight = value as u64,
                        2 => c.busy_micros = (value * 1e6) as u64,
                        _ => c.answered_ok = value as u64,
                    }
                }
            }
            let mut peers: Vec<PeerLoad> = by_peer
                .into_iter()
                .map(|(peer, functions)| PeerLoad {
                    peer,
                    functions: functions.into_values().collect(),
                })
                .collect();
            peers.sort_by(|a, b| a.peer.cmp(&b.peer));
            Ok(Fetched {
                peers,
                failures: Vec::new(),
            })
        })
    }

    fn includes_self(&self) -> bool {
        true
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    started: u64,
    answered_ok: u64,
    busy_micros: u64,
    in_flight: u64,
}

/// The other replicas' counters summed into ever-growing totals per function.
#[derive(Debug)]
pub struct ClusterLoad {
    /// Per (peer, namespace, name): the counters last seen, and when the peer last answered.
    last: HashMap<(String, String, String), (FunctionCounters, Instant)>,
    totals: HashMap<(String, String), Totals>,
    includes_self: bool,
    looked: bool,
}

impl ClusterLoad {
    /// No look yet; `includes_self` as the source's ([`LoadSource::includes_self`]).
    pub fn new(includes_self: bool) -> ClusterLoad {
        ClusterLoad {
            last: HashMap::new(),
            totals: HashMap::new(),
            includes_self,
            looked: false,
        }
    }

    /// Takes in one look's samples.
    pub fn update(&mut self, fetched: &Fetched, now: Instant) {
        for total in self.totals.values_mut() {
            total.in_flight = 0;
        }
        for peer in &fetched.peers {
            for f in &peer.functions {
                let key = (peer.peer.clone(), f.namespace.clone(), f.name.clone());
                // A peer seen at the first look was counting before this autoscaler started:
                // its counts so far are its baseline. One that appears later is new (or
                // restarted), so everything it counted is new load.
                let (from_started, from_ok, from_busy) = match self.last.get(&key) {
                    Some((last, _)) if f.started >= last.started => (
                        last.started,
                        last.answered_ok.min(f.answered_ok),
                        last.busy_micros.min(f.busy_micros),
                    ),
                    Some(_) => (0, 0, 0),
                    None if !self.looked => (f.started, f.answered_ok, f.busy_micros),
                    None => (0, 0, 0),
                };
                let total = self
                    .totals
                    .entry((f.namespace.clone(), f.name.clone()))
                    .or_default();
                total.started += f.started - from_started;
                total.answered_ok += f.answered_ok - from_ok;
                total.busy_micros += f.busy_micros.saturating_sub(from_busy);
                total.in_flight += f.in_flight;
                self.last.insert(key, (f.clone(), now));
            }
        }
        self.last
            .retain(|_, (_, seen)| now.saturating_duration_since(*seen) < FORGET_AFTER);
        self.looked = true;
    }

    /// A function's counters over every replica: `local` (this replica's) plus the peers'
    /// totals, or the totals alone when the source counts this replica too.
    pub fn combine(&self, namespace: &str, name: &str, local: CallStats) -> CallStats {
        let total = self
            .totals
            .get(&(namespace.to_owned(), name.to_owned()))
            .copied()
            .unwrap_or_default();
        let busy = Duration::from_micros(total.busy_micros);
        if self.includes_self {
            CallStats {
                started: total.started,
                answered_ok: total.answered_ok,
                in_flight: total.in_flight,
                busy,
                cold_starts: local.cold_starts,
            }
        } else {
            CallStats {
                started: local.started + total.started,
                answered_ok: local.answered_ok + total.answered_ok,
                in_flight: local.in_flight + total.in_flight,
                busy: local.busy + busy,
                cold_starts: local.cold_starts,
            }
        }
    }

    /// Keeps only the functions `keep(namespace, name)` says still exist.
    pub fn retain(&mut self, keep: impl Fn(&str, &str) -> bool) {
        self.totals.retain(|(ns, n), _| keep(ns, n));
        self.last.retain(|(_, ns, n), _| keep(ns, n));
    }
}

/// `GET /system/scale-stats`: this replica's counters.
pub(crate) async fn serve(State(state): State<AppState>) -> Json<ScaleStats> {
    let mut functions: Vec<FunctionCounters> = state
        .functions
        .entries()
        .iter()
        .map(|entry| {
            let stats = entry.stats();
            FunctionCounters {
                namespace: entry.namespace().to_owned(),
                name: entry.name().to_owned(),
                started: stats.started,
                answered_ok: stats.answered_ok,
                in_flight: stats.in_flight,
                busy_micros: u64::try_from(stats.busy.as_micros()).unwrap_or(u64::MAX),
            }
        })
        .collect();
    functions.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Json(ScaleStats {
        instance: state.instance.clone(),
        functions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(started: u64, in_flight: u64) -> FunctionCounters {
        FunctionCounters {
            namespace: "openfaas-fn".into(),
            name: "f".into(),
            started,
            answered_ok: started / 2,
            in_flight,
            busy_micros: started * 1000,
        }
    }

    fn look(peers: &[(&str, u64, u64)]) -> Fetched {
        Fetched {
            peers: peers
                .iter()
                .map(|(peer, started, in_flight)| PeerLoad {
                    peer: (*peer).to_owned(),
                    functions: vec![counters(*started, *in_flight)],
                })
                .collect(),
            failures: Vec::new(),
        }
    }

    #[test]
    fn totals_grow_by_each_peers_increase_and_never_go_back() {
        let now = Instant::now();
        let local = CallStats {
            started: 7,
            answered_ok: 5,
            in_flight: 1,
            busy: Duration::ZERO,
            cold_starts: 0,
        };
        let mut load = ClusterLoad::new(false);
        // First look: the peers' counts so far are a baseline.
        load.update(&look(&[("a", 100, 2), ("b", 50, 0)]), now);
        let s = load.combine("openfaas-fn", "f", local);
        assert_eq!((s.started, s.in_flight), (7, 3));
        load.update(&look(&[("a", 110, 1), ("b", 55, 4)]), now);
        let s = load.combine("openfaas-fn", "f", local);
        assert_eq!((s.started, s.in_flight), (7 + 15, 6));
        // a's 200s went 50 -> 55, b's 25 -> 27.
        assert_eq!(s.answered_ok, 5 + 5 + 2);
        assert_eq!(s.busy, Duration::from_millis(15));
        // b restarted (its counter went down: all 3 are new); a did not answer; c is new.
        load.update(&look(&[("b", 3, 0), ("c", 4, 1)]), now);
        let s = load.combine("openfaas-fn", "f", local);
        assert_eq!((s.started, s.in_flight), (7 + 15 + 3 + 4, 2));
        // a answers again: only its increase since its last answer counts.
        load.update(&look(&[("a", 112, 0), ("b", 3, 0), ("c", 4, 0)]), now);
        assert_eq!(load.combine("openfaas-fn", "f", local).started, 7 + 24);
        assert_eq!(load.combine("openfaas-fn", "other", local).started, 7);
    }

    #[test]
    fn a_source_that_counts_this_replica_replaces_the_local_counters() {
        let now = Instant::now();
        let local = CallStats {
            started: 7,
            answered_ok: 5,
            in_flight: 1,
            busy: Duration::ZERO,
            cold_starts: 2,
        };
        let mut load = ClusterLoad::new(true);
        let mut fetched = look(&[("10.0.0.1:8080", 10, 1), ("10.0.0.2:8080", 20, 1)]);
        load.update(&fetched, now);
        fetched.peers[0].functions[0].started = 16;
        fetched.peers[1].functions[0].started = 24;
        load.update(&fetched, now);
        let s = load.combine("openfaas-fn", "f", local);
        assert_eq!((s.started, s.in_flight, s.cold_starts), (10, 2, 2));
    }
}
