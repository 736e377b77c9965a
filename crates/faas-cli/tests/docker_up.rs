//! `faas-cli new --lang bash|python3 NAME && faas-cli up -f NAME.yml` against
//! `faasd --provider docker` (the project's dockerd from `scripts/docker.sh`): `up` sees from
//! `/system/info` that the gateway runs containers, builds the template's Dockerfile as an
//! image (this project's watchdog from `rustfaas/watchdog`, the base image a local stand-in
//! from `scripts/template-images.sh` given as a build argument: nothing is pulled), skips the
//! push of an image that names no registry (the engine that built it runs it), deploys it, and
//! the container answers through the gateway. The same templates as packages against a
//! process faasd are tests/templates.rs. And with a registry that asks for credentials:
//! `registry-login`, `up` pushes with them, `--send-registry-auth` lets faasd pull.

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

/// The credentials story end to end: `registry-login` to a registry that asks for them, `up`
/// pushes with them, and a Docker faasd that always pulls gets them only through
/// `--send-registry-auth` (its own Docker config.json is empty).
#[test]
fn up_with_send_registry_auth_deploys_from_a_registry_that_asks_for_credentials() {
    let registry = faas_testkit::Registry::start_with_auth("alice", "s3cret").unwrap();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let server_config = dir.path().join("faasd-docker-config.json");
    std::fs::write(&server_config, "{}").unwrap();
    let faasd = Faasd::start_docker_with(&[
        ("FAASD_IMAGE_PULL", "always"),
        ("FAASD_DOCKER_CONFIG", server_config.to_str().unwrap()),
    ]);
    let mut project = Project::logged_in(&faasd);
    project.use_docker(&dir.path().join("docker-config"));
    project
        .run(&["new", "--lang", "bash", "secret-fn", "--prefix", &host])
        .ok();
    project.registry_login(&host, "alice", "s3cret").ok();
    let bash = format!("RUNTIME_IMAGE={}", template_base_image("bash"));
    let up = ["up", "-f", "secret-fn.yml", "--build-arg", &bash];

    // Pushed with registry-login's credentials; the server's pull has none.
    let run = project.run(&up);
    let (out, err) = (run.stdout(), run.stderr());
    assert!(!run.success(), "{out}\n{err}");
    assert!(
        out.contains(&format!("Pushed {host}/secret-fn:latest")),
        "{out}"
    );
    assert!(err.contains("no basic auth credentials"), "{err}");

    let mut with_auth = up.to_vec();
    with_auth.push("--send-registry-auth");
    project.run(&with_auth).ok();
    project.invoke_until(
        "secret-fn",
        "pulled with credentials",
        "pulled with credentials",
    );
    project.run(&["remove", "secret-fn"]).ok();
    drop(faasd);
    docker(&["rmi", &format!("{host}/secret-fn:latest")]);
}
