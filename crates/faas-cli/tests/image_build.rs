//! Image builds with a real Docker Engine (the project's dockerd from `scripts/docker.sh`) and
//! a real registry (Debian's docker-registry on 127.0.0.1): the `dockerfile` template built as
//! an image with a build argument, `--shrinkwrap`, pushed, pulled back by the engine, and run.

mod common;

use std::time::{Duration, Instant};

use common::{http_post, Project};
use faas_testkit::docker::{docker, docker_host};
use faas_testkit::Registry;

#[test]
fn the_dockerfile_template_builds_pushes_and_runs_as_an_image() {
    let registry = Registry::start().unwrap();
    // No gateway answers here: the image builds are forced with --artifact image.
    let mut project = Project::new("http://127.0.0.1:9");
    project
        .extra_env
        .push(("DOCKER_HOST".to_owned(), docker_host()));
    project
        .run(&[
            "new",
            "--lang",
            "dockerfile",
            "hello",
            "--prefix",
            &registry.host(),
        ])
        .ok();
    let image = format!("{}/hello:latest", registry.host());

    let out = project
        .run(&[
            "build",
            "-f",
            "hello.yml",
            "--artifact",
            "image",
            "--shrinkwrap",
        ])
        .ok()
        .stdout();
    assert!(
        out.contains("Building container images: --artifact image"),
        "{out}"
    );
    assert!(project.path().join("build/hello/Dockerfile").is_file());

    let out = project
        .run(&[
            "build",
            "-f",
            "hello.yml",
            "--artifact",
            "image",
            "--build-arg",
            "BASE_IMAGE=rustfaas/busybox:latest",
        ])
        .ok()
        .stdout();
    assert!(out.contains(&format!("Image: {image} built")), "{out}");

    let out = project
        .run(&["push", "-f", "hello.yml", "--artifact", "image"])
        .ok()
        .stdout();
    assert!(out.contains(&format!("Pushed {image}")), "{out}");
    docker(&["rmi", &image]);
    docker(&["pull", &image]);

    let id = docker(&["run", "-d", "-p", "127.0.0.1::8080", &image])
        .trim()
        .to_owned();
    let address = docker(&["port", &id, "8080/tcp"]);
    let port: u16 = address
        .lines()
        .find_map(|l| l.strip_prefix("127.0.0.1:"))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no loopback port in {address:?}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        match http_post(port, "/", "hi from an image") {
            Some((200, body)) => break body,
            other => {
                assert!(Instant::now() < deadline, "no answer: {other:?}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    docker(&["rm", "-f", &id]);
    assert_eq!(answer, "hi from an image");

    // A build that cannot work says why and fails.
    let err = project
        .run(&[
            "build",
            "-f",
            "hello.yml",
            "--artifact",
            "image",
            "--build-arg",
            "BASE_IMAGE=rustfaas/no-such-base:1",
        ])
        .fails();
    assert!(err.contains("building") && err.contains("failed"), "{err}");
}

#[test]
fn push_to_a_registry_that_asks_for_credentials_uses_registry_login() {
    let registry = Registry::start_with_auth("alice", "s3cret").unwrap();
    let host = registry.host();
    let mut project = Project::new("http://127.0.0.1:9");
    // Docker's own config.json is empty: no credentials but registry-login's.
    let docker_config = project.path().join("docker-config");
    project.use_docker(&docker_config);
    project
        .run(&["new", "--lang", "dockerfile", "private", "--prefix", &host])
        .ok();
    let image = format!("{host}/private:latest");
    project
        .run(&[
            "build",
            "-f",
            "private.yml",
            "--artifact",
            "image",
            "--build-arg",
            "BASE_IMAGE=rustfaas/busybox:latest",
        ])
        .ok();

    let push = ["push", "-f", "private.yml", "--artifact", "image"];
    let err = project.run(&push).fails();
    assert!(
        err.contains(&format!("the registry {host} asks for credentials")),
        "{err}"
    );
    assert!(err.contains("faas-cli registry-login --server"), "{err}");

    // Wrong credentials are refused, and the message says the saved ones were refused.
    project.registry_login(&host, "alice", "wrong").ok();
    let err = project.run(&push).fails();
    assert!(err.contains("refused the saved credentials"), "{err}");

    let out = project
        .registry_login(&host, "alice", "s3cret\n")
        .ok()
        .stdout();
    assert!(out.contains("Wrote ./credentials/config.json"), "{out}");
    let file = project.path().join("credentials/config.json");
    let mode = std::fs::metadata(&file).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["auths"][&host]["auth"], "YWxpY2U6czNjcmV0");

    let out = project.run(&push).ok().stdout();
    assert!(out.contains(&format!("Pushed {image}")), "{out}");
    // Docker's own config.json was not touched.
    assert!(!docker_config.join("config.json").exists());
    docker(&["rmi", &image]);

    let err = project
        .run(&[
            "registry-login",
            "--ecr",
            "--account-id",
            "1",
            "--region",
            "x",
        ])
        .fails();
    assert!(err.contains("not supported"), "{err}");
}

/// OpenFaaS's `build_options`: named package lists in template.yml, picked by the stack's
/// `build_options` or `--build-option`, reach the build as ADDITIONAL_PACKAGE (with any
/// ADDITIONAL_PACKAGE build argument).
#[test]
fn build_options_reach_the_image_build_as_additional_packages() {
    let mut project = Project::new("http://127.0.0.1:9");
    project
        .extra_env
        .push(("DOCKER_HOST".to_owned(), docker_host()));
    project.write(
        "template/withopts/template.yml",
        "language: withopts\nfprocess: cat /home/app/packages.txt\nbuild_options:\n  - name: dev\n    packages: [make, gcc]\n  - name: tls\n    packages: [ca-certificates, gcc]\n",
    );
    project.write(
        "template/withopts/Dockerfile",
        "ARG WATCHDOG_IMAGE=rustfaas/watchdog:latest\nFROM ${WATCHDOG_IMAGE} AS watchdog\nFROM rustfaas/busybox:latest\nARG ADDITIONAL_PACKAGE\n# A real template runs its package manager here (apk add / apt-get install).\nRUN echo \"packages: ${ADDITIONAL_PACKAGE}\" > /home/app/packages.txt\nCOPY --from=watchdog /fwatchdog /usr/bin/fwatchdog\nENV fprocess=\"cat /home/app/packages.txt\"\nCMD [\"fwatchdog\"]\n",
    );
    project.write("template/withopts/function/README", "handler\n");
    project.write("opts/README", "handler\n");
    let image = "rustfaas-test/withopts:latest";
    project.write(
        "opts.yml",
        &format!("version: 1.0\nprovider:\n  name: openfaas\nfunctions:\n  opts:\n    lang: withopts\n    handler: ./opts\n    image: {image}\n    build_options: [dev]\n    build_args:\n      ADDITIONAL_PACKAGE: curl\n"),
    );
    let build = |extra: &[&str]| {
        let mut args = vec!["build", "-f", "opts.yml", "--artifact", "image"];
        args.extend_from_slice(extra);
        project.run(&args)
    };
    build(&["--build-option", "tls"]).ok();
    let packages = docker(&["run", "--rm", image, "cat", "/home/app/packages.txt"]);
    assert_eq!(packages.trim(), "packages: make gcc ca-certificates curl");

    let err = build(&["--build-option", "nope"]).fails();
    assert!(
        err.contains("build option \"nope\" is not one of the withopts template's (dev, tls)"),
        "{err}"
    );
    docker(&["rmi", image]);
}
