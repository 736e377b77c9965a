//! `faas-cli new --lang bash|python3 NAME && faas-cli up -f NAME.yml` against
//! `faasd --provider docker` (the project's dockerd from `scripts/docker.sh`): `up` sees from
//! `/system/info` that the gateway runs containers, builds the template's Dockerfile as an
//! image (this project's watchdog from `rustfaas/watchdog`, the base image a local stand-in
//! from `scripts/template-images.sh` given as a build argument: nothing is pulled), skips the
//! push of an image that names no registry (the engine that built it runs it), deploys it, and
//! the container answers through the gateway. The same templates as packages against a
//! process faasd are tests/templates.rs.

mod common;

use common::{Faasd, Project};
use faas_testkit::docker::{docker, docker_host, template_base_image};

fn up_as_an_image(project: &Project, lang: &str, name: &str, base: &str) {
    project.run(&["new", "--lang", lang, name]).ok();
    let out = project
        .run(&["up", "-f", &format!("{name}.yml"), "--build-arg", base])
        .ok()
        .stdout();
    assert!(
        out.contains("Building container images: the gateway at")
            && out.contains("runs containers (orchestration docker)"),
        "{out}"
    );
    assert!(
        out.contains(&format!("Image: {name}:latest built")),
        "{out}"
    );
    assert!(out.contains(&format!("Deploying: {name}.")), "{out}");
}

#[test]
fn bash_and_python3_templates_up_as_images_on_a_docker_faasd() {
    let faasd = Faasd::start_docker();
    let mut project = Project::logged_in(&faasd);
    project
        .extra_env
        .push(("DOCKER_HOST".to_owned(), docker_host()));

    let bash = format!("RUNTIME_IMAGE={}", template_base_image("bash"));
    up_as_an_image(&project, "bash", "hello-bash", &bash);
    project.invoke_until("hello-bash", "hi from bash", "hi from bash");

    let python = format!("PYTHON_IMAGE={}", template_base_image("python"));
    up_as_an_image(&project, "python3", "hello-py", &python);
    project.invoke_until("hello-py", "hi from python", "hi from python");

    // The replicas are containers of the engine, from the image just built.
    let describe = project.run(&["describe", "hello-py"]).ok().stdout();
    assert!(describe.contains("hello-py:latest"), "{describe}");
    let built = docker(&["image", "inspect", "--format", "{{.Id}}", "hello-py:latest"]);
    let replicas = docker(&[
        "ps",
        "--filter",
        "label=com.rustfaas.function=hello-py",
        "--format",
        "{{.Image}}",
    ]);
    assert!(!replicas.trim().is_empty(), "no container of hello-py");
    for image in replicas.lines() {
        let id = docker(&["image", "inspect", "--format", "{{.Id}}", image]);
        assert_eq!(id, built, "a replica of hello-py runs {image}");
    }

    project.run(&["remove", "hello-bash", "hello-py"]).ok();
    drop(faasd);
    docker(&["rmi", "hello-bash:latest", "hello-py:latest"]);
}
