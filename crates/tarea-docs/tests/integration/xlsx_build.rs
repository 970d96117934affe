//! `xlsx.build` against a real server: the users' estimate workbook (two sheets, merged group
//! rows, SUM subtotals, a percentage total), read back with calamine; a 20k-row sheet from a
//! JSON Lines artifact in constant memory; bad specs that fail the job for good.

use std::io::Cursor;

use crate::common::setup;
use calamine::{Data, Reader, Xlsx};
use serde_json::{Value, json};

fn workbook(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
    Xlsx::new(Cursor::new(bytes)).expect("a valid xlsx")
}

fn estimate() -> Value {
    json!({
        "filename": "presupuesto-obra-1234.xlsx",
        "styles": {
            "header": {"bold": true, "bg_color": "#1F4E78", "font_color": "#FFFFFF", "border": true, "align": "center"},
            "group": {"bold": true, "bg_color": "#DDEBF7", "border": true},
            "money": {"num_format": "#,##0.00 \"$\"", "border": true},
            "total": {"bold": true, "num_format": "#,##0.00 \"$\"", "border": true}
        },
        "sheets": [
            {
                "name": "Presupuesto",
                "columns": [
                    {"header": "Ítem", "width": 8}, {"header": "Descripción", "width": 40},
                    {"header": "Unidad"}, {"header": "Cantidad", "format": "decimal"},
                    {"header": "Precio unitario", "format": "money"}, {"header": "Subtotal", "format": "money", "width": 16}
                ],
                "rows": [
                    [],
                    ["1.1", "Excavación de zanjas", "m³", 12.5, 4800, {"formula": "=D3*E3"}],
                    ["1.2", "Hormigón de limpieza", "m³", 2, 52000, {"formula": "=D4*E4"}],
                    [],
                    ["2.1", "Muro de ladrillo común", "m²", 48, 9100.5, {"formula": "=D6*E6"}]
                ],
                "merges": [
                    {"range": "A2:F2", "value": "1. Movimiento de suelos", "style": "group"},
                    {"range": "A5:F5", "value": "2. Mampostería", "style": "group"}
                ],
                "formulas": [
                    {"cell": "E8", "formula": "=\"Subtotal\"", "style": "group"},
                    {"cell": "F8", "formula": "=SUM(F3:F6)", "style": "total"},
                    {"cell": "E9", "formula": "=\"IVA 21 %\"", "style": "group"},
                    {"cell": "F9", "formula": "=F8*0.21", "style": "total"},
                    {"cell": "F10", "formula": "=F8+F9", "style": "total"}
                ],
                "freeze": "A2",
                "autofilter": true
            },
            {
                "name": "Resumen",
                "columns": [{"header": "Rubro", "width": 30}, {"header": "Importe", "format": "money"}, {"header": "Incidencia", "format": "percent"}],
                "rows": [
                    ["Movimiento de suelos", {"formula": "=Presupuesto!F3+Presupuesto!F4"}, {"formula": "=B2/Presupuesto!F8"}],
                    ["Mampostería", {"formula": "=Presupuesto!F6"}, {"formula": "=B3/Presupuesto!F8"}],
                    [{"value": "Total", "style": "group"}, {"formula": "=SUM(B2:B3)", "style": "total"}, {"formula": "=SUM(C2:C3)"}]
                ]
            }
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_estimate_workbook_is_built_with_merges_formulas_and_two_sheets() {
    let (s, c) = setup().await;
    let job = c.finished(&s, "xlsx.build", estimate()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["sheets"], 2);
    let a = &job["artifacts"][0];
    assert_eq!(a["filename"], "presupuesto-obra-1234.xlsx");
    assert_eq!(a["content_type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    let mut wb = workbook(c.content(&s, &job).await);
    assert_eq!(wb.sheet_names(), vec!["Presupuesto".to_owned(), "Resumen".to_owned()]);
    let sheet = wb.worksheet_range("Presupuesto").unwrap();
    assert_eq!(sheet.get_value((0, 1)), Some(&Data::String("Descripción".into())));
    assert_eq!(sheet.get_value((1, 0)), Some(&Data::String("1. Movimiento de suelos".into())));
    assert_eq!(sheet.get_value((2, 3)), Some(&Data::Float(12.5)));
    assert_eq!(sheet.get_value((5, 1)), Some(&Data::String("Muro de ladrillo común".into())));
    let formulas = wb.worksheet_formula("Presupuesto").unwrap();
    assert_eq!(formulas.get_value((7, 5)), Some(&"SUM(F3:F6)".to_owned()));
    assert_eq!(formulas.get_value((2, 5)), Some(&"D3*E3".to_owned()));
    let merged = wb.merge_cells_by_sheet_name("Presupuesto").unwrap();
    assert_eq!(merged.len(), 2, "{merged:?}");
    let summary = wb.worksheet_formula("Resumen").unwrap();
    assert_eq!(summary.get_value((3, 1)), Some(&"SUM(B2:B3)".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_sheet_from_an_artifact_is_written_in_constant_memory() {
    let (s, c) = setup().await;
    let mut lines = String::new();
    for i in 0..20_000 {
        lines.push_str(
            &json!({"producto": format!("Alimento balanceado {i}"), "stock": i % 37, "precio": 1500.25}).to_string(),
        );
        lines.push('\n');
    }
    let rows = c.rows_artifact(&s, lines).await;
    let done = c
        .finished(
            &s,
            "xlsx.build",
            json!({"sheets": [{"name": "Stock", "rows_artifact": rows, "autofilter": true, "freeze": "A2",
                "columns": [{"header": "Producto", "field": "producto"}, {"header": "Stock", "field": "stock", "format": "integer"},
                            {"header": "Precio", "field": "precio", "format": "money"}]}]}),
        )
        .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"]["rows"], 20_000);
    let mut wb = workbook(c.content(&s, &done).await);
    let sheet = wb.worksheet_range("Stock").unwrap();
    assert_eq!(sheet.height(), 20_001);
    assert_eq!(sheet.get_value((20_000, 0)), Some(&Data::String("Alimento balanceado 19999".into())));
    assert_eq!(sheet.get_value((20_000, 2)), Some(&Data::Float(1500.25)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_specs_fail_the_job_for_good_naming_what_is_wrong() {
    let (s, c) = setup().await;
    let one = |sheet: Value| json!({"sheets": [sheet]});
    let cols = json!([{"header": "A"}]);
    let cases = [
        (json!({"sheets": []}), "sheets holds 1 to"),
        (one(json!({"name": "x", "columns": []})), "columns holds 1 to"),
        (one(json!({"name": "Hoja[1]", "columns": cols, "rows": []})), "sheets[0].name"),
        (one(json!({"name": "x", "columns": cols, "rows": [[1, 2]]})), "sheets[0].rows[0] has 2 cells"),
        (one(json!({"name": "x", "columns": cols, "merges": [{"range": "F1:A1"}]})), "sheets[0].merges[0].range"),
        (
            one(json!({"name": "x", "columns": cols, "formulas": [{"cell": "ZZZZ1", "formula": "=1"}]})),
            "sheets[0].formulas[0].cell",
        ),
        (
            one(json!({"name": "x", "columns": cols, "rows": [[{"value": 1, "style": "nada"}]]})),
            "no style named \"nada\"",
        ),
        (
            json!({"sheets": [{"name": "x", "columns": cols}], "styles": {"s": {"bg_color": "azul"}}}),
            "styles.s.bg_color",
        ),
        (one(json!({"name": "x", "columns": cols, "rows": [[[1]]]})), "a cell cannot be an array"),
        (one(json!({"name": "x", "columns": cols, "rows_artifact": "nope"})), "not an artifact id"),
        (json!({"sheets": [{"name": "x", "columns": cols}], "extra": 1}), "unknown field"),
    ];
    for (payload, says) in cases {
        let job = c.finished(&s, "xlsx.build", payload.clone()).await;
        assert_eq!(job["state"], "dead", "{payload}: {job}");
        let message = job["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{payload}: {message}");
    }
}
