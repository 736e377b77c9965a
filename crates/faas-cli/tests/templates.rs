//! The language templates OpenFaaS users type (go, golang-middleware, golang-http, java11,
//! java17, python3-flask, node18, node20, php8, ruby), each built with this machine's own
//! toolchain: new -> up -> invoke -> logs -> remove against a real faasd; the seed
//! walkthrough (`faas-cli new --lang go say`); dependencies a handler declares (a local Go
//! module, a Python wheel for python3-flask) built without any download; and a missing
//! toolchain reported before anything is built.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{http_call, template_round_trip, Faasd, Project};

#[test]
fn go_template() {
    template_round_trip("go", "Hello, Go. You said: hi");
}

#[test]
fn golang_middleware_template() {
    template_round_trip("golang-middleware", "Body: hi");
}

#[test]
fn golang_http_template() {
    template_round_trip("golang-http", "Body: hi");
}

#[test]
fn java11_template() {
    template_round_trip("java11", "Hello, world!");
}

#[test]
fn java17_template() {
    template_round_trip("java17", "Hello, world!");
}

#[test]
fn python3_flask_template() {
    template_round_trip("python3-flask", "hi");
}

#[test]
fn node18_template() {
    template_round_trip("node18", "hi");
}

#[test]
fn node20_template() {
    template_round_trip("node20", "hi");
}

#[test]
fn php8_template() {
    template_round_trip("php8", "hi");
}

#[test]
fn ruby_template() {
    template_round_trip("ruby", "Hello world from the Ruby template");
}

/// The first steps of OpenFaaS's best-known walkthrough, as a newcomer types them:
/// `faas-cli new --lang go say`, up, then `curl -X GET -d 'hello' .../function/say`.
#[test]
fn seed_walkthrough_says_hello_go() {
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    project.run(&["new", "--lang", "go", "say"]).ok();
    project.run(&["up", "-f", "say.yml"]).ok();
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        match http_call(faasd.port, "GET", "/function/say", "hello") {
            Some((200, body)) => break body,
            other => assert!(
                Instant::now() < deadline,
                "GET /function/say never answered 200: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // fmt.Println's newline ends the line, as curl shows it.
    assert_eq!(body, "Hello, Go. You said: hello\n");
    let describe = project.run(&["describe", "say"]).ok().stdout();
    assert!(
        describe
            .lines()
            .any(|l| l.starts_with("Function process:") && l.trim_end().ends_with(" ./handler")),
        "{describe}"
    );
}

/// A handler whose go.mod requires a module that lives in a folder of the handler (a
/// `replace` to a local path) builds with the module proxy switched off.
#[test]
fn go_handler_with_a_local_module_builds_offline() {
    let faasd = Faasd::start();
    let mut project = Project::logged_in(&faasd);
    project.extra_env.push(("GOPROXY".into(), "off".into()));
    project.run(&["new", "greeter", "--lang", "go"]).ok();
    project.write(
        "greeter/go.mod",
        "module handler/function\n\ngo 1.18\n\nrequire example.com/greet v0.0.0\n\nreplace example.com/greet => ./greet\n",
    );
    project.write(
        "greeter/greet/go.mod",
        "module example.com/greet\n\ngo 1.18\n",
    );
    project.write(
        "greeter/greet/greet.go",
        "package greet\n\n// Hello greets someone.\nfunc Hello(who string) string { return \"greetings, \" + who }\n",
    );
    project.write(
        "greeter/handler.go",
        "package function\n\nimport \"example.com/greet\"\n\n// Handle greets the caller.\nfunc Handle(req []byte) string { return greet.Hello(string(req)) }\n",
    );
    project.run(&["up", "-f", "greeter.yml"]).ok();
    project.invoke_until("greeter", "hi", "greetings, hi");
    project.run(&["remove", "greeter"]).ok();
}

/// A golang-http handler written for OpenFaaS requires the SDK module in its go.mod; it
/// builds with the module proxy off, from the SDK that comes with the template.
#[test]
fn golang_http_handler_requiring_openfaas_sdk_builds_offline() {
    let mut project = Project::new("http://127.0.0.1:9");
    project.extra_env.push(("GOPROXY".into(), "off".into()));
    project.run(&["new", "sdk", "--lang", "golang-http"]).ok();
    project.write(
        "sdk/go.mod",
        "module handler/function\n\ngo 1.18\n\nrequire github.com/openfaas/templates-sdk/go-http v0.0.0-20220408082716-5981c545cb03\n",
    );
    let build = project.run(&["build", "-f", "sdk.yml"]).ok();
    assert!(
        build.stdout().contains("built: ./build/sdk.tar.gz"),
        "{}",
        build.stdout()
    );
}

/// A python3-flask handler that declares a package in requirements.txt gets it installed
/// into the package by pip (here a wheel kept beside the handler, with the index off, so
/// nothing is downloaded).
#[test]
fn python3_flask_handler_with_a_requirement() {
    let faasd = Faasd::start();
    let mut project = Project::logged_in(&faasd);
    project.extra_env.push(("PIP_NO_INDEX".into(), "1".into()));
    project
        .run(&["new", "shout", "--lang", "python3-flask"])
        .ok();
    write_wheel(&project.path().join("shout/wheels"));
    project.write(
        "shout/requirements.txt",
        "./function/wheels/shouty-1.0-py3-none-any.whl\n",
    );
    project.write(
        "shout/handler.py",
        "import shouty\n\n\ndef handle(req):\n    return shouty.shout(req)\n",
    );
    let up = project.run(&["up", "-f", "shout.yml"]).ok();
    assert!(
        up.stderr().contains("pip install -r requirements.txt"),
        "{}",
        up.stderr()
    );
    project.invoke_until("shout", "hi", "HI!");
    project.run(&["remove", "shout"]).ok();
}

/// A wheel of one module, `shouty`, made with Python's zipfile (a wheel is a zip with its
/// metadata beside the code).
fn write_wheel(dir: &Path) {
    std::fs::create_dir_all(dir).expect("wheels folder");
    let script = r#"
import sys, zipfile, hashlib, base64
path = sys.argv[1] + "/shouty-1.0-py3-none-any.whl"
files = {
    "shouty.py": "def shout(text):\n    return text.upper() + '!'\n",
    "shouty-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: shouty\nVersion: 1.0\n",
    "shouty-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(path, "w") as z:
    for name, text in files.items():
        data = text.encode()
        z.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("shouty-1.0.dist-info/RECORD,,")
    z.writestr("shouty-1.0.dist-info/RECORD", "\n".join(record) + "\n")
"#;
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "the wheel was written");
}

/// `build` names the missing toolchain and how to get it, and builds nothing, not even the
/// stack's other functions.
#[test]
fn a_missing_toolchain_is_named_before_anything_is_built() {
    let mut project = Project::new("http://127.0.0.1:9");
    project.run(&["new", "echo", "--lang", "bash"]).ok();
    project
        .run(&["new", "gofn", "--lang", "go", "--append", "echo.yml"])
        .ok();
    project
        .run(&["new", "flasky", "--lang", "python3-flask"])
        .ok();
    // A PATH with bash and nothing else.
    let bin = project.path().join("only-bash");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(common::which("bash"), bin.join("bash")).unwrap();
    project
        .extra_env
        .push(("PATH".into(), bin.display().to_string()));
    let err = project.run(&["build", "-f", "echo.yml"]).fails();
    assert!(err.contains("the go template needs `go`"), "{err}");
    assert!(err.contains("apt-get install golang-go"), "{err}");
    assert!(
        !project.path().join("build").exists(),
        "nothing is built when a toolchain is missing"
    );

    // Flask missing from python3: a python3 that cannot import it.
    let fake = project.path().join("no-flask");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(fake.join("python3"), "#!/bin/sh\nexit 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(fake.join("python3"), std::fs::Permissions::from_mode(0o755)).unwrap();
    project.extra_env = vec![("PATH".into(), format!("{}:/usr/bin:/bin", fake.display()))];
    let err = project.run(&["build", "-f", "flasky.yml"]).fails();
    assert!(err.contains("needs Flask for python3"), "{err}");
    assert!(err.contains("python3-flask"), "{err}");
    assert!(!project.path().join("build").exists());
}

/// `new --list` and `template store list` show each template's whole description.
#[test]
fn template_lists_show_whole_descriptions() {
    let project = Project::new("http://127.0.0.1:9");
    let list = project.run(&["new", "--list"]).ok().stdout();
    assert!(
        list.starts_with("Languages available as templates:"),
        "{list}"
    );
    for (name, description) in [
        ("go", "Classic Golang template"),
        ("golang-middleware", "Golang Middleware template"),
        (
            "java11",
            "on the JDK's built-in HTTP server, of-watchdog http mode",
        ),
        (
            "python3-flask",
            "Python 3 Flask template (handle(req), of-watchdog http mode)",
        ),
        ("node18", "Node.js 18 template"),
        ("php8", "PHP 8 template"),
        ("ruby", "Ruby template"),
    ] {
        let line = list
            .lines()
            .find(|l| l.starts_with(&format!("- {name} ")))
            .unwrap_or_else(|| panic!("{name} missing from:\n{list}"));
        assert!(line.contains(description), "{line}");
    }
    let store = project.run(&["template", "store", "list"]).ok().stdout();
    let go_line = store
        .lines()
        .find(|l| l.starts_with("golang-http "))
        .unwrap();
    assert!(
        go_line.ends_with("Golang HTTP template (Request/Response handler, of-watchdog http mode)"),
        "{go_line}"
    );
}
