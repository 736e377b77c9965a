//! Every command's error paths say what went wrong and what to do next: no gateway, wrong
//! password, unknown function, bad YAML (file, line, field), missing handler folder, ...

mod common;

use common::{Faasd, Project};

fn closed_port_gateway() -> String {
    format!("http://127.0.0.1:{}", common::free_port())
}

#[test]
fn no_gateway_says_start_faasd() {
    let project = Project::new(&closed_port_gateway());
    for args in [
        vec!["list"],
        vec!["describe", "x"],
        vec!["remove", "x"],
        vec!["logs", "x", "--tail=false"],
        vec!["secret", "list"],
        vec!["namespaces"],
        vec!["invoke", "x"],
        vec![
            "deploy",
            "--image",
            "a:b",
            "--name",
            "x",
            "--fprocess",
            "cat",
        ],
        vec!["ready", "--attempts", "1"],
        vec!["store", "deploy", "env"],
    ] {
        let err = project.run(&args).fails();
        assert!(
            err.contains("cannot reach the gateway at http://127.0.0.1:"),
            "{args:?}: {err}"
        );
        assert!(err.contains("is faasd running?"), "{args:?}: {err}");
    }
    let err = project
        .run_stdin(&["login", "--password-stdin"], b"pw")
        .fails();
    assert!(err.contains("is faasd running?"), "{err}");
    // version still prints the client's part.
    let run = project.run(&["version"]).ok();
    assert!(run.stdout().contains("CLI:"));
    assert!(run.stderr().contains("is faasd running?"));
}

#[test]
fn auth_errors_point_at_login() {
    let faasd = Faasd::start();
    let project = Project::new(&faasd.url());
    let err = project.run(&["list"]).fails();
    assert!(err.contains("unauthorized (401)"), "{err}");
    assert!(err.contains("faas-cli login"), "{err}");
    let err = project
        .run_stdin(&["login", "--password-stdin"], b"wrong")
        .fails();
    assert!(err.contains("username or password is incorrect"), "{err}");
    let err = project.run(&["login"]).fails();
    assert!(err.contains("--password-stdin"), "{err}");
    // The config file is written 0600 by a good login.
    project
        .run_stdin(
            &["login", "-u", &faasd.user, "--password-stdin"],
            faasd.password.as_bytes(),
        )
        .ok();
    use std::os::unix::fs::PermissionsExt;
    let config = project.path().join("home/.openfaas/config.yml");
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains(&faasd.url()) && text.contains("auth: basic"),
        "{text}"
    );
    project.run(&["list"]).ok();
    let err = project.run(&["-k", "not-a-token", "list"]).fails();
    assert!(err.contains("401"), "{err}");
}

#[test]
fn unknown_functions_are_named() {
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    for args in [
        vec!["describe", "nope"],
        vec!["remove", "nope"],
        vec!["logs", "nope", "--tail=false"],
    ] {
        let err = project.run(&args).fails();
        assert!(err.contains("nope"), "{args:?}: {err}");
        assert!(err.contains("not found"), "{args:?}: {err}");
        assert!(err.contains("faas-cli list"), "{args:?}: {err}");
    }
    let err = project.run_stdin(&["invoke", "nope"], b"x").fails();
    assert!(err.contains("nope"), "{err}");
    let err = project.run(&["secret", "remove", "nope"]).fails();
    assert!(err.contains("secret nope not found"), "{err}");
    let err = project.run(&["store", "deploy", "nope"]).fails();
    assert!(err.contains("store list"), "{err}");
    let err = project
        .run(&["ready", "nope", "--attempts", "2", "--interval", "10ms"])
        .fails();
    assert!(err.contains("not ready after 2 attempts"), "{err}");
}

#[test]
fn bad_yaml_names_file_line_and_field() {
    let project = Project::new(&closed_port_gateway());
    project.write(
        "bad.yml",
        "version: 1.0\nprovider:\n  name: openfaas\nfunctions:\n  hello:\n    lang: python3\n    environment: [1, 2]\n",
    );
    for command in ["build", "deploy", "list", "generate"] {
        let err = project.run(&[command, "-f", "bad.yml"]).fails();
        assert!(err.contains("bad.yml:7:"), "{command}: {err}");
        assert!(
            err.contains("functions.hello.environment"),
            "{command}: {err}"
        );
    }
    project.write(
        "syntax.yml",
        "functions:\n  hello:\n    lang: python3\n   image: [oops\n",
    );
    let err = project.run(&["build", "-f", "syntax.yml"]).fails();
    assert!(err.contains("syntax.yml:"), "{err}");
    project.write("names.yml", "functions:\n  Hello_World:\n    image: x\n");
    let err = project.run(&["deploy", "-f", "names.yml"]).fails();
    assert!(
        err.contains("Hello_World") && err.contains("DNS-1123"),
        "{err}"
    );
}

#[test]
fn build_errors_say_what_to_do() {
    let project = Project::new(&closed_port_gateway());
    let err = project.run(&["build"]).fails();
    assert!(
        err.contains("no stack file") && err.contains("faas-cli new"),
        "{err}"
    );
    project.write(
        "stack.yml",
        "functions:\n  gone:\n    lang: python3\n    handler: ./missing\n    image: gone:latest\n",
    );
    let err = project.run(&["build"]).fails();
    assert!(err.contains("handler folder ./missing not found"), "{err}");
    project.write(
        "stack.yml",
        "functions:\n  x:\n    lang: cobol\n    handler: ./x\n",
    );
    std::fs::create_dir_all(project.path().join("x")).unwrap();
    let err = project.run(&["build"]).fails();
    assert!(
        err.contains("template \"cobol\" is unavailable") && err.contains("python3"),
        "{err}"
    );
    let err = project.run(&["push"]).fails();
    assert!(err.contains("faas-cli build"), "{err}");
    let err = project.run(&["new", "x2", "--lang", "cobol"]).fails();
    assert!(err.contains("python3"), "{err}");
    let err = project
        .run(&["new", "Bad_Name", "--lang", "python3"])
        .fails();
    assert!(err.contains("a-z, 0-9 and dashes"), "{err}");
    let err = project.run(&["new", "x3"]).fails();
    assert!(err.contains("--lang"), "{err}");
    project.run(&["new", "twice", "--lang", "bash", "-q"]).ok();
    let err = project.run(&["new", "twice", "--lang", "bash"]).fails();
    assert!(err.contains("already exists"), "{err}");
    let err = project
        .run(&[
            "new",
            "other",
            "--lang",
            "bash",
            "--append",
            "twice.yml",
            "--handler",
            "twice",
        ])
        .fails();
    assert!(err.contains("already exists"), "{err}");
    project
        .run(&[
            "new",
            "other",
            "--lang",
            "python3",
            "--append",
            "twice.yml",
            "-q",
        ])
        .ok();
    let text = std::fs::read_to_string(project.path().join("twice.yml")).unwrap();
    assert!(text.contains("  other:\n    lang: python3"), "{text}");
    let err = project
        .run(&["local-run", "-f", "twice.yml", "--build=false"])
        .fails();
    assert!(err.contains("several functions"), "{err}");
}

#[test]
fn new_list_and_template_store_show_every_template() {
    let project = Project::new(&closed_port_gateway());
    let list = project.run(&["new", "--list"]).ok().stdout();
    let templates = project.run(&["template", "store", "list"]).ok().stdout();
    for lang in [
        "bash",
        "dockerfile",
        "node",
        "python3",
        "python3-http",
        "rust",
    ] {
        assert!(
            list.lines()
                .any(|l| l.starts_with("- ") && l.split_whitespace().nth(1) == Some(lang)),
            "{list}"
        );
        assert!(
            templates.lines().any(|l| l.starts_with(lang)),
            "{templates}"
        );
    }
}

#[test]
fn completion_scripts() {
    let project = Project::new(&closed_port_gateway());
    for shell in ["bash", "zsh", "fish"] {
        let out = project.run(&["completion", "--shell", shell]).ok().stdout();
        assert!(out.contains("faas-cli"), "{shell}");
        assert!(out.contains("invoke"), "{shell}");
    }
}

#[test]
fn flag_errors() {
    let project = Project::new(&closed_port_gateway());
    let err = project.run(&["deploy", "--name", "x"]).fails();
    assert!(err.contains("--image"), "{err}");
    let err = project.run(&["deploy", "--image", "x:1"]).fails();
    assert!(err.contains("--name is required"), "{err}");
    let err = project
        .run(&["deploy", "--image", "x:1", "--name", "x", "-e", "novalue"])
        .fails();
    assert!(err.contains("KEY=VALUE"), "{err}");
    let err = project.run(&["logs", "x", "--since", "yesterday"]).fails();
    assert!(err.contains("--since"), "{err}");
    let err = project.run(&["-g", "ftp://x", "list"]).fails();
    assert!(err.contains("http://"), "{err}");
}
