//! The renderer process: `tarea render-worker` runs [`serve`], which answers [`Call`]s on
//! stdin until stdin closes.
//!
//! The process caps its own address space first (so a runaway layout ends in a failed
//! allocation, which aborts this process and nothing else), then loads the built-in templates
//! and warms fonts and the standard library with one render of each.
use std::io::{self, BufReader, BufWriter};

use crate::wire::{Call, Reply, read_message, write_message};
use crate::{Renderer, builtin};

/// Serves renders on stdin/stdout. `memory_cap` bounds the process's address space (bytes).
pub fn serve(memory_cap: Option<u64>) -> io::Result<()> {
    if let Some(cap) = memory_cap {
        rlimit::setrlimit(rlimit::Resource::AS, cap, cap)?;
    }
    let mut renderer = Renderer::new();
    warm(&mut renderer);
    let mut input = BufReader::with_capacity(1 << 16, io::stdin().lock());
    let mut output = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    while let Some((call, body)) = read_message::<_, Call>(&mut input)? {
        match call {
            Call::Ping => write_message(&mut output, &Reply::Pong, &[])?,
            Call::Load(template) => match renderer.load(&template) {
                Ok(()) => write_message(&mut output, &Reply::Loaded, &[])?,
                Err(e) => write_message(&mut output, &Reply::Failed(e), &[])?,
            },
            Call::Check(template) => match renderer.check(&template, (!body.is_empty()).then_some(body)) {
                Ok(report) => write_message(&mut output, &Reply::Checked(report), &[])?,
                Err(e) => write_message(&mut output, &Reply::Failed(e), &[])?,
            },
            Call::Render(request) => match renderer.render(&request, body) {
                Ok((out, pdf)) => write_message(&mut output, &Reply::Rendered(out), &pdf)?,
                Err(e) => write_message(&mut output, &Reply::Failed(e), &[])?,
            },
        }
        // The answer is written and flushed: bound Typst's caches while the server reads it.
        renderer.tidy();
    }
    Ok(())
}

/// One render of each built-in template with its sample data: parses fonts and warms the
/// standard library before the first real job.
pub fn warm(renderer: &mut Renderer) {
    for b in builtin::BUILTINS {
        let request = crate::Request {
            template: b.template().key(),
            labels: b.label_size_mm.map(|s| crate::LabelCheck { size_mm: Some(s) }),
            options: Default::default(),
            ident: "warm-up".into(),
        };
        if let Err(e) = renderer.render(&request, b.sample.as_bytes().to_vec()) {
            eprintln!("tarea renderer: the built-in template {} failed its warm-up render: {e}", b.name);
        }
        renderer.tidy();
    }
}
