//! The project's Docker Engine for tests: `scripts/docker.sh start` (idempotent, under a lock,
//! so every test process may ask) starts one dockerd with its own socket and builds the local
//! base images; `scripts/test.sh` starts it before the tests and stops it afterwards. With
//! `RUSTFAAS_ENGINE=podman` the same tests run on Podman's Docker-compatible API instead
//! (`scripts/podman.sh start`), the `docker` client included.

use std::path::Path;
use std::sync::OnceLock;

/// The base image tests build functions from: busybox-static and a static fwatchdog.
pub const BUSYBOX_IMAGE: &str = "rustfaas/busybox:latest";

/// `DOCKER_HOST` of the project's dockerd (or Podman, see the module's docs), started if needed. Panics with the script's output
/// when the engine cannot be installed or started: a test that needs it must fail, not skip.
pub fn docker_host() -> String {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let script = match std::env::var("RUSTFAAS_ENGINE").as_deref() {
            Ok("podman") => "podman.sh",
            Ok("docker") | Err(_) => "docker.sh",
            Ok(other) => panic!("RUSTFAAS_ENGINE={other:?}: docker or podman"),
        };
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scripts")
            .join(script);
        let output = std::process::Command::new("bash")
            .arg(&script)
            .arg("start")
            .output()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", script.display()));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let host = stdout
            .lines()
            .filter_map(|line| line.strip_prefix("DOCKER_HOST="))
            .next_back()
            .map(str::to_owned);
        match (output.status.success(), host) {
            (true, Some(host)) => host,
            _ => panic!(
                "{} start failed: the Docker tests need a running engine\n{stdout}{}",
                script.display(),
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    })
    .clone()
}

/// Runs the `docker` client against [`docker_host`]; its stdout, or a panic with its stderr.
pub fn docker(args: &[&str]) -> String {
    let output = std::process::Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", docker_host())
        .output()
        .unwrap_or_else(|err| panic!("cannot run docker: {err}"));
    assert!(
        output.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A local stand-in for an upstream base image the language templates' Dockerfiles take as a
/// build argument, made from this machine's toolchains by `scripts/template-images.sh KIND`
/// (`runtime`, `go`, `node`, `java`) on [`docker_host`]'s engine; its tag (which carries the
/// toolchain's version, so it is built once). Panics with the script's output when it fails.
pub fn template_base_image(kind: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/template-images.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .arg(kind)
        .env("DOCKER_HOST", docker_host())
        .output()
        .unwrap_or_else(|err| panic!("cannot run scripts/template-images.sh: {err}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    match (output.status.success(), stdout.lines().last()) {
        (true, Some(tag)) if !tag.trim().is_empty() => tag.trim().to_owned(),
        _ => panic!(
            "scripts/template-images.sh {kind} failed: the template image tests need it\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}
