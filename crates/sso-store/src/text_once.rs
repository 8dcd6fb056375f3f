//! Statement text built once per backend for the statements every login runs.
//!
//! Building a statement with sea-query (the syntax tree, then its text) was about 6% of the
//! server's CPU per login under load (BENCHMARKS.md), for text that never changes: only the
//! values do. A [`TextOnce`] keeps the text of the first build and binds each later call's
//! values to it. The values are given in the order the text's placeholders take them; debug
//! builds (every test) build the statement again on every call and check that both the text
//! and the values are what sea-query would have produced.

use std::sync::OnceLock;

use sea_orm::{DbBackend, Statement, Value};

/// One statement's text, per backend.
pub(crate) struct TextOnce([OnceLock<String>; 2]);

impl TextOnce {
    pub(crate) const fn new() -> Self {
        Self([const { OnceLock::new() }; 2])
    }

    /// The statement `build` makes for `backend`, with `values` bound to the text of its first
    /// build. `values` must be the values `build` binds, in the same order.
    pub(crate) fn statement(
        &'static self,
        backend: DbBackend,
        build: impl Fn(DbBackend) -> Statement,
        values: Vec<Value>,
    ) -> Statement {
        let [postgres, sqlite] = &self.0;
        let slot = match backend {
            DbBackend::Postgres => postgres,
            _ => sqlite,
        };
        let text = slot.get_or_init(|| build(backend).sql);
        if cfg!(debug_assertions) {
            let built = build(backend);
            assert_eq!(built.sql, *text, "statement text changed between builds");
            assert_eq!(
                built.values.map(|v| v.0),
                Some(values.clone()),
                "values out of the order of the text's placeholders"
            );
        }
        Statement::from_sql_and_values(backend, text.as_str(), values)
    }
}
