//! Deploy blocks and the model package they write and read: Export Model Package packs a trained model
//! with the fitted transforms in front of it into one `*.pwmodel` file; Batch Score scores a table with one.
//! The scoring server and `pipewright score` use the same [`Package`].

pub mod fields;
mod package;
pub mod profile;

blocks! {
    block export_package::ExportModelPackage,
    block batch_score::BatchScore,
}

pub use export_package::PACKAGE_PATH_ATTRIBUTE;
pub use fields::{Field, FieldType, Problem};
pub use package::{
    EXTENSION, FORMAT, Manifest, OutputField, Package, PackageError, PackageInfo, PackageMetric, ScoreError, Source,
    VERSION, rfc3339,
};
pub use profile::{ColumnProfile, Distribution, Profile};
