//! The renderer processes: a runaway template is stopped at its deadline, one that eats memory
//! hits its process's cap, a cancelled render stops at once — and in every case the next
//! render works, in a fresh process.
use std::time::{Duration, Instant};

use tarea_docs::{RenderConfig, RenderFailure, RenderPool};
use tarea_render::{Request, Template};
use tokio_util::sync::CancellationToken;

fn pool(processes: usize, memory_mib: u64, timeout_s: u64) -> std::sync::Arc<RenderPool> {
    let mut c = RenderConfig::new(tarea_testkit::tarea_binary(), vec!["render-worker".into()]);
    c.processes = processes;
    c.memory_cap = memory_mib << 20;
    c.timeout = Duration::from_secs(timeout_s);
    RenderPool::new(c)
}

fn template(name: &str, source: &str) -> Template {
    Template { tenant: None, name: name.into(), version: 1, source: source.into(), assets: vec![] }
}

fn request(t: &Template) -> Request {
    Request { template: t.key(), labels: None, options: Default::default(), ident: "t".into() }
}

const HELLO: &str = "#let data = json(\"/data.json\")\n= Hola #data.nombre";

async fn hello(pool: &RenderPool) -> Result<(tarea_render::Output, Vec<u8>), RenderFailure> {
    let t = template("hola", HELLO);
    pool.render(&t, request(&t), br#"{"nombre": "Luna"}"#.to_vec(), None, &CancellationToken::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_render_past_its_deadline_is_killed_and_the_next_one_works() {
    let pool = pool(1, 1024, 2);
    let spin = template("gira", "#for i in range(100000) { for j in range(100000) { } }");
    let started = Instant::now();
    let err = pool.render(&spin, request(&spin), b"{}".to_vec(), None, &CancellationToken::new()).await.unwrap_err();
    let RenderFailure::Killed(m) = err else { panic!("{err:?}") };
    assert!(m.contains("deadline (2.0 s)"), "{m}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let (out, pdf) = hello(&pool).await.unwrap();
    assert_eq!(out.pages, 1);
    assert!(pdf.starts_with(b"%PDF"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_render_that_needs_too_much_memory_is_stopped_at_the_cap() {
    let pool = pool(1, 512, 60);
    let hog = template("glotón", "#let x = range(200000000).map(i => str(i))\n#x.len()");
    let err = pool.render(&hog, request(&hog), b"{}".to_vec(), None, &CancellationToken::new()).await.unwrap_err();
    let RenderFailure::Killed(m) = err else { panic!("{err:?}") };
    assert!(m.contains("ran out of memory") && m.contains("512 MiB"), "{m}");
    hello(&pool).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_render_stops_at_once() {
    let pool = pool(1, 1024, 60);
    let spin = template("gira", "#for i in range(100000) { for j in range(100000) { } }");
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.cancel();
    });
    let started = Instant::now();
    let err = pool.render(&spin, request(&spin), b"{}".to_vec(), None, &cancel).await.unwrap_err();
    assert!(matches!(err, RenderFailure::Cancelled), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    hello(&pool).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_error_leaves_the_renderer_alive() {
    let pool = pool(1, 1024, 60);
    pool.warm().await.unwrap();
    let broken = template("roto", "#let data = json(\"/data.json\")\n#data.falta");
    let err =
        pool.render(&broken, request(&broken), b"{}".to_vec(), None, &CancellationToken::new()).await.unwrap_err();
    let RenderFailure::Render(e) = err else { panic!("{err:?}") };
    assert!(e.to_string().contains("falta") && e.to_string().contains("line 2"), "{e}");
    // Same process, still warm: no start-up cost on the next render.
    let started = Instant::now();
    hello(&pool).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_run_side_by_side_in_separate_processes() {
    let pool = pool(2, 1024, 60);
    let runs: Vec<_> = (0..6)
        .map(|_| {
            let pool = std::sync::Arc::clone(&pool);
            tokio::spawn(async move { hello(&pool).await.map(|(o, _)| o.pages) })
        })
        .collect();
    for r in runs {
        assert_eq!(r.await.unwrap().unwrap(), 1);
    }
}

/// The renderer processes this test process started.
fn renderers() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            let ppid: u32 = status.lines().find_map(|l| l.strip_prefix("PPid:"))?.trim().parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            (ppid == me && String::from_utf8_lossy(&cmd).contains("render-worker")).then_some(pid)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renderer_killed_while_idle_is_replaced_without_failing_a_job() {
    let pool = pool(1, 1024, 60);
    pool.warm().await.unwrap();
    let pids = renderers();
    assert_eq!(pids.len(), 1, "{pids:?}");
    let status = std::process::Command::new("kill").args(["-9", &pids[0].to_string()]).status().unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (out, _) = hello(&pool).await.expect("the next render starts a fresh renderer");
    assert_eq!(out.pages, 1);
    let now = renderers();
    assert_eq!(now.len(), 1);
    assert_ne!(now[0], pids[0]);
}
