//! The built-in document kinds, one module each. The binary registers them with
//! [`register`]; each reads its payload (part of the HTTP contract), reports progress in named
//! steps, honours cancellation, and saves what it makes as artifacts of its job.
#![deny(missing_docs)]

mod csv_export;
mod xlsx_build;

pub use csv_export::CsvExport;
pub use xlsx_build::XlsxBuild;

/// Adds the document kinds to a registry.
pub fn register(registry: &mut tarea_runtime::Registry) {
    registry.register("csv.export", CsvExport).register("xlsx.build", XlsxBuild);
}
