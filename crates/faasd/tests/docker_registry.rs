//! `faasd --provider docker --image-pull always` against a real registry that asks for
//! credentials (Debian's docker-registry with an htpasswd of the test's own,
//! `scripts/registry.sh`): a deployment's `registryAuth` pulls the image, wrong or missing
//! credentials are 400 with the registry's reason, the server's Docker `config.json`
//! (`FAASD_DOCKER_CONFIG`) serves deployments without `registryAuth`, and the credentials are
//! not kept in faasd's data. Built with `--features docker`.

#![cfg(feature = "docker")]

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use common::Faasd;
use faas_testkit::docker::{docker, docker_host, BUSYBOX_IMAGE};
use faas_testkit::Registry;
use serde_json::json;

/// `docker` with a DOCKER_CONFIG of the test's own, `stdin` fed in.
fn docker_as(config: &Path, args: &[&str], stdin: &str) {
    let mut child = Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", docker_host())
        .env("DOCKER_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run docker");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Every file under `dir`, as text, for a search.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.push_str(&all_text(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

#[tokio::test]
async fn images_from_a_registry_that_asks_for_credentials() {
    let registry = Registry::start_with_auth("alice", "s3cret").unwrap();
    let host = registry.host();
    let image = format!("{host}/private-wc:1");
    let pusher = tempfile::tempdir().unwrap();
    docker_as(
        pusher.path(),
        &["login", "-u", "alice", "--password-stdin", &host],
        "s3cret",
    );
    docker(&["tag", BUSYBOX_IMAGE, &image]);
    docker_as(pusher.path(), &["push", &image], "");
    docker(&["rmi", &image]);

    let server_config = tempfile::tempdir().unwrap();
    let config_file = server_config.path().join("config.json");
    std::fs::write(&config_file, "{}").unwrap();
    let config = config_file.display().to_string();
    let engine = docker_host();
    // A credential helper on faasd's PATH, as `docker-credential-pass` would be: it answers
    // for this registry only.
    let helpers = tempfile::tempdir().unwrap();
    let helper = helpers.path().join("docker-credential-rustfaas-test");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\n[ \"$(cat)\" = '{host}' ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\n\
             echo '{{\"ServerURL\":\"{host}\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}}'\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        helpers.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let faasd = Faasd::start_with(&[
        ("FAASD_PROVIDER", "docker"),
        ("DOCKER_HOST", &engine),
        ("FAASD_IMAGE_PULL", "always"),
        ("FAASD_DOCKER_CONFIG", &config),
        ("PATH", &path),
    ]);
    let deployment = |name: &str, auth: Option<String>| {
        let mut body = json!({"service": name, "image": image, "envProcess": "wc -c"});
        if let Some(auth) = auth {
            body["registryAuth"] = json!(auth);
        }
        body
    };

    // No credentials, wrong ones, and a registryAuth that is not user:password: 400 with why.
    for (auth, says) in [
        (None, "no basic auth credentials"),
        (Some(base64("alice:wrong")), "unauthorized"),
        (
            Some("bm9jb2xvbg==".to_owned()),
            "registryAuth is not base64 of user:password",
        ),
    ] {
        let response = faasd.deploy(deployment("private-wc", auth.clone())).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 400, "{auth:?}: {text}");
        assert!(text.contains(says), "{auth:?}: {text}");
    }

    // The right registryAuth pulls it.
    faasd
        .deploy_accepted(deployment("private-wc", Some(base64("alice:s3cret"))))
        .await;
    faasd.wait_replicas("private-wc", 1).await;
    let (status, body) = faasd.invoke("private-wc", "12345").await;
    assert_eq!((status, body.trim()), (200, "5"));
    assert!(
        !all_text(&faasd.data).contains(&base64("alice:s3cret")),
        "the credentials were kept in faasd's data"
    );

    // Without registryAuth, the server's Docker config.json (read at each pull) serves.
    std::fs::write(
        &config_file,
        json!({"auths": {host.clone(): {"auth": base64("alice:s3cret")}}}).to_string(),
    )
    .unwrap();
    faasd.deploy_accepted(deployment("config-wc", None)).await;
    faasd.wait_replicas("config-wc", 1).await;
    let (status, body) = faasd.invoke("config-wc", "123").await;
    assert_eq!((status, body.trim()), (200, "3"));

    // A config that names a credential helper for the registry: faasd runs it, as `docker`
    // does (`credHelpers` wins over an `auths` entry, which here is wrong).
    std::fs::write(
        &config_file,
        json!({
            "credHelpers": {host.clone(): "rustfaas-test"},
            "auths": {host.clone(): {"auth": base64("alice:wrong")}}
        })
        .to_string(),
    )
    .unwrap();
    faasd.deploy_accepted(deployment("helper-wc", None)).await;
    faasd.wait_replicas("helper-wc", 1).await;
    let (status, body) = faasd.invoke("helper-wc", "1234").await;
    assert_eq!((status, body.trim()), (200, "4"));
    // A helper that is not installed is the server's problem, said as such.
    std::fs::write(
        &config_file,
        json!({"credsStore": "not-installed"}).to_string(),
    )
    .unwrap();
    let response = faasd.deploy(deployment("nohelper-wc", None)).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_server_error(), "{status}: {text}");
    assert!(
        text.contains("docker-credential-not-installed is not on PATH"),
        "{text}"
    );
    drop(faasd); // stops its containers
    docker(&["rmi", &image]);
}
