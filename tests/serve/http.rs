//! A server process and a minimal HTTP/1.1 client over a plain TCP socket:
//! the tests speak to the real binary as any client in any language would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The key every test server accepts.
pub const KEY: &str = "test-key";

/// A running `redial serve`; killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
    pub dir: PathBuf,
    config: PathBuf,
}

impl Server {
    /// Starts a server on a free port over `dir` with `settings` as its
    /// configuration file, and waits until it listens (recovery done).
    pub fn start(dir: &Path, settings: &Value) -> Server {
        let config = dir.with_extension("config.json");
        std::fs::write(&config, settings.to_string()).unwrap();
        Server::start_with(dir, &config)
    }

    fn start_with(dir: &Path, config: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_redial"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .arg("--config")
            .arg(config)
            .env("REDIAL_API_KEYS", format!("other-key, {KEY}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(addr) = line.trim().strip_prefix("listening on http://") else {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the server did not start: {line:?} {err}");
        };
        Server {
            addr: addr.to_owned(),
            child,
            dir: dir.to_owned(),
            config: config.to_owned(),
        }
    }

    /// SIGKILL, then a new server over the same directory.
    pub fn crash_and_restart(&mut self) {
        self.kill();
        *self = Server::start_with(&self.dir.clone(), &self.config.clone());
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn get(&self, path: &str) -> Response {
        request(&self.addr, "GET", path, &[("X-API-KEY", KEY)], None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Response {
        post(&self.addr, path, body)
    }

    /// `redial_journal_position` from `/metrics`.
    pub fn position(&self) -> u64 {
        let text = request(&self.addr, "GET", "/metrics", &[], None).body;
        text.lines()
            .find_map(|l| l.strip_prefix("redial_journal_position "))
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh directory for one test, removed (with its configuration file)
/// when dropped.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("config.json"));
    }
}

pub fn temp_dir(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("redial-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Scratch(dir)
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// Asserts an error answer with this status and engine code.
    pub fn assert_refused(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.json()["code"].as_str()),
            (status, Some(code)),
            "{}",
            self.body
        );
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A keyed JSON POST.
pub fn post(addr: &str, path: &str, body: &Value) -> Response {
    request(
        addr,
        "POST",
        path,
        &[("X-API-KEY", KEY), ("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
}

/// One request on its own connection.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    try_request(addr, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// [`request`], or the I/O error (a server killed mid-request).
pub fn try_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some(b) = body {
        stream.write_all(b)?;
    }
    read_response(&mut stream)
}

/// Parses a whole response (the server closes the connection after it).
pub fn read_response(stream: &mut TcpStream) -> std::io::Result<Response> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8(body).map_err(|_| bad("body not UTF-8"))?,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).ok()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
