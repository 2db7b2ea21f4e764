//! Test harness: a real `ringhook serve` process, a real HTTP sink, API calls.
//!
//! Everything here talks over real sockets on 127.0.0.1 and a Unix socket in a
//! temporary directory. Waiting is always polling with a deadline.
#![allow(dead_code)]

pub mod certs;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "rh_test_token";

/// Polls `f` until it returns Some, or panics after `timeout` naming `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `ringhook serve` child process on a data directory.
pub struct Engine {
    pub child: Option<Child>,
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    pub http: String,
    pub args: Vec<String>,
    pub stderr_path: PathBuf,
    /// Pass --allow-private-targets (tests deliver to 127.0.0.1).
    pub allow_private: bool,
    /// Extra environment variables for the process.
    pub env: Vec<(String, String)>,
}

impl Engine {
    /// Starts an engine with `toml` as its config file (written under
    /// `root`) and `extra` arguments.
    pub fn start_configured(root: &Path, toml: &str, extra: &[&str]) -> Engine {
        let path = root.join("engine.toml");
        std::fs::write(&path, toml).expect("config");
        let path = path.to_str().expect("utf-8 path").to_string();
        let mut args = vec!["--config", path.as_str()];
        args.extend_from_slice(extra);
        Engine::start(root, &args)
    }

    /// Starts an engine on a fresh directory under `root` with extra flags.
    pub fn start(root: &Path, extra: &[&str]) -> Engine {
        let data_dir = root.join("data");
        let mut e = Engine {
            child: None,
            socket: root.join("ingest.sock"),
            data_dir,
            http: format!("127.0.0.1:{}", free_port()),
            args: extra.iter().map(|s| s.to_string()).collect(),
            stderr_path: root.join("engine.stderr"),
            allow_private: !extra.contains(&"--no-allow-private"),
            env: Vec::new(),
        };
        e.args.retain(|a| a != "--no-allow-private");
        e.spawn().expect("engine starts");
        e
    }

    /// (Re)starts the process with the same directory and flags plus `more`;
    /// returns the stderr text if it exits before becoming healthy.
    pub fn spawn_with(&mut self, more: &[&str]) -> Result<(), String> {
        // A process that just exited may still hold its listener for a
        // moment: io_uring tears its rings (and the files their requests
        // hold) down after the process is gone. Try again until it lets go.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn_once(more) {
                Err(text)
                    if text.contains("Address already in use") && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    fn spawn_once(&mut self, more: &[&str]) -> Result<(), String> {
        let stderr = std::fs::File::create(&self.stderr_path).expect("stderr file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringhook"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--socket")
            .arg(&self.socket)
            .arg("--http-addr")
            .arg(&self.http)
            .args(self.allow_private.then_some("--allow-private-targets"))
            .args(&self.args)
            .args(more)
            .env("RINGHOOK_API_TOKEN", TOKEN)
            .env("RINGHOOK_SEGMENT_BYTES", "1048576")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut child = cmd.spawn().expect("spawn ringhook");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return Err(std::fs::read_to_string(&self.stderr_path).unwrap_or_default());
            }
            if self.health() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("engine did not become healthy in 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn spawn(&mut self) -> Result<(), String> {
        self.spawn_with(&[])
    }

    pub fn health(&self) -> bool {
        ureq::get(&format!("http://{}/api/v1/health", self.http))
            .timeout(Duration::from_secs(2))
            .call()
            .map(|r| r.status() == 204)
            .unwrap_or(false)
    }

    /// Waits (with a deadline) for the process to exit by itself; its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                self.child = Some(child);
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns the exit status success.
    pub fn stop(&mut self) -> bool {
        // Returns whether the process exited with status 0 after SIGTERM.
        let Some(mut c) = self.child.take() else {
            return false;
        };
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Calls the API; returns (status, JSON body or Null).
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api_with_token(method, path, body, Some(TOKEN))
    }

    pub fn api_with_token(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut req = ureq::request(method, &format!("http://{}{}", self.http, path))
            .timeout(Duration::from_secs(10));
        if let Some(t) = token {
            req = req.set("authorization", &format!("Bearer {t}"));
        }
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let resp = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let text = resp.into_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Calls the API with a short timeout; `None` if no answer came (the
    /// engine may be going down).
    pub fn api_result(&self, method: &str, path: &str, body: Value) -> Option<u16> {
        let res = ureq::request(method, &format!("http://{}{}", self.http, path))
            .timeout(Duration::from_secs(5))
            .set("authorization", &format!("Bearer {TOKEN}"))
            .send_json(body);
        match res {
            Ok(r) | Err(ureq::Error::Status(_, r)) => Some(r.status()),
            Err(_) => None,
        }
    }

    /// `GET /metrics` (Prometheus text), if it answers.
    pub fn metrics(&self) -> Option<String> {
        ureq::get(&format!("http://{}/metrics", self.http))
            .set("authorization", &format!("Bearer {TOKEN}"))
            .timeout(Duration::from_secs(5))
            .call()
            .ok()?
            .into_string()
            .ok()
    }

    /// POSTs `body` to `path` and expects a 422 naming `field`.
    pub fn expect_invalid(&self, path: &str, body: Value, field: &str) {
        let (s, v) = self.api("POST", path, Some(body.clone()));
        assert_eq!(s, 422, "{body}: {v}");
        assert_eq!(v["detail"][0]["loc"][1], field, "{body}: {v}");
    }

    /// A request with arbitrary headers through `agent` (a fresh agent
    /// opens a connection of its own); (status, every header, JSON body).
    pub fn call(
        &self,
        agent: &ureq::Agent,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Vec<(String, String)>, Value) {
        let mut req = agent
            .request(method, &format!("http://{}{}", self.http, path))
            .timeout(Duration::from_secs(10));
        for (n, v) in headers {
            req = req.set(n, v);
        }
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let r = match res {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = r.status();
        let hs = r
            .headers_names()
            .into_iter()
            .flat_map(|n| {
                r.all(&n)
                    .into_iter()
                    .map(|v| (n.clone(), v.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let text = r.into_string().unwrap_or_default();
        (
            status,
            hs,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    pub fn create_app(&self, name: &str) -> String {
        let (s, v) = self.api("POST", "/api/v1/app", Some(json!({ "name": name })));
        assert_eq!(s, 201, "create app: {v}");
        v["id"].as_str().expect("app id").to_string()
    }

    pub fn create_endpoint(&self, app: &str, body: Value) -> Value {
        let (s, v) = self.api("POST", &format!("/api/v1/app/{app}/endpoint"), Some(body));
        assert_eq!(s, 201, "create endpoint: {v}");
        v
    }

    pub fn secret(&self, app: &str, ep: &str) -> String {
        let (s, v) = self.api(
            "GET",
            &format!("/api/v1/app/{app}/endpoint/{ep}/secret"),
            None,
        );
        assert_eq!(s, 200, "secret: {v}");
        v["key"].as_str().expect("key").to_string()
    }

    pub fn send(&self, app: &str, event_type: &str, payload: Value) -> String {
        let (s, v) = self.api(
            "POST",
            &format!("/api/v1/app/{app}/msg"),
            Some(json!({ "eventType": event_type, "payload": payload })),
        );
        assert_eq!(s, 202, "send message: {v}");
        v["id"].as_str().expect("msg id").to_string()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One request the sink received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn webhook_id(&self) -> &str {
        self.headers
            .get("webhook-id")
            .map(String::as_str)
            .unwrap_or("")
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// How the sink answers: status for the n-th (0-based) request with a webhook-id.
pub type Policy = Arc<dyn Fn(&Received, usize) -> u16 + Send + Sync>;

/// A real HTTP/1.1 keep-alive sink on 127.0.0.1, recording every request.
pub struct Sink {
    pub addr: String,
    /// Requests answered with 2xx.
    pub received: Arc<Mutex<Vec<Received>>>,
    /// Every request with the status it was answered with.
    pub all: Arc<Mutex<Vec<(Received, u16)>>>,
    /// Most connections open at once so far.
    pub max_open: Arc<AtomicUsize>,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    /// Requests whose successor had already arrived when they were answered
    /// (the client pipelined).
    pub pipelined: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Sink {
    pub fn start() -> Sink {
        Sink::with_policy(Arc::new(|_, _| 204))
    }

    /// A sink that answers 503 until the flag it returns is set, then 204:
    /// deliveries stay pending meanwhile.
    pub fn gated() -> (Sink, Arc<std::sync::atomic::AtomicBool>) {
        let open = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let gate = open.clone();
        let sink = Sink::with_policy(Arc::new(move |_, _| {
            if gate.load(std::sync::atomic::Ordering::Relaxed) {
                204
            } else {
                503
            }
        }));
        (sink, open)
    }

    pub fn with_policy(policy: Policy) -> Sink {
        Sink::bind("127.0.0.1:0", policy)
    }

    pub fn bind(addr: &str, policy: Policy) -> Sink {
        Sink::serve(addr, policy, None)
    }

    /// An HTTPS sink on 127.0.0.1 with this server configuration (its
    /// certificate, and whether it asks for a client's).
    pub fn tls(policy: Policy, config: Arc<rustls::ServerConfig>) -> Sink {
        Sink::serve("127.0.0.1:0", policy, Some(config))
    }

    fn serve(addr: &str, policy: Policy, tls: Option<Arc<rustls::ServerConfig>>) -> Sink {
        let listener = TcpListener::bind(addr).expect("bind sink");
        let addr = listener.local_addr().expect("addr").to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let all = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
        let (r, a, s) = (received.clone(), all.clone(), stop.clone());
        let open = Arc::new(AtomicUsize::new(0));
        let max_open = Arc::new(AtomicUsize::new(0));
        let (o, m) = (open.clone(), max_open.clone());
        let accepted = Arc::new(AtomicUsize::new(0));
        let acc = accepted.clone();
        let pipelined = Arc::new(AtomicUsize::new(0));
        let piped = pipelined.clone();
        listener.set_nonblocking(true).expect("nonblocking");
        std::thread::spawn(move || loop {
            if s.load(Ordering::Relaxed) {
                return;
            }
            match listener.accept() {
                Ok((stream, _)) => {
                    let (r, a, s, p, c) = (
                        r.clone(),
                        a.clone(),
                        s.clone(),
                        policy.clone(),
                        (counts.clone(), piped.clone()),
                    );
                    acc.fetch_add(1, Ordering::SeqCst);
                    let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                    m.fetch_max(now, Ordering::SeqCst);
                    let o = o.clone();
                    let tls = tls.clone();
                    std::thread::spawn(move || {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                        match tls.map(rustls::ServerConnection::new) {
                            None => serve_conn(stream, r, a, s, p, c),
                            Some(Ok(conn)) => {
                                let tls = rustls::StreamOwned::new(conn, stream);
                                serve_conn(tls, r, a, s, p, c);
                            }
                            Some(Err(_)) => {}
                        }
                        o.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        });
        Sink {
            addr,
            received,
            all,
            max_open,
            accepted,
            pipelined,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    pub fn all(&self) -> Vec<(Received, u16)> {
        self.all.lock().expect("lock").clone()
    }

    pub fn count(&self) -> usize {
        self.received.lock().expect("lock").len()
    }

    /// Successful deliveries (2xx answers) per webhook-id.
    pub fn ids(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| r.webhook_id().to_string())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_conn<S: Read + Write>(
    stream: S,
    received: Arc<Mutex<Vec<Received>>>,
    all: Arc<Mutex<Vec<(Received, u16)>>>,
    stop: Arc<AtomicBool>,
    policy: Policy,
    (counts, pipelined): (Arc<Mutex<HashMap<String, usize>>>, Arc<AtomicUsize>),
) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                continue;
            }
            Err(_) => return,
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            match reader.read_line(&mut h) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    continue
                }
                Err(_) => return,
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        let mut got = 0;
        while got < len {
            match reader.read(&mut body[got..]) {
                Ok(0) => return,
                Ok(n) => got += n,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    continue
                }
                Err(_) => return,
            }
        }
        let req = Received {
            method,
            path,
            headers,
            body,
            at: Instant::now(),
        };
        let nth = {
            let mut c = counts.lock().expect("lock");
            let n = c.entry(req.webhook_id().to_string()).or_insert(0);
            *n += 1;
            *n - 1
        };
        if !reader.buffer().is_empty() {
            pipelined.fetch_add(1, Ordering::SeqCst);
        }
        let status = policy(&req, nth);
        all.lock().expect("lock").push((req.clone(), status));
        if (200..300).contains(&status) {
            received.lock().expect("lock").push(req);
        }
        // 429s ask for a one-second pause, to exercise Retry-After.
        let extra = if status == 429 {
            "retry-after: 1\r\n"
        } else {
            ""
        };
        // 204 and 304 have no body (a client must not read one after them).
        let resp = match status {
            204 | 304 => format!("HTTP/1.1 {status} X\r\n{extra}\r\n"),
            _ => format!("HTTP/1.1 {status} X\r\n{extra}content-length: 2\r\n\r\nok"),
        };
        if reader.get_mut().write_all(resp.as_bytes()).is_err() || reader.get_mut().flush().is_err()
        {
            return;
        }
    }
}

/// The Python with `standardwebhooks` and `svix` (installed by tests/run.sh).
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("RINGHOOK_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python venv at {}: run tests/run.sh (the README's test command), which creates it",
        venv.display()
    );
    venv
}

/// Runs `tests/py/<script>` with `args` in the test venv; its stdout, or a
/// panic with everything it printed when it fails.
pub fn run_python_script(script: &str, args: &[String]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(script);
    let out = Command::new(python())
        .arg(&path)
        .args(args)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Verifies every received request's signature with the `standardwebhooks`
/// PyPI library; returns how many it verified.
pub fn verify_with_python(secret: &str, reqs: &[Received], dir: &Path) -> usize {
    verify_with_script("verify.py", secret, reqs, dir)
}

/// Verifies every received request with `tests/py/<script> KEY FILE`
/// (`verify.py`: `v1` with `standardwebhooks`; `verify_ed25519.py`: `v1a`
/// with the `cryptography` package); returns how many it verified.
pub fn verify_with_script(script: &str, secret: &str, reqs: &[Received], dir: &Path) -> usize {
    let items: Vec<Value> = reqs
        .iter()
        .map(|r| {
            json!({
                "headers": r.headers,
                "body": String::from_utf8_lossy(&r.body),
            })
        })
        .collect();
    let file = dir.join(format!("to-verify-{}.json", rand_suffix()));
    std::fs::write(&file, serde_json::to_vec(&items).expect("json")).expect("write");
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(script);
    let out = Command::new(python())
        .arg(script)
        .arg(secret)
        .arg(&file)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python verification failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("count")
}

fn rand_suffix() -> u64 {
    use std::time::SystemTime;
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
