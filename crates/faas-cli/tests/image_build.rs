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
