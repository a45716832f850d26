//! Deploy blocks and the model package they write and read: Export Model Package packs a trained model
//! with the fitted transforms in front of it into one `*.pwmodel` file; Batch Score scores a table with one.
//! The scoring server and `pipewright score` use the same [`Package`].

mod batch_score;
mod export_package;
pub mod fields;
mod package;

pub use batch_score::BatchScore;
pub use export_package::{ExportModelPackage, PACKAGE_PATH_ATTRIBUTE};
pub use fields::{Field, FieldType, Problem};
pub use package::{
    EXTENSION, FORMAT, Manifest, OutputField, Package, PackageError, PackageInfo, PackageMetric, ScoreError, Source,
    VERSION, rfc3339,
};
