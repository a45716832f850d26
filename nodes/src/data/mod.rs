//! Data blocks: where tables come from.

mod csv_reading;
pub mod dates;
mod excel_reading;
mod fast_csv;
mod file_kind;
mod json_reading;
mod postgres;
mod sqlite_reading;
mod stream_source;

blocks! {
    block sample_dataset::SampleDataset,
    block import_data::ImportData,
    block enter_data::EnterDataManually,
    block export_data::ExportData,
}

pub use csv_reading::{CsvSettings, read_csv_bytes};
pub use excel_reading::read_workbook;
pub use export_data::{EXPORTED_TO_ATTRIBUTE, write_table};
pub use import_data::read_file;
pub use json_reading::read_json_bytes;
pub use sqlite_reading::read_sqlite;
