//! The algorithm cheat-sheet wizard: the cheat sheet's rules as data ([`Rules`], `assets/cheatsheet.json`),
//! a [`Profile`] of the user's dataset, the goal it suggests ([`suggest_goal`]), algorithms ranked for this
//! data and these priorities with their reasons ([`recommend`]), and the runnable starter workflow they
//! make ([`generate`]). The designer's wizard and `pipewright wizard` both drive it; it knows nothing of egui.

mod generate;
mod load;
mod profile;
mod recommend;
mod rules;

pub use generate::{Choice, DataSource, MAX_COMPARED, generate, sample_names};
pub use load::load;
pub use profile::{
    Candidate, ColumnKind, ColumnProfile, IMBALANCE_RATIO, LabelProfile, MAX_CATEGORIES, MAX_CLASSES, Profile,
};
pub use recommend::{
    Focus, MANY_FEATURES, MANY_ROWS, Priorities, Reason, Recommendation, Suggestion, notes, recommend, suggest_goal,
};
pub use rules::{Accuracy, AlgorithmRule, Goal, GoalRule, Rules, TrainingTime};

/// Why the wizard cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum WizardError {
    /// The rules file is unreadable.
    #[error("the cheat-sheet rules are unreadable: {0}")]
    Rules(String),
    /// The data could not be read.
    #[error("{0}")]
    Data(String),
    /// The label column does not exist.
    #[error("there is no column \"{name}\" (columns: {})", .columns.join(", "))]
    NoColumn {
        /// The name given.
        name: String,
        /// The columns there are.
        columns: Vec<String>,
    },
    /// The goal needs a label and none was chosen.
    #[error("\"{0}\" needs a label column: choose the column to predict")]
    NeedsLabel(Goal),
    /// The catalog has no blocks for the goal.
    #[error("nothing can be generated for \"{0}\" yet: Pipewright has no blocks for it")]
    Unavailable(Goal),
    /// No algorithm was chosen.
    #[error("choose at least one algorithm")]
    NoAlgorithm,
    /// More algorithms than Evaluate Model compares.
    #[error("{0} algorithms chosen: at most {MAX_COMPARED} can be compared side by side")]
    TooMany(usize),
    /// Every column is the label or left out.
    #[error("no column can be a feature: every column is the label or left out")]
    NoFeatures,
    /// "Try them all" on a goal without a label to rank learners by.
    #[error(
        "\"try them all\" ranks learners by how well they predict a label: it is for two-class, multiclass and value goals, not \"{0}\""
    )]
    TryAllNeedsPrediction(Goal),
}
