//! The cheat sheet as data (`assets/cheatsheet.json`): goals → families → algorithms, each algorithm a
//! block of the catalog with its one-line hint and ratings.

use serde::Deserialize;

use pipewright_engine::{Catalog, Category, ParamKind};

use crate::WizardError;

/// The bundled rules.
const BUNDLED: &str = include_str!("../../assets/cheatsheet.json");

/// What the user wants to do: the root question of the cheat sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Predict between two categories.
    TwoClass,
    /// Predict between several categories.
    Multiclass,
    /// Predict values.
    Values,
    /// Find unusual occurrences.
    Unusual,
    /// Discover structure.
    Structure,
    /// Generate recommendations (no blocks yet).
    Recommend,
    /// Extract information from text (no blocks yet).
    Text,
    /// Classify images (no blocks yet).
    Images,
}

impl Goal {
    /// Every goal, in the order the wizard offers them.
    pub const ALL: [Self; 8] = [
        Self::TwoClass,
        Self::Multiclass,
        Self::Values,
        Self::Unusual,
        Self::Structure,
        Self::Recommend,
        Self::Text,
        Self::Images,
    ];

    /// The id used in the rules file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TwoClass => "two_class",
            Self::Multiclass => "multiclass",
            Self::Values => "values",
            Self::Unusual => "unusual",
            Self::Structure => "structure",
            Self::Recommend => "recommend",
            Self::Text => "text",
            Self::Images => "images",
        }
    }

    /// Whether it predicts a label's categories.
    pub fn is_classification(self) -> bool {
        matches!(self, Self::TwoClass | Self::Multiclass)
    }

    /// Whether it needs a label column.
    pub fn needs_label(self) -> bool {
        matches!(self, Self::TwoClass | Self::Multiclass | Self::Values)
    }
}

impl std::fmt::Display for Goal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Goal {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|g| g.as_str() == text).ok_or_else(|| {
            let ids: Vec<&str> = Self::ALL.iter().map(|g| g.as_str()).collect();
            format!("unknown goal \"{text}\" (goals: auto, {})", ids.join(", "))
        })
    }
}

/// How accurate a method usually is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accuracy {
    /// Fair: a baseline, usually beaten by the others of its family.
    Fair,
    /// Good.
    Good,
    /// Excellent.
    Excellent,
}

impl Accuracy {
    /// The rating as the rules file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fair => "fair",
            Self::Good => "good",
            Self::Excellent => "excellent",
        }
    }
}

/// How long a method takes to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainingTime {
    /// Seconds on hundreds of thousands of rows.
    Fast,
    /// Several passes over the data.
    Moderate,
    /// Many passes, or cost growing faster than the rows.
    Slow,
}

impl TrainingTime {
    /// The rating as the rules file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Moderate => "moderate",
            Self::Slow => "slow",
        }
    }
}

/// One algorithm of a family: a block of the catalog with its hint and ratings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools, reason = "the cheat sheet's yes/no ratings, each a field of the rules file")]
pub struct AlgorithmRule {
    /// The block's kind id.
    pub kind: String,
    /// For blocks that wrap another learner (One-vs-All, One-vs-One): the learner they wrap.
    #[serde(default)]
    pub wraps: Option<String>,
    /// When to pick it, in one line.
    pub hint: String,
    /// Usual accuracy.
    pub accuracy: Accuracy,
    /// Usual training time.
    pub training_time: TrainingTime,
    /// Whether it draws linear boundaries (or fits a linear function).
    pub linear: bool,
    /// Settings of the block (and of the learner it wraps), seeds not counted: more means more tuning.
    pub parameters: usize,
    /// Whether it copes with more than 100 features.
    pub many_features: bool,
    /// Whether its features should be normalized first.
    pub needs_scaling: bool,
    /// Whether a person can follow how it decides.
    pub interpretable: bool,
    /// Whether its cost grows with the square of the rows.
    #[serde(default)]
    pub rows_squared: bool,
    /// The most training rows it accepts.
    #[serde(default)]
    pub max_rows: Option<usize>,
    /// Rows it needs to do well.
    #[serde(default)]
    pub needs_rows: Option<usize>,
    /// Whether the label must be 0 or more.
    #[serde(default)]
    pub non_negative_label: bool,
    /// Whether it copes better than most with imbalanced classes.
    #[serde(default)]
    pub imbalance: bool,
}

/// One answer to "what do you want to do?" and the family of methods that does it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalRule {
    /// The goal.
    pub id: Goal,
    /// The answer as the wizard offers it.
    pub question: String,
    /// The family of methods.
    pub family: String,
    /// The family's question, such as "Is this A or B?".
    pub asks: String,
    /// Why nothing can be generated for it, when the catalog has no blocks for it.
    #[serde(default)]
    pub unavailable: Option<String>,
    /// Its algorithms, in the cheat sheet's order.
    pub algorithms: Vec<AlgorithmRule>,
}

/// The whole cheat sheet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Always `pipewright.cheatsheet`.
    pub format: String,
    /// Layout version.
    pub version: u32,
    /// What the file is, for a reader of the file.
    #[serde(default)]
    pub about: String,
    /// The goals, in the order offered.
    pub goals: Vec<GoalRule>,
}

impl Rules {
    /// The rules bundled with this build.
    pub fn bundled() -> Result<Self, WizardError> {
        Self::from_json(BUNDLED)
    }

    /// Rules from the text of a rules file.
    pub fn from_json(text: &str) -> Result<Self, WizardError> {
        let rules: Self = serde_json::from_str(text).map_err(|e| WizardError::Rules(e.to_string()))?;
        if rules.format != "pipewright.cheatsheet" {
            return Err(WizardError::Rules(format!("format is \"{}\", not pipewright.cheatsheet", rules.format)));
        }
        Ok(rules)
    }

    /// The rule of a goal.
    pub fn goal(&self, goal: Goal) -> Option<&GoalRule> {
        self.goals.iter().find(|g| g.id == goal)
    }

    /// Problems between the rules and a catalog: kinds that do not exist or are no learners, parameter counts
    /// that disagree with the blocks, and learners of the catalog that no rule recommends.
    pub fn check(&self, catalog: &Catalog) -> Vec<String> {
        let mut problems = Vec::new();
        let settings = |kind: &str| {
            catalog.get(kind).map(|e| e.spec.params.iter().filter(|p| !matches!(p.kind, ParamKind::Seed)).count())
        };
        for goal in &self.goals {
            if goal.algorithms.is_empty() && goal.unavailable.is_none() {
                problems.push(format!("goal {} has no algorithms and does not say why", goal.id));
            }
            for rule in &goal.algorithms {
                for kind in std::iter::once(&rule.kind).chain(&rule.wraps) {
                    match catalog.get(kind) {
                        None => problems.push(format!("goal {}: no block \"{kind}\" in the catalog", goal.id)),
                        Some(e) if e.spec.category != Category::Model => {
                            problems.push(format!("goal {}: \"{kind}\" is not a learner block", goal.id));
                        }
                        Some(_) => {}
                    }
                }
                let counted = settings(&rule.kind).zip(rule.wraps.as_deref().map_or(Some(0), settings));
                if let Some((own, wrapped)) = counted
                    && own + wrapped != rule.parameters
                {
                    problems.push(format!(
                        "goal {}: {} says {} parameters, the block has {}",
                        goal.id,
                        rule.kind,
                        rule.parameters,
                        own + wrapped
                    ));
                }
            }
        }
        for entry in catalog.entries().filter(|e| e.spec.category == Category::Model) {
            let id = entry.spec.id;
            if !self.goals.iter().flat_map(|g| &g.algorithms).any(|r| r.kind == id) {
                problems.push(format!("the learner {id} is in no rule"));
            }
        }
        problems
    }
}
