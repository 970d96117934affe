//! The one `World` every render compiles in: a template's main file, its assets and the job's
//! data behind fixed virtual paths.
//!
//! Typst interns every path it sees in a process-wide table that is never freed and holds
//! 65,535 ids, so nothing here names a path after a job: the data is always `/data.json`, the
//! template always `/main.typ`, and only a template's own asset names add entries (bounded by
//! the template limits; a renderer process is also replaced after a fixed number of renders).
use std::collections::HashMap;
use std::sync::LazyLock;

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

use crate::fonts::fonts;

/// The standard library, built once per process.
static LIBRARY: LazyLock<LazyHash<Library>> = LazyLock::new(|| LazyHash::new(Library::builder().build()));

/// The id of a path in the project root.
pub fn file_id(path: &str) -> Option<FileId> {
    let vpath = VirtualPath::new(path).ok()?;
    Some(FileId::new(RootedPath::new(VirtualRoot::Project, vpath)))
}

/// `/main.typ`: the template.
pub static MAIN: LazyLock<FileId> = LazyLock::new(|| file_id("/main.typ").expect("a valid path"));
/// `/data.json`: the job's data.
pub static DATA: LazyLock<FileId> = LazyLock::new(|| file_id("/data.json").expect("a valid path"));

/// A template ready to compile: parsed sources and raw assets by id, and the fonts it brings.
pub struct Loaded {
    pub main: Source,
    pub sources: HashMap<FileId, Source>,
    pub files: HashMap<FileId, Bytes>,
    /// Font files among its assets, after the bundled fonts, and the book of both; `None`
    /// when it brings none (the bundled book is used).
    pub fonts: Option<(Vec<Font>, LazyHash<FontBook>)>,
}

impl Loaded {
    /// Adds the fonts of a template's font assets to the bundled ones.
    pub fn with_fonts(mut self, own: Vec<Font>) -> Loaded {
        if own.is_empty() {
            return self;
        }
        let mut book = (*fonts().book).clone();
        for font in &own {
            book.push(font.info().clone());
        }
        self.fonts = Some((own, LazyHash::new(book)));
        self
    }
}

/// One compile's view of the world.
pub struct RenderWorld<'a> {
    pub template: &'a Loaded,
    pub data: Bytes,
    pub today: Datetime,
}

impl World for RenderWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        match &self.template.fonts {
            Some((_, book)) => book,
            None => &fonts().book,
        }
    }

    fn main(&self) -> FileId {
        *MAIN
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == *MAIN {
            return Ok(self.template.main.clone());
        }
        match self.template.sources.get(&id) {
            Some(source) => Ok(source.clone()),
            None if self.template.files.contains_key(&id) || id == *DATA => Err(FileError::NotSource),
            None => Err(not_found(id)),
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == *DATA {
            return Ok(self.data.clone());
        }
        if let Some(bytes) = self.template.files.get(&id) {
            return Ok(bytes.clone());
        }
        match self.template.sources.get(&id) {
            Some(source) => Ok(Bytes::from_string(source.text().to_string())),
            None => Err(not_found(id)),
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        let bundled = &fonts().fonts;
        match (bundled.get(index), &self.template.fonts) {
            (Some(font), _) => Some(font.clone()),
            (None, Some((own, _))) => own.get(index - bundled.len()).cloned(),
            (None, None) => None,
        }
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        Some(self.today)
    }
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(std::path::PathBuf::from(id.get().vpath().get_with_slash()))
}
