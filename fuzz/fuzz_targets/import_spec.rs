//! Any spec (the bytes before the first 0xFF, as JSON) and any CSV (the bytes after it): a spec
//! is accepted or refused with a message, and an accepted one imports without panicking.
#![no_main]
use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use tarea_import::{Control, ImportSpec, Limits, Outputs, Schema, import};

fuzz_target!(|data: &[u8]| {
    // As in `import`: panics caught inside the importer (calamine's) are not crashes.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| drop(std::panic::take_hook()));
    let (spec, file) = match data.iter().position(|b| *b == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"a,b\n1,2\n"[..]),
    };
    let Ok(spec) = serde_json::from_slice::<ImportSpec>(spec) else { return };
    let Ok(schema) = Schema::compile(&spec) else { return };
    let limits = Limits { max_columns: 64, max_row_bytes: 4096, max_rows: 10_000, ..Limits::default() };
    let (mut valid, mut report) = (Vec::new(), Vec::new());
    let _ = import(
        Cursor::new(file),
        &schema,
        &limits,
        Outputs { valid: &mut valid, report_csv: &mut report, report_xlsx: None, tempdir: None },
        Control { every: 100, progress: &mut |_| true },
    );
});
