//! A `ringhook serve` child process for benchmarks, and the few API calls loadgen makes.
//!
//! The engine runs on a temporary data directory, on 127.0.0.1 and a Unix socket only,
//! with a random token; it is stopped (SIGTERM, then SIGKILL after a deadline) when the
//! handle is dropped, so a failed run never leaves a process behind.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the engine may take to answer its health check after spawning.
const START_DEADLINE: Duration = Duration::from_secs(30);
/// How long a clean shutdown may take before the process is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// Flags for a self-started engine.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// The `ringhook` binary; default: next to loadgen's own executable.
    pub binary: Option<PathBuf>,
    pub shards: Option<usize>,
    pub cpus: Option<String>,
    pub durability: Option<String>,
    /// Requests the engine pipelines per delivery connection (its `--pipeline-depth`).
    pub pipeline_depth: Option<usize>,
    /// The engine's `--retry-schedule`.
    pub retry_schedule: Option<String>,
    /// Endpoints of the benchmark's application: past the engine's default
    /// `max_endpoints_per_app`, the engine gets a configuration file that
    /// allows them.
    pub endpoints: usize,
}

/// A running `ringhook serve`.
pub struct Engine {
    child: Option<Child>,
    /// The binary and arguments it was started with, to start it again.
    command: (PathBuf, Vec<std::ffi::OsString>),
    /// Keeps the data directory alive as long as the engine.
    _dir: tempfile::TempDir,
    pub http: String,
    pub socket: PathBuf,
    pub token: String,
    pub stderr_path: PathBuf,
}

/// The `ringhook` binary beside the running executable (cargo puts both in one target dir).
pub fn default_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("locating loadgen's executable")?;
    let dir = me
        .parent()
        .context("loadgen's executable has no directory")?;
    // Test and bench executables live one level down, in deps/.
    for candidate in [dir.join("ringhook"), dir.join("../ringhook")] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "no ringhook binary next to {}; build it (cargo build --release) or pass --engine",
        me.display()
    )
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Engine {
    pub fn start(opts: &EngineOptions) -> anyhow::Result<Engine> {
        let binary = match &opts.binary {
            Some(b) => b.clone(),
            None => default_binary()?,
        };
        let dir = tempfile::Builder::new()
            .prefix("loadgen-engine-")
            .tempdir()?;
        let socket = dir.path().join("ingest.sock");
        let http = format!("127.0.0.1:{}", free_port()?);
        let token = format!("rh_loadgen_{:x}", crate::sink::now_us());
        let stderr_path = dir.path().join("engine.stderr");
        let mut args: Vec<std::ffi::OsString> = vec![
            "serve".into(),
            "--data-dir".into(),
            dir.path().join("data").into(),
            "--socket".into(),
            socket.clone().into(),
            "--http-addr".into(),
            http.clone().into(),
            "--allow-private-targets".into(),
        ];
        let mut flag = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                args.push(name.into());
                args.push(v.into());
            }
        };
        flag("--shards", opts.shards.map(|n| n.to_string()));
        flag("--cpus", opts.cpus.clone());
        flag("--durability", opts.durability.clone());
        flag(
            "--pipeline-depth",
            opts.pipeline_depth.map(|n| n.to_string()),
        );
        flag("--retry-schedule", opts.retry_schedule.clone());
        if opts.endpoints > 1000 {
            let path = dir.path().join("ringhook.toml");
            std::fs::write(
                &path,
                format!("max_endpoints_per_app = {}\n", opts.endpoints),
            )?;
            args.push("--config".into());
            args.push(path.into());
        }
        let mut engine = Engine {
            child: None,
            command: (binary, args),
            _dir: dir,
            http,
            socket,
            token,
            stderr_path,
        };
        engine.spawn(START_DEADLINE)?;
        Ok(engine)
    }

    /// Starts the process and waits until it answers its health check.
    fn spawn(&mut self, deadline: Duration) -> anyhow::Result<()> {
        let stderr = std::fs::File::create(&self.stderr_path)?;
        let (binary, args) = &self.command;
        let child = Command::new(binary)
            .args(args)
            .env("RINGHOOK_API_TOKEN", &self.token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        self.child = Some(child);
        self.wait_healthy(deadline)
    }

    /// Kills the process with SIGKILL and starts it again on the same data;
    /// returns how long the new process took to answer its health check
    /// (recovery from the journal happens before it listens).
    pub fn kill9_and_restart(&mut self, deadline: Duration) -> anyhow::Result<Duration> {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let started = Instant::now();
        self.spawn(deadline)?;
        Ok(started.elapsed())
    }

    /// A value from `/proc/<pid>/status` in bytes, e.g. `RssAnon`.
    pub fn status_bytes(&self, field: &str) -> anyhow::Result<u64> {
        let pid = self.pid().context("engine has no pid")?;
        let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
        let kib: u64 = line.trim().trim_end_matches("kB").trim().parse()?;
        Ok(kib * 1024)
    }

    /// The total (unlabelled) value of a metric from `GET /metrics`.
    pub fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = ureq::get(&format!("http://{}/metrics", self.http))
            .timeout(Duration::from_secs(10))
            .set("authorization", &format!("Bearer {}", self.token))
            .call()?
            .into_string()?;
        // Every series of the metric, over every shard's `shard` label.
        let values: Vec<f64> = text
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix(name)?;
                let value = match rest.strip_prefix('{') {
                    Some(labelled) => labelled.split_once("} ")?.1,
                    None => rest.strip_prefix(' ')?,
                };
                value.trim().parse::<f64>().ok()
            })
            .collect();
        anyhow::ensure!(!values.is_empty(), "no {name} in /metrics");
        Ok(values.iter().sum())
    }

    /// Bytes of journal on disk (every file under the data directory).
    pub fn data_bytes(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            match std::fs::read_dir(p) {
                Ok(rd) => rd
                    .flatten()
                    .map(|e| match e.file_type() {
                        Ok(t) if t.is_dir() => walk(&e.path()),
                        _ => e.metadata().map(|m| m.len()).unwrap_or(0),
                    })
                    .sum(),
                Err(_) => 0,
            }
        }
        walk(&self._dir.path().join("data"))
    }

    fn wait_healthy(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
                    bail!("ringhook exited during start-up ({status}):\n{log}");
                }
            }
            let url = format!("http://{}/api/v1/health", self.http);
            let healthy = ureq::get(&url)
                .timeout(Duration::from_secs(2))
                .call()
                .is_ok_and(|r| r.status() == 204);
            if healthy && self.socket.exists() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("ringhook did not become healthy in {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM, then SIGKILL if it has not exited by the deadline.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) on our own child's pid; no memory is involved.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + STOP_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A client of the engine's HTTP API.
pub struct Api {
    pub base: String,
    pub token: String,
}

impl Api {
    fn call(&self, method: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let url = format!("http://{}{}", self.base, path);
        let res = ureq::request(method, &url)
            .timeout(Duration::from_secs(30))
            .set("authorization", &format!("Bearer {}", self.token))
            .send_json(body);
        match res {
            Ok(r) => Ok(r.into_json()?),
            Err(ureq::Error::Status(code, r)) => {
                let text = r.into_string().unwrap_or_default();
                bail!("{method} {path}: {code} {text}")
            }
            Err(e) => Err(e).with_context(|| format!("{method} {path}")),
        }
    }

    /// Creates an application and returns its id.
    pub fn create_app(&self, name: &str) -> anyhow::Result<String> {
        let v = self.call("POST", "/api/v1/app", json!({ "name": name }))?;
        v["id"]
            .as_str()
            .map(String::from)
            .context("application response has no id")
    }

    /// Creates an endpoint delivering to `url`, signed with `secret` when given.
    pub fn create_endpoint(
        &self,
        app: &str,
        url: &str,
        secret: Option<&str>,
        event_type: Option<&str>,
    ) -> anyhow::Result<String> {
        let mut body = json!({ "url": url });
        if let Some(t) = event_type {
            body["filterTypes"] = json!([t]);
        }
        if let Some(s) = secret {
            body["secret"] = json!(s);
        }
        let v = self.call("POST", &format!("/api/v1/app/{app}/endpoint"), body)?;
        v["id"]
            .as_str()
            .map(String::from)
            .context("endpoint response has no id")
    }

    /// An operational endpoint (`/api/v1/operational-webhook/endpoint`).
    pub fn create_operational_endpoint(&self, url: &str) -> anyhow::Result<String> {
        let v = self.call(
            "POST",
            "/api/v1/operational-webhook/endpoint",
            json!({ "url": url }),
        )?;
        v["id"]
            .as_str()
            .map(String::from)
            .context("endpoint response has no id")
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let path = Path::new("/proc").join(pid.to_string()).join("stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path:?}"))?;
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3 of stat(5), so utime (14) and stime (15) are at 11 and 12.
    let tick = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).context("short /proc stat")?.parse::<u64>()?)
    };
    let ticks = tick(11)? + tick(12)?;
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_micros(ticks * 1_000_000 / hz))
}
