//! The process backend's state: validation that changes nothing, namespaces, package garbage
//! collection, recovery after `kill -9` of the server, and cgroup limits.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use faas_provider::{Provider, ProviderError};
use faas_provider_process::ProcessProvider;
use faas_types::{FunctionResources, NamespaceRequest, Secret};

fn is_invalid<T: std::fmt::Debug>(result: Result<T, ProviderError>, needle: &str) {
    match result {
        Err(ProviderError::Invalid(message)) => {
            assert!(
                message.contains(needle),
                "{message:?} should mention {needle:?}"
            )
        }
        other => panic!("expected Invalid mentioning {needle:?}, got {other:?}"),
    }
}

/// Every file under `dir`, relative, sorted (state snapshots).
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    out.push(path.strip_prefix(root).unwrap().to_path_buf());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.retain(|p| !p.starts_with("logs") && !p.starts_with("run"));
    out.sort();
    out
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let h = Harness::start().await;
    h.provider
        .deploy(host_function("keep", "cat"))
        .await
        .unwrap();
    h.wait_ready("keep", 1).await;
    let before = files(h.data());
    let p = &h.provider;

    // Names.
    is_invalid(
        p.deploy(host_function("Bad_Name", "cat")).await,
        "invalid function name",
    );
    is_invalid(
        p.deploy(host_function("../x", "cat")).await,
        "invalid function name",
    );
    let mut elsewhere = host_function("ok", "cat");
    elsewhere.namespace = Some("../etc".into());
    is_invalid(p.deploy(elsewhere).await, "invalid namespace");
    let mut missing_ns = host_function("ok", "cat");
    missing_ns.namespace = Some("no-such".into());
    is_invalid(p.deploy(missing_ns).await, "does not exist");

    // Replicas, images, limits.
    is_invalid(
        p.deploy(with_min_replicas(host_function("big", "cat"), 1000))
            .await,
        "at most 10",
    );
    is_invalid(p.scale("openfaas-fn", "keep", 11).await, "at most 10");
    is_invalid(p.scale("openfaas-fn", "keep", u64::MAX).await, "at most 10");
    is_invalid(
        p.deploy(deployment("noproc", "functions/figlet:0.13", None))
            .await,
        "envProcess",
    );
    let mut limited = host_function("limited", "cat");
    limited.limits = Some(FunctionResources {
        memory: Some("128m".into()),
        ..Default::default()
    });
    is_invalid(p.deploy(limited).await, "128Mi");
    let mut cpu = host_function("limited", "cat");
    cpu.limits = Some(FunctionResources {
        cpu: Some("lots".into()),
        ..Default::default()
    });
    is_invalid(p.deploy(cpu).await, "lots");

    // Conflicts and unknown functions.
    assert!(matches!(
        p.deploy(host_function("keep", "wc")).await,
        Err(ProviderError::Conflict(_))
    ));
    assert!(matches!(
        p.update(host_function("ghost", "cat")).await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(matches!(
        p.scale("openfaas-fn", "ghost", 1).await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(matches!(
        p.delete("openfaas-fn", "ghost").await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(matches!(
        p.status("openfaas-fn", "ghost").await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(matches!(
        p.routes("openfaas-fn", "../x").await,
        Err(ProviderError::Invalid(_))
    ));

    // Package names and archives.
    let good = package(&[("faas-package.json", 0o644, br#"{"env":{"fprocess":"cat"}}"#)]);
    for name in [
        "../evil",
        "/abs",
        "a/../b",
        "UPPER",
        "a b",
        "",
        "a:b/c",
        "x@sha256:00",
        "a//b",
    ] {
        is_invalid(p.put_package(name, good.clone()).await, "package name");
    }
    is_invalid(
        p.put_package("junk", "not gzip".into()).await,
        "package is not a tar.gz",
    );
    is_invalid(
        p.put_package("junk", gzip(b"gzip but not tar")).await,
        "package is not a tar.gz",
    );
    let mut header = tar::Header::new_gnu();
    let name = b"../escape";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(1);
    header.set_mode(0o644);
    header.set_cksum();
    let mut raw = header.as_bytes().to_vec();
    raw.extend_from_slice(&[b'x'; 512]);
    raw.extend_from_slice(&[0u8; 1024]);
    is_invalid(p.put_package("escape", gzip(&raw)).await, "'..'");
    let mut builder = tar::Builder::new(Vec::new());
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    builder.append_link(&mut link, "etc", "/etc").unwrap();
    is_invalid(
        p.put_package("linky", gzip(&builder.into_inner().unwrap()))
            .await,
        "outside",
    );
    assert!(p.list_packages().await.unwrap().is_empty());

    // Secret names.
    for name in ["../x", "a/b", "", "UP"] {
        let secret = Secret {
            name: name.into(),
            value: Some("v".into()),
            ..Default::default()
        };
        is_invalid(p.create_secret(secret).await, "secret name");
    }
    is_invalid(
        p.delete_secret("openfaas-fn", "../../etc/passwd").await,
        "secret name",
    );
    is_invalid(
        p.create_secret(Secret {
            name: "s".into(),
            namespace: Some("no-such".into()),
            ..Default::default()
        })
        .await,
        "does not exist",
    );

    assert_eq!(files(h.data()), before, "failed requests left state behind");
    let status = p.status("openfaas-fn", "keep").await.unwrap();
    assert_eq!(
        (status.replicas, status.env_process.as_deref()),
        (1, Some("cat"))
    );
    assert_eq!(p.list("openfaas-fn").await.unwrap().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn namespaces() {
    let h = Harness::start().await;
    let p = &h.provider;
    assert_eq!(p.list_namespaces().await.unwrap(), vec!["openfaas-fn"]);
    let dev = NamespaceRequest {
        name: "dev".into(),
        labels: Some([("team".to_owned(), "a".to_owned())].into()),
        annotations: None,
    };
    p.create_namespace(dev.clone()).await.unwrap();
    assert!(matches!(
        p.create_namespace(dev.clone()).await,
        Err(ProviderError::Conflict(_))
    ));
    assert_eq!(p.get_namespace("dev").await.unwrap(), dev);
    assert_eq!(
        p.list_namespaces().await.unwrap(),
        vec!["dev", "openfaas-fn"]
    );

    let mut function = host_function("devfn", "cat");
    function.namespace = Some("dev".into());
    p.deploy(function).await.unwrap();
    wait_ready(p, "dev", "devfn", 1).await;
    assert_eq!(
        p.list("dev").await.unwrap()[0].namespace.as_deref(),
        Some("dev")
    );
    assert!(p.list("openfaas-fn").await.unwrap().is_empty());
    assert!(matches!(
        p.list("nowhere").await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(matches!(
        p.delete_namespace("dev").await,
        Err(ProviderError::Conflict(_))
    ));
    is_invalid(p.delete_namespace("openfaas-fn").await, "cannot be deleted");

    let mut updated = dev.clone();
    updated.labels = None;
    p.update_namespace(updated.clone()).await.unwrap();
    assert_eq!(p.get_namespace("dev").await.unwrap(), updated);

    p.delete("dev", "devfn").await.unwrap();
    p.delete_namespace("dev").await.unwrap();
    assert!(matches!(
        p.get_namespace("dev").await,
        Err(ProviderError::NotFound(_))
    ));
    h.stop().await;
}

#[tokio::test]
async fn unused_packages_are_collected_after_the_grace_period() {
    let h = Harness::start_with(|c| c.package_grace = Duration::from_millis(300)).await;
    let p = &h.provider;
    let unused = package(&[("a.txt", 0o644, b"unused")]);
    let used = package(&[("faas-package.json", 0o644, br#"{"env":{"fprocess":"cat"}}"#)]);
    let unused = p.put_package("unused:1", unused).await.unwrap();
    let used = p.put_package("used:1", used).await.unwrap();
    p.deploy(deployment("user", "used:1", None)).await.unwrap();
    h.wait_ready("user", 1).await;

    let blob = |info: &faas_provider::PackageInfo| {
        h.data().join(format!(
            "packages/blobs/sha256/{}.tar.gz",
            info.digest.trim_start_matches("sha256:")
        ))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while blob(&unused).exists() {
        assert!(
            Instant::now() < deadline,
            "the unused package was never removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let listed = p.list_packages().await.unwrap();
    assert_eq!(listed, vec![used.clone()], "the pinned package stays");
    assert!(blob(&used).exists());

    // Once its function is gone, it goes too (after its replica has stopped).
    p.delete("openfaas-fn", "user").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while blob(&used).exists() {
        assert!(Instant::now() < deadline, "the package was never removed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(p.list_packages().await.unwrap().is_empty());
    h.stop().await;
}

/// Run by `restart_recovery_after_kill_9` in a child process: deploys a function, writes the
/// replica pids to a file, and waits to be killed.
#[tokio::test]
#[ignore = "helper process for restart_recovery_after_kill_9"]
async fn recovery_helper() {
    let Some(data) = std::env::var_os("RUSTFAAS_RECOVERY_DATA") else {
        return;
    };
    let data = PathBuf::from(data);
    let provider = ProcessProvider::open(config(&data)).await.unwrap();
    provider
        .deploy(with_min_replicas(host_function("survivor", "cat"), 2))
        .await
        .unwrap();
    wait_ready(&provider, "openfaas-fn", "survivor", 2).await;
    let pids: Vec<String> = provider
        .replicas("openfaas-fn", "survivor")
        .unwrap()
        .iter()
        .map(|r| r.pid.unwrap().to_string())
        .collect();
    let ready = data.with_extension("pids");
    std::fs::write(ready.with_extension("tmp"), pids.join(" ")).unwrap();
    std::fs::rename(ready.with_extension("tmp"), &ready).unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[tokio::test]
async fn restart_recovery_after_kill_9() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["recovery_helper", "--exact", "--ignored", "--nocapture"])
        .env("RUSTFAAS_RECOVERY_DATA", &data)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pids_file = data.with_extension("pids");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pids_file.exists() {
        if let Ok(Some(status)) = helper.try_wait() {
            panic!("the helper exited early: {status}");
        }
        assert!(Instant::now() < deadline, "the helper never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let old: Vec<u32> = std::fs::read_to_string(&pids_file)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(old.len(), 2);
    // kill -9 of the server: its replicas are left behind (unless fwatchdog's
    // die_with_parent takes them down itself).
    helper.kill().unwrap();
    helper.wait().unwrap();
    let survivors = old.iter().filter(|p| process_alive(**p)).count();
    println!("{survivors} of 2 replicas outlived the killed server");

    let provider = ProcessProvider::open(config(&data)).await.unwrap();
    for pid in &old {
        assert!(!process_alive(*pid), "stale replica {pid} was not reaped");
    }
    let endpoints = wait_ready(&provider, "openfaas-fn", "survivor", 2).await;
    let fresh: Vec<u32> = provider
        .replicas("openfaas-fn", "survivor")
        .unwrap()
        .iter()
        .filter_map(|r| r.pid)
        .collect();
    assert!(fresh.iter().all(|p| !old.contains(p)));
    let (status, body) = call(&client(), &endpoints[0].address, "back").await;
    assert_eq!((status, body.as_str()), (200, "back"));
    let status = provider.status("openfaas-fn", "survivor").await.unwrap();
    assert_eq!((status.replicas, status.available_replicas), (2, 2));

    // A second server on the same data directory is refused.
    assert!(matches!(
        ProcessProvider::open(config(&data)).await,
        Err(ProviderError::Unavailable(_))
    ));
    provider.shutdown().await;
    for pid in fresh {
        assert!(!process_alive(pid), "replica {pid} survived shutdown");
    }
    // The functions stay deployed.
    assert!(data.join("functions/openfaas-fn/survivor.json").is_file());
}

#[tokio::test]
async fn dropping_the_provider_stops_its_replicas() {
    let h = Harness::start().await;
    h.provider
        .deploy(host_function("orphan", "cat"))
        .await
        .unwrap();
    h.wait_ready("orphan", 1).await;
    let pid = h.provider.replicas("openfaas-fn", "orphan").unwrap()[0]
        .pid
        .unwrap();
    let Harness { provider, dir, .. } = h;
    drop(provider);
    eventually("the replica to be stopped", Duration::from_secs(5), || {
        !process_alive(pid)
    })
    .await;
    // Its data stays: the function comes back with the next server.
    let provider = ProcessProvider::open(config(dir.path())).await.unwrap();
    wait_ready(&provider, "openfaas-fn", "orphan", 1).await;
    provider.shutdown().await;
}

#[tokio::test]
async fn corrupt_records_are_skipped() {
    let root = tempfile::tempdir().unwrap();
    let functions = root.path().join("functions/openfaas-fn");
    std::fs::create_dir_all(&functions).unwrap();
    std::fs::write(functions.join("broken.json"), b"{\"deployment\":").unwrap();
    std::fs::write(root.path().join("namespaces.json"), b"[[[").unwrap();
    std::fs::create_dir_all(root.path().join("packages")).unwrap();
    std::fs::write(root.path().join("packages/tags.json"), b"nope").unwrap();
    let provider = ProcessProvider::open(config(root.path())).await.unwrap();
    assert!(provider.list("openfaas-fn").await.unwrap().is_empty());
    assert_eq!(
        provider.list_namespaces().await.unwrap(),
        vec!["openfaas-fn"]
    );
    provider.shutdown().await;
}

#[tokio::test]
async fn cgroup_limits_are_enforced_when_available() {
    let h = Harness::start().await;
    let mut request = host_function(
        "hungry",
        &format!(
            "{} -c 'import sys; b = bytearray(int(sys.stdin.read()) << 20); print(len(b))'",
            python3()
        ),
    );
    request.limits = Some(FunctionResources {
        memory: Some("64Mi".into()),
        cpu: Some("250m".into()),
        ..Default::default()
    });
    h.provider.deploy(request).await.unwrap();
    h.wait_ready("hungry", 1).await;

    // A host without usable cgroups fails this test (it never passes by skipping): CI runs
    // as root with the memory, cpu and pids controllers.
    if let Some(reason) = h.provider.limits_unavailable_reason() {
        panic!("cgroups are not usable here ({reason}); this test needs them: run it as root");
    }
    let replica = h
        .provider
        .replicas("openfaas-fn", "hungry")
        .unwrap()
        .remove(0);
    assert!(!replica.cgroups.is_empty(), "{replica:?}");
    let pid = replica.pid.unwrap();
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(membership.contains("/hungry/hungry-1"), "{membership}");
    let read = |file: &str| {
        replica
            .cgroups
            .iter()
            .map(|d| d.join(file))
            .find(|p| p.exists())
            .map(|p| std::fs::read_to_string(p).unwrap().trim().to_owned())
    };
    if let Some(limit) = read("memory.limit_in_bytes") {
        assert_eq!(limit, (64u64 << 20).to_string());
        assert_eq!(read("cpu.cfs_quota_us").unwrap(), "25000");
        assert_eq!(read("cpu.cfs_period_us").unwrap(), "100000");
    } else {
        assert_eq!(read("memory.max").unwrap(), (64u64 << 20).to_string());
        assert_eq!(read("cpu.max").unwrap(), "25000 100000");
    }

    // Within the limit it works; beyond it the kernel stops the function.
    let (status, body) = h.call_function("hungry", "8").await;
    assert_eq!(
        (status, body.trim()),
        (200, (8u64 << 20).to_string().as_str())
    );
    let (status, _) = h.call_function("hungry", "200").await;
    assert_ne!(status, 200, "200 MiB fit in a 64 MiB limit");

    let usage = h
        .provider
        .status("openfaas-fn", "hungry")
        .await
        .unwrap()
        .usage
        .unwrap();
    assert!(usage.total_memory_bytes > 0.0, "{usage:?}");
    let status = h.provider.status("openfaas-fn", "hungry").await.unwrap();
    assert!(!status
        .annotations
        .unwrap_or_default()
        .contains_key(faas_provider_process::LIMITS_ANNOTATION));
    h.stop().await;
}
