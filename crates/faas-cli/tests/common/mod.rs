//! The harness for tests that run the real `faas-cli` binary: a real `faasd` on a free
//! loopback port with its own data folder (built once with cargo when missing), and a
//! `Project` folder with its own HOME and OPENFAAS_CONFIG so the real ~/.openfaas is never
//! touched.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The faas-cli binary under test.
pub const FAAS_CLI: &str = env!("CARGO_BIN_EXE_faas-cli");

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// target/debug (where faas-cli, faasd and fwatchdog are).
pub fn bin_dir() -> PathBuf {
    Path::new(FAAS_CLI).parent().expect("bin dir").to_path_buf()
}

/// faasd and fwatchdog, built once if missing.
pub fn server_binaries() -> (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let faasd = bin_dir().join("faasd");
            let watchdog = bin_dir().join("fwatchdog");
            if !faasd.exists() || !watchdog.exists() {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let status = Command::new(cargo)
                    .args(["build", "-p", "faasd", "-p", "faas-watchdog", "--bins"])
                    .status()
                    .expect("run cargo build for faasd");
                assert!(status.success(), "building faasd and fwatchdog failed");
            }
            (faasd, watchdog)
        })
        .clone()
}

/// A running faasd; killed (with its replicas) when dropped.
pub struct Faasd {
    child: Child,
    pub port: u16,
    pub data: PathBuf,
    pub user: String,
    pub password: String,
    _dir: tempfile::TempDir,
}

impl Faasd {
    /// Starts faasd on a fresh data folder.
    pub fn start() -> Faasd {
        Faasd::start_with(&[])
    }

    /// Starts `faasd --provider docker` on the project's dockerd (`scripts/docker.sh`). A
    /// faasd built without the docker feature is rebuilt with it first.
    pub fn start_docker() -> Faasd {
        Faasd::start_docker_with(&[])
    }

    /// [`Faasd::start_docker`] with more environment (`FAASD_IMAGE_PULL`, ...).
    pub fn start_docker_with(more: &[(&str, &str)]) -> Faasd {
        let host = faas_testkit::docker::docker_host();
        let mut env = vec![("FAASD_PROVIDER", "docker"), ("DOCKER_HOST", host.as_str())];
        env.extend_from_slice(more);
        let (faasd, _) = server_binaries();
        // Only a faasd without the docker feature carries this message.
        let binary = std::fs::read(&faasd).expect("read faasd");
        let needle = b"built without the docker provider";
        if binary.windows(needle.len()).any(|w| w == needle) {
            static REBUILT: OnceLock<()> = OnceLock::new();
            REBUILT.get_or_init(|| {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let status = Command::new(cargo)
                    .args([
                        "build",
                        "-p",
                        "faasd",
                        "--features",
                        "docker",
                        "--bin",
                        "faasd",
                    ])
                    .status()
                    .expect("run cargo build for faasd --features docker");
                assert!(status.success(), "building faasd --features docker failed");
            });
        }
        Faasd::start_with(&env)
    }

    /// Starts faasd on a fresh data folder with extra environment.
    pub fn start_with(env: &[(&str, &str)]) -> Faasd {
        let (faasd, watchdog) = server_binaries();
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let log = std::fs::File::create(dir.path().join("faasd.log")).expect("log file");
        let port = free_port();
        let child = Command::new(faasd)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&data)
            .arg("--watchdog")
            .arg(watchdog)
            .env("FAASD_SHUTDOWN_TIMEOUT", "2s")
            .env_remove("OPENFAAS_URL")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start faasd");
        let mut faasd = Faasd {
            child,
            port,
            data,
            user: String::new(),
            password: String::new(),
            _dir: dir,
        };
        faasd.wait_healthy();
        faasd.user = read_trimmed(&faasd.data.join("secrets/basic-auth-user"));
        faasd.password = read_trimmed(&faasd.data.join("secrets/basic-auth-password"));
        faasd
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.data.join("secrets/basic-auth-password").exists()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("faasd exited with {status}:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("faasd never listened:\n{}", self.logs());
    }

    /// faasd's output so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("faasd.log")).unwrap_or_default()
    }

    /// The gateway URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Faasd {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

/// A project folder with its own HOME and config folder, running faas-cli against `gateway`.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub gateway: String,
    pub extra_env: Vec<(String, String)>,
}

/// What a faas-cli run gave.
pub struct Run {
    pub output: Output,
    pub elapsed: Duration,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    pub fn success(&self) -> bool {
        self.output.status.success()
    }
    /// Panics with both streams unless the run succeeded.
    pub fn ok(self) -> Run {
        assert!(
            self.success(),
            "faas-cli failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.output.status,
            self.stdout(),
            self.stderr()
        );
        self
    }
    /// Panics unless the run failed; answers stderr.
    pub fn fails(self) -> String {
        assert!(
            !self.success(),
            "faas-cli should have failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self.stderr()
    }
}

impl Project {
    /// A project talking to `gateway` (through OPENFAAS_URL).
    pub fn new(gateway: &str) -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
            gateway: gateway.to_string(),
            extra_env: Vec::new(),
        }
    }

    /// A project logged in to `faasd`.
    pub fn logged_in(faasd: &Faasd) -> Project {
        let project = Project::new(&faasd.url());
        project
            .run_stdin(
                &["login", "-u", &faasd.user, "--password-stdin"],
                faasd.password.as_bytes(),
            )
            .ok();
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(FAAS_CLI);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path().join("home"))
            .env("OPENFAAS_CONFIG", self.dir.path().join("home/.openfaas"))
            .env("OPENFAAS_URL", &self.gateway)
            .env_remove("OPENFAAS_PREFIX")
            .env_remove("OPENFAAS_STORE")
            .env("FAAS_WATCHDOG", bin_dir().join("fwatchdog"))
            // Go's build cache is shared as a user's is between projects: only the first
            // build of the standard library is cold.
            .env(
                "GOCACHE",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build-cache"),
            );
        for (k, v) in &self.extra_env {
            command.env(k, v);
        }
        command
    }

    /// Talks to the project's dockerd with a Docker config folder of its own at `dir` (made
    /// empty here), so no credentials come from the machine's `~/.docker`.
    pub fn use_docker(&mut self, dir: &Path) {
        std::fs::create_dir_all(dir).expect("docker config folder");
        self.extra_env.extend([
            (
                "DOCKER_HOST".to_owned(),
                faas_testkit::docker::docker_host(),
            ),
            ("DOCKER_CONFIG".to_owned(), dir.display().to_string()),
        ]);
    }

    /// `faas-cli registry-login --server SERVER -u USER --password-stdin` with `password`.
    pub fn registry_login(&self, server: &str, user: &str, password: &str) -> Run {
        self.run_stdin(
            &[
                "registry-login",
                "--server",
                server,
                "-u",
                user,
                "--password-stdin",
            ],
            password.as_bytes(),
        )
    }

    /// Runs faas-cli with empty stdin.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_stdin(args, b"")
    }

    /// Runs faas-cli with `stdin`.
    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        use std::io::Write as _;
        let started = Instant::now();
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start faas-cli");
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let output = child.wait_with_output().expect("faas-cli output");
        let _ = writer.join();
        Run {
            output,
            elapsed: started.elapsed(),
        }
    }

    /// Starts faas-cli in the background (for `up --watch`, `local-run`, `logs`).
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start faas-cli")
    }

    /// Writes a file in the project.
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    /// `deploy --image ghcr.io/openfaas/alpine:latest --name NAME --fprocess FPROCESS` plus
    /// `extra` flags: a function that runs the host's programs (no package to build).
    pub fn deploy_host_program(&self, name: &str, fprocess: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "deploy",
            "--image",
            "ghcr.io/openfaas/alpine:latest",
            "--name",
            name,
            "--fprocess",
            fprocess,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Invokes `name` with `body` until it answers `expected` (a replica may be starting).
    pub fn invoke_until(&self, name: &str, body: &str, expected: &str) -> String {
        self.run_until(&["invoke", name], body, expected)
    }

    /// Runs faas-cli `args` with `body` on stdin until it succeeds and prints `expected`.
    pub fn run_until(&self, args: &[&str], body: &str, expected: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let run = self.run_stdin(args, body.as_bytes());
            let out = run.stdout();
            if run.success() && out.trim_end() == expected {
                return out;
            }
            if Instant::now() > deadline {
                panic!(
                    "faas-cli {args:?} never printed {expected:?}: last stdout {out:?}, stderr {}",
                    run.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Runs git in `dir` with a fixed identity and no user or system configuration; answers its
/// trimmed stdout and panics when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Where `program` is on PATH (panics when it is not).
pub fn which(program: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{program}` is not on PATH"))
}

/// Plain HTTP POST on loopback (no extra client crate): status and body.
pub fn http_post(port: u16, path: &str, body: &str) -> Option<(u16, String)> {
    http_call(port, "POST", path, body)
}

/// One HTTP/1.1 request with `body` on loopback (`Connection: close`): status and body, with
/// a chunked body decoded.
pub fn http_call(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    if !chunked {
        return Some((status, body.to_string()));
    }
    let mut decoded = String::new();
    let mut rest = body;
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return Some((status, decoded));
        }
        decoded.push_str(after.get(..size)?);
        rest = after.get(size + 2..)?;
    }
}

/// new -> up -> invoke -> list -> describe -> logs -> remove for one template.
pub fn template_round_trip(lang: &str, expected_echo: &str) {
    let faasd = Faasd::start();
    let project = Project::logged_in(&faasd);
    template_round_trip_in(&faasd, &project, lang, expected_echo);
}

/// [`template_round_trip`] in a given project (one with more environment, say).
pub fn template_round_trip_in(faasd: &Faasd, project: &Project, lang: &str, expected_echo: &str) {
    let name = format!("{lang}-fn")
        .replace("python3-http", "py-http")
        .replace("golang-middleware", "go-mw");
    let new = project.run(&["new", &name, "--lang", lang]).ok();
    assert!(
        new.stdout()
            .contains(&format!("Stack file written: {name}.yml")),
        "{}",
        new.stdout()
    );
    let stack = format!("{name}.yml");

    let up = project.run(&["up", "-f", &stack]).ok();
    let out = up.stdout();
    assert!(out.contains(&format!("Deploying: {name}.")), "{out}");
    assert!(out.contains("Deployed. 202 Accepted."), "{out}");
    assert!(
        out.contains(&format!("URL: {}/function/{name}", faasd.url())),
        "{out}"
    );
    eprintln!("faas-cli up ({lang}) took {:.2}s", up.elapsed.as_secs_f64());

    project.invoke_until(&name, "hi", expected_echo);

    let list = project.run(&["list"]).ok().stdout();
    assert!(list.starts_with("Function"), "{list}");
    assert!(list.lines().any(|l| l.starts_with(&name)), "{list}");

    let describe = project.run(&["describe", &name]).ok().stdout();
    assert!(describe.contains(&format!("{name}:latest")), "{describe}");
    assert!(describe.contains("Status:"), "{describe}");
    let process = describe
        .lines()
        .find_map(|l| l.strip_prefix("Function process:"))
        .unwrap_or_default();
    assert!(
        !process.trim().is_empty(),
        "describe names the package's process: {describe}"
    );

    let logs = project.run(&["logs", &name, "--tail=false"]).ok().stdout();
    assert!(!logs.trim().is_empty(), "logs of {name} are empty");

    let remove = project.run(&["remove", "-f", &stack]).ok().stdout();
    assert!(remove.contains(&format!("Deleting: {name}.")), "{remove}");
    let list = project.run(&["list", "-q"]).ok().stdout();
    assert!(
        !list.lines().any(|l| l == name),
        "{name} still listed: {list}"
    );
}
