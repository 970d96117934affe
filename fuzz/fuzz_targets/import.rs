//! Any bytes as an uploaded file, imported with a schema of every column type: the importer
//! must answer (rows or an error) without panicking, hanging or growing without bound.
#![no_main]
use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use tarea_import::{Control, Limits, Outputs, Schema, import};

fn schema() -> Schema {
    let spec = serde_json::json!({
        "columns": [
            {"name": "sku", "aliases": ["código"], "required": true, "unique": true, "pattern": "[A-Z]{1,3}[0-9]*"},
            {"name": "stock", "type": "integer", "min": 0, "max": 100000},
            {"name": "precio", "type": "decimal", "min": 0},
            {"name": "vence", "type": "date", "min": "2000-01-01"},
            {"name": "activo", "type": "boolean"},
            {"name": "especie", "type": "enum", "values": ["Canino", "Felino"]},
            {"name": "nota", "max_length": 50}
        ],
        "key": ["sku", "vence"],
    });
    Schema::compile(&serde_json::from_value(spec).unwrap()).unwrap()
}

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on any panic, even one the importer catches: calls into calamine are
    // guarded (a panic there is the file's `corrupt_file`). The default hook lets those be
    // caught; a panic that escapes the importer still aborts, and is a crash.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| drop(std::panic::take_hook()));
    thread_local!(static SCHEMA: Schema = schema());
    // Small limits, so the fuzzer reaches them.
    let limits = Limits {
        max_columns: 64,
        max_cell_bytes: 256,
        max_row_bytes: 4096,
        max_rows: 10_000,
        max_unzipped_bytes: 16 << 20,
        max_zip_ratio: 100,
        max_zip_entries: 64,
        max_range_cells: 100_000,
    };
    SCHEMA.with(|schema| {
        let (mut valid, mut report) = (Vec::new(), Vec::new());
        let result = import(
            Cursor::new(data),
            schema,
            &limits,
            Outputs { valid: &mut valid, report_csv: &mut report, report_xlsx: None, tempdir: None },
            Control { every: 100, progress: &mut |_| true },
        );
        if result.is_ok() {
            // Every valid row is a JSON object.
            for line in std::str::from_utf8(&valid).expect("NDJSON is UTF-8").lines() {
                let v: serde_json::Value = serde_json::from_str(line).expect("each row is JSON");
                assert!(v.is_object());
            }
        }
    });
});
