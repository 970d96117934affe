//! Imports (issue 7): the users' inventory file of 100,000 rows (1 % invalid, as
//! ../shared/bench/fixtures/gen.py makes it) as CSV and as XLSX, parsed and validated by
//! tarea-import in this process and by the users' csv/openpyxl code (../shared/bench/baseline)
//! side by side; then the same CSV as an `import.sheet` job through the server; then peak memory
//! of one import in a fresh process at 100,000 and 1,000,000 rows, to show it stays flat.
//! `BENCH_ONLY=imports ./target/release/tarea-bench`; knobs BENCH_IMPORT_RUNS (5),
//! BENCH_IMPORT_BIG (1000000), BENCH_IMPORT_DIR (keep the generated files there).
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use tarea_import::{Control, Limits, Outputs, Schema};

use crate::server::Server;
use crate::{knob, say};

const WORDS: [&str; 12] = [
    "epitelio",
    "células",
    "mitosis",
    "estroma",
    "necrosis",
    "fibrosis",
    "tejido",
    "glándula",
    "margen",
    "folículo",
    "dermis",
    "vasos",
];

fn spec() -> Value {
    json!({"columns": [
        {"name": "sku", "required": true},
        {"name": "name"},
        {"name": "stock", "type": "integer", "min": 0},
        {"name": "price", "type": "decimal", "decimal": ".", "min": 0.01}
    ]})
}

/// The inventory rows of gen.py: `(sku, name, stock, price)`, 1 % invalid in four ways.
fn inventory(rows: usize) -> impl Iterator<Item = (String, String, String, String)> {
    let mut seed: u64 = 42;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    (0..rows).map(move |i| {
        let (mut sku, name) = (format!("PET{i:06}"), format!("Producto {} {i}", WORDS[next() % WORDS.len()]));
        let (mut stock, mut price) =
            ((next() % 501).to_string(), format!("{:.2}", 0.5 + (next() % 29_950) as f64 / 100.0));
        if i % 100 == 37 {
            match i % 400 {
                b if b < 100 => stock = "muchos".into(),
                b if b < 200 => price = "-3.00".into(),
                b if b < 300 => sku = String::new(),
                _ => price = "12,50€".into(),
            }
        }
        (sku, name, stock, price)
    })
}

fn write_csv(path: &Path, rows: usize) -> Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "sku,name,stock,price")?;
    // As Python's csv.writer: a field holding the delimiter is quoted ("12,50€").
    let q = |s: &str| if s.contains(',') { format!("\"{s}\"") } else { s.to_owned() };
    for (sku, name, stock, price) in inventory(rows) {
        writeln!(f, "{},{},{},{}", q(&sku), q(&name), q(&stock), q(&price))?;
    }
    Ok(f.flush()?)
}

/// The XLSX copy: numbers where the CSV text is a clean number (as Excel holds them), text
/// otherwise, as the baseline's `csv_to_xlsx` makes it. `shared`: text in a shared-strings
/// table, as Excel and openpyxl write it; else inline in each cell (as constant-memory writers
/// do), which the reader streams without any table.
fn write_xlsx(path: &Path, rows: usize, shared: bool) -> Result<()> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = if shared { book.add_worksheet() } else { book.add_worksheet_with_constant_memory()? };
    sheet.set_name("Inventario")?;
    for (c, h) in ["sku", "name", "stock", "price"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h)?;
    }
    for (i, (sku, name, stock, price)) in inventory(rows).enumerate() {
        let r = i as u32 + 1;
        if !sku.is_empty() {
            sheet.write_string(r, 0, &sku)?;
        }
        sheet.write_string(r, 1, &name)?;
        match stock.parse::<i64>() {
            Ok(n) => sheet.write_number(r, 2, n as f64)?,
            Err(_) => sheet.write_string(r, 2, &stock)?,
        };
        match price.parse::<f64>() {
            Ok(n) => sheet.write_number(r, 3, n)?,
            Err(_) => sheet.write_string(r, 3, &price)?,
        };
    }
    book.save(path)?;
    Ok(())
}

/// The bare parsers over the same files, in the same minutes: the csv crate reading every
/// record, calamine reading every cell. Ours over these is the cost of everything else.
fn raw_csv(file: &Path) -> Result<f64> {
    let started = Instant::now();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_path(file)?;
    let mut record = csv::ByteRecord::new();
    let mut cells = 0usize;
    while reader.read_byte_record(&mut record)? {
        cells += record.len();
    }
    std::hint::black_box(cells);
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

fn raw_xlsx(file: &Path) -> Result<f64> {
    use calamine::Reader;
    let started = Instant::now();
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(file)?;
    let name = book.sheet_names()[0].clone();
    let mut cells = book.worksheet_cells_reader(&name)?;
    let mut n = 0usize;
    while let Some(c) = cells.next_cell()? {
        n += c.get_position().1 as usize;
    }
    std::hint::black_box(n);
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// Parse and validate only (the rows and the report go nowhere): answers ms.
fn validate_once(file: &Path) -> Result<f64> {
    let schema = Schema::compile(&serde_json::from_value(spec())?).map_err(|e| anyhow::anyhow!(e.message))?;
    let started = Instant::now();
    let input = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(file)?);
    tarea_import::import(
        input,
        &schema,
        &Limits::default(),
        Outputs { valid: &mut std::io::sink(), report_csv: &mut std::io::sink(), report_xlsx: None, tempdir: None },
        Control { every: 10_000, progress: &mut |_| true },
    )
    .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// One import in this process, its outputs written to `out`; answers (ms, successful, failed).
fn import_once(file: &Path, out: &Path) -> Result<(f64, u64, u64)> {
    let schema = Schema::compile(&serde_json::from_value(spec())?).map_err(|e| anyhow::anyhow!(e.message))?;
    let started = Instant::now();
    let input = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(file)?);
    let mut valid = std::io::BufWriter::with_capacity(256 * 1024, std::fs::File::create(out.join("rows.ndjson"))?);
    let mut report = std::io::BufWriter::new(std::fs::File::create(out.join("errors.csv"))?);
    let xlsx = out.join("errors.xlsx");
    let summary = tarea_import::import(
        input,
        &schema,
        &Limits::default(),
        Outputs { valid: &mut valid, report_csv: &mut report, report_xlsx: Some(&xlsx), tempdir: Some(out) },
        Control { every: 10_000, progress: &mut |_| true },
    )
    .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    Ok((started.elapsed().as_secs_f64() * 1000.0, summary.successful, summary.failed))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The users' imports of the same two files (ms medians and counts), or None without the
/// baseline's venv.
fn baseline(csv: &Path, xlsx: &Path, runs: usize) -> Result<Option<Value>> {
    let dir = crate::renders::baseline_dir();
    let python = dir.join(".venv/bin/python");
    if !python.exists() {
        println!("baseline: {} has no .venv; run its setup.sh to compare", dir.display());
        return Ok(None);
    }
    let code = format!(
        r#"
import json, statistics, sys, time
sys.path.insert(0, {dir:?})
import tasks
def med(fn, n):
    fn()
    t = []
    for _ in range(n):
        s = time.perf_counter(); r = fn(); t.append((time.perf_counter() - s) * 1000)
    return statistics.median(t), r
c, rc = med(lambda: tasks.import_inventory_csv({csv:?}), {runs})
x, rx = med(lambda: tasks.import_inventory_xlsx({xlsx:?}), {xruns})
print(json.dumps({{"csv_ms": c, "xlsx_ms": x, "csv_ok": rc["successful"], "csv_failed": rc["failed"],
                  "xlsx_ok": rx["successful"], "xlsx_failed": rx["failed"]}}))
"#,
        dir = dir.display().to_string(),
        csv = csv.display().to_string(),
        xlsx = xlsx.display().to_string(),
        xruns = runs.min(2),
    );
    let out = std::process::Command::new(&python).arg("-c").arg(code).current_dir(&dir).output()?;
    anyhow::ensure!(out.status.success(), "the baseline failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(Some(serde_json::from_slice(&out.stdout).context("the baseline's figures")?))
}

/// In a child process (this binary, `TAREA_BENCH_IMPORT=<file>`): imports the file and prints
/// `{"ms", "peak_rss_mib", "successful"}`.
pub fn child() -> Option<Result<()>> {
    let file = std::env::var_os("TAREA_BENCH_IMPORT")?;
    Some((|| {
        let out = tempfile::tempdir()?;
        if std::env::var_os("TAREA_BENCH_VALIDATE_ONLY").is_some() {
            let ms: Vec<f64> = (0..20).map(|_| validate_once(Path::new(&file))).collect::<Result<_>>()?;
            println!("{}", json!({"validate_ms_p50": median(ms)}));
            return Ok(());
        }
        let (ms, ok, _) = import_once(Path::new(&file), out.path())?;
        let peak = crate::server::status_mib(std::process::id(), "VmHWM:");
        println!("{}", json!({"ms": ms, "peak_rss_mib": peak, "successful": ok}));
        Ok(())
    })())
}

fn in_child(file: &Path) -> Result<Value> {
    let out = std::process::Command::new(std::env::current_exe()?).env("TAREA_BENCH_IMPORT", file).output()?;
    anyhow::ensure!(out.status.success(), "the import child failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(serde_json::from_slice(&out.stdout)?)
}

pub async fn run() -> Result<()> {
    let runs = knob("BENCH_IMPORT_RUNS", 5);
    let big = knob("BENCH_IMPORT_BIG", 1_000_000);
    let dir = tempfile::tempdir()?;
    // BENCH_IMPORT_DIR keeps the files (to profile one import: TAREA_BENCH_IMPORT=<file>).
    let kept = std::env::var_os("BENCH_IMPORT_DIR").map(PathBuf::from);
    let base = kept.clone().unwrap_or_else(|| dir.path().to_owned());
    std::fs::create_dir_all(&base)?;
    let (csv, xlsx) = (base.join("inventory_100k.csv"), base.join("inventory_100k.xlsx"));
    write_csv(&csv, 100_000)?;
    write_xlsx(&xlsx, 100_000, true)?;
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out)?;

    // Ours and theirs, back to back.
    import_once(&csv, &out)?;
    let mut ours_csv = Vec::new();
    let mut counts = (0, 0);
    for _ in 0..runs {
        let (ms, ok, failed) = import_once(&csv, &out)?;
        ours_csv.push(ms);
        counts = (ok, failed);
    }
    let mut ours_xlsx = Vec::new();
    for _ in 0..runs.min(3) {
        ours_xlsx.push(import_once(&xlsx, &out)?.0);
    }
    let (c, x) = (median(ours_csv), median(ours_xlsx));
    let vc = median((0..runs).map(|_| validate_once(&csv)).collect::<Result<Vec<_>>>()?);
    let vx = median((0..runs.min(3)).map(|_| validate_once(&xlsx)).collect::<Result<Vec<_>>>()?);
    let rc = median((0..runs).map(|_| raw_csv(&csv)).collect::<Result<Vec<_>>>()?);
    let rx = median((0..runs.min(3)).map(|_| raw_xlsx(&xlsx)).collect::<Result<Vec<_>>>()?);
    say("csv_crate_bare_read_100k_p50", rc, "ms");
    say("calamine_bare_read_100k_p50", rx, "ms");
    say("import_csv_100k_parse_validate_p50", vc, "ms");
    say("import_xlsx_100k_parse_validate_p50", vx, "ms");
    say("import_csv_parse_validate_over_bare_csv", vc / rc, "x");
    say("import_xlsx_parse_validate_over_bare_calamine", vx / rx, "x");
    say("import_csv_100k_with_outputs_p50", c, "ms");
    say("import_xlsx_100k_with_outputs_p50", x, "ms");
    println!("import counts: {} valid, {} rejected", counts.0, counts.1);
    if let Some(b) = baseline(&csv, &xlsx, runs)? {
        let (bc, bx) = (b["csv_ms"].as_f64().unwrap_or(f64::NAN), b["xlsx_ms"].as_f64().unwrap_or(f64::NAN));
        say("baseline_csv_import_100k_p50", bc, "ms");
        say("baseline_xlsx_import_100k_p50", bx, "ms");
        say("import_csv_speedup_vs_baseline", bc / c, "x");
        say("import_xlsx_speedup_vs_baseline", bx / x, "x");
        println!(
            "baseline counts: csv {} valid, {} rejected; xlsx {} valid, {} rejected",
            b["csv_ok"], b["csv_failed"], b["xlsx_ok"], b["xlsx_failed"]
        );
    }

    // The CSV as an import.sheet job: upload, then enqueue to succeeded.
    let server = Server::start(&["--durability", "full"]).await?;
    let mut conn = server.conn().await?;
    let (status, upload) =
        conn.post_bytes("/v1/uploads?filename=inventario.csv", std::fs::read(&csv)?.into(), "text/csv").await?;
    anyhow::ensure!(status == 201, "upload answered {status}: {upload}");
    let payload = {
        let mut p = spec();
        p["upload"] = upload["id"].clone();
        p
    };
    let (handler, wall, _) = crate::documents::time_jobs(&mut conn, "import.sheet", &payload, runs).await?;
    say("import_sheet_job_csv_100k_handler_p50", handler, "ms");
    say("import_sheet_job_csv_100k_enqueue_to_succeeded_p50", wall, "ms");
    say("server_peak_rss_after_imports", server.peak_rss_mib(), "MiB");
    drop(server);

    // Flat memory: one import in a fresh process at 100k and at `big` rows.
    let files: Vec<(String, PathBuf)> = vec![
        ("csv_100k".into(), csv.clone()),
        ("xlsx_100k".into(), xlsx.clone()),
        (format!("csv_{}k", big / 1000), base.join("big.csv")),
        (format!("xlsx_{}k", big / 1000), base.join("big.xlsx")),
        ("xlsx_inline_100k".into(), base.join("inline_100k.xlsx")),
        (format!("xlsx_inline_{}k", big / 1000), base.join("inline_big.xlsx")),
    ];
    write_csv(&files[2].1, big)?;
    write_xlsx(&files[3].1, big, true)?;
    write_xlsx(&files[4].1, 100_000, false)?;
    write_xlsx(&files[5].1, big, false)?;
    for (name, file) in &files {
        let v = in_child(file)?;
        say(&format!("import_{name}_ms"), v["ms"].as_f64().unwrap_or(f64::NAN), "ms");
        say(&format!("import_{name}_peak_rss"), v["peak_rss_mib"].as_f64().unwrap_or(f64::NAN), "MiB");
    }
    Ok(())
}
