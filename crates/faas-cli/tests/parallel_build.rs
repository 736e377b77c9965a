//! `build --parallel N` with the real binary: builds run side by side (their build steps
//! meet each other, which one-at-a-time builds cannot), and every failure is reported.

mod common;

use common::Project;

/// A project whose template's build step waits (up to `rounds` tenths of a second) until
/// two builds have started.
fn rendezvous_project(functions: &[&str]) -> Project {
    let project = Project::new("http://127.0.0.1:9");
    project.write(
        "template/rendezvous/template.yml",
        r#"language: rendezvous
fprocess: cat
handler_folder: function
mode: classic
build:
  - name: meet another build
    run: 'touch "$MEET/$$"; n=0; while [ "$(ls "$MEET" | wc -l)" -lt 2 ]; do n=$((n+1)); [ "$n" -gt "$ROUNDS" ] && { echo "met no other build"; exit 1; }; sleep 0.1; done'
"#,
    );
    project.write("template/rendezvous/function/handler.txt", "starter\n");
    let mut stack = String::from("version: 1.0\nfunctions:\n");
    for name in functions {
        stack.push_str(&format!(
            "  {name}:\n    lang: rendezvous\n    handler: ./{name}\n"
        ));
        project.write(&format!("{name}/handler.txt"), name);
    }
    project.write("stack.yml", &stack);
    std::fs::create_dir(project.path().join("meet")).expect("meeting folder");
    project
}

fn build(project: &Project, parallel: &str, rounds: &str) -> common::Run {
    let meet = format!("MEET={}", project.path().join("meet").display());
    let rounds = format!("ROUNDS={rounds}");
    project.run(&["build", "--parallel", parallel, "-b", &meet, "-b", &rounds])
}

#[test]
fn parallel_builds_run_side_by_side() {
    let project = rendezvous_project(&["one", "three", "two"]);
    let out = build(&project, "2", "300").ok().stdout();
    for name in ["one", "three", "two"] {
        assert!(
            out.contains(&format!(
                "Image: {name}:latest built: ./build/{name}.tar.gz"
            )),
            "{out}"
        );
        assert!(project
            .path()
            .join(format!("build/{name}.tar.gz"))
            .is_file());
    }
    assert!(out.contains("Total build time:"), "{out}");

    // One at a time, the first build waits alone and gives up: the test above could not
    // have passed without builds running together.
    let project = rendezvous_project(&["one", "two"]);
    let err = build(&project, "1", "5").fails();
    assert!(
        err.contains("met no other build") || err.contains("meet another build"),
        "{err}"
    );
}

#[test]
fn parallel_builds_report_every_failure_and_finish_the_rest() {
    let project = rendezvous_project(&["good", "other"]);
    let mut stack = std::fs::read_to_string(project.path().join("stack.yml")).unwrap();
    stack.push_str("  lost:\n    lang: rendezvous\n    handler: ./lost\n");
    stack.push_str("  gone:\n    lang: rendezvous\n    handler: ./gone\n");
    project.write("stack.yml", &stack);
    let run = build(&project, "4", "300");
    let err = run.fails();
    assert!(err.contains("2 of 4 builds failed"), "{err}");
    assert!(
        err.contains("function lost: handler folder ./lost not found"),
        "{err}"
    );
    assert!(
        err.contains("function gone: handler folder ./gone not found"),
        "{err}"
    );
    for name in ["good", "other"] {
        assert!(
            project
                .path()
                .join(format!("build/{name}.tar.gz"))
                .is_file(),
            "{name} was built"
        );
    }
}
