//! Data blocks: where tables come from.

mod csv_reading;
mod enter_data;
mod export_data;
mod fast_csv;
mod file_kind;
mod import_data;
mod json_reading;
mod sample_dataset;
mod sqlite_reading;

pub use csv_reading::{CsvSettings, read_csv_bytes};
pub use enter_data::EnterDataManually;
pub use export_data::{EXPORTED_TO_ATTRIBUTE, ExportData, write_table};
pub use import_data::{ImportData, read_file};
pub use json_reading::read_json_bytes;
pub use sample_dataset::SampleDataset;
pub use sqlite_reading::read_sqlite;
