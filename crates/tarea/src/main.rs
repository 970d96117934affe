//! The `tarea` binary: command line, configuration, wiring, signals and exit codes.
mod bench;
mod cli;
mod client;
mod config;
mod keys;
mod logging;
mod serve;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

/// mimalloc: a render is mostly Typst allocating and freeing small objects, and it renders
/// several per cent faster than with the system allocator (see `mimalloc` in Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::RenderWorker = cli.command {
        return render_worker();
    }
    logging::init(cli.log_format, cli.log_level.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(*args).await,
            Command::Keys(cmd) => keys::run(cmd).await,
            Command::Jobs(cmd) => client::run(cmd).await,
            Command::Schedules(cmd) => client::run_schedules(cmd).await,
            Command::Bench(args) => bench::run(args).await,
            Command::RenderWorker => unreachable!("handled before the async runtime starts"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            match e.downcast_ref::<config::ConfigError>() {
                Some(_) => ExitCode::from(2),
                None => ExitCode::from(1),
            }
        }
    }
}

/// Runs as a renderer process: no async runtime, no logging to stdout (stdout is the wire).
fn render_worker() -> ExitCode {
    let cap = std::env::var("TAREA_RENDER_MEMORY_CAP").ok().and_then(|v| v.parse().ok());
    match tarea_render::child::serve(cap) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tarea renderer: {e}");
            ExitCode::from(1)
        }
    }
}
