//! `rate-load URL RATE SECONDS [CONNECTIONS]`: sends GET requests to URL at RATE per second for
//! SECONDS over CONNECTIONS keep-alive connections and prints latency percentiles, measured
//! from each request's scheduled time (no coordinated omission).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Mutex;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        bail!("usage: rate-load URL RATE SECONDS [CONNECTIONS]");
    }
    let url: hyper::Uri = args[0].parse().context("URL")?;
    let rate: f64 = args[1].parse().context("RATE")?;
    let seconds: f64 = args[2].parse().context("SECONDS")?;
    let connections: usize = args.get(3).map(|c| c.parse()).transpose()?.unwrap_or(32);
    if !(rate > 0.0 && seconds > 0.0 && seconds <= 600.0) {
        bail!("RATE must be > 0 and SECONDS in (0, 600]");
    }

    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http();
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let limit = Arc::new(tokio::sync::Semaphore::new(connections * 4));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        let permit = limit.clone().acquire_owned().await?;
        let client = client.clone();
        let url = url.clone();
        let latencies = latencies.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let ok = match client.get(url).await {
                Ok(response) => {
                    let good = response.status().is_success();
                    good && response.into_body().collect().await.is_ok()
                }
                Err(_) => false,
            };
            if ok {
                latencies.lock().await.push(due.elapsed());
            } else {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut all = latencies.lock().await.clone();
    all.sort();
    let pick = |q: f64| -> f64 {
        if all.is_empty() {
            return f64::NAN;
        }
        let index = ((all.len() as f64 - 1.0) * q).round() as usize;
        all[index].as_secs_f64() * 1000.0
    };
    println!(
        "requests={} errors={} achieved_rps={:.0} p50_ms={:.3} p99_ms={:.3} max_ms={:.3}",
        all.len(),
        errors.load(std::sync::atomic::Ordering::Relaxed),
        all.len() as f64 / elapsed,
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
    Ok(())
}
