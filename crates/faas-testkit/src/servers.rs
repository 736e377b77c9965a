//! Real servers for one test each (nats-server, mosquitto), started and stopped through the
//! project's scripts (`scripts/nats-server.sh`, `scripts/mosquitto.sh`), which install them
//! from Debian's packages when missing, on a free loopback port with their files in a
//! temporary directory.

use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A server run by one of the project's `start|stop PORT DIR` scripts; killed when dropped.
pub struct ScriptedServer {
    script: &'static str,
    pid_name: &'static str,
    scheme: &'static str,
    port: u16,
    dir: PathBuf,
    /// Environment for the script (e.g. the registry's user and password).
    env: Vec<(&'static str, String)>,
}

impl ScriptedServer {
    /// Starts `scripts/<script>`'s server, or says why it cannot.
    fn start(
        script: &'static str,
        pid_name: &'static str,
        scheme: &'static str,
    ) -> Result<ScriptedServer, String> {
        Self::start_with(script, pid_name, scheme, Vec::new())
    }

    /// Starts it with `env` set for the script.
    fn start_with(
        script: &'static str,
        pid_name: &'static str,
        scheme: &'static str,
        env: Vec<(&'static str, String)>,
    ) -> Result<ScriptedServer, String> {
        let mut tries = 0;
        loop {
            tries += 1;
            let port = crate::free_port();
            let dir = std::env::temp_dir()
                .join(format!("rustfaas-{pid_name}-{}-{port}", std::process::id()));
            let server = ScriptedServer {
                script,
                pid_name,
                scheme,
                port,
                dir,
                env: env.clone(),
            };
            match server.run("start") {
                Ok(()) => return Ok(server),
                // The free port was taken by someone else in between: another port.
                Err(_) if tries < 5 && crate::port_in_use(port) => continue,
                Err(err) => return Err(err),
            }
        }
    }

    fn run(&self, action: &str) -> Result<(), String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scripts")
            .join(self.script);
        let output = std::process::Command::new("bash")
            .arg(script)
            .arg(action)
            .arg(self.port.to_string())
            .arg(&self.dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .map_err(|err| format!("cannot run scripts/{}: {err}", self.script))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "scripts/{} {action} failed: {}{}",
                self.script,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// The client URL, e.g. `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server gracefully.
    pub fn stop(&self) -> Result<(), String> {
        self.run("stop")
    }

    /// Kills the server with SIGKILL (its pid is in the script's pid file).
    pub fn kill(&self) -> Result<(), String> {
        let pidfile = self
            .dir
            .join(format!("{}-{}.pid", self.pid_name, self.port));
        let pid = std::fs::read_to_string(&pidfile)
            .map_err(|err| format!("{}: {err}", pidfile.display()))?;
        let status = std::process::Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .map_err(|err| err.to_string())?;
        if !status.success() {
            return Err(format!("kill -9 {} failed", pid.trim()));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while crate::port_in_use(self.port) {
            if std::time::Instant::now() > deadline {
                return Err(format!(
                    "after kill -9 {}, port {} still accepts connections after 5 s",
                    pid.trim(),
                    self.port
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(pidfile);
        Ok(())
    }

    /// Starts it again on the same port and directory.
    pub fn restart(&self) -> Result<(), String> {
        self.run("start")
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        // SIGKILL: a graceful stop takes nats-server about two seconds, and the files are
        // thrown away anyway.
        if self.kill().is_err() {
            let _ = self.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A nats-server with JetStream (`nats://127.0.0.1:PORT`).
pub struct NatsServer(ScriptedServer);

impl NatsServer {
    /// Starts one, or says why it cannot (nats-server missing and not installable).
    pub fn start() -> Result<NatsServer, String> {
        ScriptedServer::start("nats-server.sh", "nats-server", "nats").map(NatsServer)
    }
}

impl Deref for NatsServer {
    type Target = ScriptedServer;
    fn deref(&self) -> &ScriptedServer {
        &self.0
    }
}

/// A mosquitto MQTT broker (`tcp://127.0.0.1:PORT`).
pub struct MqttBroker(ScriptedServer);

impl MqttBroker {
    /// Starts one, or says why it cannot (mosquitto missing and not installable).
    pub fn start() -> Result<MqttBroker, String> {
        ScriptedServer::start("mosquitto.sh", "mosquitto", "tcp").map(MqttBroker)
    }
}

impl Deref for MqttBroker {
    type Target = ScriptedServer;
    fn deref(&self) -> &ScriptedServer {
        &self.0
    }
}

/// A Docker registry (Debian's docker-registry) on `http://127.0.0.1:PORT`; images named
/// `127.0.0.1:PORT/NAME:TAG` push to and pull from it (the engine treats loopback registries
/// as plain HTTP).
pub struct Registry(ScriptedServer);

impl Registry {
    /// Starts one, or says why it cannot (docker-registry missing and not installable).
    pub fn start() -> Result<Registry, String> {
        ScriptedServer::start("registry.sh", "docker-registry", "http").map(Registry)
    }

    /// Starts one that asks for HTTP basic auth with this one user (an htpasswd file of the
    /// test's own, written by the script), or says why it cannot.
    pub fn start_with_auth(user: &str, password: &str) -> Result<Registry, String> {
        let env = vec![
            ("REGISTRY_USER", user.to_owned()),
            ("REGISTRY_PASSWORD", password.to_owned()),
        ];
        ScriptedServer::start_with("registry.sh", "docker-registry", "http", env).map(Registry)
    }

    /// `127.0.0.1:PORT`, the prefix of image names in it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }
}

impl Deref for Registry {
    type Target = ScriptedServer;
    fn deref(&self) -> &ScriptedServer {
        &self.0
    }
}
