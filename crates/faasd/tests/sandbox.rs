//! Hostile functions against a real faasd: each attack a function's code could make on the
//! platform, its neighbours or its own limits (issue 11), and that it fails in the sandbox.
//!
//! The attacker is a classic function whose process is `sh`: the body of each call is the
//! script it runs, its output (stdout and stderr) the answer. The victim is another function
//! with a secret and a private environment variable. Run as root (as CI is), faasd hands out
//! uids; as an ordinary user the tests that need root say so and check what the host allows.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{package, package_with_manifest, Faasd};
use reqwest::Method;
use serde_json::{json, Value};

const SECRET_VALUE: &str = "victim-secret-9f3c27";
const ENV_VALUE: &str = "victim-env-51ab90";

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A faasd with a victim and an attacker deployed and ready.
struct Arena {
    faasd: Faasd,
}

impl Arena {
    async fn start() -> Arena {
        Arena::start_with(&[], json!({})).await
    }

    /// `attacker` is merged into the attacker's deployment (limits, envVars).
    async fn start_with(env: &[(&str, &str)], attacker: Value) -> Arena {
        Arena::around(Faasd::start_with(env), attacker).await
    }

    async fn around(faasd: Faasd, attacker: Value) -> Arena {
        let info: Value = faasd
            .api(Method::GET, "/system/info")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            info["sandbox"]["active"], true,
            "the sandbox must be active (is bubblewrap installed? scripts/test.sh installs it): {info}"
        );
        let created = faasd
            .api(Method::POST, "/system/secrets")
            .json(&json!({"name": "victim-key", "value": SECRET_VALUE}))
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success(), "{}", created.status());
        faasd
            .deploy_accepted(json!({
                "service": "victim",
                "image": "functions/alpine:latest",
                "envProcess": "sh",
                "secrets": ["victim-key"],
                "envVars": {"VICTIM_ENV": ENV_VALUE},
            }))
            .await;
        let mut deployment = json!({
            "service": "attacker",
            "image": "functions/alpine:latest",
            "envProcess": "sh",
        });
        if let (Some(base), Some(extra)) = (deployment.as_object_mut(), attacker.as_object()) {
            base.extend(extra.clone());
        }
        faasd.deploy_accepted(deployment).await;
        faasd.wait_replicas("victim", 1).await;
        faasd.wait_replicas("attacker", 1).await;
        Arena { faasd }
    }

    /// Uploads `archive` as package `name:1`, deploys it as function `name` and waits for
    /// its replica.
    async fn deploy_package(&self, name: &str, archive: Vec<u8>) {
        let uploaded = self
            .faasd
            .api(Method::PUT, &format!("/system/packages/{name}:1"))
            .body(archive)
            .send()
            .await
            .unwrap();
        assert_eq!(uploaded.status(), 201, "upload of {name}:1");
        self.faasd
            .deploy_accepted(json!({"service": name, "image": format!("{name}:1")}))
            .await;
        self.faasd.wait_replicas(name, 1).await;
    }

    /// Runs `script` as the attacker; returns its output.
    async fn attack(&self, script: &str) -> String {
        self.faasd.invoke("attacker", script).await.1
    }

    async fn victim(&self, script: &str) -> (u16, String) {
        self.faasd.invoke("victim", script).await
    }

    fn data(&self) -> String {
        self.faasd
            .data
            .canonicalize()
            .unwrap()
            .display()
            .to_string()
    }

    /// The host pid of a function's watchdog: the fwatchdog below this faasd whose marker
    /// variable names the function.
    fn watchdog_pid(&self, function: &str) -> u32 {
        descendants(self.faasd.pid())
            .into_iter()
            .find(|pid| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                comm.trim() == "fwatchdog"
                    && String::from_utf8_lossy(&environ)
                        .contains(&format!("/openfaas-fn/{function}/{function}-"))
            })
            .unwrap_or_else(|| panic!("no watchdog of {function} found"))
    }

    /// A variable of a function's watchdog's environment.
    fn watchdog_var(&self, function: &str, name: &str) -> Option<String> {
        let pid = self.watchdog_pid(function);
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        String::from_utf8_lossy(&environ)
            .split('\0')
            .find_map(|var| Some(var.strip_prefix(name)?.strip_prefix('=')?.to_owned()))
    }

    /// The host path of the Unix socket a function's (first) watchdog listens on: its
    /// replica's `listen/watchdog.sock`, which only faasd reaches.
    fn watchdog_socket(&self, function: &str) -> PathBuf {
        let marker = self
            .watchdog_var(function, "RUSTFAAS_REPLICA")
            .expect("the replica marker");
        let instance = marker.rsplit('/').next().unwrap().to_owned();
        Path::new(&self.data())
            .join("run/openfaas-fn")
            .join(function)
            .join(instance)
            .join("listen/watchdog.sock")
    }

    /// The loopback port a function's watchdog listens on (`--sandbox-tcp true`).
    fn watchdog_port(&self, function: &str) -> u16 {
        self.watchdog_var(function, "port")
            .and_then(|port| port.parse().ok())
            .expect("port in the watchdog's environment")
    }
}

/// `GET /_/health` over the Unix socket at `path`, as faasd's gateway connects: the status.
async fn health_over(path: &Path) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = faas_provider::address::connect_unix(path).await.ok()?;
    stream
        .write_all(b"GET /_/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Socket inodes `pid` holds open.
fn socket_inodes(pid: u32) -> Vec<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .filter_map(|fd| {
                    let link = std::fs::read_link(fd.path()).ok()?;
                    let link = link.to_str()?;
                    link.strip_prefix("socket:[")?
                        .strip_suffix(']')?
                        .parse()
                        .ok()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The TCP ports on which `pid` or a process below it listens (host network namespace).
fn tcp_ports_listened_on_below(pid: u32) -> Vec<u16> {
    let inodes: Vec<u64> = descendants(pid)
        .into_iter()
        .flat_map(socket_inodes)
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address, st (0A = LISTEN), inode
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *state != "0A" || !inodes.contains(&inode.parse().unwrap_or(0)) {
                continue;
            }
            if let Some(port) = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok())
            {
                ports.push(port);
            }
        }
    }
    ports
}

/// The inode at `path` (a socket's, on the host).
fn inode_of(path: &Path) -> u64 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .ino()
}

fn find_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(find_files(&path, name));
        } else if entry.file_name() == name {
            found.push(path);
        }
    }
    found
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `pid` and every process below it.
fn descendants(pid: u32) -> Vec<u32> {
    let all = all_pids();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|p| parent_of(**p) == Some(parent)));
        i += 1;
    }
    found
}

/// Pids of processes whose command line contains `needle`.
fn processes_running(needle: &str) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .contains(needle)
        })
        .collect()
}

fn uid_of(pid: u32) -> u32 {
    std::fs::metadata(format!("/proc/{pid}")).unwrap().uid()
}

#[tokio::test]
async fn each_function_runs_as_its_own_unprivileged_user() {
    let arena = Arena::start().await;
    let attacker = arena.attack("id -u; id -g; id -G").await;
    let (_, victim) = arena.victim("id -u").await;
    let ids: Vec<&str> = attacker.split_whitespace().collect();
    assert_eq!(ids.len(), 3, "{attacker}");
    let faasd_uid = uid_of(arena.faasd.pid()).to_string();
    assert_ne!(ids[0], "0", "the function runs as root");
    assert_ne!(ids[0], faasd_uid, "the function runs as faasd's user");
    assert_eq!(ids[0], ids[1], "its own group");
    assert_eq!(ids[2], ids[1], "no supplementary groups");
    if is_root() {
        assert_ne!(ids[0], victim.trim(), "two functions share a uid");
        // Seen from the host too, not only inside a user namespace.
        assert_eq!(
            uid_of(arena.watchdog_pid("attacker")).to_string(),
            ids[0],
            "the watchdog is not the function's uid on the host"
        );
    }
    // no_new_privs and no capabilities.
    let status = arena
        .attack("grep -E 'NoNewPrivs|CapEff|CapPrm' /proc/self/status")
        .await;
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    assert!(status.contains("CapEff:\t0000000000000000"), "{status}");
    assert!(status.contains("CapPrm:\t0000000000000000"), "{status}");
}

#[tokio::test]
async fn the_admin_password_is_out_of_reach() {
    let arena = Arena::start().await;
    let data = arena.data();
    let faasd_pid = arena.faasd.pid();
    let out = arena
        .attack(&format!(
            "cat {data}/secrets/basic-auth-password; \
             cat /proc/{faasd_pid}/root{data}/secrets/basic-auth-password; \
             cat /proc/1/root{data}/secrets/basic-auth-password; \
             ls -la {data}; \
             ls -R /home /run /tmp /var 2>/dev/null | grep basic-auth; echo done"
        ))
        .await;
    assert!(out.contains("done"), "the attack did not run: {out}");
    assert!(
        !out.contains(&arena.faasd.password),
        "the attacker read the admin password: {out}"
    );
    assert!(!out.contains("basic-auth-user"), "{out}");
}

#[tokio::test]
async fn another_functions_secret_is_out_of_reach_by_every_path() {
    let arena = Arena::start().await;
    // The victim reads its own, and it is its alone.
    let (status, own) = arena.victim("cat /var/openfaas/secrets/victim-key").await;
    assert_eq!((status, own.as_str()), (200, SECRET_VALUE));
    let (_, listing) = arena
        .victim("ls -ln /var/openfaas/secrets/victim-key; id -u")
        .await;
    assert!(listing.starts_with("-r--------"), "{listing}");
    if is_root() {
        let uid = listing.split_whitespace().last().unwrap();
        assert_eq!(listing.split_whitespace().nth(2), Some(uid), "{listing}");
    }

    let data = arena.data();
    let victim = arena.watchdog_pid("victim");
    let out = arena
        .attack(&format!(
            "cat {data}/function-secrets/openfaas-fn/victim-key; \
             cat {data}/run/openfaas-fn/victim/victim-1/secrets/victim-key; \
             cat /proc/{victim}/root/var/openfaas/secrets/victim-key; \
             for p in /proc/[0-9]*; do cat $p/root/var/openfaas/secrets/victim-key; done; \
             cat /var/openfaas/secrets/victim-key; ls /var/openfaas/secrets; echo done"
        ))
        .await;
    assert!(out.contains("done"), "the attack did not run: {out}");
    assert!(
        !out.contains(SECRET_VALUE),
        "the attacker read the victim's secret: {out}"
    );
}

#[tokio::test]
async fn another_functions_environment_is_out_of_reach() {
    let arena = Arena::start().await;
    let (_, own) = arena.victim("echo $VICTIM_ENV").await;
    assert_eq!(own.trim(), ENV_VALUE);
    let victim = arena.watchdog_pid("victim");
    let out = arena
        .attack(&format!(
            "cat /proc/{victim}/environ; \
             for p in /proc/[0-9]*; do cat $p/environ; done | tr '\\0' '\\n'; echo; env; echo done"
        ))
        .await;
    assert!(out.contains("done"), "the attack did not run: {out}");
    assert!(
        !out.contains(ENV_VALUE),
        "the attacker read the victim's environment: {out}"
    );
    // A clean environment: none of faasd's variables, no host paths.
    assert!(!out.contains("FAASD_"), "faasd's environment leaked: {out}");
    assert!(!out.contains(&arena.data()), "a host path leaked: {out}");
}

#[tokio::test]
async fn another_functions_code_and_its_own_are_read_only() {
    let arena = Arena::start().await;
    let archive = package(
        &[(
            "handler.sh",
            "cat >/dev/null\necho original\n{ echo 'echo hacked' > ./handler.sh; } 2>/dev/null && echo 'wrote its own code'\nexit 0\n",
            0o755,
        )],
        json!({"fprocess": "sh handler.sh"}),
    );
    arena.deploy_package("coded", archive).await;
    assert_eq!(
        arena.faasd.invoke("coded", "").await,
        (200, "original\n".into())
    );

    let data = arena.data();
    let coded = arena.watchdog_pid("coded");
    let out = arena
        .attack(&format!(
            "echo 'echo hacked' > /proc/{coded}/cwd/handler.sh; \
             for d in {data}/packages/unpacked/*; do echo 'echo hacked' > $d/handler.sh; done; \
             for p in /proc/[0-9]*; do echo 'echo hacked' > $p/cwd/handler.sh; done; echo done"
        ))
        .await;
    assert!(out.contains("done"), "the attack did not run: {out}");
    assert_eq!(
        arena.faasd.invoke("coded", "").await,
        (200, "original\n".into())
    );
    for handler in find_files(&arena.faasd.data.join("packages/unpacked"), "handler.sh") {
        let text = std::fs::read_to_string(&handler).unwrap();
        assert!(
            text.starts_with("cat >/dev/null"),
            "{} was changed",
            handler.display()
        );
    }
}

/// Calls `function` until it answers 200 (its replica restarting), for up to 30 s.
async fn invoke_until_ok(faasd: &Faasd, function: &str, body: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, text) = faasd.invoke(function, body).await;
        if status == 200 {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{function} kept answering {status}: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_package_that_asks_gets_a_writable_copy_of_its_own() {
    writable_copy_checks(&Arena::start().await).await;
}

#[tokio::test]
async fn as_an_ordinary_user_a_writable_copy_is_still_the_replicas_own() {
    assert!(
        is_root(),
        "this test starts faasd as nobody, which needs root (as CI runs); it never skips"
    );
    let arena = Arena::around(Faasd::start_as_user(NOBODY, &[]), json!({})).await;
    assert_eq!(uid_of(arena.faasd.pid()), NOBODY);
    writable_copy_checks(&arena).await;
}

/// A package with `"writable": true`: each call appends to `./state` in its working
/// directory and answers the file's size.
async fn writable_copy_checks(arena: &Arena) {
    let archive = package_with_manifest(
        &[(
            "handler.sh",
            "cat >/dev/null\necho x >> ./state && wc -c < ./state\n",
            0o755,
        )],
        json!({"env": {"fprocess": "sh handler.sh"}, "writable": true}),
    );
    arena.deploy_package("writer", archive).await;
    for expected in ["2\n", "4\n", "6\n"] {
        assert_eq!(
            arena.faasd.invoke("writer", "").await,
            (200, expected.into())
        );
    }

    // The copy is the replica's own: the stored package is untouched, the copy belongs to
    // the function's uid, and no other function can reach it.
    let store = arena.faasd.data.join("packages/unpacked");
    assert!(
        find_files(&store, "state").is_empty(),
        "the stored package was written"
    );
    let copies = find_files(&arena.faasd.data.join("run"), "state");
    assert_eq!(copies.len(), 1, "one replica, one copy: {copies:?}");
    let writer = arena.watchdog_pid("writer");
    if uid_of(arena.faasd.pid()) == 0 {
        let owner = std::fs::metadata(&copies[0]).unwrap().uid();
        assert_eq!(owner, uid_of(writer), "the copy belongs to the function");
        assert_ne!(owner, 0);
    }
    let data = arena.data();
    let out = arena
        .attack(&format!(
            "for f in {data}/run/openfaas-fn/writer/*/package/state /proc/{writer}/cwd/state; do \
             echo hacked >> $f; done; echo done"
        ))
        .await;
    assert!(out.contains("done"), "the attack did not run: {out}");
    assert_eq!(std::fs::read_to_string(&copies[0]).unwrap(), "x\nx\nx\n");

    // A new start gets a fresh copy, as a container gets a fresh filesystem.
    let killed = std::process::Command::new("kill")
        .args(["-9", &writer.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(invoke_until_ok(&arena.faasd, "writer", "").await, "2\n");
}

#[tokio::test]
async fn siblings_and_faasd_cannot_be_signalled() {
    let arena = Arena::start().await;
    let faasd_pid = arena.faasd.pid();
    let victim = arena.watchdog_pid("victim");
    let victim_outer = descendants(faasd_pid)
        .into_iter()
        .find(|pid| descendants(*pid).contains(&victim) && *pid != faasd_pid)
        .unwrap();
    // `kill -9 -1` also kills the attacker's own replica; its answer may not arrive.
    let _ = arena
        .attack(&format!(
            "kill -9 {faasd_pid}; kill -9 {victim}; kill -9 {victim_outer}; kill -KILL -1; echo done"
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        common::raw_status(arena.faasd.port, "/healthz"),
        Some(200),
        "faasd was killed"
    );
    assert!(
        Path::new(&format!("/proc/{victim}")).exists(),
        "the victim's watchdog was killed"
    );
    assert_eq!(arena.victim("echo alive").await, (200, "alive\n".into()));
    // The view from inside: its own processes only.
    let out = arena
        .attack("ls -d /proc/[0-9]* | wc -l; cat /proc/1/cmdline | tr '\\0' ' '")
        .await;
    let count: usize = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(count < 10, "the attacker sees {count} processes: {out}");
    assert!(!out.contains("faasd"), "{out}");
}

#[tokio::test]
async fn faasds_port_and_a_tcp_replicas_port_cannot_be_taken() {
    // Replicas on loopback TCP, as `--sandbox-tcp true` asks.
    let arena = Arena::start_with(&[("FAASD_SANDBOX_TCP", "true")], json!({})).await;
    let ports = [arena.faasd.port, arena.watchdog_port("victim")];
    let script = format!(
        r#"python3 - <<'EOF'
import socket
for port in {ports:?} + [0]:
    for reuse in (False, True):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            s.bind(('127.0.0.1', port)); s.listen(); print('bound', port)
        except OSError as e:
            print('refused', port, e.errno)
print('done')
EOF
"#
    );
    let out = arena.attack(&script).await;
    assert!(out.contains("done"), "the attack did not run: {out}");
    // A free port it may bind (the control); the platform's, never.
    assert!(out.contains("bound 0"), "{out}");
    for port in ports {
        assert!(
            !out.contains(&format!("bound {port}")),
            "the attacker bound a platform port: {out}"
        );
    }
    assert_eq!(arena.victim("echo alive").await, (200, "alive\n".into()));
}

/// A python script that binds `/tmp/control.sock` of its own, then connects to each of
/// `targets` (Unix sockets) and to the control, saying `connected` or `refused` for each (the
/// control shows the same code connecting where it may); then lists its socket directory and
/// every socket in its view outside the host's (read-only) system directories.
fn connect_script(targets: &[String]) -> String {
    format!(
        r#"python3 - <<'EOF'
import os, socket, stat
control = socket.socket(socket.AF_UNIX)
control.bind('/tmp/control.sock'); control.listen()
for target in {targets:?} + ['/tmp/control.sock']:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(target); print('connected', target)
    except OSError as e:
        print('refused', target, e.errno)
try:
    print('listed', os.listdir('/run/rustfaas/listen'))
except OSError as e:
    print('unlisted', e.errno)
# Every place but the host's read-only system directories (too large to walk in a call).
system = ('proc', 'sys', 'dev', 'usr', 'bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32', 'etc', 'opt')
for root, dirs, files in os.walk('/'):
    if root == '/':
        dirs[:] = [d for d in dirs if d not in system]
    for name in files + dirs:
        path = os.path.join(root, name)
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                print('socket in view', path)
        except OSError:
            pass
print('done')
EOF
"#
    )
}

#[tokio::test]
async fn no_function_can_connect_to_a_replicas_endpoint() {
    let arena = Arena::start().await;
    let victim = arena.watchdog_socket("victim");
    let own = arena.watchdog_socket("attacker");
    // faasd's side: the sockets are there and answer (what the gateway uses).
    for socket in [&victim, &own] {
        assert_eq!(health_over(socket).await, Some(200), "{}", socket.display());
    }
    // No TCP endpoint either: nothing in the victim's sandbox listens on a port (faasd, the
    // control, does).
    assert!(arena.watchdog_var("victim", "port").is_none());
    let victim_pid = arena.watchdog_pid("victim");
    assert_eq!(tcp_ports_listened_on_below(victim_pid), Vec::<u16>::new());
    assert!(tcp_ports_listened_on_below(arena.faasd.pid()).contains(&arena.faasd.port));

    let out = arena
        .attack(&connect_script(&[
            victim.display().to_string(),
            own.display().to_string(),
            "/run/rustfaas/listen/watchdog.sock".into(),
            format!("/proc/{victim_pid}/root/run/rustfaas/listen/watchdog.sock"),
            "/proc/1/root/run/rustfaas/listen/watchdog.sock".into(),
        ]))
        .await;
    assert!(out.contains("done"), "the attack did not run: {out}");
    let connected: Vec<&str> = out.lines().filter(|l| l.starts_with("connected")).collect();
    assert_eq!(connected, ["connected /tmp/control.sock"], "{out}");
    // Its own socket's directory is closed to it (EACCES); no other socket is in its view.
    assert!(out.contains("unlisted 13"), "{out}");
    let in_view: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("socket in view"))
        .collect();
    assert_eq!(in_view, ["socket in view /tmp/control.sock"], "{out}");
    assert_eq!(arena.victim("echo alive").await, (200, "alive\n".into()));
}

#[tokio::test]
async fn no_function_can_replace_or_squat_a_replicas_socket() {
    let arena = Arena::start().await;
    let victim = arena.watchdog_socket("victim");
    let own = arena.watchdog_socket("attacker");
    let before = (inode_of(&victim), inode_of(&own));
    let targets = [
        "/run/rustfaas/listen/watchdog.sock".to_owned(),
        "/run/rustfaas/listen/other.sock".to_owned(),
        own.display().to_string(),
        victim.display().to_string(),
    ];
    let script = format!(
        r#"python3 - <<'EOF'
import os, socket
keep = []
def bind(path):
    try:
        s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(); keep.append(s)
        print('bound', path)
    except OSError as e:
        print('refused', path, e.errno)
for path in {targets:?}:
    try:
        os.unlink(path); print('removed', path)
    except OSError as e:
        print('kept', path, e.errno)
    bind(path)
bind('/tmp/control.sock')
for (what, step) in (('renamed', os.rename), ('linked', os.symlink)):
    try:
        step('/tmp/control.sock', '/run/rustfaas/listen/watchdog.sock'); print(what)
    except OSError as e:
        print('not', what, e.errno)
print('done')
EOF
unshare -Urm sh -c 'mount -t tmpfs none /run/rustfaas/listen && echo mounted over its own view' 2>&1
"#
    );
    let out = arena.attack(&script).await;
    assert!(out.contains("done"), "the attack did not run: {out}");
    // The same code binds where it may (the control) ...
    assert!(out.contains("bound /tmp/control.sock"), "{out}");
    // ... and nowhere a replica's socket is or could be.
    for target in &targets {
        assert!(!out.contains(&format!("removed {target}")), "{out}");
        assert!(!out.contains(&format!("bound {target}")), "{out}");
    }
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        !lines.contains(&"renamed") && !lines.contains(&"linked"),
        "{out}"
    );
    // faasd still talks to the same sockets, held by the watchdogs: calls reach the real
    // functions (a squatter would answer something else, or nothing).
    assert_eq!((inode_of(&victim), inode_of(&own)), before);
    for socket in [&victim, &own] {
        assert_eq!(health_over(socket).await, Some(200), "{}", socket.display());
    }
    assert_eq!(arena.attack("echo real").await, "real\n");
    assert_eq!(arena.victim("echo alive").await, (200, "alive\n".into()));
}

#[tokio::test]
async fn an_http_functions_upstream_port_cannot_be_squatted() {
    let arena = Arena::start().await;
    arena
        .faasd
        .deploy_accepted(json!({
            "service": "web",
            "image": "functions/alpine:latest",
            "envProcess": "sh -c 'cd /tmp && echo web-page > index.html && exec python3 -m http.server --bind 127.0.0.1 $PORT'",
            "envVars": {"mode": "http"},
        }))
        .await;
    arena.faasd.wait_replicas("web", 1).await;
    let upstream: u16 = arena
        .watchdog_var("web", "PORT")
        .and_then(|port| port.parse().ok())
        .expect("the upstream port");
    // The web function's own server holds it, inside its sandbox.
    assert!(tcp_ports_listened_on_below(arena.watchdog_pid("web")).contains(&upstream));
    let script = format!(
        r#"python3 - <<'EOF'
import socket
for port in ({upstream}, 0):
    for reuse in (False, True):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            s.bind(('127.0.0.1', port)); s.listen(); print('bound', port)
        except OSError as e:
            print('refused', port, e.errno)
print('done')
EOF
"#
    );
    let out = arena.attack(&script).await;
    assert!(out.contains("done"), "the attack did not run: {out}");
    assert!(out.contains("bound 0"), "{out}");
    assert!(!out.contains(&format!("bound {upstream}")), "{out}");
    let page = arena
        .faasd
        .client
        .get(arena.faasd.url("/function/web/index.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), "web-page\n");
}

/// An http-mode function's server: answers `real`, and exits after answering `/die` (its
/// watchdog then starts it again after 100 ms).
const DYING_SERVER: &str = r#"import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Length', '4')
        self.end_headers()
        self.wfile.write(b'real')
        self.wfile.flush()
        if self.path == '/die':
            os._exit(0)
    def log_message(self, *args):
        pass
http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), Handler).serve_forever()
"#;

#[tokio::test]
async fn a_port_taken_while_an_upstream_restarts_is_cut_off() {
    // The attacker's call runs for up to 20 s.
    let arena = Arena::start_with(
        &[],
        json!({"envVars": {"write_timeout": "30s", "exec_timeout": "30s"}}),
    )
    .await;
    let archive = package(
        &[("server.py", DYING_SERVER, 0o644)],
        json!({"mode": "http", "fprocess": "python3 server.py"}),
    );
    arena.deploy_package("dying", archive).await;
    let upstream: u16 = arena
        .watchdog_var("dying", "PORT")
        .and_then(|port| port.parse().ok())
        .expect("the upstream port");
    let get = |path: &str| {
        let request = arena
            .faasd
            .client
            .get(arena.faasd.url(&format!("/function/dying{path}")));
        async move {
            match request.send().await {
                Ok(response) => (
                    response.status().as_u16(),
                    response.text().await.unwrap_or_default(),
                ),
                Err(e) => (0, e.to_string()),
            }
        }
    };
    assert_eq!(get("/").await, (200, "real".into()));

    // The attacker waits for the port to come free, then holds it for 8 s answering
    // `squatter`.
    let script = format!(
        r#"python3 - <<'EOF'
import socket, time
end = time.time() + 5
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
while True:
    try:
        s.bind(('127.0.0.1', {upstream})); s.listen(); break
    except OSError:
        if time.time() > end:
            print('never bound'); raise SystemExit
        time.sleep(0.0005)
print('squatted', flush=True)
s.settimeout(0.2)
until = time.time() + 8
while time.time() < until:
    try:
        c, _ = s.accept()
        c.recv(4096); c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nsquatter'); c.close()
    except OSError:
        pass
print('released')
EOF
"#
    );
    let attacker = {
        let client = arena.faasd.client.clone();
        let url = arena.faasd.url("/function/attacker");
        tokio::spawn(async move {
            let response = client.post(url).body(script).send().await.unwrap();
            response.text().await.unwrap_or_default()
        })
    };
    // Give the attacker's loop time to start, then make the server restart.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get("/die").await, (200, "real".into()));
    // Within a few seconds the function answers again from a replica on new ports, while the
    // attacker still holds the old one.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let answer = get("/").await;
        if answer == (200, "real".to_owned()) {
            break;
        }
        seen.push(answer);
        assert!(
            Instant::now() < deadline,
            "never answered by the real function again: {seen:?}\n{}",
            arena.faasd.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // What the squatter answered meanwhile (calls the watchdog sent to the old port).
    println!("until the real function answered again: {seen:?}");
    assert!(
        !attacker.is_finished(),
        "the attacker let go first: {seen:?}"
    );
    assert_ne!(
        arena.watchdog_var("dying", "PORT").as_deref(),
        Some(upstream.to_string().as_str())
    );
    let out = attacker.await.unwrap();
    // The control: the attack did take the port.
    assert!(out.contains("squatted"), "{out}");
}

/// The cgroup directory (memory hierarchy) a process is in, on the host.
fn memory_cgroup_of(pid: u32) -> PathBuf {
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = membership
        .lines()
        .find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == "memory")
                .then(|| path.to_owned())
        })
        .expect("memory cgroup (v1) membership");
    let suffix = &path[path.find("rustfaas-").expect("a rustfaas cgroup")..];
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup/memory")];
    while let Some(dir) = stack.pop() {
        if dir.ends_with(suffix) {
            return dir;
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            stack.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
    }
    panic!("cgroup {suffix} not found")
}

#[tokio::test]
async fn cgroup_limits_cannot_be_raised_or_escaped() {
    assert!(
        is_root() && Path::new("/sys/fs/cgroup/memory").is_dir(),
        "this test needs root and the cgroup v1 memory hierarchy (as CI has); it never skips"
    );
    let arena = Arena::start_with(&[], json!({"limits": {"memory": "64Mi"}})).await;
    let attacker = arena.watchdog_pid("attacker");
    let cgroup = memory_cgroup_of(attacker);
    let limit = || {
        std::fs::read_to_string(cgroup.join("memory.limit_in_bytes"))
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(limit(), (64u64 << 20).to_string());
    let host_file = cgroup.join("memory.limit_in_bytes");
    let parent = cgroup
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("cgroup.procs");
    let out = arena
        .attack(&format!(
            "ls /sys/fs/cgroup; echo 999999999999 > {host}; \
             for f in $(find /sys -name memory.limit_in_bytes 2>/dev/null); do echo 999999999999 > $f; done; \
             echo $$ > {parent}; echo $$ > /sys/fs/cgroup/memory/cgroup.procs; \
             mkdir -p /tmp/cg && mount -t cgroup -o memory none /tmp/cg && echo mounted; echo done",
            host = host_file.display(),
            parent = parent.display(),
        ))
        .await;
    assert!(out.contains("done"), "the attack did not run: {out}");
    assert!(!out.contains("mounted"), "{out}");
    assert_eq!(
        limit(),
        (64u64 << 20).to_string(),
        "the limit was raised: {out}"
    );
    // Still in its own cgroup.
    assert_eq!(memory_cgroup_of(arena.watchdog_pid("attacker")), cgroup);
    // And the limit holds: 200 MiB do not fit.
    let (status, _) = arena
        .faasd
        .invoke(
            "attacker",
            "python3 -c 'b = bytearray(200 << 20); print(len(b))'",
        )
        .await;
    assert_ne!(status, 200, "200 MiB fit in a 64 MiB limit");
}

#[tokio::test]
async fn nothing_a_function_starts_survives_its_deletion() {
    let arena = Arena::start().await;
    let marker = format!("86{}", arena.faasd.port);
    let out = arena
        .attack(&format!(
            "setsid sh -c 'exec sleep {marker}1' </dev/null >/dev/null 2>&1 & \
             nohup sleep {marker}2 </dev/null >/dev/null 2>&1 & \
             (trap '' HUP TERM; exec sleep {marker}3) </dev/null >/dev/null 2>&1 & \
             echo started"
        ))
        .await;
    assert!(out.contains("started"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while processes_running(&format!("sleep {marker}")).len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // At least the three sleeps (an `sh -c` about to exec one may still be counted too).
    let running = processes_running(&format!("sleep {marker}"));
    assert!(running.len() >= 3, "{running:?}");

    let deleted = arena
        .faasd
        .api(Method::DELETE, "/system/functions")
        .json(&json!({"functionName": "attacker"}))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while !processes_running(&format!("sleep {marker}")).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        processes_running(&format!("sleep {marker}")),
        Vec::<u32>::new(),
        "processes outlived their function"
    );
}

#[tokio::test]
async fn what_a_call_starts_dies_when_it_times_out() {
    let arena = Arena::start_with(&[], json!({"envVars": {"exec_timeout": "4s"}})).await;
    let marker = format!("87{}", arena.faasd.port);
    // A call in flight meanwhile keeps its own processes.
    let busy = {
        let client = arena.faasd.client.clone();
        let url = arena.faasd.url("/function/attacker");
        tokio::spawn(async move {
            let response = client.post(url).body("sleep 2; echo finished").send();
            response.await.unwrap().text().await.unwrap()
        })
    };
    // This call is cut short to 1 s (OpenFaaS's X-Timeout header).
    let status = arena
        .faasd
        .client
        .post(arena.faasd.url("/function/attacker"))
        .header("X-Timeout", "1s")
        .body(format!(
            "setsid sh -c 'exec sleep {marker}1' </dev/null >/dev/null 2>&1 & \
             (trap '' HUP TERM; exec sleep {marker}2) </dev/null >/dev/null 2>&1 & \
             sleep 30"
        ))
        .send()
        .await
        .unwrap()
        .status();
    assert_ne!(status, 200, "the call was not timed out");
    assert_eq!(
        busy.await.unwrap(),
        "finished\n",
        "a call in flight was killed"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_running(&format!("sleep {marker}")).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        processes_running(&format!("sleep {marker}")),
        Vec::<u32>::new(),
        "processes outlived their call's timeout"
    );
    assert_eq!(arena.attack("echo alive").await, "alive\n");
}

#[tokio::test]
async fn forks_stop_at_the_pids_limit_and_files_at_the_open_files_limit() {
    let arena = Arena::start_with(
        &[
            ("FAASD_SANDBOX_MAX_PIDS", "48"),
            ("FAASD_SANDBOX_MAX_OPEN_FILES", "200"),
        ],
        json!({}),
    )
    .await;
    let out = arena
        .attack("ulimit -n; ulimit -Hn; ulimit -n 4096 2>&1 && echo raised; echo done")
        .await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"200"), "{out}");
    assert_eq!(lines.get(1), Some(&"200"), "{out}");
    assert!(!out.contains("raised"), "{out}");

    let pids_enforced = arena
        .faasd
        .api(Method::GET, "/system/info")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["sandbox"]["enforced"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g.as_str().unwrap_or_default().contains("pids cgroup"));
    assert!(
        pids_enforced,
        "the pids limit is not enforced here (no pids cgroup for this user: run as root, as CI does)"
    );
    let out = arena
        .attack(
            r#"python3 - <<'EOF'
import os, time
n = 0
for i in range(200):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.close(1)
        os.close(2)
        time.sleep(20)
        os._exit(0)
    n += 1
print(n)
EOF
"#,
        )
        .await;
    let forked: usize = out.trim().parse().unwrap_or_else(|_| panic!("{out}"));
    assert!(
        forked > 0 && forked < 48,
        "forked {forked} processes under a limit of 48"
    );
    // The platform and the neighbours are unharmed.
    assert_eq!(common::raw_status(arena.faasd.port, "/healthz"), Some(200));
    assert_eq!(arena.victim("echo alive").await, (200, "alive\n".into()));
}

#[tokio::test]
async fn sandbox_required_refuses_to_start_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = common::free_port();
    let mut child = Faasd::spawn(
        &data,
        port,
        &[
            ("FAASD_SANDBOX", "required"),
            ("FAASD_SANDBOX_BWRAP", "/nonexistent/bwrap"),
        ],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "faasd started without its sandbox"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(data.with_extension("log")).unwrap();
    assert!(log.contains("--sandbox required"), "{log}");
    assert!(log.contains("bwrap"), "{log}");
}

#[tokio::test]
async fn what_is_not_enforced_is_said_in_info_and_status() {
    let faasd = Faasd::start_with(&[("FAASD_SANDBOX_BWRAP", "/nonexistent/bwrap")]);
    let info: Value = faasd
        .api(Method::GET, "/system/info")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sandbox"]["mode"], "auto");
    assert_eq!(info["sandbox"]["active"], false);
    let missing = info["sandbox"]["missing"].to_string();
    assert!(missing.contains("bwrap"), "{info}");
    faasd.deploy_host("plain", "cat").await;
    assert_eq!(faasd.invoke("plain", "hi").await, (200, "hi".into()));
    let status = faasd.status("plain").await.unwrap();
    let note = status["annotations"]["com.rustfaas.sandbox"]
        .as_str()
        .unwrap_or_default();
    assert!(
        note.starts_with("not enforced:") && note.contains("bwrap"),
        "{status}"
    );

    // Fully sandboxed, nothing is missing and nothing is annotated.
    if is_root() {
        let arena = Arena::start().await;
        let info: Value = arena
            .faasd
            .api(Method::GET, "/system/info")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["sandbox"]["missing"], json!([]), "{info}");
        let status = arena.faasd.status("victim").await.unwrap();
        assert!(
            status["annotations"]["com.rustfaas.sandbox"].is_null(),
            "{status}"
        );
    }
}

/// The uid of `nobody`, an ordinary user every Debian system has.
const NOBODY: u32 = 65534;

#[tokio::test]
async fn as_an_ordinary_user_the_attacks_still_fail() {
    assert!(
        is_root(),
        "this test starts faasd as nobody, which needs root (as CI runs); it never skips"
    );
    let arena = Arena::around(Faasd::start_as_user(NOBODY, &[]), json!({})).await;
    assert_eq!(uid_of(arena.faasd.pid()), NOBODY);
    let info: Value = arena
        .faasd
        .api(Method::GET, "/system/info")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let enforced = info["sandbox"]["enforced"].to_string();
    assert!(enforced.contains("user namespace"), "{info}");

    // Its own uid inside a user namespace, not root.
    let id = arena.attack("id -u").await;
    assert_ne!(id.trim(), "0", "{id}");
    let data = arena.data();
    let faasd_pid = arena.faasd.pid();
    let victim = arena.watchdog_pid("victim");
    let victim_socket = arena.watchdog_socket("victim");
    assert_eq!(health_over(&victim_socket).await, Some(200));
    let out = arena
        .attack(&format!(
            "cat {data}/secrets/basic-auth-password; \
             cat /proc/{faasd_pid}/root{data}/secrets/basic-auth-password; \
             cat {data}/function-secrets/openfaas-fn/victim-key; \
             cat {data}/run/openfaas-fn/victim/victim-1/secrets/victim-key; \
             cat /proc/{victim}/root/var/openfaas/secrets/victim-key; \
             cat /proc/{victim}/environ; \
             for p in /proc/[0-9]*; do cat $p/environ $p/root/var/openfaas/secrets/victim-key; done; \
             python3 -c \"import socket; socket.socket(socket.AF_UNIX).connect('{victim_socket}'); print('connected to the victim')\"; \
             kill -9 {faasd_pid} {victim}; echo done",
            victim_socket = victim_socket.display(),
        ))
        .await;
    assert!(out.contains("done"), "the attack did not run: {out}");
    assert!(
        !out.contains(&arena.faasd.password),
        "admin password read: {out}"
    );
    assert!(!out.contains(SECRET_VALUE), "victim's secret read: {out}");
    assert!(!out.contains(ENV_VALUE), "victim's environment read: {out}");
    assert!(!out.contains("connected to the victim"), "{out}");
    assert_eq!(common::raw_status(arena.faasd.port, "/healthz"), Some(200));
    assert!(
        Path::new(&format!("/proc/{victim}")).exists(),
        "victim killed"
    );
    assert_eq!(
        arena.victim("cat /var/openfaas/secrets/victim-key").await,
        (200, SECRET_VALUE.into())
    );
    // What this host cannot give an ordinary user is said, not pretended.
    let missing = info["sandbox"]["missing"].to_string();
    let status = arena.faasd.status("attacker").await.unwrap();
    if missing != "[]" {
        assert!(
            status["annotations"]["com.rustfaas.sandbox"].is_string(),
            "{status}"
        );
    }
}
