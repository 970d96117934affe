//! tarea-docs's integration tests, one binary (each test binary links Typst; one link instead of several).
mod cache;
mod common;
mod csv_export;
mod email;
mod http_request;
mod imports;
mod ocr;
mod pdf_render;
mod render_pool;
mod templates;
mod webhooks;
mod xlsx_build;
