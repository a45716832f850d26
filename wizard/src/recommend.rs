//! From a profile and the user's answers to a goal, ranked recommendations with their reasons, and the notes
//! the data calls for.

use pipewright_engine::Catalog;

use crate::profile::{ColumnKind, LabelProfile, MAX_WHOLE_NUMBER_CLASSES, Profile};
use crate::rules::{Accuracy, AlgorithmRule, Goal, Rules, TrainingTime};

/// Rows from which fast training comes first.
pub const MANY_ROWS: usize = 100_000;
/// Rows from which a method whose cost grows with the square of the rows is held back.
pub const ROWS_SQUARED_LIMIT: usize = 20_000;
/// Features (after encoding) from which methods that degrade with many features are held back.
pub const MANY_FEATURES: usize = 100;
/// Share of the rows a split gives to training.
pub const TRAIN_FRACTION: f64 = 0.7;

/// What matters most to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// The most accurate model, however long it trains.
    Accuracy,
    /// Accuracy and training time alike.
    #[default]
    Balanced,
    /// The shortest training time.
    Speed,
}

impl Focus {
    /// Every focus, in the order offered.
    pub const ALL: [Self; 3] = [Self::Accuracy, Self::Balanced, Self::Speed];

    /// The id used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accuracy => "accuracy",
            Self::Balanced => "balanced",
            Self::Speed => "speed",
        }
    }

    /// How it reads in the wizard.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Accuracy => "Accuracy first",
            Self::Balanced => "Balance accuracy and training time",
            Self::Speed => "Training time first",
        }
    }

    /// Weights of (accuracy, training speed) in the score.
    fn weights(self) -> (f64, f64) {
        match self {
            Self::Accuracy => (3.0, 1.0),
            Self::Balanced => (2.5, 2.0),
            Self::Speed => (1.0, 3.0),
        }
    }
}

impl std::str::FromStr for Focus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == text)
            .ok_or_else(|| format!("unknown priority \"{text}\" (accuracy, balanced or speed)"))
    }
}

/// The user's priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Priorities {
    /// Accuracy against training time.
    pub focus: Focus,
    /// Prefer models a person can follow.
    pub interpretable: bool,
}

/// One reason for or against an algorithm.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// The reason, in a sentence.
    pub text: String,
    /// Whether it speaks for the algorithm.
    pub favourable: bool,
}

/// A ranked algorithm.
#[derive(Debug, Clone)]
pub struct Recommendation {
    /// Its rule.
    pub rule: AlgorithmRule,
    /// The block's name.
    pub name: String,
    /// Higher is better.
    pub score: f64,
    /// Why it ranks where it does.
    pub reasons: Vec<Reason>,
    /// Why it cannot be used on this data, if it cannot (ranked last).
    pub excluded: Option<String>,
}

/// The goal the data suggests, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The goal.
    pub goal: Goal,
    /// Why.
    pub reason: String,
}

fn list(values: &[(String, usize)], most: usize) -> String {
    let mut names: Vec<&str> = values.iter().map(|(v, _)| v.as_str()).collect();
    names.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    });
    let more = names.len().saturating_sub(most);
    let shown = names.into_iter().take(most).collect::<Vec<_>>().join(", ");
    if more > 0 { format!("{shown}, …") } else { shown }
}

/// The goal a label (or its absence) suggests.
pub fn suggest_goal(profile: &Profile, label: Option<&LabelProfile>) -> Suggestion {
    let suggestion = |goal, reason: String| Suggestion { goal, reason };
    let Some(label) = label else {
        return suggestion(
            Goal::Structure,
            format!(
                "No label: discover structure in the {} rows. Choose \"Find unusual occurrences\" to flag odd rows instead.",
                profile.rows
            ),
        );
    };
    let name = &label.name;
    let whole = matches!(label.kind, ColumnKind::Numeric { integer: true });
    let numeric = matches!(label.kind, ColumnKind::Numeric { .. });
    match (&label.classes, label.distinct) {
        (_, 0 | 1) => suggestion(
            Goal::Structure,
            format!("{name} has a single value, so there is nothing to predict: discover structure instead."),
        ),
        (Some(classes), 2) => suggestion(
            Goal::TwoClass,
            format!("{name} has two values ({}): predict between two categories.", list(classes, 2)),
        ),
        (Some(classes), n) if !numeric || whole && n <= MAX_WHOLE_NUMBER_CLASSES => {
            let numbers =
                if numeric { ", taken as categories (choose \"Predict values\" if they are quantities)" } else { "" };
            suggestion(
                Goal::Multiclass,
                format!(
                    "{name} has {n} categories ({}){numbers}: predict between several categories.",
                    list(classes, 6)
                ),
            )
        }
        _ if numeric => suggestion(
            Goal::Values,
            format!("{name} holds {} with {} different values: predict values.", label.kind.describe(), label.distinct),
        ),
        _ => suggestion(
            Goal::Multiclass,
            format!("{name} has {} different texts: predict between several categories.", label.distinct),
        ),
    }
}

/// Rows an algorithm trains on for a goal.
pub fn training_rows(goal: Goal, rows: usize) -> usize {
    if goal == Goal::Structure { rows } else { (rows as f64 * TRAIN_FRACTION).ceil() as usize }
}

/// The algorithms of a goal, best first for this data and these priorities.
pub fn recommend(
    rules: &Rules,
    catalog: &Catalog,
    goal: Goal,
    profile: &Profile,
    label: Option<&LabelProfile>,
    priorities: Priorities,
) -> Vec<Recommendation> {
    let Some(goal_rule) = rules.goal(goal) else { return Vec::new() };
    let facts = Facts {
        goal,
        rows: profile.rows,
        training_rows: training_rows(goal, profile.rows),
        features: profile.encoded_features(label.map(|l| l.name.as_str())),
        label,
        priorities,
    };
    let mut ranked: Vec<Recommendation> = goal_rule
        .algorithms
        .iter()
        .map(|rule| {
            let name = catalog.get(&rule.kind).map_or_else(|| rule.kind.clone(), |e| e.spec.name.to_owned());
            let name = match rule.wraps.as_deref().and_then(|w| catalog.get(w)) {
                Some(wrapped) => format!("{name} ({})", wrapped.spec.name),
                None => name,
            };
            let (score, reasons, excluded) = facts.judge(rule);
            Recommendation { rule: rule.clone(), name, score, reasons, excluded }
        })
        .collect();
    // Stable: equal scores keep the cheat sheet's order.
    ranked.sort_by(|a, b| a.excluded.is_some().cmp(&b.excluded.is_some()).then(b.score.total_cmp(&a.score)));
    ranked
}

struct Facts<'a> {
    goal: Goal,
    rows: usize,
    training_rows: usize,
    features: usize,
    label: Option<&'a LabelProfile>,
    priorities: Priorities,
}

impl Facts<'_> {
    fn judge(&self, rule: &AlgorithmRule) -> (f64, Vec<Reason>, Option<String>) {
        let mut reasons = Vec::new();
        let mut say = |text: String, favourable: bool| reasons.push(Reason { text, favourable });
        let accuracy = match rule.accuracy {
            Accuracy::Excellent => 2.0,
            Accuracy::Good => 1.0,
            Accuracy::Fair => 0.0,
        };
        let speed = match rule.training_time {
            TrainingTime::Fast => 2.0,
            TrainingTime::Moderate => 1.0,
            TrainingTime::Slow => 0.0,
        };
        let (wa, ws) = self.priorities.focus.weights();
        let mut score = wa * accuracy + ws * speed;
        match rule.accuracy {
            Accuracy::Excellent => say("excellent accuracy".into(), true),
            Accuracy::Fair => say("fair accuracy: a baseline the others usually beat".into(), false),
            Accuracy::Good => {}
        }
        match rule.training_time {
            TrainingTime::Fast => say("fast training".into(), true),
            TrainingTime::Slow => say("long training".into(), false),
            TrainingTime::Moderate => {}
        }
        if self.priorities.interpretable {
            if rule.interpretable {
                score += 3.0;
                say("you can follow how it decides".into(), true);
            } else {
                score -= 1.0;
                say("hard to explain how it decides".into(), false);
            }
        }
        let rows = self.rows;
        if rows >= MANY_ROWS {
            score += speed;
            match rule.training_time {
                TrainingTime::Fast => say(format!("{rows} rows: fast training first"), true),
                TrainingTime::Slow => say(format!("{rows} rows make its long training longer"), false),
                TrainingTime::Moderate => {}
            }
        }
        if rule.rows_squared && self.training_rows >= ROWS_SQUARED_LIMIT {
            score -= 4.0;
            say(format!("its cost grows with the square of the rows: slow on {} rows", self.training_rows), false);
        }
        if let Some(needs) = rule.needs_rows
            && rows < needs
        {
            score -= 2.0;
            say(format!("only {rows} rows: little data for its many weights (it does well from about {needs})"), false);
        }
        if self.features > MANY_FEATURES {
            if rule.many_features {
                score += 1.0;
                say(format!("copes with {} features", self.features), true);
            } else {
                score -= 3.0;
                say(format!("degrades with {} features (more than {MANY_FEATURES})", self.features), false);
            }
        }
        if let Some(label) = self.label {
            if rule.imbalance && label.is_imbalanced() && self.goal.is_classification() {
                score += 2.5;
                say("less sensitive than most to the imbalance between classes".into(), true);
            }
            if rule.non_negative_label {
                if let Some((min, _)) = label.range.filter(|(min, _)| *min < 0.0) {
                    let why = format!("needs a label of 0 or more, and {} goes down to {min}", label.name);
                    return (score, reasons, Some(why));
                }
                if label.holds_counts() {
                    score += 3.0;
                    say(format!("{} holds counts (whole numbers from 0)", label.name), true);
                }
            }
        }
        if let Some(max) = rule.max_rows
            && self.training_rows > max
        {
            let why = format!("trains on at most {max} rows, and this data gives it {}", self.training_rows);
            return (score, reasons, Some(why));
        }
        (score, reasons, None)
    }
}

/// What the data calls for beyond the algorithm: cleaning, encoding, left-out columns, imbalance.
pub fn notes(profile: &Profile, label: Option<&LabelProfile>, goal: Goal) -> Vec<String> {
    let mut notes = Vec::new();
    let label_name = label.map(|l| l.name.as_str());
    if let Some(label) = label
        && goal.is_classification()
    {
        let shares = label.class_shares().unwrap_or_default();
        if label.is_imbalanced() {
            notes.push(format!(
                "The classes are imbalanced ({shares}). The split is stratified so both parts keep these proportions; judge the models by ROC AUC, F1 and the confusion matrix rather than accuracy, which a model reaches by always predicting the largest class."
            ));
        } else {
            notes.push(format!("Classes: {shares}. The split is stratified so both parts keep these proportions."));
        }
    }
    if let Some(label) = label
        && label.missing > 0
        && goal.needs_label()
    {
        notes.push(format!("{} rows have no {}: they are removed first.", label.missing, label.name));
    }
    let with_missing: Vec<&str> =
        profile.features(label_name).filter(|c| c.missing > 0).map(|c| c.name.as_str()).collect();
    if !with_missing.is_empty() {
        let cells: usize = profile.features(label_name).map(|c| c.missing).sum();
        notes.push(format!(
            "{cells} missing cells in {}: Clean Missing Data fills numbers with the column's mean and text with its most frequent value.",
            with_missing.join(", ")
        ));
    }
    let text = profile.text_features(label_name);
    if !text.is_empty() {
        let names: Vec<&str> = text.iter().map(|c| c.name.as_str()).collect();
        let indicators: usize = text.iter().map(|c| c.distinct).sum();
        notes.push(format!("Text columns {} become {indicators} indicator (0/1) columns.", names.join(", ")));
    }
    for column in profile.left_out(label_name) {
        notes.push(format!("{} is left out: {}.", column.name, column.leave_out.as_deref().unwrap_or_default()));
    }
    if goal == Goal::Unusual
        && let Some(label) = label
    {
        if label.distinct == 2 {
            notes.push(format!(
                "{} is not used to train; Evaluate Model compares the unusual rows with its rarer class.",
                label.name
            ));
        } else {
            notes.push(format!(
                "{} has {} values, not two, so it is left out rather than used to judge the unusual rows.",
                label.name, label.distinct
            ));
        }
    }
    notes
}
