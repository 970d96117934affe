//! The renderer processes: a small pool of long-lived `tarea render-worker` children that keep
//! Typst's caches warm. Each has a memory cap (it caps its own address space) and every render
//! a hard deadline; a child that overruns, runs out of memory or crashes is killed and a fresh
//! one takes its place on the next render. Nothing a template does can stop the server.
use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tarea_render::wire::{self, Call, MAX_FRAME, Reply};
use tarea_render::{CheckReport, Output, RenderError, Request, Template, builtin};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Templates a renderer may load before it is replaced (each adds its asset paths to Typst's
/// process-wide path table).
const MAX_LOADS: usize = 256;

/// The last lines a renderer wrote to stderr, kept to explain how it died.
const STDERR_LINES: usize = 20;

/// How the pool starts and bounds its renderers.
#[derive(Clone, Debug)]
pub struct RenderConfig {
    /// The program and arguments that run [`tarea_render::child::serve`] (the binary passes
    /// itself and `render-worker`).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// How many renderer processes (and so renders at once).
    pub processes: usize,
    /// Each process's address-space cap, bytes.
    pub memory_cap: u64,
    /// The longest one render may take.
    pub timeout: Duration,
    /// A process is replaced after this many renders (bounds anything that grows slowly,
    /// such as Typst's global path table).
    pub max_renders: u64,
}

impl RenderConfig {
    /// Defaults for `program args`: a process per core, 1 GiB each, 60 s per render.
    pub fn new(program: PathBuf, args: Vec<String>) -> RenderConfig {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        RenderConfig {
            program,
            args,
            processes: cores,
            memory_cap: 1 << 30,
            timeout: Duration::from_secs(60),
            max_renders: 20_000,
        }
    }
}

/// Why a render through the pool failed.
#[derive(Debug)]
pub enum RenderFailure {
    /// The template or data is wrong, or the output failed its checks: not worth retrying.
    Render(RenderError),
    /// The renderer was killed (deadline, memory cap) or crashed while rendering this input.
    Killed(String),
    /// No renderer could be started or spoken to.
    Unavailable(String),
    /// The job was cancelled; its renderer was stopped.
    Cancelled,
}

/// The pool.
pub struct RenderPool {
    config: RenderConfig,
    idle: Mutex<Vec<Renderer>>,
    slots: Semaphore,
}

struct Renderer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    loaded: HashSet<String>,
    /// Tenants' templates loaded into it, and their bytes: both only grow, so past a bound the
    /// process is replaced (every asset path also takes one of Typst's 65,535 path ids).
    loads: usize,
    loaded_bytes: usize,
    renders: u64,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl RenderPool {
    /// A pool; processes start on first use or with [`RenderPool::warm`].
    pub fn new(config: RenderConfig) -> Arc<RenderPool> {
        let slots = Semaphore::new(config.processes.max(1));
        Arc::new(RenderPool { config, idle: Mutex::new(Vec::new()), slots })
    }

    /// The pool's settings.
    pub fn config(&self) -> &RenderConfig {
        &self.config
    }

    /// Starts every process now, so the first renders find warm caches.
    pub async fn warm(&self) -> Result<(), String> {
        let mut started = Vec::new();
        for _ in 0..self.config.processes.max(1) {
            let _slot = self.slots.acquire().await.map_err(|e| e.to_string())?;
            let mut r = self.spawn()?;
            // Answered once the child has warmed up.
            ping(&mut r).await?;
            started.push(r);
        }
        self.idle.lock().expect("pool lock").extend(started);
        Ok(())
    }

    /// Renders `data` with `template`, within `deadline` (and the pool's own timeout).
    pub async fn render(
        &self,
        template: &Template,
        request: Request,
        data: Vec<u8>,
        deadline: Option<Instant>,
        cancel: &CancellationToken,
    ) -> Result<(Output, Vec<u8>), RenderFailure> {
        match self.run(Work::Render { template, request, data }, deadline, cancel).await? {
            Done::Rendered(out, pdf) => Ok((out, pdf)),
            Done::Checked(_) => Err(RenderFailure::Unavailable("the renderer answered a render with a check".into())),
        }
    }

    /// Checks a template before it is stored: renders `sample` with it, or checks its syntax
    /// when there is none. Runs in a renderer like any render (a template is untrusted code).
    pub async fn check(
        &self,
        template: &Template,
        sample: Option<Vec<u8>>,
        cancel: &CancellationToken,
    ) -> Result<CheckReport, RenderFailure> {
        match self.run(Work::Check { template, sample: sample.unwrap_or_default() }, None, cancel).await? {
            Done::Checked(report) => Ok(report),
            Done::Rendered(..) => Err(RenderFailure::Unavailable("the renderer answered a check with a render".into())),
        }
    }

    async fn run(
        &self,
        work: Work<'_>,
        deadline: Option<Instant>,
        cancel: &CancellationToken,
    ) -> Result<Done, RenderFailure> {
        let _slot = tokio::select! {
            s = self.slots.acquire() => s.map_err(|e| RenderFailure::Unavailable(e.to_string()))?,
            _ = cancel.cancelled() => return Err(RenderFailure::Cancelled),
        };
        // An idle renderer that died meanwhile (killed by the system, say) is replaced here, so
        // its death is not blamed on the next job's input.
        let mut renderer = loop {
            let taken = self.idle.lock().expect("pool lock").pop();
            match taken {
                Some(mut r) => {
                    if matches!(r.child.try_wait(), Ok(Some(_))) {
                        tracing::warn!("a renderer process exited while idle; starting another");
                        r.kill().await;
                        continue;
                    }
                    break r;
                }
                None => break self.spawn().map_err(RenderFailure::Unavailable)?,
            }
        };
        let started = Instant::now();
        let limit = started + self.config.timeout;
        let deadline = deadline.map_or(limit, |d| d.min(limit));
        let allowed = deadline.saturating_duration_since(started).as_secs_f64();
        let outcome = tokio::select! {
            r = tokio::time::timeout_at(deadline.into(), renderer.exchange(work)) => r,
            _ = cancel.cancelled() => {
                renderer.kill().await;
                return Err(RenderFailure::Cancelled);
            }
        };
        match outcome {
            Ok(Ok(result)) => {
                renderer.renders += 1;
                let worn = renderer.renders >= self.config.max_renders
                    || renderer.loads > MAX_LOADS
                    || renderer.loaded_bytes as u64 > self.config.memory_cap / 4;
                if !worn {
                    self.idle.lock().expect("pool lock").push(renderer);
                } else {
                    renderer.kill().await;
                }
                result.map_err(RenderFailure::Render)
            }
            Ok(Err(io)) => Err(RenderFailure::Killed(renderer.death(io, self.config.memory_cap).await)),
            Err(_elapsed) => {
                renderer.kill().await;
                Err(RenderFailure::Killed(format!(
                    "the render did not finish within its deadline ({allowed:.1} s) and its renderer was stopped"
                )))
            }
        }
    }

    fn spawn(&self) -> Result<Renderer, String> {
        let mut child = Command::new(&self.config.program)
            .args(&self.config.args)
            .env("TAREA_RENDER_MEMORY_CAP", self.config.memory_cap.to_string())
            // One thread per renderer: the pool is the parallelism. The address space (which
            // the cap counts) is kept close to what is used: mimalloc reserves no 1 GiB arena
            // up front (with one, the cap left no room for a thread's stack), and glibc's
            // malloc, were it the allocator, would keep few arenas.
            .env("RAYON_NUM_THREADS", "1")
            .env("MIMALLOC_ARENA_RESERVE", "0")
            .env("MALLOC_ARENA_MAX", "2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the renderer {}: {e}", self.config.program.display()))?;
        let stdin = child.stdin.take().ok_or("the renderer has no stdin")?;
        let stdout = BufReader::with_capacity(1 << 16, child.stdout.take().ok_or("the renderer has no stdout")?);
        let stderr = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_LINES)));
        if let Some(err) = child.stderr.take() {
            let tail = Arc::clone(&stderr);
            let pid = child.id();
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::warn!(renderer = pid, "{line}");
                    let mut t = tail.lock().expect("stderr lock");
                    if t.len() == STDERR_LINES {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            });
        }
        let loaded = builtin::BUILTINS.iter().map(|b| b.template().key()).collect();
        Ok(Renderer { child, stdin, stdout, loaded, loads: 0, loaded_bytes: 0, renders: 0, stderr })
    }
}

async fn ping(r: &mut Renderer) -> Result<(), String> {
    send(&mut r.stdin, &Call::Ping, &[]).await.map_err(|e| format!("the renderer did not start: {e}"))?;
    match receive(&mut r.stdout).await {
        Ok((Reply::Pong, _)) => Ok(()),
        Ok((other, _)) => Err(format!("the renderer answered {other:?}")),
        Err(e) => Err(format!("the renderer did not start: {e}")),
    }
}

/// What a renderer is asked to do.
enum Work<'a> {
    Render { template: &'a Template, request: Request, data: Vec<u8> },
    Check { template: &'a Template, sample: Vec<u8> },
}

/// What it answered.
enum Done {
    Rendered(Output, Vec<u8>),
    Checked(CheckReport),
}

impl Renderer {
    /// One call and its answer. `Err`: the renderer stopped answering; `Ok(Err)`: it refused.
    async fn exchange(&mut self, work: Work<'_>) -> std::io::Result<Result<Done, RenderError>> {
        let unexpected = |other: Reply| std::io::Error::other(format!("unexpected reply {other:?}"));
        match work {
            Work::Render { template, request, data } => {
                let key = template.key();
                if !self.loaded.contains(&key) {
                    send(&mut self.stdin, &Call::Load(template.clone()), &[]).await?;
                    match receive(&mut self.stdout).await? {
                        (Reply::Loaded, _) => {}
                        (Reply::Failed(e), _) => return Ok(Err(e)),
                        (other, _) => return Err(unexpected(other)),
                    }
                    self.loaded.insert(key);
                    self.loads += 1;
                    self.loaded_bytes +=
                        template.source.len() + template.assets.iter().map(|a| a.bytes.len()).sum::<usize>();
                }
                send(&mut self.stdin, &Call::Render(request), &data).await?;
                match receive(&mut self.stdout).await? {
                    (Reply::Rendered(out), pdf) => Ok(Ok(Done::Rendered(out, pdf))),
                    (Reply::Failed(e), _) => Ok(Err(e)),
                    (other, _) => Err(unexpected(other)),
                }
            }
            Work::Check { template, sample } => {
                send(&mut self.stdin, &Call::Check(template.clone()), &sample).await?;
                match receive(&mut self.stdout).await? {
                    (Reply::Checked(report), _) => Ok(Ok(Done::Checked(report))),
                    (Reply::Failed(e), _) => Ok(Err(e)),
                    (other, _) => Err(unexpected(other)),
                }
            }
        }
    }

    async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// Why the child stopped answering: its exit status and last words.
    async fn death(mut self, io: std::io::Error, memory_cap: u64) -> String {
        use std::os::unix::process::ExitStatusExt;
        let status = match tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await {
            Ok(Ok(s)) => Some(s),
            _ => {
                let _ = self.child.start_kill();
                self.child.wait().await.ok()
            }
        };
        // Give the stderr reader a moment to collect the last lines.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let last = self
            .stderr
            .lock()
            .expect("stderr lock")
            .iter()
            .rev()
            .take(3)
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ");
        let out_of_memory = last.contains("memory allocation") || last.contains("out of memory");
        let mib = memory_cap >> 20;
        match status {
            _ if out_of_memory => {
                format!("the render ran out of memory: its renderer is capped at {mib} MiB and was stopped")
            }
            Some(s) if s.signal() == Some(9) => {
                format!("the renderer was killed while rendering (signal 9; the system may be out of memory): {last}")
            }
            Some(s) if s.signal().is_some() => {
                format!("the renderer crashed while rendering (signal {}): {last}", s.signal().unwrap_or(0))
            }
            Some(s) => format!("the renderer exited while rendering ({s}): {last}"),
            None => format!("the renderer stopped answering: {io}"),
        }
    }
}

async fn send<T: serde::Serialize>(w: &mut ChildStdin, header: &T, body: &[u8]) -> std::io::Result<()> {
    w.write_all(&wire::encode(header, body)?).await?;
    w.flush().await
}

async fn receive(r: &mut BufReader<ChildStdout>) -> std::io::Result<(Reply, Vec<u8>)> {
    let header = frame(r).await?;
    let reply = serde_json::from_slice(&header).map_err(std::io::Error::other)?;
    Ok((reply, frame(r).await?))
}

async fn frame(r: &mut BufReader<ChildStdout>) -> std::io::Result<Vec<u8>> {
    let n = r.read_u32_le().await? as usize;
    if n > MAX_FRAME {
        return Err(std::io::Error::other(format!("a frame of {n} bytes from the renderer")));
    }
    let mut buf = vec![0; n];
    r.read_exact(&mut buf).await?;
    Ok(buf)
}
