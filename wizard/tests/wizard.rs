//! The cheat-sheet wizard against the real catalog: the rules name only its learners and cover all of them,
//! the profile reads the data, and every generated workflow validates and runs on bundled data.

use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::{Column, DataFrame};

use pipewright_engine::{Catalog, NodeStatus, RunOptions, RunReport, Table, Task, Value, Workflow, validate_in};
use pipewright_wizard::{
    AlgorithmRule, Choice, DataSource, Focus, Goal, Priorities, Profile, Recommendation, Rules, generate, load, notes,
    recommend, suggest_goal,
};

fn catalog() -> Catalog {
    pipewright_nodes::catalog()
}

fn run(workflow: &Workflow, base_dir: &Path) -> RunReport {
    let analysis = validate_in(workflow, &catalog(), Some(base_dir));
    assert!(analysis.problems.is_empty(), "{}: {:?}", workflow.name, analysis.problems);
    let options = RunOptions { base_dir: base_dir.to_path_buf(), ..RunOptions::default() };
    let report = pipewright_engine::run(workflow, &catalog(), &options, &|_| {}).expect("runs");
    for node in &report.nodes {
        assert!(node.status.is_success(), "{}: {} {:?}", workflow.name, node.node, node.status);
    }
    report
}

fn metrics(report: &RunReport) -> Vec<(String, String, f64)> {
    let outcome = report.node("evaluate").expect("evaluate ran");
    let Some(Value::Report(r)) = outcome.outputs.first() else { panic!("no report") };
    r.evaluations.iter().flat_map(|e| e.metrics.iter().map(|m| (e.source.clone(), m.name.clone(), m.value))).collect()
}

fn sample(name: &str) -> (DataSource, Profile) {
    let source = DataSource::Sample(name.to_owned());
    let table = load(&source, Path::new("."), &catalog()).expect("sample loads");
    (source, Profile::of(&table))
}

fn task_of(goal: Goal) -> Task {
    match goal {
        Goal::TwoClass => Task::BinaryClassification,
        Goal::Multiclass => Task::MulticlassClassification,
        Goal::Values => Task::Regression,
        Goal::Unusual => Task::AnomalyDetection,
        _ => Task::Clustering,
    }
}

#[test]
fn rules_name_only_catalog_learners_and_cover_every_one() {
    let rules = Rules::bundled().expect("rules parse");
    let catalog = catalog();
    assert_eq!(rules.check(&catalog), Vec::<String>::new());
    // Each learner really does its goal's task: run the block and read the tasks of the learner it makes.
    for goal in &rules.goals {
        for rule in &goal.algorithms {
            let mut workflow = Workflow::new("learner");
            let mut learner = pipewright_engine::Node {
                id: "learner".into(),
                kind: rule.kind.clone(),
                title: None,
                params: std::collections::BTreeMap::default(),
                position: [0.0, 0.0],
            };
            if let Some(wrapped) = &rule.wraps {
                let mut base = learner.clone();
                base.id = "base".into();
                base.kind = wrapped.clone();
                workflow.nodes.push(base);
                workflow.edges.push(pipewright_engine::Edge {
                    from: pipewright_engine::PortRef::new("base", "learner"),
                    to: pipewright_engine::PortRef::new("learner", "learner"),
                });
            }
            learner.id = "learner".into();
            workflow.nodes.push(learner);
            let report = run(&workflow, Path::new("."));
            let Some(Value::Learner(made)) = report.node("learner").and_then(|n| n.outputs.first()) else {
                panic!("{} made no learner", rule.kind)
            };
            assert!(made.tasks.contains(&task_of(goal.id)), "{} under {} does {:?}", rule.kind, goal.id, made.tasks);
        }
    }
}

#[test]
fn a_rule_naming_a_missing_block_or_a_learner_in_no_rule_is_reported() {
    let mut rules = Rules::bundled().expect("rules parse");
    let values = rules.goals.iter_mut().find(|g| g.id == Goal::Values).expect("values goal");
    values.algorithms.retain(|a| a.kind != "model.poisson_regression");
    values.algorithms[0].kind = "model.bayesian_linear_regression".into();
    values.algorithms[1].parameters += 1;
    let problems = rules.check(&catalog());
    let has = |text: &str| problems.iter().any(|p| p.contains(text));
    assert!(has("no block \"model.bayesian_linear_regression\""), "{problems:?}");
    assert!(has("model.poisson_regression is in no rule"), "{problems:?}");
    assert!(has("model.linear_regression is in no rule"), "{problems:?}");
    assert!(has("parameters, the block has"), "{problems:?}");
    assert!(Rules::from_json(r#"{"format":"pipewright.cheatsheet","version":1,"goals":[],"extra":1}"#).is_err());
}

#[test]
fn the_profile_reads_titanic_and_suggests_two_classes() {
    let (_, profile) = sample("titanic");
    assert_eq!(profile.rows, 1309);
    let candidates = profile.label_candidates();
    assert_eq!(candidates[0].name, "survived");
    assert_eq!(candidates[0].reason, "marked as the label by the dataset");
    let left_out: Vec<&str> = profile.left_out(Some("survived")).iter().map(|c| c.name.as_str()).collect();
    assert_eq!(left_out, ["name", "ticket", "cabin"]);
    let text: Vec<&str> = profile.text_features(Some("survived")).iter().map(|c| c.name.as_str()).collect();
    assert_eq!(text, ["sex", "embarked"]);
    assert_eq!(profile.column("age").map(|c| c.missing), Some(263));
    let label = profile.label("survived").expect("label");
    assert_eq!(label.classes.as_ref().map(Vec::len), Some(2));
    assert!(!label.is_imbalanced());
    let suggestion = suggest_goal(&profile, Some(&label));
    assert_eq!(suggestion.goal, Goal::TwoClass);
    assert!(suggestion.reason.contains("two values (no, yes)"), "{}", suggestion.reason);
    let notes = notes(&profile, Some(&label), Goal::TwoClass);
    assert!(notes.iter().any(|n| n.contains("263") || n.contains("missing cells in age")), "{notes:?}");
    assert!(notes.iter().any(|n| n.starts_with("Text columns sex, embarked become 5 indicator")), "{notes:?}");
    assert!(notes.iter().any(|n| n.starts_with("name is left out")), "{notes:?}");
}

#[test]
fn the_goal_follows_the_label() {
    for (dataset, label, goal) in [
        ("penguins", Some("species"), Goal::Multiclass),
        ("wine", Some("class"), Goal::Multiclass),
        ("diabetes", Some("progression"), Goal::Values),
        ("diabetes", Some("sex"), Goal::TwoClass),
        ("penguins", Some("year"), Goal::Multiclass),
        ("iris", None, Goal::Structure),
    ] {
        let (_, profile) = sample(dataset);
        let label = label.and_then(|l| profile.label(l));
        assert_eq!(suggest_goal(&profile, label.as_ref()).goal, goal, "{dataset} {label:?}");
    }
}

fn ranked(
    rules: &Rules,
    goal: Goal,
    profile: &Profile,
    label: Option<&str>,
    priorities: Priorities,
) -> Vec<Recommendation> {
    let label = label.and_then(|l| profile.label(l));
    recommend(rules, &catalog(), goal, profile, label.as_ref(), priorities)
}

fn kinds(ranked: &[Recommendation]) -> Vec<&str> {
    ranked.iter().map(|r| r.rule.kind.as_str()).collect()
}

fn table(columns: Vec<Column>) -> Table {
    Table::new(DataFrame::new_infer_height(columns).expect("frame"))
}

#[test]
fn recommendations_are_ranked_for_the_data_and_the_priorities() {
    let rules = Rules::bundled().expect("rules");
    let (_, titanic) = sample("titanic");
    let accuracy = ranked(
        &rules,
        Goal::TwoClass,
        &titanic,
        Some("survived"),
        Priorities { focus: Focus::Accuracy, interpretable: false },
    );
    assert_eq!(&kinds(&accuracy)[..2], ["model.decision_forest", "model.boosted_decision_tree"]);
    let speed = ranked(
        &rules,
        Goal::TwoClass,
        &titanic,
        Some("survived"),
        Priorities { focus: Focus::Speed, interpretable: true },
    );
    assert_eq!(kinds(&speed)[0], "model.logistic_regression_two_class");
    assert!(speed[0].reasons.iter().any(|r| r.text == "you can follow how it decides"));
    let last = speed.last().expect("ranked");
    assert!(!last.rule.interpretable || last.rule.training_time != pipewright_wizard::TrainingTime::Fast);
    // Few rows: the neural network is held back, and says why.
    let (_, penguins) = sample("penguins");
    let few = ranked(&rules, Goal::Multiclass, &penguins, Some("species"), Priorities::default());
    let network = few.iter().find(|r| r.rule.kind == "model.neural_network").expect("network");
    assert!(
        network.reasons.iter().any(|r| !r.favourable && r.text.starts_with("only 344 rows")),
        "{:?}",
        network.reasons
    );
    assert!(
        accuracy
            .iter()
            .find(|r| r.rule.kind == "model.neural_network")
            .is_some_and(|r| r.reasons.iter().all(|r| r.favourable))
    );

    // Many rows: fast training first; rows² methods held back; agglomerative clustering refused.
    let n = 120_000;
    let many = table(vec![
        Column::new("x".into(), (0..n).map(|i| f64::from(i % 97)).collect::<Vec<_>>()),
        Column::new("y".into(), (0..n).map(|i| f64::from(i % 89)).collect::<Vec<_>>()),
        Column::new("label".into(), (0..n).map(|i| if i % 3 == 0 { "a" } else { "b" }).collect::<Vec<_>>()),
    ]);
    let many = Profile::of(&many);
    let balanced = ranked(&rules, Goal::TwoClass, &many, Some("label"), Priorities::default());
    assert_eq!(balanced[0].rule.training_time, pipewright_wizard::TrainingTime::Fast, "{:?}", kinds(&balanced));
    assert!(balanced[0].reasons.iter().any(|r| r.text == "120000 rows: fast training first"));
    assert_eq!(kinds(&balanced).last(), Some(&"model.knn_classifier"));
    let clusters = ranked(&rules, Goal::Structure, &many, None, Priorities::default());
    let agglomerative = clusters.last().expect("ranked");
    assert_eq!(agglomerative.rule.kind, "model.agglomerative_clustering");
    assert!(agglomerative.excluded.as_deref().is_some_and(|e| e.contains("at most 15000 rows")));

    // More than 100 features: k-NN degrades.
    let wide = table(
        (0..150)
            .map(|j| {
                Column::new(
                    format!("f{j}").into(),
                    (0..60).map(|i| f64::from((i * 31 + j * 7) % 17)).collect::<Vec<_>>(),
                )
            })
            .chain([Column::new(
                "label".into(),
                (0..60).map(|i| if i % 2 == 0 { "a" } else { "b" }).collect::<Vec<_>>(),
            )])
            .collect(),
    );
    let wide = Profile::of(&wide);
    let knn_rank = |r: &[Recommendation]| r.iter().position(|x| x.rule.kind == "model.knn_classifier");
    let wide_ranked = ranked(&rules, Goal::TwoClass, &wide, Some("label"), Priorities::default());
    let narrow_ranked = ranked(&rules, Goal::TwoClass, &titanic, Some("survived"), Priorities::default());
    let knn_score = |r: &[Recommendation]| r.iter().find(|x| x.rule.kind == "model.knn_classifier").map(|x| x.score);
    assert!(knn_score(&wide_ranked) < knn_score(&narrow_ranked), "{:?}", kinds(&wide_ranked));
    assert_eq!(knn_rank(&wide_ranked), Some(wide_ranked.len() - 1));
    let knn = &wide_ranked[knn_rank(&wide_ranked).expect("knn")];
    assert!(knn.reasons.iter().any(|r| r.text == "degrades with 150 features (more than 100)"), "{:?}", knn.reasons);

    // Counts favour Poisson regression; a negative label rules it out.
    let counts = |offset: i64| {
        table(vec![
            Column::new("x".into(), (0..200).map(f64::from).collect::<Vec<_>>()),
            Column::new("events".into(), (0..200).map(|i| i64::from(i % 7) - offset).collect::<Vec<_>>()),
        ])
    };
    let positive = Profile::of(&counts(0));
    let poisson = ranked(&rules, Goal::Values, &positive, Some("events"), Priorities::default());
    assert_eq!(kinds(&poisson)[0], "model.poisson_regression", "{:?}", kinds(&poisson));
    let negative = Profile::of(&counts(3));
    let refused = ranked(&rules, Goal::Values, &negative, Some("events"), Priorities::default());
    let last = refused.last().expect("ranked");
    assert_eq!(last.rule.kind, "model.poisson_regression");
    assert_eq!(last.excluded.as_deref(), Some("needs a label of 0 or more, and events goes down to -3"));
}

#[test]
fn imbalanced_classes_get_a_note_and_one_vs_one_moves_up() {
    let rules = Rules::bundled().expect("rules");
    let n = 400;
    let imbalanced = table(vec![
        Column::new("x".into(), (0..n).map(|i| f64::from(i % 17)).collect::<Vec<_>>()),
        Column::new(
            "kind".into(),
            (0..n)
                .map(|i| match i % 40 {
                    0 => "rare",
                    1..=19 => "common",
                    _ => "usual",
                })
                .collect::<Vec<_>>(),
        ),
    ]);
    let profile = Profile::of(&imbalanced);
    let label = profile.label("kind").expect("label");
    assert!(label.is_imbalanced());
    let notes = notes(&profile, Some(&label), Goal::Multiclass);
    assert!(notes[0].starts_with("The classes are imbalanced (usual 50 %, common 48 %, rare 2 %)"), "{notes:?}");
    let position = |r: &[Recommendation]| r.iter().position(|x| x.rule.kind == "model.one_vs_one");
    let imbalanced_rank = position(&ranked(&rules, Goal::Multiclass, &profile, Some("kind"), Priorities::default()));
    let (_, penguins) = sample("penguins");
    let balanced_rank = position(&ranked(&rules, Goal::Multiclass, &penguins, Some("species"), Priorities::default()));
    assert!(imbalanced_rank < balanced_rank, "{imbalanced_rank:?} {balanced_rank:?}");
}

/// Generates a workflow comparing `rules` on a sample dataset and runs it.
fn generate_and_run(dataset: &str, label: Option<&str>, goal: Goal, rules: &[&AlgorithmRule]) -> RunReport {
    let (source, profile) = sample(dataset);
    let goals = Rules::bundled().expect("rules");
    let choice =
        Choice { data: &source, label, goal: goals.goal(goal).expect("goal"), algorithms: rules, try_all: false };
    let workflow = generate(&profile, &choice).expect("generates");
    // Through the file format, as the user gets it.
    let workflow = Workflow::from_json(&workflow.to_json()).expect("reloads");
    run(&workflow, Path::new("."))
}

#[test]
fn every_goal_generates_workflows_that_validate_and_run_with_every_algorithm() {
    let rules = Rules::bundled().expect("rules");
    for (goal, dataset, label, metric) in [
        (Goal::TwoClass, "titanic", Some("survived"), "roc_auc"),
        (Goal::Multiclass, "penguins", Some("species"), "accuracy"),
        (Goal::Values, "diabetes", Some("progression"), "r2"),
        (Goal::Unusual, "breast_cancer", Some("diagnosis"), "roc_auc"),
        (Goal::Structure, "iris", None, "silhouette"),
    ] {
        let algorithms: Vec<&AlgorithmRule> = rules.goal(goal).expect("goal").algorithms.iter().collect();
        for group in algorithms.chunks(3) {
            let report = generate_and_run(dataset, label, goal, group);
            let found = metrics(&report);
            for (i, rule) in group.iter().enumerate() {
                let source = if i == 0 { "scored".to_owned() } else { format!("scored_{}", i + 1) };
                assert!(
                    found.iter().any(|(s, m, v)| *s == source && m == metric && v.is_finite()),
                    "{goal}: {} gave no {metric}: {found:?}",
                    rule.kind
                );
            }
        }
    }
    for goal in [Goal::Recommend, Goal::Text, Goal::Images] {
        let (source, profile) = sample("iris");
        let err = generate(
            &profile,
            &Choice {
                data: &source,
                label: None,
                goal: rules.goal(goal).expect("goal"),
                algorithms: &[],
                try_all: false,
            },
        )
        .expect_err("nothing to generate");
        assert!(err.to_string().contains("no blocks for it"), "{err}");
    }
}

#[test]
fn the_top_three_are_compared_side_by_side_with_the_steps_the_data_needs() {
    let rules = Rules::bundled().expect("rules");
    let (source, profile) = sample("titanic");
    let label = profile.label("survived");
    let top = ranked(&rules, Goal::TwoClass, &profile, Some("survived"), Priorities::default());
    let chosen: Vec<&AlgorithmRule> = top.iter().take(3).map(|r| &r.rule).collect();
    let workflow = generate(
        &profile,
        &Choice {
            data: &source,
            label: Some("survived"),
            goal: rules.goal(Goal::TwoClass).expect("goal"),
            algorithms: &chosen,
            try_all: false,
        },
    )
    .expect("generates");
    let kinds: Vec<&str> = workflow.nodes.iter().map(|n| n.kind.as_str()).collect();
    let chain = ["data.sample_dataset", "transform.edit_metadata", "transform.clean_missing_data"];
    assert_eq!(&kinds[..3], chain);
    assert!(kinds.contains(&"transform.convert_to_indicator_values"));
    let split = workflow.node("split").expect("split");
    assert_eq!(split.params["stratify_column"], "survived");
    for port in ["scored", "scored_2", "scored_3"] {
        assert!(workflow.edge_into("evaluate", port).is_some(), "{port}");
    }
    // Laid out left to right without overlaps.
    for (i, a) in workflow.nodes.iter().enumerate() {
        for b in &workflow.nodes[i + 1..] {
            let apart = (a.position[0] - b.position[0]).abs() >= 200.0 || (a.position[1] - b.position[1]).abs() >= 80.0;
            assert!(apart, "{} and {} overlap", a.id, b.id);
        }
        for edge in workflow.edges.iter().filter(|e| e.from.node == a.id) {
            let to = workflow.node(&edge.to.node).expect("wired node");
            assert!(to.position[0] > a.position[0], "{} → {} runs backwards", a.id, to.id);
        }
    }
    assert!(label.is_some());
    let report = run(&workflow, Path::new("."));
    assert_eq!(metrics(&report).iter().filter(|(_, m, _)| m == "accuracy").count(), 3);
}

#[test]
fn a_file_with_text_columns_and_missing_values_runs_without_edits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut csv = String::from("customer_id,income,city,employed,comment,years,default\n");
    let cities = ["Lyon", "Porto", "Graz", "Turku"];
    for i in 0..300_u32 {
        let income = if i % 11 == 0 { String::new() } else { format!("{:.1}", 20.0 + f64::from((i * 37) % 80)) };
        let city = if i % 13 == 0 { "" } else { cities[(i % 4) as usize] };
        let employed = if (i * 7) % 5 < 3 { "yes" } else { "no" };
        let years = if i % 17 == 0 { "NA".to_owned() } else { format!("{}", (i * 3) % 25) };
        let default = match i {
            _ if i % 29 == 0 => "",
            _ if (i * 37) % 80 < 30 && employed == "no" => "yes",
            _ => "no",
        };
        writeln!(csv, "{},{income},{city},{employed},note number {i},{years},{default}", 1000 + i).expect("write");
    }
    std::fs::write(dir.path().join("loans.csv"), csv).expect("write");
    let source = DataSource::File("loans.csv".into());
    let table = load(&source, dir.path(), &catalog()).expect("loads");
    let profile = Profile::of(&table);
    assert_eq!(profile.label_candidates()[0].name, "default");
    let left_out: Vec<&str> = profile.left_out(Some("default")).iter().map(|c| c.name.as_str()).collect();
    assert_eq!(left_out, ["customer_id", "comment"]);
    let label = profile.label("default").expect("label");
    assert_eq!(label.missing, 11);
    let suggestion = suggest_goal(&profile, Some(&label));
    assert_eq!(suggestion.goal, Goal::TwoClass);
    let rules = Rules::bundled().expect("rules");
    let top = recommend(&rules, &catalog(), suggestion.goal, &profile, Some(&label), Priorities::default());
    let chosen: Vec<&AlgorithmRule> = top.iter().take(3).map(|r| &r.rule).collect();
    let workflow = generate(
        &profile,
        &Choice {
            data: &source,
            label: Some("default"),
            goal: rules.goal(suggestion.goal).expect("goal"),
            algorithms: &chosen,
            try_all: false,
        },
    )
    .expect("generates");
    let path = dir.path().join("loans.flow.json");
    workflow.save(&path).expect("save");
    let workflow = Workflow::load(&path).expect("load");
    let report = run(&workflow, dir.path());
    assert_eq!(metrics(&report).iter().filter(|(_, m, _)| m == "roc_auc").count(), 3);
    assert!(matches!(report.node("unlabelled").map(|n| &n.status), Some(NodeStatus::Finished)));
}
