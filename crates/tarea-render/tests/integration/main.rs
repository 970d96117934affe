//! tarea-render's integration tests, one binary (each test binary links Typst; one link instead of several).
mod bad_input;
mod common;
mod own_templates;
mod templates;
