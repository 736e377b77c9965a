//! The language templates' Dockerfiles built as images by `faas-cli build --artifact image`
//! with the real Docker Engine's classic builder (the project's dockerd from
//! `scripts/docker.sh`), on local stand-ins for their upstream base images
//! (`scripts/template-images.sh`: this machine's toolchains on busybox-static) given as build
//! arguments, then run with `docker run` (port 8080 published on 127.0.0.1 only) and called;
//! and OpenFaaS's go walkthrough end to end through `faasd --provider docker`.

mod common;

use std::time::{Duration, Instant};

use common::{http_call, Faasd, Project};
use faas_testkit::docker::{docker, docker_host, template_base_image};
use faas_testkit::Registry;

/// A container of the engine, removed when dropped (a failing test leaves none behind).
struct Container {
    id: String,
    port: u16,
}

impl Container {
    /// `docker run -d` of `image` with 8080 published on a free port of 127.0.0.1.
    fn run(image: &str) -> Container {
        let id = docker(&["run", "-d", "-p", "127.0.0.1::8080", image])
            .trim()
            .to_owned();
        let address = docker(&["port", &id, "8080/tcp"]);
        let port = address
            .lines()
            .find_map(|l| l.strip_prefix("127.0.0.1:"))
            .and_then(|p| p.trim().parse().ok());
        // Made before the port is checked, so that a failure removes the container.
        let mut container = Container { id, port: 0 };
        container.port = port.unwrap_or_else(|| panic!("no loopback port in {address:?}"));
        container
    }

    /// The first answer with `status` to `method /` with `body`, within 30 s (the watchdog
    /// and the function's server start meanwhile); the container's log when there is none.
    fn call_until(&self, method: &str, body: &str, status: u16) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match http_call(self.port, method, "/", body) {
                Some((got, answer)) if got == status => return answer,
                other => {
                    if Instant::now() > deadline {
                        let logs = docker(&["logs", &self.id]);
                        panic!(
                            "no {status} from {}: last {other:?}; its log:\n{logs}",
                            self.id
                        );
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.id])
            .env("DOCKER_HOST", docker_host())
            .output();
    }
}

/// A project whose faas-cli talks to the project's dockerd (no gateway: builds are forced
/// with --artifact image).
fn project() -> Project {
    let mut project = Project::new("http://127.0.0.1:9");
    project
        .extra_env
        .push(("DOCKER_HOST".to_owned(), docker_host()));
    project
}

/// `faas-cli new --lang LANG NAME` then `faas-cli build --artifact image` with `args` as
/// `--build-arg`s.
fn new_and_build(project: &Project, lang: &str, name: &str, prefix: &[&str], args: &[String]) {
    let mut new = vec!["new", "--lang", lang, name];
    new.extend_from_slice(prefix);
    project.run(&new).ok();
    let stack = format!("{name}.yml");
    let mut build = vec!["build", "-f", &stack, "--artifact", "image"];
    for arg in args {
        build.push("--build-arg");
        build.push(arg);
    }
    let out = project.run(&build).ok().stdout();
    assert!(out.contains(":latest built in"), "{out}");
}

/// The go family's build arguments: the local Go toolchain and runtime images.
fn go_args() -> Vec<String> {
    vec![
        format!("GO_IMAGE={}", template_base_image("go")),
        format!("RUNTIME_IMAGE={}", template_base_image("runtime")),
    ]
}

/// OpenFaaS's walkthrough with the go template as an image: new, build, push, then the image
/// pulled back from the registry runs and answers `curl -X GET -d hello` as OpenFaaS's does.
#[test]
fn the_go_template_builds_pushes_and_answers_as_an_image() {
    let registry = Registry::start().unwrap();
    let project = project();
    let host = registry.host();
    new_and_build(&project, "go", "say", &["--prefix", &host], &go_args());
    let image = format!("{host}/say:latest");
    let out = project
        .run(&["push", "-f", "say.yml", "--artifact", "image"])
        .ok()
        .stdout();
    assert!(out.contains(&format!("Pushed {image}")), "{out}");
    docker(&["rmi", &image]);
    docker(&["pull", &image]);

    let user = docker(&["inspect", "--format", "{{.Config.User}}", &image]);
    assert_eq!(
        user.trim(),
        "app",
        "the function runs as the template's user"
    );
    let container = Container::run(&image);
    let answer = container.call_until("GET", "hello", 200);
    assert_eq!(answer, "Hello, Go. You said: hello\n");
    drop(container);
    docker(&["rmi", &image]);
}

/// golang-http (OpenFaaS's Request/Response handler) and golang-middleware (net/http) as
/// images: of-watchdog http mode in the container, the handler's answer through it.
#[test]
fn the_golang_http_and_middleware_templates_answer_as_images() {
    let project = project();
    for (lang, name) in [("golang-http", "gohttp"), ("golang-middleware", "gomw")] {
        new_and_build(&project, lang, name, &[], &go_args());
        let container = Container::run(&format!("{name}:latest"));
        let answer = container.call_until("POST", "hello", 200);
        assert_eq!(answer, "Body: hello", "{lang}");
    }
}

/// A base image that is not there fails the build with the engine's reason, not later (the
/// missing image names a registry on a closed loopback port: the engine's pull stays on
/// 127.0.0.1).
#[test]
fn a_go_build_on_a_missing_base_image_says_so() {
    let project = project();
    project.run(&["new", "--lang", "go", "nobase"]).ok();
    let err = project
        .run(&[
            "build",
            "-f",
            "nobase.yml",
            "--artifact",
            "image",
            "--build-arg",
            "GO_IMAGE=127.0.0.1:9/no-such-go:1",
        ])
        .fails();
    assert!(err.contains("building nobase:latest failed"), "{err}");
    assert!(err.contains("FROM ${GO_IMAGE}"), "{err}");
    assert!(err.contains("127.0.0.1:9"), "{err}");
}

/// node20 as an image on the machine's Node.js (node, npm and their libraries): npm install
/// of the handler's package.json at build time (no dependencies: nothing fetched), the
/// handler's echo through of-watchdog http mode, run as user node.
#[test]
fn the_node20_template_answers_as_an_image() {
    let project = project();
    let args = [format!("NODE_IMAGE={}", template_base_image("node"))];
    new_and_build(&project, "node20", "echo", &[], &args);
    let user = docker(&["inspect", "--format", "{{.Config.User}}", "echo:latest"]);
    assert_eq!(
        user.trim(),
        "node",
        "the function runs as the template's user"
    );
    let container = Container::run("echo:latest");
    assert_eq!(container.call_until("POST", "hello", 200), "hello");
}

/// node (OpenFaaS's node, now Node 18 upstream) and node18, which is node's files with its
/// own template.yml, as images on the machine's Node.js, as node20 is.
#[test]
fn the_node_and_node18_templates_answer_as_images() {
    let project = project();
    let args = [format!("NODE_IMAGE={}", template_base_image("node"))];
    for (lang, name) in [("node", "echonode"), ("node18", "echonode18")] {
        new_and_build(&project, lang, name, &[], &args);
        let container = Container::run(&format!("{name}:latest"));
        assert_eq!(
            container.call_until("POST", "hello", 200),
            "hello",
            "{lang}"
        );
    }
}

/// java11 as an image, built and run on the machine's JDK (its sources compile on any JDK
/// from 11 on), as java17 is.
#[test]
fn the_java11_template_answers_as_an_image() {
    let project = project();
    let jdk = template_base_image("java");
    let args = [format!("JDK_IMAGE={jdk}"), format!("JRE_IMAGE={jdk}")];
    new_and_build(&project, "java11", "hellojava11", &[], &args);
    let container = Container::run("hellojava11:latest");
    assert_eq!(container.call_until("POST", "hello", 200), "Hello, world!");
}

/// java17 as an image: compiled with the machine's JDK by the template's build.sh in the
/// build stage, run on it (JRE_IMAGE) with the JDK's HTTP server behind of-watchdog.
#[test]
fn the_java17_template_answers_as_an_image() {
    let project = project();
    let jdk = template_base_image("java");
    let args = [format!("JDK_IMAGE={jdk}"), format!("JRE_IMAGE={jdk}")];
    new_and_build(&project, "java17", "hellojava", &[], &args);
    let container = Container::run("hellojava:latest");
    assert_eq!(container.call_until("POST", "hello", 200), "Hello, world!");
}

/// php8 and ruby (classic watchdog: a process per call) as images on the machine's PHP and
/// Ruby, run as user app.
#[test]
fn the_php8_and_ruby_templates_answer_as_images() {
    let project = project();
    for (lang, name, arg, kind, expected) in [
        ("php8", "hellophp", "PHP_IMAGE", "php", "hello"),
        (
            "ruby",
            "helloruby",
            "RUBY_IMAGE",
            "ruby",
            "Hello world from the Ruby template\n",
        ),
    ] {
        let args = [format!("{arg}={}", template_base_image(kind))];
        new_and_build(&project, lang, name, &[], &args);
        let image = format!("{name}:latest");
        let user = docker(&["inspect", "--format", "{{.Config.User}}", &image]);
        assert_eq!(user.trim(), "app", "{lang} runs as the template's user");
        let container = Container::run(&image);
        let answer = container.call_until("POST", "hello", 200);
        assert_eq!(answer, expected, "{lang}");
    }
}

/// python3-flask (Flask from the machine's python3, no pip in the image) and python3-http as
/// images: the starter handlers echo through of-watchdog http mode, as user app.
#[test]
fn the_python3_flask_and_http_templates_answer_as_images() {
    let project = project();
    for (lang, name, kind) in [
        ("python3-flask", "helloflask", "flask"),
        ("python3-http", "hellopyhttp", "python"),
    ] {
        let args = [format!("PYTHON_IMAGE={}", template_base_image(kind))];
        new_and_build(&project, lang, name, &[], &args);
        let image = format!("{name}:latest");
        let user = docker(&["inspect", "--format", "{{.Config.User}}", &image]);
        assert_eq!(user.trim(), "app", "{lang} runs as the template's user");
        let container = Container::run(&image);
        assert_eq!(
            container.call_until("POST", "hello", 200),
            "hello",
            "{lang}"
        );
    }
}

/// OpenFaaS's walkthrough as written, on a Docker faasd: `faas-cli new --lang go say`,
/// `faas-cli up` (build, push to the registry, deploy), then `curl -X GET -d hello
/// .../function/say` through the gateway answers `Hello, Go. You said: hello`.
#[test]
fn the_go_walkthrough_builds_pushes_deploys_and_answers_on_a_docker_faasd() {
    let registry = Registry::start().unwrap();
    let faasd = Faasd::start_docker();
    let mut project = Project::logged_in(&faasd);
    project
        .extra_env
        .push(("DOCKER_HOST".to_owned(), docker_host()));
    let host = registry.host();
    project
        .run(&["new", "--lang", "go", "say", "--prefix", &host])
        .ok();
    let mut up = vec!["up", "-f", "say.yml"];
    let args = go_args();
    for arg in &args {
        up.push("--build-arg");
        up.push(arg);
    }
    let out = project.run(&up).ok().stdout();
    assert!(
        out.contains("runs containers (orchestration docker)"),
        "{out}"
    );
    assert!(out.contains(&format!("Pushed {host}/say:latest")), "{out}");
    assert!(out.contains("Deploying: say."), "{out}");

    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        match http_call(faasd.port, "GET", "/function/say", "hello") {
            Some((200, body)) => break body,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "no answer from say: {other:?}\n{}",
                    faasd.logs()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert_eq!(answer, "Hello, Go. You said: hello\n");
    project.run(&["remove", "say"]).ok();
    // The image is tagged with this run's registry port: not left behind.
    drop(faasd);
    docker(&["rmi", &format!("{host}/say:latest")]);
}
