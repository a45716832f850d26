//! The Pipewright block catalog: one file per node kind under `data/`, `transform/`, `model/`,
//! `train/`, `evaluate/` and `deploy/`, each folder's list of its blocks in its `mod.rs`, the algorithms behind
//! the model blocks under `algo/`, and [`catalog`], every block of this build.

/// Declares a category's blocks: one line per block, `role module::Kind`, where the role says what the
/// block's declaration provides (`block`, `learner`, `transform`). It declares the module, exports the kind and
/// writes the category's `register`. Adding a block is its file plus its line here.
macro_rules! blocks {
    ($($role:ident $module:ident :: $kind:ident),* $(,)?) => {
        $(pub(crate) mod $module; pub use $module::$kind;)*

        /// Registers this category's blocks.
        pub(crate) fn register(registry: &mut crate::registry::Registry) {
            $(registry.$role($kind);)*
        }
    };
}

pub mod algo;
pub mod data;
pub mod deploy;
pub mod device;
pub mod docs;
pub mod evaluate;
pub mod frame;
pub mod model;
mod registry;
pub mod train;
pub mod transform;

pub(crate) use transform::chosen_columns as transform_columns;

use pipewright_engine::Catalog;

/// Every block of this build.
pub fn catalog() -> Catalog {
    registry::registry().catalog().clone()
}
