//! The server under test: the release `tarea` binary as a child process on a fresh data dir.
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::{Conn, SyncConn};

pub struct Server {
    child: Child,
    pub addr: String,
    pub key: String,
    pub cold_start: Duration,
    _stdout: BufReader<std::process::ChildStdout>,
    _dir: Option<TempDir>,
}

/// The `tarea` binary next to this one (same target folder), or `TAREA_BIN`.
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("TAREA_BIN") {
        return PathBuf::from(p);
    }
    let mut p = std::env::current_exe().unwrap_or_default();
    p.pop();
    p.join("tarea")
}

impl Server {
    pub async fn start(extra: &[&str]) -> Result<Server> {
        Self::start_node(extra, true).await
    }

    /// Starts a node; `first` nodes of a store print the admin key, later ones do not.
    pub async fn start_node(extra: &[&str], first: bool) -> Result<Server> {
        let dir = tempfile::tempdir()?;
        let mut server = Self::start_at(dir.path(), extra, first).await?;
        server._dir = Some(dir);
        Ok(server)
    }

    /// Starts a node on the data dir `dir`, which outlives it (a later node may reopen it).
    pub async fn start_at(dir: &std::path::Path, extra: &[&str], first: bool) -> Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let started = Instant::now();
        let mut child = Command::new(binary())
            .args(["serve", "--listen", &addr, "--log-level", "warn", "--data-dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} (run `cargo build --release` first)", binary().display()))?;
        let mut cold_start = None;
        while cold_start.is_none() {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("tarea did not become ready in 10 s");
            }
            if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
                use std::io::{Read, Write};
                let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.1 200") {
                    cold_start = Some(started.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let stdout = child.stdout.take().context("stdout")?;
        let mut stdout = BufReader::new(stdout);
        let mut key = String::new();
        while first && !key.starts_with("tarea_") {
            key.clear();
            if stdout.read_line(&mut key)? == 0 {
                bail!("tarea printed no admin key");
            }
        }
        let key = key.trim().to_owned();
        Ok(Server { child, addr, key, cold_start: cold_start.unwrap_or_default(), _stdout: stdout, _dir: None })
    }

    pub async fn conn(&self) -> Result<Conn> {
        Conn::open(&self.addr, &self.key).await
    }

    pub fn sync_conn(&self) -> Result<SyncConn> {
        SyncConn::open(&self.addr, &self.key)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_mib(&self) -> f64 {
        self.status_mib("VmRSS:")
    }

    /// The most resident memory the server has had.
    pub fn peak_rss_mib(&self) -> f64 {
        self.status_mib("VmHWM:")
    }

    fn status_mib(&self, field: &str) -> f64 {
        status_mib(self.child.id(), field)
    }
}

/// A memory field of a process's /proc status (`VmRSS:`, `VmHWM:`) in MiB; NaN if unreadable.
pub fn status_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}
