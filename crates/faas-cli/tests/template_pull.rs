//! `template pull` and `template pull stack` with the real faas-cli and a real git: templates
//! come from git repositories made here (file:// URLs and folders), are kept or overwritten,
//! pinned to tags, and a pulled template is built, deployed to a real faasd and invoked.

mod common;

use std::path::{Path, PathBuf};

use common::{Faasd, Project};

/// A git repository of templates in a temporary folder.
struct TemplateRepo {
    dir: tempfile::TempDir,
}

impl TemplateRepo {
    fn new() -> TemplateRepo {
        let repo = TemplateRepo {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        repo.git(&["init", "--quiet"]);
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn url(&self) -> String {
        format!("file://{}", self.path().display())
    }

    fn git(&self, args: &[&str]) {
        common::git(self.path(), args);
    }

    /// A template as OpenFaaS's repositories hold them (only `language`, `fprocess` and
    /// `handler_folder`: none of the process runtime's keys, so it runs in classic mode),
    /// whose handler prints `greeting` and then its input.
    fn template(&self, folder: &str, name: &str, greeting: &str) -> &TemplateRepo {
        let root = self.path().join(folder).join(name);
        std::fs::create_dir_all(root.join("function")).expect("template folder");
        std::fs::write(
            root.join("template.yml"),
            format!(
                "language: {name}\nfprocess: sh function/handler.sh\nhandler_folder: function\n"
            ),
        )
        .expect("template.yml");
        std::fs::write(
            root.join("function/handler.sh"),
            format!("printf '{greeting}: '\ncat\n"),
        )
        .expect("handler");
        self
    }

    fn commit(&self, message: &str) -> &TemplateRepo {
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "-m", message]);
        self
    }
}

fn handler(project: &Project, lang: &str) -> String {
    std::fs::read_to_string(
        project
            .path()
            .join("template")
            .join(lang)
            .join("function/handler.sh"),
    )
    .unwrap_or_default()
}

fn template_entries(project: &Project) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(project.path().join("template"))
        .map(|entries| {
            entries
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn pull_copies_templates_then_keeps_or_overwrites_them() {
    let repo = TemplateRepo::new();
    repo.template("template", "alpha", "alpha")
        .template("template", "beta", "beta");
    std::fs::write(repo.path().join("template/README.md"), "not a template").unwrap();
    repo.commit("two templates");
    let project = Project::new("http://127.0.0.1:9");

    let out = project
        .run(&["template", "pull", &repo.url()])
        .ok()
        .stdout();
    assert!(
        out.contains(&format!(
            "Fetch templates from repository: {}\n",
            repo.url()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Fetched 2 template(s) : [alpha beta] from {}",
            repo.url()
        )),
        "{out}"
    );
    assert_eq!(template_entries(&project), ["alpha", "beta"]);
    let list = project.run(&["new", "--list"]).ok().stdout();
    assert!(
        list.contains("- alpha\n") && list.contains("- beta\n"),
        "{list}"
    );
    let store = project.run(&["template", "store", "list"]).ok().stdout();
    assert!(
        store
            .lines()
            .any(|l| l.starts_with("alpha") && l.contains("template/alpha")),
        "{store}"
    );

    // A second pull keeps what is there, local edits included.
    let edited = project.path().join("template/alpha/function/handler.sh");
    std::fs::write(&edited, "echo mine\n").unwrap();
    let out = project
        .run(&["template", "pull", &repo.url()])
        .ok()
        .stdout();
    assert!(
        out.contains("Cannot overwrite the following 2 template(s): [alpha beta]"),
        "{out}"
    );
    assert!(out.contains("Fetched 0 template(s) : []"), "{out}");
    assert_eq!(handler(&project, "alpha"), "echo mine\n");

    // --overwrite replaces each template whole and leaves nothing else behind.
    std::fs::write(project.path().join("template/alpha/stray"), "x").unwrap();
    let out = project
        .run(&["template", "pull", &repo.url(), "--overwrite"])
        .ok()
        .stdout();
    assert!(
        out.contains("Fetched 2 template(s) : [alpha beta]"),
        "{out}"
    );
    assert_eq!(handler(&project, "alpha"), "printf 'alpha: '\ncat\n");
    assert!(!project.path().join("template/alpha/stray").exists());
    assert_eq!(template_entries(&project), ["alpha", "beta"]);

    // A pulled template is one `new` can use.
    let new = project.run(&["new", "hello", "--lang", "alpha"]).ok();
    assert!(
        new.stdout().contains("Stack file written: hello.yml"),
        "{}",
        new.stdout()
    );
    assert_eq!(
        std::fs::read_to_string(project.path().join("hello/handler.sh")).unwrap(),
        "printf 'alpha: '\ncat\n"
    );
}

#[test]
fn pull_at_a_tag_from_another_folder_or_the_environments_url() {
    let repo = TemplateRepo::new();
    repo.template("template", "alpha", "one").commit("first");
    repo.git(&["tag", "v1"]);
    repo.template("template", "alpha", "two")
        .template("more/templates", "gamma", "gamma")
        .commit("second");
    let project = Project::new("http://127.0.0.1:9");

    let pinned = format!("{}#v1", repo.url());
    let out = project.run(&["template", "pull", &pinned]).ok().stdout();
    assert!(
        out.contains(&format!("from repository: {} at v1", repo.url())),
        "{out}"
    );
    assert_eq!(handler(&project, "alpha"), "printf 'one: '\ncat\n");

    project
        .run(&["template", "pull", "--overwrite", &repo.url()])
        .ok();
    assert_eq!(handler(&project, "alpha"), "printf 'two: '\ncat\n");

    let out = project
        .run(&["template", "pull", &repo.url(), "more/templates"])
        .ok()
        .stdout();
    assert!(out.contains("Fetched 1 template(s) : [gamma]"), "{out}");
    assert_eq!(template_entries(&project), ["alpha", "gamma"]);

    // Without an argument: $OPENFAAS_TEMPLATE_URL, here a folder relative to the project.
    let mut project = Project::new("http://127.0.0.1:9");
    let copy = project.path().join("templates-repo");
    common::git(
        project.path(),
        &[
            "clone",
            "--quiet",
            &repo.path().display().to_string(),
            &copy.display().to_string(),
        ],
    );
    project
        .extra_env
        .push(("OPENFAAS_TEMPLATE_URL".into(), "templates-repo#v1".into()));
    let out = project.run(&["template", "pull"]).ok().stdout();
    assert!(out.contains(" at v1\n"), "{out}");
    assert_eq!(handler(&project, "alpha"), "printf 'one: '\ncat\n");
}

#[test]
fn bad_repositories_refs_and_paths_fail_clearly_and_write_nothing() {
    let repo = TemplateRepo::new();
    repo.template("template", "alpha", "alpha").commit("one");
    let empty = TemplateRepo::new();
    std::fs::write(empty.path().join("README.md"), "no templates").unwrap();
    empty.commit("none");
    let project = Project::new("http://127.0.0.1:9");

    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["no-such-folder".into()], "is not a git repository URL"),
        (
            vec!["file:///no/such/repository".into()],
            "git clone of file:///no/such/repository failed",
        ),
        (
            vec![format!("{}#no-such-tag", repo.url())],
            "at no-such-tag failed",
        ),
        (
            vec![format!("{}#bad..ref", repo.url())],
            "invalid tag or branch name \"bad..ref\"",
        ),
        (vec![empty.url()], "has no template/ folder"),
        (
            vec![repo.url(), "../outside".into()],
            "must be a folder inside the repository",
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec!["template", "pull"];
        full.extend(args.iter().map(String::as_str));
        let err = project.run(&full).fails();
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert!(
        template_entries(&project).is_empty(),
        "a failed pull wrote {:?}",
        template_entries(&project)
    );

    // No git on PATH: say so.
    let mut project = Project::new("http://127.0.0.1:9");
    project
        .extra_env
        .push(("PATH".into(), project.path().display().to_string()));
    let err = project.run(&["template", "pull", &repo.url()]).fails();
    assert!(err.contains("`git` was not found on PATH"), "{err}");
}

fn write_stack(project: &Project, repo: &TemplateRepo, lang: &str) -> PathBuf {
    let stack = project.path().join("stack.yml");
    std::fs::write(
        &stack,
        format!(
            "version: 1.0\nprovider:\n  name: openfaas\nfunctions:\n  greeter:\n    lang: {lang}\n    handler: ./greeter\n    image: greeter:latest\nconfiguration:\n  templates:\n    - name: {lang}\n      source: {}\n",
            repo.url()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(project.path().join("greeter")).unwrap();
    std::fs::write(
        project.path().join("greeter/handler.sh"),
        "printf 'pulled: '\ncat\n",
    )
    .unwrap();
    stack
}

#[test]
fn stack_templates_are_pulled_by_pull_stack_and_by_build() {
    let repo = TemplateRepo::new();
    repo.template("template", "alpha", "alpha").commit("one");
    let project = Project::new("http://127.0.0.1:9");
    write_stack(&project, &repo, "alpha");

    let out = project.run(&["template", "pull", "stack"]).ok().stdout();
    assert!(
        out.contains("Pulling template: alpha from configuration file:"),
        "{out}"
    );
    assert!(out.contains("Fetched 1 template(s) : [alpha]"), "{out}");

    std::fs::remove_dir_all(project.path().join("template")).unwrap();
    let err = project.run(&["build", "--disable-stack-pull"]).fails();
    assert!(err.contains("faas-cli template pull stack"), "{err}");

    let out = project.run(&["build"]).ok().stdout();
    assert!(out.contains("Fetched 1 template(s) : [alpha]"), "{out}");
    assert!(project.path().join("build/greeter.tar.gz").is_file());

    // A stack naming no templates has nothing to pull.
    std::fs::write(
        project.path().join("plain.yml"),
        "version: 1.0\nfunctions:\n  f:\n    lang: bash\n    handler: ./f\n",
    )
    .unwrap();
    let err = project
        .run(&["template", "pull", "stack", "-f", "plain.yml"])
        .fails();
    assert!(err.contains("configures no templates to pull"), "{err}");
}

#[test]
fn a_pulled_template_deploys_and_answers() {
    let repo = TemplateRepo::new();
    repo.template("template", "alpha", "alpha").commit("one");
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    write_stack(&project, &repo, "alpha");

    let up = project.run(&["up"]).ok().stdout();
    assert!(up.contains("Fetched 1 template(s) : [alpha]"), "{up}");
    assert!(up.contains("Deployed. 202 Accepted."), "{up}");
    project.invoke_until("greeter", "hi", "pulled: hi");
}

#[test]
fn a_template_store_lists_describes_and_pulls() {
    let repo = TemplateRepo::new();
    repo.template("template", "alpha", "alpha")
        .template("template", "alpha-arm", "arm")
        .commit("store templates");
    let store_dir = tempfile::tempdir().unwrap();
    let store = store_dir.path().join("templates.json");
    std::fs::write(
        &store,
        format!(
            r#"[
  {{"template":"alpha","platform":"x86_64","language":"Shell","source":"tester",
    "description":"Alpha template","repo":"{url}","official":"false"}},
  {{"template":"alpha-arm","platform":"armhf","language":"Shell","source":"tester",
    "description":"Alpha for armhf","repo":"{url}","official":"true"}}
]"#,
            url = repo.url()
        ),
    )
    .unwrap();
    let store = store.display().to_string();
    let mut project = Project::new("http://127.0.0.1:9");

    let list = project
        .run(&["template", "store", "list", "--url", &store])
        .ok()
        .stdout();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("DESCRIPTION"),
        "{list}"
    );
    assert!(
        lines[1].starts_with("alpha ") && lines[1].contains("Alpha template"),
        "{list}"
    );
    let arm = project
        .run(&["template", "store", "ls", "-u", &store, "-p", "armhf"])
        .ok()
        .stdout();
    assert!(
        arm.contains("alpha-arm") && !arm.contains("Alpha template"),
        "{arm}"
    );

    let describe = project
        .run(&["template", "store", "describe", "alpha", "--url", &store])
        .ok()
        .stdout();
    assert!(
        describe.contains(&format!("Repository:        {}", repo.url())),
        "{describe}"
    );
    assert!(describe.contains("Official Template: false"), "{describe}");

    project
        .extra_env
        .push(("OPENFAAS_TEMPLATE_STORE_URL".into(), store.clone()));
    let out = project
        .run(&["template", "store", "pull", "tester/alpha"])
        .ok()
        .stdout();
    assert!(
        out.contains("Fetched 2 template(s) : [alpha alpha-arm]"),
        "{out}"
    );
    assert_eq!(handler(&project, "alpha"), "printf 'alpha: '\ncat\n");

    let err = project.run(&["template", "store", "pull", "cobol"]).fails();
    assert!(
        err.contains("\"cobol\" is not in the template store"),
        "{err}"
    );
    let err = project
        .run(&[
            "template",
            "store",
            "list",
            "--url",
            "/no/such/templates.json",
        ])
        .fails();
    assert!(err.contains("/no/such/templates.json"), "{err}");

    // A built-in template needs no pulling, and nothing is fetched for it.
    let plain = Project::new("http://127.0.0.1:9");
    let out = plain
        .run(&["template", "store", "pull", "bash"])
        .ok()
        .stdout();
    assert!(out.contains("built into faas-cli"), "{out}");
    assert!(template_entries(&plain).is_empty());
}
