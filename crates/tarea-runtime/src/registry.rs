//! Which kinds run in this process, and their handlers. Every other kind is served to external
//! workers through the pull API.
use std::collections::HashMap;
use std::sync::Arc;

use tarea_core::Handler;

/// Handlers by kind.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn Handler>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `kind`, replacing any earlier one.
    pub fn register(&mut self, kind: &str, handler: impl Handler) -> &mut Self {
        self.handlers.insert(kind.to_owned(), Arc::new(handler));
        self
    }

    /// Registers a handler shared with other kinds (or with the caller).
    pub fn register_shared(&mut self, kind: &str, handler: Arc<dyn Handler>) -> &mut Self {
        self.handlers.insert(kind.to_owned(), handler);
        self
    }

    /// The handler of `kind`.
    pub fn get(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        self.handlers.get(kind).cloned()
    }

    /// The built-in kinds, sorted.
    pub fn kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self.handlers.keys().cloned().collect();
        k.sort();
        k
    }
}
