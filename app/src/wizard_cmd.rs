//! `pipewright wizard`: the cheat-sheet wizard without the designer — profile a dataset, suggest the goal,
//! rank the algorithms with their reasons, and write the starter workflow.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use pipewright_engine::Workflow;
use pipewright_wizard::{
    AlgorithmRule, Choice, DataSource, Focus, Goal, Priorities, Profile, Recommendation, Rules, generate, load, notes,
    recommend, suggest_goal,
};

/// Arguments of `pipewright wizard`.
#[derive(Args)]
#[allow(clippy::doc_markdown, reason = "the field docs are the command's help text, read without Markdown")]
#[allow(clippy::struct_excessive_bools, reason = "command-line flags, each read on its own")]
pub struct WizardArgs {
    /// The data: a CSV, Parquet, JSON or SQLite file, or `sample:NAME` for a bundled dataset (iris, titanic, …).
    #[arg(long)]
    data: String,
    /// The column to predict. Left out: the dataset's marked label, if it has one; else no label (structure or
    /// unusual points).
    #[arg(long)]
    label: Option<String>,
    /// What to do: auto (from the label), two_class, multiclass, values, unusual or structure.
    #[arg(long, default_value = "auto")]
    goal: String,
    /// accuracy, balanced or speed (training time first).
    #[arg(long, default_value = "balanced")]
    priority: Focus,
    /// Prefer models a person can follow.
    #[arg(long)]
    interpretable: bool,
    /// Compare the top N algorithms side by side (1 to 3).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    compare: u8,
    /// Use these blocks (kind ids, such as model.decision_forest) instead of the top-ranked ones.
    #[arg(long = "algorithm")]
    algorithms: Vec<String>,
    /// Try them all: Train Best Model tries every learner of the goal, each with a search of its settings,
    /// cross-validated; the winner is scored, evaluated and packaged.
    #[arg(long, conflicts_with_all = ["algorithms", "compare"])]
    try_all: bool,
    /// The workflow file to write.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

/// `path` as seen from the folder `from` (both absolute), or `path` itself when they share no root.
fn relative_to(path: &Path, from: &Path) -> PathBuf {
    let path: Vec<Component<'_>> = path.components().collect();
    let from: Vec<Component<'_>> = from.components().collect();
    let common = path.iter().zip(&from).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return path.iter().collect();
    }
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    out.extend(&path[common..]);
    out
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| std::env::current_dir().unwrap_or_default().join(path))
}

/// Runs the wizard headless.
pub fn wizard(args: &WizardArgs) -> ExitCode {
    match wizard_inner(args) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

#[allow(clippy::too_many_lines, reason = "the wizard's steps, in the order a user reads them")]
fn wizard_inner(args: &WizardArgs) -> Result<ExitCode, String> {
    if args.output.exists() && !args.force {
        return Err(format!("{} exists: choose another file or pass --force to replace it", args.output.display()));
    }
    let catalog = pipewright_nodes::catalog();
    let rules = Rules::bundled().map_err(|e| e.to_string())?;
    let out_dir = args.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(out_dir).map_err(|e| format!("cannot create the folder {}: {e}", out_dir.display()))?;
    let out_dir = absolute(out_dir);
    // The data is read as the workflow will read it: relative to the workflow file's folder.
    let source = if let Some(name) = args.data.strip_prefix("sample:") {
        DataSource::Sample(name.to_owned())
    } else {
        let file = Path::new(&args.data);
        if !file.is_file() {
            return Err(format!("there is no file {}", file.display()));
        }
        let written = relative_to(&absolute(file), &out_dir);
        DataSource::File(written.to_string_lossy().replace('\\', "/"))
    };
    let table = load(&source, &out_dir, &catalog).map_err(|e| format!("cannot read {}: {e}", args.data))?;
    let profile = Profile::of(&table);
    let label_name = args.label.clone().or_else(|| profile.marked_label.clone());
    let label = match &label_name {
        Some(name) => Some(profile.label(name).ok_or_else(|| {
            let names: Vec<&str> = profile.columns.iter().map(|c| c.name.as_str()).collect();
            format!("there is no column \"{name}\" in {} (columns: {})", args.data, names.join(", "))
        })?),
        None => None,
    };
    let suggestion = suggest_goal(&profile, label.as_ref());
    let goal = match args.goal.as_str() {
        "auto" => suggestion.goal,
        other => other.parse::<Goal>()?,
    };
    let goal_rule = rules.goal(goal).ok_or_else(|| format!("no rules for {goal}"))?;
    if let Some(why) = &goal_rule.unavailable {
        return Err(format!("\"{}\": {why}", goal_rule.question));
    }
    let priorities = Priorities { focus: args.priority, interpretable: args.interpretable };
    let ranked = recommend(&rules, &catalog, goal, &profile, label.as_ref(), priorities);
    let chosen: Vec<&AlgorithmRule> = if args.algorithms.is_empty() {
        ranked.iter().filter(|r| r.excluded.is_none()).take(usize::from(args.compare)).map(|r| &r.rule).collect()
    } else {
        args.algorithms
            .iter()
            .map(|kind| {
                let found = ranked.iter().find(|r| &r.rule.kind == kind);
                match found {
                    Some(r) if r.excluded.is_none() => Ok(&r.rule),
                    Some(r) => {
                        Err(format!("{kind} cannot be used here: {}", r.excluded.as_deref().unwrap_or_default()))
                    }
                    None => Err(format!(
                        "{kind} is not among the algorithms for \"{}\" ({})",
                        goal_rule.question,
                        ranked.iter().map(|r| r.rule.kind.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                }
            })
            .collect::<Result<_, _>>()?
    };
    let chosen = if args.try_all { Vec::new() } else { chosen };
    let choice = Choice {
        data: &source,
        label: label_name.as_deref(),
        goal: goal_rule,
        algorithms: &chosen,
        try_all: args.try_all,
    };
    let workflow = generate(&profile, &choice).map_err(|e| e.to_string())?;
    workflow.save(&args.output).map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    let notes = notes(&profile, label.as_ref(), goal);
    if args.json {
        let json = json!({
            "profile": {
                "rows": profile.rows,
                "columns": profile.columns.iter().map(|c| json!({
                    "name": c.name, "kind": c.kind.describe(), "missing": c.missing, "distinct": c.distinct,
                    "left_out": c.leave_out,
                })).collect::<Vec<_>>(),
                "label_candidates": profile.label_candidates().iter()
                    .map(|c| json!({"name": c.name, "reason": c.reason})).collect::<Vec<_>>(),
            },
            "label": label.as_ref().map(|l| json!({"name": l.name, "summary": l.summary(), "imbalanced": l.is_imbalanced()})),
            "goal": goal.as_str(),
            "suggested_goal": {"goal": suggestion.goal.as_str(), "reason": suggestion.reason},
            "recommendations": ranked.iter().map(recommendation_json).collect::<Vec<_>>(),
            "notes": notes,
            "workflow": args.output,
            "algorithms": chosen.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    print_text(args, &profile, label.as_ref(), &suggestion, goal_rule, &ranked, &notes, &workflow, &chosen);
    Ok(ExitCode::SUCCESS)
}

fn recommendation_json(r: &Recommendation) -> serde_json::Value {
    json!({
        "kind": r.rule.kind, "name": r.name, "hint": r.rule.hint, "score": r.score,
        "reasons": r.reasons.iter().map(|x| json!({"text": x.text, "favourable": x.favourable})).collect::<Vec<_>>(),
        "excluded": r.excluded,
    })
}

#[allow(clippy::too_many_arguments, reason = "one printout of everything the wizard worked out")]
fn print_text(
    args: &WizardArgs,
    profile: &Profile,
    label: Option<&pipewright_wizard::LabelProfile>,
    suggestion: &pipewright_wizard::Suggestion,
    goal_rule: &pipewright_wizard::GoalRule,
    ranked: &[Recommendation],
    notes: &[String],
    workflow: &Workflow,
    chosen: &[&AlgorithmRule],
) {
    let label_name = label.map(|l| l.name.as_str());
    println!("Data: {}", args.data);
    for line in profile.summary(label_name) {
        println!("  {line}");
    }
    let candidates: Vec<String> =
        profile.label_candidates().iter().take(4).map(|c| format!("{} ({})", c.name, c.reason)).collect();
    if !candidates.is_empty() {
        println!("  label candidates: {}", candidates.join("; "));
    }
    match label {
        Some(label) => println!("Label: {}", label.summary()),
        None => println!("Label: none (pass --label COLUMN to predict one)"),
    }
    let how = if args.goal == "auto" { format!(" — {}", suggestion.reason) } else { String::new() };
    println!("Goal: {} ({}: \"{}\"){how}", goal_rule.question, goal_rule.family, goal_rule.asks);
    println!(
        "Recommendations ({}{}):",
        args.priority.describe().to_lowercase(),
        if args.interpretable { ", interpretable preferred" } else { "" }
    );
    for (i, r) in ranked.iter().enumerate() {
        let picked = if chosen.iter().any(|c| c.kind == r.rule.kind) { "▶" } else { " " };
        println!("{picked} {}. {} ({}) — {}", i + 1, r.name, r.rule.kind, r.rule.hint);
        for reason in &r.reasons {
            println!("       {} {}", if reason.favourable { "+" } else { "−" }, reason.text);
        }
        if let Some(why) = &r.excluded {
            println!("       ✗ cannot be used: {why}");
        }
    }
    if !notes.is_empty() {
        println!("Notes:");
        for note in notes {
            println!("  - {note}");
        }
    }
    println!(
        "Wrote {} ({} blocks, {}). Run it: pipewright run {}",
        args.output.display(),
        workflow.nodes.len(),
        if args.try_all {
            "every learner tried by train.train_best_model".to_owned()
        } else {
            chosen.iter().map(|c| c.kind.as_str()).collect::<Vec<_>>().join(", ")
        },
        args.output.display()
    );
}
