//! The real `tarea` binary as a child process: start it on a free port, read the admin key it
//! prints on first start, kill it with any signal, start it again on the same data.
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The path of the `tarea` binary built next to the running test.
pub fn tarea_binary() -> PathBuf {
    if let Ok(p) = std::env::var("CARGO_BIN_EXE_tarea") {
        return PathBuf::from(p);
    }
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("tarea")
}

pub struct TareaProcess {
    pub child: Child,
    pub port: u16,
    /// The admin key printed at first start (empty on later starts).
    pub first_key: String,
    stderr: mpsc::Receiver<String>,
}

/// A port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl TareaProcess {
    /// Starts `tarea serve` on `data_dir` with extra flags; waits until it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> TareaProcess {
        Self::start_on(data_dir, free_port(), extra)
    }

    pub fn start_on(data_dir: &Path, port: u16, extra: &[&str]) -> TareaProcess {
        Self::start_with_env(data_dir, port, extra, &[])
    }

    /// Like [`TareaProcess::start_on`], with extra environment variables.
    pub fn start_with_env(data_dir: &Path, port: u16, extra: &[&str], env: &[(&str, &str)]) -> TareaProcess {
        let mut child = Command::new(tarea_binary())
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .env("TAREA_LOG", "info")
            .env_remove("TAREA_CONFIG")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tarea");
        let rx = lines_of(child.stderr.take().expect("stderr"));
        let mut seen = String::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    let listening = line.contains("listening on http://");
                    seen.push_str(&line);
                    seen.push('\n');
                    if listening {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("tarea did not start listening; its log:\n{seen}");
                }
            }
        }
        let out_rx = lines_of(child.stdout.take().expect("stdout"));
        // The key (if any) is printed before the listener starts, so it is already in the pipe.
        let mut first_key = String::new();
        while let Ok(line) = out_rx.recv_timeout(Duration::from_millis(300)) {
            if line.starts_with("tarea_") {
                first_key = line;
                break;
            }
        }
        TareaProcess { child, port, first_key, stderr: rx }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Sends a signal (e.g. "KILL", "TERM") and waits for the process to exit. The process
    /// is consumed; its log lines are returned by [`TareaProcess::log`] before calling this.
    pub fn signal_and_wait(mut self, signal: &str) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        self.child.wait().expect("wait for tarea")
    }

    /// Like [`TareaProcess::signal_and_wait`], also returning every log line it printed.
    pub fn signal_and_wait_with_log(mut self, signal: &str) -> (std::process::ExitStatus, Vec<String>) {
        let _ = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        let status = self.child.wait().expect("wait for tarea");
        let mut lines = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(500)) {
            lines.push(line);
        }
        (status, lines)
    }

    /// Log lines printed so far.
    pub fn log(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }
}

/// The lines a child prints, read by a thread of their own.
fn lines_of(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Drop for TareaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
