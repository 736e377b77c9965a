//! A real nats-server for one test, started and stopped through `scripts/nats-server.sh`
//! (which installs it from Debian's packages when missing).

/// A nats-server on a free loopback port with its store in a temporary directory; stopped when
/// dropped.
pub struct NatsServer {
    port: u16,
    dir: std::path::PathBuf,
}

impl NatsServer {
    fn script() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/nats-server.sh")
    }

    /// Starts a server, or says why it cannot (nats-server missing and not installable).
    pub fn start() -> Result<NatsServer, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|err| format!("no free port: {err}"))?
            .port();
        let dir = std::env::temp_dir().join(format!("rustfaas-nats-{}-{port}", std::process::id()));
        let server = NatsServer { port, dir };
        server.run("start")?;
        Ok(server)
    }

    fn run(&self, action: &str) -> Result<(), String> {
        let output = std::process::Command::new("bash")
            .arg(Self::script())
            .arg(action)
            .arg(self.port.to_string())
            .arg(&self.dir)
            .output()
            .map_err(|err| format!("cannot run scripts/nats-server.sh: {err}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "scripts/nats-server.sh {action} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server gracefully.
    pub fn stop(&self) -> Result<(), String> {
        self.run("stop")
    }

    /// Kills the server with SIGKILL (its pid is in the script's pid file).
    pub fn kill(&self) -> Result<(), String> {
        let pidfile = self.dir.join(format!("nats-server-{}.pid", self.port));
        let pid = std::fs::read_to_string(&pidfile)
            .map_err(|err| format!("{}: {err}", pidfile.display()))?;
        let status = std::process::Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .map_err(|err| err.to_string())?;
        if !status.success() {
            return Err(format!("kill -9 {} failed", pid.trim()));
        }
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(pidfile);
        Ok(())
    }

    /// Starts it again on the same port and store.
    pub fn restart(&self) -> Result<(), String> {
        self.run("start")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        // SIGKILL: a graceful stop takes nats-server about two seconds, and the store is
        // thrown away anyway.
        if self.kill().is_err() {
            let _ = self.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
