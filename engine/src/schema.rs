//! Column schemas known before anything runs, for checking column parameters and offering column
//! names in the designer.

use serde::{Deserialize, Serialize};

/// What a column holds, as far as blocks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Integers or floats.
    Numeric,
    /// True/false.
    Bool,
    /// Strings or categories.
    Text,
    /// Dates, or dates with times.
    Date,
    /// Lists and anything else.
    Other,
}

impl ColumnType {
    /// The column type of a Polars data type.
    pub fn of(dtype: &polars::prelude::DataType) -> Self {
        use polars::prelude::DataType as D;
        if dtype.is_primitive_numeric() {
            Self::Numeric
        } else {
            match dtype {
                D::Boolean => Self::Bool,
                D::String | D::Categorical(..) | D::Enum(..) => Self::Text,
                D::Date | D::Datetime(..) => Self::Date,
                _ => Self::Other,
            }
        }
    }
}

/// The role a column plays for learners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An input to models (the default).
    #[default]
    Feature,
    /// The value to predict.
    Label,
    /// Written by Score Model.
    Score,
    /// Kept in the table but not used by models.
    Ignored,
}

/// One column of a schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// What it holds.
    pub ty: ColumnType,
    /// Its role.
    pub role: Role,
}

/// The columns of a table, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schema {
    /// Columns in table order.
    pub columns: Vec<ColumnInfo>,
}

impl Schema {
    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Column names in order.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }
}
