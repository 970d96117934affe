//! Whole imports, from bytes as users' programs write them to the rows and reports a person
//! reads: every encoding and dialect, every workbook format, and hostile files.
use std::io::{Cursor, Write};

use serde_json::{Value, json};
use tarea_import::{Control, ImportError, Limits, Outputs, Schema, Summary, import};

struct Done {
    summary: Result<Summary, ImportError>,
    rows: Vec<Value>,
    report: String,
    xlsx: Option<Vec<u8>>,
}

fn run_with(bytes: &[u8], spec: Value, limits: &Limits) -> Done {
    let schema = Schema::compile(&serde_json::from_value(spec).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let xlsx_path = dir.path().join("report.xlsx");
    let (mut valid, mut report) = (Vec::new(), Vec::new());
    let summary = import(
        Cursor::new(bytes),
        &schema,
        limits,
        Outputs {
            valid: &mut valid,
            report_csv: &mut report,
            report_xlsx: Some(&xlsx_path),
            tempdir: Some(dir.path()),
        },
        Control { every: 1000, progress: &mut |_| true },
    );
    Done {
        summary,
        rows: String::from_utf8(valid).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
        report: String::from_utf8(report).unwrap(),
        xlsx: std::fs::read(&xlsx_path).ok(),
    }
}

fn run(bytes: &[u8], spec: Value) -> Done {
    run_with(bytes, spec, &Limits::default())
}

fn inventory() -> Value {
    json!({"columns": [
        {"name": "sku", "aliases": ["código"], "required": true, "unique": true, "pattern": "PET[0-9]{3}"},
        {"name": "descripcion", "aliases": ["descripción"]},
        {"name": "stock", "type": "integer", "min": 0},
        {"name": "precio", "type": "decimal", "min": 0},
        {"name": "vence", "type": "date"}
    ]})
}

/// The inventory as a Spanish Excel saves it as CSV: `;`, decimal commas, day-first dates.
const INVENTARIO: &str = "Código;Descripción;Stock;Precio;Vence\r\n\
PET001;Alimento balanceado;12;1.500,50;31/12/2026\r\n\
PET002;\"Collar \"\"ñandú\"\"; rojo\";3;820;15/01/2027\r\n\
PET003;Piedras sanitarias;muchos;99;01/06/2026\r\n\
PET004;Shampoo;7;450;mañana\r\n";

fn expected_rows(second_description: &str) -> Vec<Value> {
    vec![
        json!({"_row": 2, "sku": "PET001", "descripcion": "Alimento balanceado", "stock": 12, "precio": 1500.50, "vence": "2026-12-31"}),
        json!({"_row": 3, "sku": "PET002", "descripcion": second_description, "stock": 3, "precio": 820, "vence": "2027-01-15"}),
    ]
}

fn assert_inventory(done: &Done, second_description: &str) {
    let s = done.summary.as_ref().unwrap();
    assert_eq!((s.total_processed, s.successful, s.failed), (4, 2, 2), "{s:?}");
    assert_eq!(done.rows, expected_rows(second_description));
    let errors: Vec<(u64, Option<&str>, &str)> =
        s.errors_preview.iter().map(|e| (e.row, e.column.as_deref(), e.message.as_str())).collect();
    assert_eq!(
        errors,
        vec![
            (4, Some("stock"), "\"muchos\" is not a whole number"),
            (5, Some("vence"), "\"mañana\" is not a date (write it as 28/11/2026 or 2026-11-28)"),
        ]
    );
}

#[test]
fn csv_in_every_encoding_and_dialect_imports_the_same_rows() {
    let text = INVENTARIO;
    let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(text);
    let utf16le: Vec<u8> = [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let utf16be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let bom: Vec<u8> = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
    for (name, bytes, encoding) in [
        ("utf-8", text.as_bytes().to_vec(), "UTF-8"),
        ("utf-8 bom", bom, "UTF-8"),
        ("windows-1252", latin1.into_owned(), "windows-1252"),
        ("utf-16le bom", utf16le, "UTF-16LE"),
        ("utf-16be no bom", utf16be, "UTF-16BE"),
    ] {
        let done = run(&bytes, inventory());
        assert_inventory(&done, "Collar \"ñandú\"; rojo");
        let s = done.summary.unwrap();
        assert_eq!((s.encoding, s.delimiter.as_deref()), (Some(encoding), Some(";")), "{name}");
    }
    // Comma, tab and pipe dialects; quotes around every field; LF line ends.
    for delimiter in [",", "\t", "|"] {
        let text = "sku,descripcion,stock,precio,vence\n\
                    \"PET001\",\"Alimento balanceado\",\"12\",\"1500.50\",\"2026-12-31\"\n\
                    PET002,\"Collar, rojo\",3,820,15/01/2027\n\
                    PET003,Piedras sanitarias,muchos,99,01/06/2026\n\
                    PET004,Shampoo,7,450,mañana\n"
            .replace(',', delimiter)
            .replace(&format!("Collar{delimiter} rojo"), "Collar, rojo");
        let done = run(text.as_bytes(), inventory());
        assert_inventory(&done, "Collar, rojo");
        assert_eq!(done.summary.unwrap().delimiter.as_deref(), Some(delimiter));
    }
}

#[test]
fn declared_encoding_and_delimiter_win() {
    // Bytes that are valid UTF-8 but were written as Latin-1 ("Ã±" is "ñ" read wrongly).
    let mut spec = inventory();
    spec["encoding"] = json!("utf-8");
    spec["delimiter"] = json!(";");
    let done = run(INVENTARIO.as_bytes(), spec);
    assert_eq!(done.summary.unwrap().delimiter.as_deref(), Some(";"));
    // A Latin-1 byte in a UTF-8 file is the error of its row, not garbage in the output.
    let text = [b"sku,descripcion\nPET001,ok\nPET002,mal \xF1\n".as_slice()].concat();
    let done = run(&text, json!({"columns": [{"name": "sku"}, {"name": "descripcion"}], "encoding": "utf-8"}));
    let s = done.summary.unwrap();
    assert_eq!((s.successful, s.failed), (1, 1));
    assert!(s.errors_preview[0].message.contains("encoding"), "{:?}", s.errors_preview);
}

#[test]
fn xlsx_xls_and_ods_import_the_same_rows() {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet().set_name("Inventario").unwrap();
    let date = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    for (c, h) in ["Código", "Descripción", "Stock", "Precio", "Vence"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    type Item<'a> = (&'a str, &'a str, Option<f64>, f64, Option<(u16, u8, u8)>);
    let rows: [Item; 4] = [
        ("PET001", "Alimento balanceado", Some(12.0), 1500.5, Some((2026, 12, 31))),
        ("PET002", "Collar ñandú", Some(3.0), 820.0, Some((2027, 1, 15))),
        ("PET003", "Piedras sanitarias", None, 99.0, Some((2026, 6, 1))),
        ("PET004", "Shampoo", Some(7.0), 450.0, None),
    ];
    for (r, (sku, desc, stock, price, due)) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, *sku).unwrap();
        sheet.write_string(r, 1, *desc).unwrap();
        match stock {
            Some(s) => sheet.write_number(r, 2, *s).unwrap(),
            None => sheet.write_string(r, 2, "muchos").unwrap(),
        };
        sheet.write_number(r, 3, *price).unwrap();
        match due {
            Some((y, m, d)) => {
                sheet.write_date_with_format(r, 4, rust_xlsxwriter::ExcelDateTime::from_ymd(*y, *m, *d).unwrap(), &date)
            }
            None => sheet.write_string(r, 4, "mañana"),
        }
        .unwrap();
    }
    let xlsx = book.save_to_buffer().unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    let xls = std::fs::read(format!("{fixtures}inventario.xls")).unwrap();
    let ods = std::fs::read(format!("{fixtures}inventario.ods")).unwrap();
    for (bytes, format) in [(xlsx, "xlsx"), (xls, "xls"), (ods, "ods")] {
        let done = run(&bytes, inventory());
        assert_inventory(&done, "Collar ñandú");
        let s = done.summary.unwrap();
        assert_eq!((s.format, s.sheet.as_deref()), (format, Some("Inventario")));
    }
}

#[test]
fn sheet_and_header_row_can_be_chosen() {
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet().set_name("Portada").unwrap().write_string(0, 0, "Inventario de diciembre").unwrap();
    let sheet = book.add_worksheet().set_name("Datos").unwrap();
    sheet.write_string(0, 0, "Sucursal Palermo").unwrap();
    sheet.write_string(2, 0, "SKU").unwrap();
    sheet.write_string(3, 0, "PET001").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let done = run(&bytes, json!({"columns": [{"name": "sku"}], "sheet": "datos", "header_row": 3}));
    assert_eq!(done.rows, vec![json!({"_row": 4, "sku": "PET001"})]);
    let done = run(&bytes, json!({"columns": [{"name": "sku"}], "sheet": 2, "header_row": 3}));
    assert_eq!(done.rows.len(), 1);
    let e = run(&bytes, json!({"columns": [{"name": "sku"}], "sheet": "Ventas"})).summary.unwrap_err();
    assert_eq!(e.code, "sheet_not_found");
    assert!(e.message.contains("\"Portada\", \"Datos\""), "{}", e.message);
}

#[test]
fn every_type_and_rule_reports_exactly_what_is_wrong() {
    let spec = json!({"columns": [
        {"name": "id", "type": "integer", "required": true, "min": 1, "max": 1000},
        {"name": "especie", "type": "enum", "values": ["Canino", "Felino", "Equino"]},
        {"name": "peso", "type": "decimal", "min": 0, "max": 900, "decimal": ","},
        {"name": "castrado", "type": "boolean"},
        {"name": "nacimiento", "type": "date", "min": "2000-01-01"},
        {"name": "protocolo", "pattern": "HP [0-9]{2}/[0-9]{5}", "max_length": 20}
    ]});
    let csv = "id;especie;peso;castrado;nacimiento;protocolo\n\
               1;canino;12,5;sí;28/11/2020;HP 26/01234\n\
               2;FELINO;4;no;2019-03-01;\n\
               ;Perro;-1;quizás;31/02/2021;HP 26/1\n\
               2000;Equino;1.000,5;x;01/01/1999;HP 26/01235\n";
    let done = run(csv.as_bytes(), spec);
    let s = done.summary.unwrap();
    assert_eq!((s.total_processed, s.successful, s.failed), (4, 2, 2));
    assert_eq!(
        done.rows,
        vec![
            json!({"_row": 2, "id": 1, "especie": "Canino", "peso": 12.5, "castrado": true, "nacimiento": "2020-11-28", "protocolo": "HP 26/01234"}),
            json!({"_row": 3, "id": 2, "especie": "Felino", "peso": 4, "castrado": false, "nacimiento": "2019-03-01", "protocolo": null}),
        ]
    );
    let lines: Vec<String> = s.errors_preview.iter().map(|e| format!("{} {}", e.row, e.line())).collect();
    assert_eq!(
        lines,
        vec![
            "4 id: is required",
            "4 especie: \"Perro\" is not one of: Canino, Felino, Equino",
            "4 peso: must be at least 0",
            "4 castrado: \"quizás\" is not yes or no (write sí/no or true/false)",
            "4 nacimiento: \"31/02/2021\" is not a valid date (2021-02-31 does not exist)",
            "4 protocolo: \"HP 26/1\" does not have the expected form (^(?:HP [0-9]{2}/[0-9]{5})$)",
            "5 id: must be at most 1000",
            "5 peso: must be at most 900",
            "5 nacimiento: must be at least 2000-01-01",
        ]
    );
    // The report holds the rejected rows as they were, with their errors, ready to fix.
    let mut report = csv::Reader::from_reader(done.report.as_bytes());
    assert_eq!(
        report.headers().unwrap().iter().collect::<Vec<_>>(),
        ["row", "id", "especie", "peso", "castrado", "nacimiento", "protocolo", "errors"]
    );
    let rows: Vec<csv::StringRecord> = report.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].iter().take(7).collect::<Vec<_>>(), ["4", "", "Perro", "-1", "quizás", "31/02/2021", "HP 26/1"]);
    assert!(rows[0][7].starts_with("id: is required; especie: "), "{}", &rows[0][7]);
}

#[test]
fn duplicates_are_reported_or_the_last_one_wins() {
    let csv = "sku,stock\nA,1\nB,2\nA,3\nC,4\nB,5\n";
    let spec = json!({"columns": [{"name": "sku"}, {"name": "stock", "type": "integer"}], "key": ["sku"]});
    let done = run(csv.as_bytes(), spec.clone());
    let s = done.summary.unwrap();
    assert_eq!((s.successful, s.failed, s.replaced), (3, 2, 0));
    assert_eq!(s.errors_preview[0].line(), "the same sku as row 2");
    assert_eq!(s.errors_preview[0].row, 4);
    let mut last = spec;
    last["duplicates"] = json!("last");
    let done = run(csv.as_bytes(), last);
    let s = done.summary.unwrap();
    assert_eq!((s.total_processed, s.successful, s.failed, s.replaced), (5, 3, 0, 2));
    let stocks: Vec<i64> = done.rows.iter().map(|r| r["stock"].as_i64().unwrap()).collect();
    assert_eq!(stocks, [3, 4, 5]);
    // A unique column names the row that had the value first.
    let done = run(b"sku\nA\nB\nA\n", json!({"columns": [{"name": "sku", "unique": true}]}));
    assert_eq!(done.summary.unwrap().errors_preview[0].line(), "sku: \"A\" is already in row 2");
}

#[test]
fn missing_and_ambiguous_columns_stop_the_import_with_the_header_shown() {
    let e = run(b"codigo_barras,precio\n1,2\n", inventory()).summary.unwrap_err();
    assert_eq!(e.code, "missing_column");
    assert_eq!(
        e.message,
        "the required column \"sku\" is not in the header (looked for código); the header has: \"codigo_barras\", \"precio\""
    );
    let e = run(b"", inventory()).summary.unwrap_err();
    assert_eq!(e.code, "empty_file");
    let e = run(b"\n\n", inventory()).summary.unwrap_err();
    assert_eq!(e.code, "header_not_found");
}

#[test]
fn the_error_report_escapes_formulas_in_csv_and_xlsx() {
    let csv = "sku,stock\n=HYPERLINK(\"http://evil.example\";\"x\"),nope\n@SUM(1+1),x\n";
    let done = run(csv.as_bytes(), json!({"columns": [{"name": "sku"}, {"name": "stock", "type": "integer"}]}));
    let mut report = csv::Reader::from_reader(done.report.as_bytes());
    let rows: Vec<csv::StringRecord> = report.records().map(Result::unwrap).collect();
    assert_eq!(&rows[0][1], "'=HYPERLINK(\"http://evil.example\";\"x\")");
    assert_eq!(&rows[1][1], "'@SUM(1+1)");
    // The XLSX report has the same rows, as text cells (never formulas).
    let xlsx = done.xlsx.unwrap();
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(Cursor::new(xlsx)).unwrap();
    let range = book.worksheet_range("Errores").unwrap();
    assert_eq!(range.get_value((1, 1)).unwrap().to_string(), "'=HYPERLINK(\"http://evil.example\";\"x\")");
    assert_eq!(range.get_value((0, 3)).unwrap().to_string(), "errors");
    let formulas = book.worksheet_formula("Errores").unwrap();
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no formulas");
}

#[test]
fn formulas_in_a_workbook_give_their_saved_values_and_are_never_run() {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "total").unwrap();
    sheet.write_formula(1, 0, rust_xlsxwriter::Formula::new("=2+2").set_result("4")).unwrap();
    // A formula saved without a value stays without one.
    sheet.write_formula(2, 0, rust_xlsxwriter::Formula::new("=WEBSERVICE(\"http://x\")")).unwrap();
    let done = run(&book.save_to_buffer().unwrap(), json!({"columns": [{"name": "total", "type": "integer"}]}));
    assert_eq!(done.rows, vec![json!({"_row": 2, "total": 4}), json!({"_row": 3, "total": 0})]);
}

fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    for (name, data) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

#[test]
fn hostile_files_get_a_clear_error() {
    let spec = json!({"columns": [{"name": "sku"}]});
    let code = |bytes: &[u8]| run(bytes, spec.clone()).summary.unwrap_err();
    // A PDF renamed .xlsx is a PDF.
    let e = code(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n");
    assert_eq!(
        (e.code, e.message.as_str()),
        ("unsupported_file", "the file is a PDF document, not a spreadsheet: upload a CSV, XLSX, XLS or ODS file")
    );
    assert_eq!(code(b"\x89PNG\r\n\x1a\n\0\0").code, "unsupported_file");
    assert_eq!(code(b"sku\0\x01\x02\x03binary").code, "unsupported_file");
    assert_eq!(code(&zip_with(&[("word/document.xml", b"<w/>")])).code, "unsupported_file");
    // A zip bomb: 8 MiB of zeros in a few KiB.
    let zeros = vec![0u8; 8 << 20];
    let e = code(&zip_with(&[("xl/workbook.xml", b"<workbook/>"), ("xl/worksheets/sheet1.xml", &zeros)]));
    assert_eq!(e.code, "zip_bomb", "{}", e.message);
    // … and within the ratio but past the total.
    let limits = Limits { max_unzipped_bytes: 1 << 20, ..Limits::default() };
    let text: Vec<u8> = (0..2_000_000u32).flat_map(|i| (i.wrapping_mul(2_654_435_761)).to_le_bytes()).collect();
    let e = run_with(&zip_with(&[("xl/workbook.xml", b"<workbook/>"), ("big.bin", &text)]), spec.clone(), &limits)
        .summary
        .unwrap_err();
    assert_eq!(e.code, "zip_bomb");
    // A truncated workbook, and one whose parts are garbage.
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet().write_string(0, 0, "sku").unwrap();
    let xlsx = book.save_to_buffer().unwrap();
    assert_eq!(code(&xlsx[..xlsx.len() / 2]).code, "corrupt_file");
    let e = code(&zip_with(&[("xl/workbook.xml", b"<not xml"), ("[Content_Types].xml", b"??")]));
    assert_eq!(e.code, "corrupt_file", "{}", e.message);
    // A truncated XLS.
    let xls = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/inventario.xls")).unwrap();
    assert_eq!(code(&xls[..xls.len() / 2]).code, "corrupt_file");
}

#[test]
fn a_zip_that_lies_about_its_sizes_is_stopped_while_inflating() {
    // A sheet of 4 MiB whose directory says 2 KiB.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "sku").unwrap();
    for r in 1..60_000u32 {
        sheet.write_string(r, 0, format!("PET{r:06}-{}", r.wrapping_mul(2_654_435_761))).unwrap();
    }
    let mut bytes = book.save_to_buffer().unwrap();
    let name = b"xl/worksheets/sheet1.xml";
    let mut patched = 0;
    for sig_at in 0..bytes.len().saturating_sub(46) {
        let (sig, name_at, size_at) = match &bytes[sig_at..sig_at + 4] {
            b"PK\x03\x04" => (4, 30, 22),
            b"PK\x01\x02" => (4, 46, 24),
            _ => continue,
        };
        let _ = sig;
        if bytes[sig_at + name_at..].starts_with(name) {
            bytes[sig_at + size_at..sig_at + size_at + 4].copy_from_slice(&2048u32.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2);
    let e = run(&bytes, json!({"columns": [{"name": "sku"}]})).summary.unwrap_err();
    assert_eq!(e.code, "corrupt_file", "{}", e.message);
}

#[test]
fn wide_rows_and_huge_cells_are_bounded() {
    let spec = json!({"columns": [{"name": "sku"}, {"name": "nota"}]});
    // 20,000 columns in a CSV, and in an XLSX.
    let wide = format!("sku,nota,{}\n1,2\n", (0..20_000).map(|i| format!("c{i}")).collect::<Vec<_>>().join(","));
    let e = run(wide.as_bytes(), spec.clone()).summary.unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("too_many_columns", "row 1 has 20002 columns; at most 1000 are read"));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "sku").unwrap();
    sheet.write_string(0, 16_000, "far").unwrap();
    assert_eq!(run(&book.save_to_buffer().unwrap(), spec.clone()).summary.unwrap_err().code, "too_many_columns");
    // A 100 KiB cell is its row's error; the other rows import.
    let big = "x".repeat(100 * 1024);
    let csv = format!("sku,nota\nA,{big}\nB,ok\n");
    let done = run(csv.as_bytes(), spec.clone());
    let s = done.summary.unwrap();
    assert_eq!((s.successful, s.failed), (1, 1));
    assert_eq!(s.errors_preview[0].line(), "nota: the cell holds 100 KiB of text; at most 64 KiB");
    // A 5 MiB cell, or a quote left open, stops the import without reading it all in.
    let huge = format!("sku,nota\nA,{}\n", "y".repeat(5 << 20));
    let e = run(huge.as_bytes(), spec.clone()).summary.unwrap_err();
    assert_eq!(e.code, "row_too_long");
    let open_quote = format!("sku,nota\nA,\"never closed\nB,{}\n", "z,".repeat(1 << 20));
    let e = run(open_quote.as_bytes(), spec.clone()).summary.unwrap_err();
    assert_eq!(e.code, "row_too_long");
    assert!(e.message.contains("quote"), "{}", e.message);
    // A truncated CSV: the cut row is reported, not lost.
    let done = run(
        b"sku,nota\nA,1\nB,\"cut in",
        json!({"columns": [{"name": "sku"}, {"name": "nota", "required": true}, {"name": "n", "required": false}]}),
    );
    assert_eq!(done.summary.unwrap().total_processed, 2);
}

#[test]
fn cancelling_stops_the_import() {
    let csv: String = std::iter::once("sku\n".to_owned()).chain((0..5000).map(|i| format!("P{i}\n"))).collect();
    let schema = Schema::compile(&serde_json::from_value(json!({"columns": [{"name": "sku"}]})).unwrap()).unwrap();
    let (mut valid, mut report) = (Vec::new(), Vec::new());
    let mut seen = Vec::new();
    let e = import(
        Cursor::new(csv.as_bytes()),
        &schema,
        &Limits::default(),
        Outputs { valid: &mut valid, report_csv: &mut report, report_xlsx: None, tempdir: None },
        Control {
            every: 1000,
            progress: &mut |n| {
                seen.push(n);
                n < 2000
            },
        },
    )
    .unwrap_err();
    assert_eq!(e.code, "cancelled");
    assert_eq!(seen, [1000, 2000]);
}

/// Inputs the fuzzer (fuzz/) found that once took the importer down, each with the answer it
/// now gets.
#[test]
fn inputs_found_by_fuzzing_get_a_clear_error() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz/");
    for (file, code) in [
        // An XLS whose sector chain loops: calamine read it until memory ran out.
        ("xls-fat-loop.xls", "corrupt_file"),
        // An XLS whose RK record's last column is before its first: calamine's length
        // arithmetic underflowed (a panic with overflow checks on).
        ("xls-rk-overflow.xls", "corrupt_file"),
    ] {
        let bytes = std::fs::read(format!("{dir}{file}")).unwrap();
        let e = run(&bytes, json!({"columns": [{"name": "sku"}]})).summary.unwrap_err();
        assert_eq!(e.code, code, "{file}: {}", e.message);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Whatever the bytes, an import answers (rows or an error) and never panics.
    #[test]
    fn any_bytes_get_an_answer(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
        let _ = run(&bytes, json!({"columns": [{"name": "a"}, {"name": "b", "type": "decimal"}, {"name": "c", "type": "date"}]}));
    }

    #[test]
    fn any_text_csv_gets_an_answer(text in "[a-c0-9,;\"\\n\r\t .,/-]{0,400}") {
        let _ = run(text.as_bytes(), json!({"columns": [{"name": "a"}, {"name": "b", "type": "integer"}]}));
    }
}
