//! End to end: the real faas-cli against a real faasd. For each template: new -> up ->
//! invoke -> logs -> remove; then the store, secrets, deploy --image, up --watch, local-run.

mod common;

use std::io::Read as _;
use std::time::{Duration, Instant};

use common::{template_round_trip, Faasd, Project};

#[test]
fn bash_template() {
    template_round_trip("bash", "hi");
}

#[test]
fn python3_template() {
    template_round_trip("python3", "hi");
}

#[test]
fn python3_http_template() {
    template_round_trip("python3-http", "hi");
}

#[test]
fn node_template() {
    template_round_trip("node", "hi");
}

#[test]
fn rust_template() {
    template_round_trip("rust", "hi");
}

#[test]
fn dockerfile_template_needs_fprocess_then_runs_the_folder() {
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    project
        .run(&["new", "docker-fn", "--lang", "dockerfile"])
        .ok();
    let err = project.run(&["up", "-f", "docker-fn.yml"]).fails();
    assert!(err.contains("cannot build or run"), "{err}");
    assert!(err.contains("fprocess"), "{err}");
    let stack = std::fs::read_to_string(project.path().join("docker-fn.yml")).unwrap();
    project.write(
        "docker-fn.yml",
        &format!("{}\n    fprocess: cat\n", stack.trim_end()),
    );
    project.run(&["up", "-f", "docker-fn.yml"]).ok();
    project.invoke_until("docker-fn", "hi", "hi");
    project.run(&["remove", "docker-fn"]).ok();
}

/// OpenFaaS's own templates copy OpenFaaS's watchdog image into theirs: as packages for the
/// process runtime they would deploy and fail at their first call, so the build refuses them.
#[test]
fn an_openfaas_template_is_refused_when_the_gateway_runs_processes() {
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    project.write(
        "template/of-go/template.yml",
        "language: of-go\nfprocess: ./handler\n",
    );
    project.write(
        "template/of-go/Dockerfile",
        "# The watchdog\nFROM --platform=${TARGETPLATFORM:-linux/amd64} ghcr.io/openfaas/of-watchdog:0.10.7 AS watchdog\nFROM golang:1.22-alpine\nCOPY --from=watchdog /fwatchdog /usr/bin/fwatchdog\nCMD [\"fwatchdog\"]\n",
    );
    project.write("template/of-go/function/handler.go", "package function\n");
    project.write(
        "hello.yml",
        "version: 1.0\nprovider:\n  name: openfaas\nfunctions:\n  hello:\n    lang: of-go\n    handler: ./hello\n    image: hello:latest\n",
    );
    project.write("hello/handler.go", "package function\n");
    let err = project.run(&["up", "-f", "hello.yml"]).fails();
    assert!(
        err.contains("the of-go template needs a container"),
        "{err}"
    );
    assert!(err.contains("ghcr.io/openfaas/of-watchdog:0.10.7"), "{err}");
    assert!(err.contains("runs processes"), "{err}");
    assert!(!project.path().join("build/hello.tar.gz").exists());
    let list = project.run(&["list", "-q"]).ok().stdout();
    assert!(!list.contains("hello"), "deployed anyway: {list}");
    // Forced packages are refused the same way; an image build is not.
    let err = project
        .run(&["build", "-f", "hello.yml", "--artifact", "package"])
        .fails();
    assert!(err.contains("(--artifact package)"), "{err}");
    project
        .run(&[
            "build",
            "-f",
            "hello.yml",
            "--artifact",
            "image",
            "--shrinkwrap",
        ])
        .ok();
    assert!(project.path().join("build/hello/Dockerfile").is_file());
}

#[test]
fn store_functions_deploy_and_answer() {
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    let list = project.run(&["store", "list"]).ok().stdout();
    for name in ["env", "sleep", "shasum", "nodeinfo", "markdown", "figlet"] {
        assert!(
            list.lines().any(|l| l.starts_with(name)),
            "{name} missing from:\n{list}"
        );
    }
    let describe = project.run(&["store", "describe", "figlet"]).ok().stdout();
    assert!(describe.contains("python3 figlet.py"), "{describe}");

    for name in ["shasum", "figlet", "markdown", "env", "sleep", "nodeinfo"] {
        project.run(&["store", "deploy", name]).ok();
    }
    // sha256 of "hi"
    project.invoke_until(
        "shasum",
        "hi",
        "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4  -",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let figlet = project.run_stdin(&["invoke", "figlet"], b"hi");
        if figlet.success() && figlet.stdout().contains("|___|") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "figlet: {} {}",
            figlet.stdout(),
            figlet.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    project.invoke_until("markdown", "# Title", "<h1>Title</h1>");
    let env = project.run_stdin(&["invoke", "env"], b"").ok().stdout();
    assert!(env.contains("fprocess=env"), "{env}");
    project.invoke_until("sleep", "0.1", "Slept for 0.1");
    let info = project
        .run_stdin(&["invoke", "nodeinfo"], b"")
        .ok()
        .stdout();
    assert!(info.contains("CPUs:"), "{info}");

    // Another catalog from a file.
    project.write(
        "catalog.json",
        r#"{"version":"0.2.0","functions":[{"title":"Echo","name":"echo-it","description":"cat",
        "images":{"x86_64":"ghcr.io/openfaas/alpine:latest","aarch64":"ghcr.io/openfaas/alpine:latest"},
        "fprocess":"cat","environment":null,"labels":null,"annotations":null}]}"#,
    );
    let list = project
        .run(&["store", "list", "--url", "catalog.json"])
        .ok()
        .stdout();
    assert!(list.contains("echo-it"), "{list}");
    project
        .run(&["store", "deploy", "echo-it", "--url", "catalog.json"])
        .ok();
    project.invoke_until("echo-it", "x", "x");
}

#[test]
fn secrets_namespaces_version_and_lists() {
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    project
        .run(&["secret", "create", "db-pass", "--from-literal", "s3cret"])
        .ok();
    project
        .run_stdin(&["secret", "create", "api-key"], b"from-stdin\n")
        .ok();
    project.write("key.bin", "file-value");
    project
        .run(&["secret", "update", "api-key", "--from-file", "key.bin"])
        .ok();
    let list = project.run(&["secret", "list"]).ok().stdout();
    assert!(list.contains("NAME"), "{list}");
    assert!(
        list.contains("db-pass") && list.contains("api-key"),
        "{list}"
    );
    let dup = project
        .run(&["secret", "create", "db-pass", "--from-literal", "x"])
        .fails();
    assert!(dup.contains("secret update"), "{dup}");
    project.run(&["secret", "remove", "db-pass"]).ok();
    let list = project.run(&["secret", "ls"]).ok().stdout();
    assert!(!list.contains("db-pass"), "{list}");

    let namespaces = project.run(&["namespaces"]).ok().stdout();
    assert!(namespaces.contains("openfaas-fn"), "{namespaces}");
    let version = project.run(&["version"]).ok().stdout();
    assert!(
        version.contains("CLI:") && version.contains("Gateway"),
        "{version}"
    );
    assert!(version.contains(&faasd.url()), "{version}");
    project
        .run(&["ready", "--attempts", "5", "--interval", "100ms"])
        .ok();

    // A function that reads its secret, deployed without a stack file.
    project
        .deploy_host_program(
            "reader",
            "sh -c 'cat \"$secret_mount_path/api-key\"'",
            &[
                "--secret",
                "api-key",
                "-l",
                "team=a",
                "--annotation",
                "note=x",
                "-e",
                "A=1",
            ],
        )
        .ok();
    project.invoke_until("reader", "", "file-value");
    project
        .run(&["ready", "reader", "--attempts", "50", "--interval", "100ms"])
        .ok();
    let describe = project.run(&["describe", "reader"]).ok().stdout();
    assert!(describe.contains("team : a"), "{describe}");
    assert!(describe.contains("note : x"), "{describe}");
    let json = project.run(&["list", "-j"]).ok().stdout();
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("list -j is JSON");
    assert_eq!(parsed[0]["name"], "reader");
    let verbose = project.run(&["list", "-v"]).ok().stdout();
    assert!(
        verbose.contains("ghcr.io/openfaas/alpine:latest"),
        "{verbose}"
    );
    // --update=false on an existing function is a clear error.
    let err = project
        .run(&[
            "deploy",
            "--image",
            "x:latest",
            "--name",
            "reader",
            "--fprocess",
            "cat",
            "--update=false",
        ])
        .fails();
    assert!(err.contains("already exists"), "{err}");
    project
        .deploy_host_program("reader", "cat", &["--replace"])
        .ok();
    project.invoke_until("reader", "replaced", "replaced");

    project.run(&["logout"]).ok();
    let err = project.run(&["list"]).fails();
    assert!(err.contains("faas-cli login"), "{err}");
}

#[test]
fn invoke_flags_and_async() {
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    project
        .deploy_host_program(
            "req",
            "sh -c 'echo \"$Http_Method $Http_Query $Http_X_Test $Http_Content_Type\"'",
            &[],
        )
        .ok();
    project.run_until(
        &[
            "invoke",
            "req",
            "-m",
            "PUT",
            "--query",
            "a=1",
            "-H",
            "X-Test=yes",
            "--content-type",
            "application/json",
        ],
        "{}",
        "PUT a=1 yes application/json",
    );
    // --sign/--key: the header OpenFaaS's workshop shows for this body and key.
    project
        .deploy_host_program("signed", "sh -c 'echo \"$Http_Hmac\"'", &[])
        .ok();
    project.run_until(
        &["invoke", "signed", "--sign", "Hmac", "--key", "cookie"],
        "The message",
        "sha1=9239edfe20185eafd7a5513c303b03d207d22f64",
    );
    let err = project
        .run_stdin(&["invoke", "signed", "--sign", "Hmac"], b"x")
        .fails();
    assert!(err.contains("both --sign"), "{err}");
    // --async: queued (202), run by the queue worker, its answer posted to the callback.
    let receiver = faas_testkit::CallbackReceiver::start();
    let callback_url = receiver.url();
    let run = project.run_stdin(
        &[
            "invoke",
            "req",
            "--async",
            "-H",
            "X-Test=queued",
            "--callback-url",
            &callback_url,
        ],
        b"x",
    );
    let stderr = run.ok().stderr();
    assert!(stderr.contains("submitted asynchronously"), "{stderr}");
    let callback = receiver.wait(Duration::from_secs(60));
    assert_eq!(callback.method, "POST");
    assert_eq!(callback.headers["x-function-name"], "req");
    assert_eq!(callback.headers["x-function-status"], "200");
    let body = String::from_utf8_lossy(&callback.body);
    assert!(
        body.starts_with("POST ") && body.contains(" queued "),
        "{body}"
    );
}

#[test]
fn up_watch_redeploys_on_change() {
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    project
        .run(&["new", "watched", "--lang", "bash", "-q"])
        .ok();
    let mut child = project.spawn(&["up", "-f", "watched.yml", "--watch"]);
    project.invoke_until("watched", "hi", "hi");
    // mtimes have whole-second granularity on some file systems
    std::thread::sleep(Duration::from_millis(1100));
    project.write("watched/handler.sh", "#!/usr/bin/env bash\necho changed\n");
    project.invoke_until("watched", "hi", "changed");
    let _ = child.kill();
    let _ = child.wait();
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    assert!(out.contains("Change detected"), "{out}");
}

#[test]
fn local_run_serves_without_a_gateway() {
    let project = Project::new("http://127.0.0.1:1");
    common::server_binaries();
    project
        .run(&["new", "local", "--lang", "python3-http", "-q"])
        .ok();
    let port = common::free_port();
    let mut child = project.spawn(&["local-run", "-f", "local.yml", "--port", &port.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer = loop {
        if let Some((200, body)) = common::http_post(port, "/", "hello local") {
            break body;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("local-run exited {status}: {err}");
        }
        assert!(Instant::now() < deadline, "local-run never answered");
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.contains("hello local"), "{answer}");
}

#[test]
fn generate_crd_reads_back_as_yaml() {
    let project = Project::new("http://127.0.0.1:1");
    project.write(
        "stack.yml",
        "version: 1.0\nprovider:\n  name: openfaas\nfunctions:\n  a:\n    lang: python3\n    handler: ./a\n    image: a:latest\n    environment:\n      x: \"1\"\n    secrets: [s]\n    limits:\n      memory: 128Mi\n  b:\n    image: ghcr.io/openfaas/alpine:latest\n    fprocess: env\n    namespace: dev\n",
    );
    let out = project.run(&["generate"]).ok().stdout();
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&out).expect("generate output is YAML");
    assert_eq!(docs.len(), 2, "{out}");
    assert_eq!(docs[0]["apiVersion"], "openfaas.com/v1");
    assert_eq!(docs[0]["kind"], "Function");
    assert_eq!(docs[0]["metadata"]["namespace"], "openfaas-fn");
    assert_eq!(docs[0]["spec"]["environment"]["x"], "1");
    assert_eq!(docs[0]["spec"]["limits"]["memory"], "128Mi");
    assert_eq!(docs[1]["metadata"]["namespace"], "dev");
    assert_eq!(docs[1]["spec"]["environment"]["fprocess"], "env");
    let err = project
        .run(&["generate", "--api", "serving.knative.dev/v1"])
        .fails();
    assert!(err.contains("unsupported --api"), "{err}");
}

/// examples/stack: env substitution, environment_file, a secret, --filter, generate.
#[test]
fn examples_stack_runs_as_documented() {
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/stack");
    copy_dir(&example, project.path());
    project
        .run(&["secret", "create", "greeting-suffix", "--from-literal", "!"])
        .ok();
    project.run(&["up"]).ok();
    project.invoke_until("greet", "Ada", "Hello, Ada!");
    project.invoke_until("shout", "quiet", "QUIET");
    let mut project = project;
    project.extra_env.push(("GREETING".into(), "Hi".into()));
    let up = project.run(&["up", "--filter", "gr*"]).ok().stdout();
    assert!(!up.contains("shout"), "{up}");
    project.invoke_until("greet", "Ada", "Hi, Ada!");
    let crds = project.run(&["generate"]).ok().stdout();
    assert!(crds.contains("greeting: Hi"), "{crds}");
    assert!(crds.contains("punctuation_file: greeting-suffix"), "{crds}");
    project.run(&["remove"]).ok();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn tag_formats_name_images_from_git() {
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    project.run(&["new", "tagged", "--lang", "bash", "-q"]).ok();
    common::git(project.path(), &["init", "--quiet"]);
    common::git(project.path(), &["add", "tagged", "tagged.yml"]);
    common::git(project.path(), &["commit", "--quiet", "-m", "tagged"]);
    common::git(project.path(), &["tag", "v1"]);
    let sha = common::git(project.path(), &["rev-parse", "--short", "HEAD"]);

    let build = project
        .run(&["build", "-f", "tagged.yml", "--tag", "sha"])
        .ok()
        .stdout();
    assert!(
        build.contains(&format!("Image: tagged:latest-{sha} built")),
        "{build}"
    );
    let build = project
        .run(&["build", "-f", "tagged.yml", "--tag=describe"])
        .ok()
        .stdout();
    assert!(build.contains("Image: tagged:latest-v1 built"), "{build}");

    // build, push and deploy name the same tagged image; so does up.
    project.run(&["up", "-f", "tagged.yml"]).ok();
    let describe = project.run(&["describe", "tagged"]).ok().stdout();
    assert!(!describe.contains(&sha), "{describe}");
    let image = format!("tagged:latest-main-{sha}");
    for command in ["build", "push", "deploy"] {
        let out = project
            .run(&[command, "-f", "tagged.yml", "--tag", "branch"])
            .ok()
            .stdout();
        if command == "push" {
            assert!(out.contains(&format!("Pushed {image}")), "{out}");
        }
    }
    let describe = project.run(&["describe", "tagged"]).ok().stdout();
    assert!(describe.contains(&image), "{describe}");
    project.invoke_until("tagged", "hi", "hi");
    let up = project
        .run(&["up", "-f", "tagged.yml", "--tag", "sha"])
        .ok()
        .stdout();
    assert!(up.contains(&format!("Pushed tagged:latest-{sha}")), "{up}");
    let describe = project.run(&["describe", "tagged"]).ok().stdout();
    assert!(
        describe.contains(&format!("tagged:latest-{sha}")),
        "{describe}"
    );

    // publish = build + push, for this machine's platform only.
    let publish = project
        .run(&["publish", "-f", "tagged.yml", "--tag", "describe"])
        .ok()
        .stdout();
    assert!(
        publish.contains("Image: tagged:latest-v1 built"),
        "{publish}"
    );
    assert!(publish.contains("Pushed tagged:latest-v1"), "{publish}");
    let err = project
        .run(&[
            "publish",
            "-f",
            "tagged.yml",
            "--platforms",
            "windows/amd64",
        ])
        .fails();
    assert!(
        err.contains("publish builds packages for this machine") && err.contains("windows/amd64"),
        "{err}"
    );

    for (tag, expected) in [
        ("digest", "--tag=digest hashes a Docker build context"),
        ("version", "unknown image tag format"),
    ] {
        let err = project
            .run(&["build", "-f", "tagged.yml", "--tag", tag])
            .fails();
        assert!(err.contains(expected), "{tag}: {err}");
    }
    let err = project
        .run(&["deploy", "--image", "x:1", "--name", "x", "--tag", "sha"])
        .fails();
    assert!(err.contains("give the tag in the image"), "{err}");

    // Outside a git work tree git metadata cannot be read: say so.
    let plain = Project::logged_in(&faasd);
    plain.run(&["new", "plain", "--lang", "bash", "-q"]).ok();
    let err = plain
        .run(&["build", "-f", "plain.yml", "--tag", "sha"])
        .fails();
    assert!(err.contains("--tag=sha reads git metadata"), "{err}");
}

#[test]
fn namespaces_are_created_read_updated_and_deleted() {
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    let out = project
        .run(&[
            "namespace",
            "create",
            "dev",
            "-l",
            "team=a",
            "--annotation",
            "owner=ops",
        ])
        .ok()
        .stdout();
    assert_eq!(out, "Creating Namespace: dev\nNamespace Created: dev\n");
    let list = project.run(&["namespaces"]).ok().stdout();
    assert!(list.contains(" - dev\n"), "{list}");
    let get = project.run(&["namespace", "get", "dev"]).ok().stdout();
    assert_eq!(
        get,
        "Name:        dev\nLabels:      team : a\nAnnotations: owner : ops\n"
    );
    let err = project.run(&["namespace", "create", "dev"]).fails();
    assert!(err.contains("409"), "{err}");

    project
        .run(&["namespace", "update", "dev", "-l", "team=b"])
        .ok();
    let get = project.run(&["ns", "get", "dev"]).ok().stdout();
    assert!(get.contains("Labels:      team : b\n"), "{get}");

    // A namespace holding functions stays; an empty one goes.
    project
        .deploy_host_program("inside", "cat", &["-n", "dev"])
        .ok();
    let err = project.run(&["namespace", "delete", "dev"]).fails();
    assert!(err.contains("409"), "{err}");
    project.run(&["remove", "inside", "-n", "dev"]).ok();
    let out = project.run(&["namespace", "rm", "dev"]).ok().stdout();
    assert!(out.ends_with("Namespace Deleted: dev\n"), "{out}");
    let err = project.run(&["namespace", "get", "dev"]).fails();
    assert!(err.contains("namespace dev not found"), "{err}");
    let err = project.run(&["namespace", "create", "Not_A_Name"]).fails();
    assert!(err.contains("Not_A_Name"), "{err}");
}
