//! Data blocks: where tables come from.

mod csv_reading;
mod import_data;
mod sample_dataset;

pub use csv_reading::{CsvSettings, read_csv_bytes};
pub use import_data::ImportData;
pub use sample_dataset::SampleDataset;
