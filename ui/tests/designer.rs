//! The designer driven like a user: clicks, drags, keys, with `egui_kittest`. Snapshot images live in
//! `tests/snapshots/` (update them with `UPDATE_SNAPSHOTS=1 cargo test --workspace`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Key, Modifiers, Pos2, Rect};
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use pipewright_deploy::cluster::JobState;
use pipewright_engine::{Node, Workflow};
use pipewright_ui::{Designer, DesignerPaths, Document, Phase, node_rect, pin_rect};

fn projects_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../projects")
}

fn designer(config_dir: &Path) -> Designer {
    let paths = DesignerPaths { config_dir: config_dir.to_path_buf(), projects_dir: Some(projects_dir()) };
    Designer::new(Arc::new(pipewright_nodes::catalog()), paths)
}

fn harness(designer: Designer) -> Harness<'static, Designer> {
    Harness::builder()
        .with_size([1400.0, 860.0])
        .with_max_steps(8)
        .build_ui_state(|ui, designer: &mut Designer| designer.ui(ui), designer)
}

/// A few frames, enough for layouts that depend on the previous frame to settle.
fn settle(harness: &mut Harness<'_, Designer>) {
    harness.run_steps(4);
}

/// Whether snapshot images can be rendered here (a Vulkan or GL adapter, lavapipe counts). Under
/// `CI=true` a missing adapter fails the test; on a developer machine the snapshot is skipped with a note.
fn can_render(harness: &mut Harness<'_, Designer>) -> bool {
    match harness.render() {
        Ok(_) => true,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no GPU adapter to render snapshots ({e}); install mesa-vulkan-drivers"
            );
            eprintln!("skipping snapshot: no adapter to render with ({e})");
            false
        }
    }
}

fn ctx(harness: &Harness<'_, Designer>) -> egui::Context {
    harness.ctx.clone()
}

/// Drags with the primary button from `from` to `to` in small steps, as a hand would.
fn drag(harness: &mut Harness<'_, Designer>, from: Pos2, to: Pos2) {
    harness.hover_at(from);
    harness.step();
    harness.drag_at(from);
    harness.step();
    for i in 1..=8 {
        let t = i as f32 / 8.0;
        harness.hover_at(from + (to - from) * t);
        harness.step();
    }
    harness.drop_at(to);
    harness.step();
    harness.step();
}

fn open_example(harness: &mut Harness<'_, Designer>, name: &str) {
    harness.get_by_label_contains(name).click();
    settle(harness);
    assert!(harness.state().active_tab().is_some(), "clicking the example card opens it");
}

fn wait_for_run(harness: &mut Harness<'_, Designer>) {
    let started = Instant::now();
    harness.step();
    while harness.state().active_tab().is_some_and(|t| t.runtime.is_running()) {
        assert!(started.elapsed() < Duration::from_mins(2), "the run did not finish in two minutes");
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
    settle(harness);
}

fn click_node(harness: &mut Harness<'_, Designer>, node: &str) {
    let rect = node_rect(&ctx(harness), node).unwrap_or_else(|| panic!("node {node} is on the canvas"));
    // The header: a few pixels below the top edge, left of centre.
    let at = Pos2::new(rect.left() + 30.0, rect.top() + 10.0);
    harness.hover_at(at);
    harness.step();
    harness.drag_at(at);
    harness.step();
    harness.drop_at(at);
    settle(harness);
}

fn workflow(harness: &Harness<'_, Designer>) -> Workflow {
    harness.state().active_tab().expect("a workflow is open").document.workflow().clone()
}

fn open_document(harness: &mut Harness<'_, Designer>, workflow: Workflow) {
    harness.state_mut().add_tab(Document::new(workflow));
    settle(harness);
}

/// The Titanic example copied into a scratch project (so its cache and store start empty and the test writes
/// nothing into the source tree) and opened in a designer with its own settings folder.
fn titanic_copy() -> (tempfile::TempDir, tempfile::TempDir, Harness<'static, Designer>) {
    let config = tempfile::tempdir().expect("temp dir");
    let project = tempfile::tempdir().expect("temp dir");
    let flow = project.path().join("titanic.flow.json");
    std::fs::copy(projects_dir().join("titanic-two-class/titanic.flow.json"), &flow).expect("copy example");
    let mut harness = harness(designer(config.path()));
    harness.state_mut().open(&flow);
    settle(&mut harness);
    (config, project, harness)
}

/// The designer (with its own settings folder) on a scratch copy of the `titanic-deploy` example.
fn titanic_deploy_copy() -> (tempfile::TempDir, tempfile::TempDir, Harness<'static, Designer>) {
    let config = tempfile::tempdir().expect("temp dir");
    let project = tempfile::tempdir().expect("temp dir");
    let flow = project.path().join("titanic-deploy.flow.json");
    std::fs::copy(projects_dir().join("titanic-deploy/titanic-deploy.flow.json"), &flow).expect("copy example");
    let mut harness = harness(designer(config.path()));
    harness.state_mut().open(&flow);
    settle(&mut harness);
    (config, project, harness)
}

fn node(id: &str, kind: &str, position: [f32; 2]) -> Node {
    Node { id: id.into(), kind: kind.into(), title: None, params: std::collections::BTreeMap::default(), position }
}

#[test]
fn start_page_offers_examples_and_opens_one_with_a_click() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    settle(&mut harness);
    harness.get_by_label_contains("New workflow");
    harness.get_by_label_contains("Open file…");
    harness.get_by_label_contains("Cheat-sheet wizard…");
    assert!(harness.state().examples().len() >= 4, "the four example projects are offered");
    if can_render(&mut harness) {
        harness.snapshot("start_page");
    }
    open_example(&mut harness, "Titanic survival");
    let tab = harness.state().active_tab().expect("tab");
    assert_eq!(tab.document.workflow().nodes.len(), 13);
    assert!(!tab.document.is_dirty());
    assert!(node_rect(&ctx(&harness), "evaluate").is_some(), "its blocks are drawn on the canvas");
}

#[test]
fn dragging_a_block_from_the_palette_adds_it_where_it_is_dropped() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    settle(&mut harness);
    harness.get_by_label_contains("New workflow").click();
    settle(&mut harness);
    // Ctrl+F and typing filter the palette down to the wanted block.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::F);
    settle(&mut harness);
    harness.event(egui::Event::Text("split da".into()));
    settle(&mut harness);
    assert!(harness.query_by_label("Add Columns").is_none(), "the search hides blocks that do not match");
    let source = harness.get_by_label("Split Data").rect().center();
    drag(&mut harness, source, Pos2::new(700.0, 250.0));
    settle(&mut harness);
    let nodes = workflow(&harness).nodes;
    assert_eq!(nodes.len(), 1, "one block was added: {nodes:?}");
    assert_eq!(nodes[0].kind, "transform.split_data");
    let rect = node_rect(&ctx(&harness), &nodes[0].id).expect("drawn");
    assert!(rect.contains(Pos2::new(700.0, 250.0)) || rect.min.distance(Pos2::new(700.0, 250.0)) < 40.0, "{rect:?}");
    assert!(harness.state().active_tab().is_some_and(|t| t.document.is_dirty()));
}

fn two_blocks() -> Workflow {
    let mut w = Workflow::new("wiring");
    w.nodes.push(node("data", "data.sample_dataset", [40.0, 40.0]));
    w.nodes.push(node("split", "transform.split_data", [420.0, 60.0]));
    w.nodes.push(node("forest", "model.decision_forest", [40.0, 300.0]));
    w
}

#[test]
fn connecting_two_blocks_by_dragging_between_their_ports() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    open_document(&mut harness, two_blocks());
    eprintln!(
        "node {:?} pin {:?} {:?}",
        node_rect(&ctx(&harness), "data"),
        pin_rect(&ctx(&harness), "data", "data", true),
        pin_rect(&ctx(&harness), "split", "data", false)
    );
    let from = pin_rect(&ctx(&harness), "data", "data", true).expect("output pin drawn").center();
    let to = pin_rect(&ctx(&harness), "split", "data", false).expect("input pin drawn").center();
    drag(&mut harness, from, to);
    settle(&mut harness);
    let edges = workflow(&harness).edges;
    assert_eq!(edges.len(), 1, "{edges:?}");
    assert_eq!((edges[0].from.node.as_str(), edges[0].to.port.as_str()), ("data", "data"));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut harness);
    assert!(workflow(&harness).edges.is_empty(), "undo removes the wire");
}

#[test]
fn a_wire_between_incompatible_ports_is_refused_with_the_reason() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    open_document(&mut harness, two_blocks());
    let from = pin_rect(&ctx(&harness), "forest", "learner", true).expect("output pin drawn").center();
    let to = pin_rect(&ctx(&harness), "split", "data", false).expect("input pin drawn").center();
    drag(&mut harness, from, to);
    assert!(workflow(&harness).edges.is_empty(), "no wire is made");
    harness.get_by_label("Cannot connect");
    harness.get_by_label_contains("takes a Table");
}

#[test]
fn changing_a_parameter_in_the_inspector_and_undoing_it() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    open_document(&mut harness, two_blocks());
    click_node(&mut harness, "data");
    assert_eq!(harness.state().active_tab().expect("tab").selection(), ["data".to_owned()]);
    // The dataset choice: open the combo box and pick another dataset.
    harness.get_by_label("Dataset").hover();
    let current = workflow(&harness).node("data").and_then(|n| n.params.get("dataset").cloned());
    assert!(current.is_none(), "starts at the default");
    harness.get_by_value("iris").click();
    settle(&mut harness);
    harness.get_by_label("penguins").click();
    settle(&mut harness);
    let set = workflow(&harness).node("data").and_then(|n| n.params.get("dataset").cloned());
    assert_eq!(set, Some(serde_json::json!("penguins")));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut harness);
    assert!(workflow(&harness).node("data").is_some_and(|n| !n.params.contains_key("dataset")), "undone");
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    settle(&mut harness);
    assert_eq!(
        workflow(&harness).node("data").and_then(|n| n.params.get("dataset").cloned()),
        Some(serde_json::json!("penguins"))
    );
}

#[test]
fn running_an_example_shows_states_and_its_metrics_in_the_output_panel() {
    let (_config, _project, mut harness) = titanic_copy();
    assert_eq!(harness.state().active_tab().expect("tab").runtime.phase("evaluate"), Phase::NotRun);
    harness.key_press(Key::F5);
    harness.step();
    assert!(
        harness.state().active_tab().expect("tab").runtime.is_running()
            || harness.state().active_tab().expect("tab").runtime.last_run.is_some()
    );
    wait_for_run(&mut harness);
    let tab = harness.state().active_tab().expect("tab");
    let summary = tab.runtime.last_run.clone().expect("the run finished");
    assert!(summary.success, "{summary:?}");
    assert!(matches!(tab.runtime.phase("evaluate"), Phase::Done { .. }), "{:?}", tab.runtime.phase("evaluate"));
    harness.key_press(Key::Home);
    settle(&mut harness);
    click_node(&mut harness, "evaluate");
    settle(&mut harness);
    // The metrics table of the two models (logistic regression AUC 0.841157, as scikit-learn computes it).
    harness.get_by_label("AUC");
    harness.get_by_label("0.8412");
    harness.get_by_label_contains("Finished in");
    // Editing a block makes it and everything downstream stale; blocks upstream keep their results.
    let mut edited = workflow(&harness);
    let split = edited.node("split").expect("split").clone();
    harness.state_mut().apply(pipewright_ui::Command::SetParam {
        node: split.id.clone(),
        param: "fraction".into(),
        value: serde_json::json!(0.6),
    });
    settle(&mut harness);
    let runtime = &harness.state().active_tab().expect("tab").runtime;
    assert_eq!(runtime.phase("evaluate"), Phase::Stale);
    assert_eq!(runtime.phase("split"), Phase::Stale);
    assert!(matches!(runtime.phase("data"), Phase::Done { .. }), "{:?}", runtime.phase("data"));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut harness);
    let evaluate = harness.state().active_tab().expect("tab").runtime.phase("evaluate");
    assert!(matches!(evaluate, Phase::Done { .. }), "undo brings back the state of the last run: {evaluate:?}");
    edited = workflow(&harness);
    assert!(
        edited
            .node("split")
            .is_some_and(|n| !n.params.contains_key("fraction") || n.params["fraction"] != serde_json::json!(0.6))
    );
    if can_render(&mut harness) {
        // Run times on the blocks and in the status bar differ from run to run: a few hundred pixels of text.
        harness.snapshot_options("designer_after_run", &SnapshotOptions::new().max_failed_pixels(2000));
    }
    // The evaluate viewer on its own: metrics of both models, confusion matrices, ROC and PR curves.
    let report = harness
        .state()
        .active_tab()
        .and_then(|t| t.runtime.outputs("evaluate").and_then(|o| o.first().cloned()))
        .expect("a report");
    let mut results = harness.take_snapshot_results();
    drop(harness);
    let mut viewer = Harness::builder().with_size([1100.0, 420.0]).build_ui_state(
        |ui, view: &mut pipewright_ui::output::OutputView| view.show_ui(ui, &report),
        pipewright_ui::output::OutputView::default(),
    );
    viewer.run_steps(3);
    viewer.get_by_label("Confusion matrix · scored");
    viewer.get_by_label("Confusion matrix · scored_2");
    viewer.get_by_label("ROC curve");
    viewer.get_by_label("Precision–recall");
    if viewer.render().is_ok() {
        viewer.snapshot("evaluate_viewer");
    }
    results.extend(viewer.take_snapshot_results());
}

#[test]
fn saving_and_reopening_keeps_every_edit() {
    let config = tempfile::tempdir().expect("temp dir");
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("saved.flow.json");
    let mut harness = harness(designer(config.path()));
    open_document(&mut harness, two_blocks());
    let from = pin_rect(&ctx(&harness), "data", "data", true).expect("pin").center();
    let to = pin_rect(&ctx(&harness), "split", "data", false).expect("pin").center();
    drag(&mut harness, from, to);
    harness.state_mut().save_active_to(Some(&path));
    settle(&mut harness);
    assert!(!harness.state().active_tab().expect("tab").document.is_dirty(), "saved");
    let before = workflow(&harness);
    // Ctrl+S after another edit writes to the same file.
    click_node(&mut harness, "split");
    let moved_from = node_rect(&ctx(&harness), "split").expect("drawn").left_top() + egui::vec2(30.0, 10.0);
    drag(&mut harness, moved_from, moved_from + egui::vec2(60.0, 40.0));
    assert!(harness.state().active_tab().expect("tab").document.is_dirty(), "moving a block is an edit");
    harness.key_press_modifiers(Modifiers::COMMAND, Key::S);
    settle(&mut harness);
    let after = workflow(&harness);
    assert_ne!(before, after);
    let mut reopened = harness_for_file(config.path(), &path);
    assert_eq!(workflow(&reopened), after, "the file holds exactly what was on the canvas");
    assert_eq!(
        reopened.state().settings().recent.first().map(PathBuf::as_path),
        std::fs::canonicalize(&path).ok().as_deref()
    );
    settle(&mut reopened);
}

fn harness_for_file(config: &Path, path: &Path) -> Harness<'static, Designer> {
    let mut harness = harness(designer(config));
    harness.state_mut().open(path);
    settle(&mut harness);
    harness
}

#[test]
fn unsaved_work_is_offered_back_after_a_crash() {
    let config = tempfile::tempdir().expect("temp dir");
    // A recovery file as a session that crashed leaves it.
    let recovery = serde_json::json!({"path": null, "workflow": two_blocks(), "written_secs": 1});
    std::fs::create_dir_all(config.path().join("recovery")).expect("dir");
    std::fs::write(config.path().join("recovery/4000000000-1.json"), recovery.to_string()).expect("write");
    let mut harness = harness(designer(config.path()));
    settle(&mut harness);
    harness.get_by_label("Restore unsaved work?");
    harness.get_by_label("Restore").click();
    settle(&mut harness);
    let tab = harness.state().active_tab().expect("restored into a tab");
    assert_eq!(tab.document.workflow().nodes.len(), 3);
    assert!(tab.document.is_dirty(), "restored work is unsaved until saved");
    assert!(!config.path().join("recovery/4000000000-1.json").exists());
}

#[test]
fn every_catalog_block_draws_on_the_canvas() {
    let config = tempfile::tempdir().expect("temp dir");
    let catalog = pipewright_nodes::catalog();
    let mut w = Workflow::new("every block");
    for (i, entry) in catalog.entries().enumerate() {
        let (col, row) = ((i % 8) as f32, (i / 8) as f32);
        w.nodes.push(node(&format!("n{i}"), entry.spec.id, [col * 300.0, row * 190.0]));
    }
    let mut harness = Harness::builder()
        .with_size([1400.0, 900.0])
        .with_max_steps(8)
        .build_ui_state(|ui, designer: &mut Designer| designer.ui(ui), designer(config.path()));
    open_document(&mut harness, w.clone());
    // Opening shows the top at a readable scale; Home fits every block into view.
    harness.key_press(Key::Home);
    settle(&mut harness);
    let ctx = ctx(&harness);
    let rects: Vec<Rect> =
        w.nodes.iter().map(|n| node_rect(&ctx, &n.id).unwrap_or_else(|| panic!("{} drawn", n.kind))).collect();
    assert_eq!(rects.len(), catalog.len());
    for entry in catalog.entries() {
        assert!(
            harness.get_all_by_label_contains(entry.spec.name).count() >= 2,
            "{} in the palette and on the canvas",
            entry.spec.name
        );
    }
    if can_render(&mut harness) {
        harness.snapshot_options("every_block", &SnapshotOptions::new().max_failed_pixels(200));
    }
}

#[test]
fn keyboard_duplicate_delete_and_copy_paste_between_windows() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    open_document(&mut harness, two_blocks());
    click_node(&mut harness, "split");
    harness.key_press_modifiers(Modifiers::COMMAND, Key::D);
    settle(&mut harness);
    let nodes = workflow(&harness).nodes;
    assert_eq!(nodes.len(), 4, "Ctrl+D duplicates the selected block");
    assert!(nodes.iter().any(|n| n.id == "split_2" && n.kind == "transform.split_data"), "{nodes:?}");
    harness.key_press(Key::Delete);
    settle(&mut harness);
    assert!(workflow(&harness).node("split").is_none(), "Delete removes the selected block");
    // Copy in one window, paste in another: the clipboard carries workflow JSON.
    click_node(&mut harness, "data");
    harness.event(egui::Event::Copy);
    harness.step();
    let copied = harness
        .output()
        .platform_output
        .commands
        .iter()
        .find_map(|c| match c {
            egui::OutputCommand::CopyText(text) => Some(text.clone()),
            _ => None,
        })
        .expect("Ctrl+C puts the block on the clipboard");
    assert!(Workflow::from_json(&copied).is_ok_and(|w| w.nodes.len() == 1 && w.nodes[0].kind == "data.sample_dataset"));
    let other = tempfile::tempdir().expect("temp dir");
    let mut second = harness_for_file(other.path(), &projects_dir().join("iris-clustering"));
    let before = workflow(&second).nodes.len();
    second.event(egui::Event::Paste(copied));
    settle(&mut second);
    let pasted = workflow(&second).nodes;
    assert_eq!(pasted.len(), before + 1);
    assert!(pasted.iter().filter(|n| n.kind == "data.sample_dataset").count() >= 2, "pasted beside the original");
    // Text that is not a workflow is ignored, not an error.
    second.event(egui::Event::Paste("hello".into()));
    settle(&mut second);
    assert_eq!(workflow(&second).nodes.len(), before + 1);
}

#[test]
fn dragging_a_comment_frame_moves_the_blocks_inside_it_in_one_undo_step() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut w = two_blocks();
    w.comments.push(pipewright_engine::Comment {
        id: "frame".into(),
        title: "Inputs".into(),
        text: String::new(),
        position: [20.0, 0.0],
        size: [260.0, 180.0],
        color: [0x4c, 0x9a, 0xff],
        nodes: vec!["data".into()],
    });
    let mut harness = harness(designer(config.path()));
    open_document(&mut harness, w);
    let data_before = workflow(&harness).node("data").expect("node").position;
    let split_before = workflow(&harness).node("split").expect("node").position;
    let grab = pipewright_ui::comment_title_rect(&ctx(&harness), "frame").expect("the frame is drawn").center();
    drag(&mut harness, grab, grab + egui::vec2(80.0, 50.0));
    settle(&mut harness);
    let after = workflow(&harness);
    let data_after = after.node("data").expect("node").position;
    assert!(
        data_after[0] > data_before[0] + 10.0 && data_after[1] > data_before[1] + 10.0,
        "{data_before:?} → {data_after:?}"
    );
    assert_eq!(after.node("split").expect("node").position, split_before, "blocks outside the frame stay");
    let frame = &after.comments[0];
    assert!(
        (frame.position[0] - 20.0 - (data_after[0] - data_before[0])).abs() < 0.01,
        "frame and block move together"
    );
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut harness);
    assert_eq!(workflow(&harness).node("data").expect("node").position, data_before, "one undo step");
}

#[test]
fn light_theme_at_150_percent_scaling_is_readable() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut designer = designer(config.path());
    designer.set_theme(pipewright_ui::theme::Theme::Light);
    let mut harness = Harness::builder()
        .with_size([1100.0, 700.0])
        .with_pixels_per_point(1.5)
        .with_max_steps(8)
        .build_ui_state(|ui, designer: &mut Designer| designer.ui(ui), designer);
    harness.state_mut().open(&projects_dir().join("penguins-multiclass"));
    settle(&mut harness);
    assert_eq!(harness.ctx.theme(), egui::Theme::Light, "the light theme is applied");
    assert_eq!(
        pipewright_ui::Settings::load(config.path()).theme,
        pipewright_ui::theme::Theme::Light,
        "the choice is remembered"
    );
    click_node(&mut harness, "clean");
    assert_eq!(harness.state().active_tab().expect("tab").selection(), ["clean".to_owned()]);
    harness.get_by_label("Cleaning mode");
    if can_render(&mut harness) {
        harness.snapshot_options("light_150_percent", &SnapshotOptions::new().max_failed_pixels(200));
    }
}

#[test]
fn run_to_selected_runs_only_what_the_block_needs_and_the_column_picker_offers_its_input_columns() {
    let (_config, _project, mut harness) = titanic_copy();
    harness.key_press(Key::Home);
    settle(&mut harness);
    click_node(&mut harness, "split");
    harness.get_by_label("⏭ Run to selected").click();
    wait_for_run(&mut harness);
    let runtime = &harness.state().active_tab().expect("tab").runtime;
    assert!(matches!(runtime.phase("split"), Phase::Done { .. }), "{:?}", runtime.phase("split"));
    assert!(matches!(runtime.phase("data"), Phase::Done { .. }));
    assert_eq!(runtime.phase("train_logistic"), Phase::NotRun, "blocks after the selected one do not run");
    assert_eq!(runtime.phase("evaluate"), Phase::NotRun);
    // The stratification column is picked from the columns that flow into Split Data.
    harness.get(egui_kittest::kittest::by().role(egui::accesskit::Role::ComboBox).value("survived")).click();
    settle(&mut harness);
    // The option in the open list (the output panel below also shows a "pclass" column heading).
    harness
        .get(egui_kittest::kittest::by().label("pclass").predicate(|node| node.role() != egui::accesskit::Role::Label))
        .click();
    settle(&mut harness);
    let param = workflow(&harness).node("split").and_then(|n| n.params.get("stratify_column").cloned());
    assert_eq!(param, Some(serde_json::json!("pclass")));
    assert_eq!(harness.state().active_tab().expect("tab").runtime.phase("split"), Phase::Stale);
}

#[test]
fn shift_drag_selects_the_blocks_in_a_box() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    open_document(&mut harness, two_blocks());
    let data = node_rect(&ctx(&harness), "data").expect("drawn");
    let split = node_rect(&ctx(&harness), "split").expect("drawn");
    let forest = node_rect(&ctx(&harness), "forest").expect("drawn");
    // A box around the two upper blocks, starting on empty canvas above them.
    let from = Pos2::new(data.left() - 10.0, data.top().min(split.top()) - 10.0);
    let to = Pos2::new(split.right() + 10.0, data.bottom().max(split.bottom()) + 10.0);
    assert!(forest.top() > to.y, "the third block lies outside the box");
    harness.event(egui::Event::PointerMoved(from));
    harness.step();
    harness.event_modifiers(
        egui::Event::PointerButton {
            pos: from,
            button: egui::PointerButton::Primary,
            pressed: true,
            modifiers: Modifiers::SHIFT,
        },
        Modifiers::SHIFT,
    );
    harness.step();
    for i in 1..=8 {
        harness.event_modifiers(egui::Event::PointerMoved(from + (to - from) * (i as f32 / 8.0)), Modifiers::SHIFT);
        harness.step();
    }
    harness.event_modifiers(
        egui::Event::PointerButton {
            pos: to,
            button: egui::PointerButton::Primary,
            pressed: false,
            modifiers: Modifiers::SHIFT,
        },
        Modifiers::SHIFT,
    );
    settle(&mut harness);
    let mut selection = harness.state().active_tab().expect("tab").selection().to_vec();
    selection.sort();
    assert_eq!(selection, ["data".to_owned(), "split".to_owned()]);
}

/// Both runs are in the project's store, recorded as the designer's, with their nodes and artifacts.
fn assert_recorded_by_the_designer(project: &Path) {
    use pipewright_store::{RunStatus, Store, store_path};
    let store = Store::open(&store_path(project)).expect("the designer created the store");
    let runs = store.runs().expect("lists");
    assert_eq!(
        runs.iter().map(|r| (r.id, r.status, r.source.as_str())).collect::<Vec<_>>(),
        vec![(2, RunStatus::Succeeded, "designer"), (1, RunStatus::Succeeded, "designer")]
    );
    assert_eq!(store.nodes_of(1).expect("lists").len(), 13);
    assert!(store.artifacts_of(2).expect("lists").iter().any(|a| a.node == "train_forest" && a.kind == "model"));
}

#[test]
fn runs_are_recorded_compared_opened_restored_and_their_models_registered() {
    use pipewright_store::{RunStatus, Stage};
    let (_config, project, mut harness) = titanic_copy();
    harness.key_press(Key::F5);
    wait_for_run(&mut harness);
    // A second run with fewer trees in the forest.
    harness.state_mut().apply(pipewright_ui::Command::SetParam {
        node: "forest".into(),
        param: "trees".into(),
        value: serde_json::json!(20),
    });
    harness.key_press(Key::F5);
    wait_for_run(&mut harness);
    harness.get_by_label("recorded as run 2");

    assert_recorded_by_the_designer(project.path());

    // Ctrl+H opens the history window with both runs; the status filter narrows the list.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::H);
    settle(&mut harness);
    harness.get_by_label("Project history");
    assert_eq!(harness.state().history.shown_runs(), vec![2, 1]);
    harness.state_mut().history.set_filters(None, Some(RunStatus::Failed));
    assert!(harness.state().history.shown_runs().is_empty());
    harness.state_mut().history.set_filters(Some("titanic".into()), None);
    assert_eq!(harness.state().history.shown_runs(), vec![2, 1]);

    // Compare: the one setting that differs, the metrics side by side, ROC curves overlaid.
    harness.state_mut().history.check(&[1, 2]);
    settle(&mut harness);
    harness.get_by_label("Compare (2)").click();
    settle(&mut harness);
    harness.get_by_label("Settings that differ");
    harness.get_by_label("ROC curve");
    let catalog = pipewright_nodes::catalog();
    let comparison = harness.state_mut().history.comparison(&catalog).cloned().expect("two runs ticked");
    assert_eq!(comparison.params.len(), 1, "{:?}", comparison.params);
    assert_eq!(
        (comparison.params[0].node.as_str(), comparison.params[0].param.as_str()),
        ("forest", "trees"),
        "{:?}",
        comparison.params
    );
    assert_eq!(comparison.params[0].values, vec![Some("100".into()), Some("20".into())]);
    let auc = comparison.metrics.iter().find(|m| m.name == "roc_auc" && m.source == "scored").expect("roc_auc");
    assert_eq!(auc.values[0], auc.values[1], "the logistic branch did not change");
    assert_eq!(comparison.roc.len(), 4, "two inputs evaluated in each run");

    // Register the forest of the last run from its output panel; then move it to production.
    harness.key_press(Key::Home);
    settle(&mut harness);
    harness.state_mut().history.open = false;
    settle(&mut harness);
    click_node(&mut harness, "train_forest");
    harness.get_by_label("Register model…").click();
    settle(&mut harness);
    harness.get_by_label("Register the model of train_forest from run 2");
    harness.get_by_label("Register").click();
    settle(&mut harness);
    let models = harness.state().history.models().to_vec();
    assert_eq!(models.len(), 1);
    assert_eq!((models[0].version, models[0].run, models[0].stage), (1, Some(2), Stage::None));
    assert!(models[0].metrics.iter().all(|m| m.source == "scored_2"), "{:?}", models[0].metrics);
    harness.state_mut().history.set_stage(&models[0].name, 1, Stage::Production);
    assert_eq!(harness.state().history.models()[0].stage, Stage::Production);
    settle(&mut harness);
    deploy_promote_and_roll_back(&mut harness, &models[0].name);

    // Open run 1 read-only: edits are refused and the workflow stays as it ran.
    harness.get_by_label("Runs (2)").click();
    settle(&mut harness);
    harness.get_all_by_label("Open").nth(1).expect("run 1's Open button").click();
    settle(&mut harness);
    let tab = harness.state().active_tab().expect("a tab");
    assert_eq!(tab.snapshot.as_ref().map(|s| s.run), Some(1));
    assert!(tab.title().contains("read-only"), "{}", tab.title());
    let as_run = workflow(&harness);
    harness.state_mut().apply(pipewright_ui::Command::SetSeed(7));
    settle(&mut harness);
    assert_eq!(workflow(&harness), as_run, "a run's snapshot is read-only");
    harness.get_by_label_contains("is read-only");

    // Restore it: the file's tab gets run 1's workflow back as one undoable step.
    harness.state_mut().history.open = false;
    settle(&mut harness);
    harness.get_by_label("Restore as the current workflow").click();
    settle(&mut harness);
    let tab = harness.state().active_tab().expect("a tab");
    assert!(
        tab.snapshot.is_none() && tab.document.path().is_some(),
        "the workflow file's own tab, not {} ({:?})",
        tab.title(),
        harness.state().tabs().iter().map(pipewright_ui::Tab::title).collect::<Vec<_>>()
    );
    assert!(!tab.document.is_dirty(), "run 1 ran the workflow as saved");
    assert_eq!(
        tab.document.workflow().node("forest").and_then(|n| n.params.get("trees")),
        Some(&serde_json::json!(100)),
        "run 1's forest"
    );
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut harness);
    assert_eq!(
        workflow(&harness).node("forest").and_then(|n| n.params.get("trees")),
        Some(&serde_json::json!(20)),
        "undo brings back the edit"
    );
}

/// Clicks the widget labelled `label` and counts the click.
fn click_counted(harness: &mut Harness<'_, Designer>, clicks: &mut usize, label: &str) {
    harness.get_by_label(label).click();
    *clicks += 1;
    settle(harness);
}

#[test]
fn the_wizard_goes_from_a_sample_dataset_to_evaluation_metrics_in_six_clicks() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    settle(&mut harness);
    let mut clicks = 0;
    harness.get_by_label_contains("Cheat-sheet wizard").click();
    clicks += 1;
    settle(&mut harness);
    // 1 Data: the default sample dataset, read and profiled, with a preview.
    harness.get_by_label("1309 rows, 11 columns");
    harness.get_by_label("left out: name, ticket, cabin");
    harness.get_by_label("Preview");
    click_counted(&mut harness, &mut clicks, "Next ›");
    // 2 Label: the marked label first, with the reason and its balance.
    harness.get_by_label("marked as the label by the dataset");
    harness.get_by_label("survived: text, 2 values: no 62 %, yes 38 %");
    click_counted(&mut harness, &mut clicks, "Next ›");
    // 3 Goal: pre-selected from the label, saying why; goals without blocks are offered but disabled.
    harness.get_by_label_contains("Suggested from the data: survived has two values (no, yes)");
    assert_eq!(harness.state().wizard.goal(), pipewright_wizard::Goal::TwoClass);
    click_counted(&mut harness, &mut clicks, "Next ›");
    // 4 Priorities.
    harness.get_by_label("Balance accuracy and training time");
    click_counted(&mut harness, &mut clicks, "Next ›");
    // 5 Recommendations, ranked with reasons; the best is ticked.
    harness.get_by_label("1. Decision Forest");
    harness.get_by_label_contains("The split is stratified");
    assert_eq!(harness.state().wizard.picked(), ["model.decision_forest"]);
    click_counted(&mut harness, &mut clicks, "▶ Generate and run");
    assert!(clicks <= 6, "{clicks} clicks");
    wait_for_run(&mut harness);
    let tab = harness.state().active_tab().expect("the generated workflow is open");
    let summary = tab.runtime.last_run.clone().expect("it ran at once");
    assert!(summary.success, "{summary:?}");
    let kinds: Vec<&str> = tab.document.workflow().nodes.iter().map(|n| n.kind.as_str()).collect();
    assert!(kinds.contains(&"transform.convert_to_indicator_values") && kinds.contains(&"transform.split_data"));
    settle(&mut harness);
    // The evaluation is selected, so its metrics show without another click.
    harness.get_by_label("AUC");
    harness.get_by_label("accuracy");
    if can_render(&mut harness) {
        harness.snapshot_options("wizard_generated_and_run", &SnapshotOptions::new().max_failed_pixels(2000));
    }
}

#[test]
fn the_wizard_tries_them_all_with_train_best_model_and_packages_the_winner() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    harness.state_mut().open_wizard();
    settle(&mut harness);
    for _ in 0..4 {
        harness.get_by_label("Next ›").click();
        settle(&mut harness);
    }
    harness.get_by_label("Try them all: every learner, tuned and cross-validated").click();
    settle(&mut harness);
    harness.get_by_label_contains("› Train Best Model: every learner, tuned and cross-validated; the winner scored");
    harness.get_by_label_contains("› Export Model Package: the winner with its preparation");
    let workflow = harness.state().wizard.workflow().expect("a workflow");
    let kinds: Vec<&str> = workflow.nodes.iter().map(|n| n.kind.as_str()).collect();
    assert!(kinds.contains(&"train.train_best_model") && kinds.contains(&"deploy.export_model_package"), "{kinds:?}");
    assert!(!kinds.contains(&"train.train_model"), "{kinds:?}");
    for (port, from) in [("model", "best"), ("transform", "clean"), ("report", "evaluate"), ("data", "data")] {
        let edge = workflow.edge_into("package", port).unwrap_or_else(|| panic!("{port} of the package"));
        assert_eq!(edge.from.node, from);
    }
    // Unticked, the ranked algorithms come back.
    harness.get_by_label("Try them all: every learner, tuned and cross-validated").click();
    settle(&mut harness);
    let workflow = harness.state().wizard.workflow().expect("a workflow");
    assert!(workflow.nodes.iter().any(|n| n.kind == "train.train_model"));
}

#[test]
fn the_wizard_compares_the_top_three_on_a_chosen_dataset_and_label() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    harness.state_mut().open_wizard();
    settle(&mut harness);
    harness.get_by_value("titanic").click();
    settle(&mut harness);
    harness.get_by_label("penguins").click();
    settle(&mut harness);
    harness.get_by_label("344 rows, 8 columns");
    harness.get_by_label("Next ›").click();
    settle(&mut harness);
    // A different label changes the suggested goal.
    harness.get_by_label("sex").click();
    settle(&mut harness);
    assert_eq!(harness.state().wizard.label(), Some("sex"));
    harness.get_by_label("No label").click();
    settle(&mut harness);
    harness.get_by_label("Next ›").click();
    settle(&mut harness);
    assert_eq!(harness.state().wizard.goal(), pipewright_wizard::Goal::Structure);
    harness.get_by_label("‹ Back").click();
    settle(&mut harness);
    harness.get_by_label("species").click();
    settle(&mut harness);
    harness.get_by_label("Next ›").click();
    settle(&mut harness);
    assert_eq!(harness.state().wizard.goal(), pipewright_wizard::Goal::Multiclass);
    harness.get_by_label("Next ›").click();
    settle(&mut harness);
    harness.get_by_label("Prefer models whose decisions I can explain").click();
    settle(&mut harness);
    harness.get_by_label("Next ›").click();
    settle(&mut harness);
    harness.get_by_label("− only 344 rows: little data for its many weights (it does well from about 1000)");
    harness.get_by_label("Compare the top 3 side by side").click();
    settle(&mut harness);
    let picked = harness.state().wizard.picked().to_vec();
    assert_eq!(picked.len(), 3);
    let interpretable = harness.state().wizard.ranked().iter().take(3).all(|r| r.rule.interpretable);
    assert!(interpretable, "{picked:?}");
    if can_render(&mut harness) {
        harness.snapshot_options("wizard_recommendations", &SnapshotOptions::new().max_failed_pixels(500));
    }
    harness.get_by_label("▶ Generate and run").click();
    settle(&mut harness);
    wait_for_run(&mut harness);
    let tab = harness.state().active_tab().expect("the generated workflow is open");
    assert!(tab.runtime.last_run.as_ref().is_some_and(|r| r.success), "{:?}", tab.runtime.last_run);
    let workflow = tab.document.workflow();
    for port in ["scored", "scored_2", "scored_3"] {
        assert!(workflow.edge_into("evaluate", port).is_some(), "{port} wired");
    }
    harness.get_by_label("macro F1");
}

#[test]
fn a_trained_model_is_packaged_deployed_locally_tried_from_the_form_and_stopped() {
    let (_config, project, mut harness) = titanic_deploy_copy();
    // Before a run there is nothing to package, and the designer says so.
    harness.state_mut().package_model("train");
    settle(&mut harness);
    harness.get_by_label_contains("run the workflow first");
    harness.state_mut().run_when_shown();
    wait_for_run(&mut harness);
    assert!(project.path().join("models/titanic-survival.pwmodel").exists(), "the workflow's own package block wrote");

    // Package model… on the Train Model block: the transforms in front of it are found in order.
    harness.state_mut().package_model("train");
    settle(&mut harness);
    harness.get_by_label("Steps: Clean Missing Data → Normalize Data → Convert to Indicator Values → the model");
    harness.get_by_label("7 input fields (4 required)");
    harness.get_by_label("accuracy = 0.7934");
    harness.get_by_label("Write and deploy locally…").click();
    settle(&mut harness);
    assert!(project.path().join("models/two-class-logistic-regression.pwmodel").exists());

    // Deploy locally: start on a free port, send the form's example, read the answer, stop.
    harness.state_mut().deploy.set_port(0);
    harness.get_by_label("▶ Start").click();
    settle(&mut harness);
    let url = harness.state().deploy.url().expect("serving");
    harness.get_by_label(&format!("Serving at {url}"));
    harness.get_by_label_contains("curl -s http://127.0.0.1:");
    harness.get_by_label("Send").click();
    let started = Instant::now();
    while harness.query_by_label("HTTP 200").is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "no answer from the endpoint");
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
    settle(&mut harness);
    harness.get_by_label_contains("\"probabilities\"");
    if can_render(&mut harness) {
        // The port, the scratch folder and the time differ from run to run: a few hundred pixels of text.
        harness.snapshot_options("deploy_locally", &SnapshotOptions::new().max_failed_pixels(6000));
    }
    harness.get_by_label("■ Stop").click();
    settle(&mut harness);
    harness.get_by_label("Stopped");
    assert!(harness.state().deploy.url().is_none());
    assert!(pipewright_deploy::client::get(&format!("{url}/health"), None).is_err(), "the endpoint is gone");
}

#[test]
fn a_workflow_is_exported_as_a_cluster_job_and_a_submission_that_cannot_reach_its_engine_is_recorded_as_failed() {
    let (_config, project, mut harness) = titanic_deploy_copy();

    // File → Export job…: the engine, resources, data handling and folder, then Export bundle.
    harness.get_by_label("File").click();
    settle(&mut harness);
    harness.get_by_label("Export job…").click();
    settle(&mut harness);
    harness.get_by_label_contains("Workflow: ");
    harness.get_by_label("Ray").click();
    settle(&mut harness);
    let bundle = project.path().join("jobs/titanic-deploy-ray");
    assert_eq!(harness.state().cluster.bundle().map(|b| b.dir.clone()), None);
    harness.state_mut().cluster.set_runner_path("/opt/pipewright/bin/pipewright");
    harness.get_by_label("Export bundle").click();
    settle(&mut harness);
    harness.get_by_label_contains("Exported to ");
    harness.get_by_label_contains("runner: /opt/pipewright/bin/pipewright");
    let exported = harness.state().cluster.bundle().expect("exported").dir.clone();
    assert_eq!(exported, bundle.canonicalize().expect("bundle folder"));
    for file in ["ray/entrypoint.py", "ray/runtime_env.json", "ray/job.json", "run.sh", "bundle.json", "README.md"] {
        assert!(bundle.join(file).is_file(), "{file}");
    }
    let job: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("ray/job.json")).expect("job")).expect("json");
    assert_eq!(job["entrypoint_num_gpus"], 1);

    // Submitted to a Ray address where nothing listens: the window says why, and the run history has a failed
    // cluster run.
    harness.state_mut().cluster.set_ray_url("http://127.0.0.1:1");
    harness.get_by_label("▶ Submit").click();
    let started = Instant::now();
    while harness.state().cluster.job_view().is_none_or(|v| v.finished.is_none()) {
        assert!(started.elapsed() < Duration::from_secs(30), "the submission did not end");
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
    settle(&mut harness);
    harness.get_by_label_contains("Failed: the Ray dashboard at http://127.0.0.1:1 cannot be reached");
    harness.get_by_label("Recorded as run 1 in the project's history");
    let store = pipewright_store::Store::open(&pipewright_store::store_path(project.path())).expect("store");
    let run = store.run(1).expect("query").expect("run 1");
    assert_eq!((run.source.as_str(), run.status.as_str()), ("cluster", "failed"));
    if can_render(&mut harness) {
        // The scratch folder's name differs from run to run.
        harness.snapshot_options("export_job", &SnapshotOptions::new().max_failed_pixels(4000));
    }
}

/// The workspace's pipewright binary, built by `cargo test --workspace` beside the tests.
fn workspace_runner() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().and_then(Path::parent).map(|dir| dir.join("pipewright")))
        .filter(|p| p.is_file())
}

#[test]
fn a_job_exported_with_fan_out_shows_its_task_set_and_each_task_as_it_ends() {
    let runner = workspace_runner();
    if !pipewright_e2e::cluster::available(
        "the pipewright binary",
        runner.is_some(),
        "cargo test --workspace builds it beside the tests",
    ) {
        return;
    }
    let runner = runner.expect("runner");
    let config = tempfile::tempdir().expect("temp dir");
    let project = tempfile::tempdir().expect("temp dir");
    let flow = pipewright_e2e::cluster::sweep_project(project.path());
    let mut harness = harness_for_file(config.path(), &flow);
    harness.state_mut().open_export_job();
    settle(&mut harness);
    harness.get_by_label("Ray").click();
    settle(&mut harness);
    harness.get_by_label_contains("Fan out: sweeps, folds").click();
    settle(&mut harness);
    harness.get_by_label("Tasks at once:");
    let cluster = &mut harness.state_mut().cluster;
    cluster.set_resources(0, 1, 1.0);
    cluster.set_runner_path(&runner.to_string_lossy());
    cluster.set_ray_url("http://127.0.0.1:1");
    harness.get_by_label("Export bundle").click();
    settle(&mut harness);
    harness.get_by_label("Task set: 125 tasks for 125 units of tune (120), cv (5)");
    let bundle = harness.state().cluster.bundle().expect("exported").dir.clone();
    assert!(bundle.join("tasks/tasks.json").is_file());

    // Nothing listens at the Ray address: the submission fails, the tasks wait. Then half of them run (as a
    // cluster's workers would): the squares turn green as their results land.
    harness.get_by_label("▶ Submit").click();
    let started = Instant::now();
    while harness.state().cluster.job_view().is_none_or(|v| v.finished.is_none()) {
        assert!(started.elapsed() < Duration::from_secs(30), "the submission did not end");
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
    settle(&mut harness);
    harness.get_by_label("0 / 125 tasks done");
    for index in 0..60 {
        let out = std::process::Command::new(&runner)
            .args(["task", &bundle.to_string_lossy(), "--index", &index.to_string()])
            .output()
            .expect("task");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::write(
        bundle.join("tasks/errors/61.txt"),
        "task 61 (setting 13 × fold 2 of block \"tune\"): out of memory\n",
    )
    .expect("an error");
    settle(&mut harness);
    harness.get_by_label("60 / 125 tasks done, 1 failed");
    let states = harness.state().cluster.task_states().expect("a task set");
    assert_eq!(states[61].error.as_deref(), Some("task 61 (setting 13 × fold 2 of block \"tune\"): out of memory"));
    assert!(states[0].places.iter().all(|p| p.ends_with("(cpu)")), "{:?}", states[0]);
    harness.get_by_label_contains("Failed: the Ray dashboard at http://127.0.0.1:1 cannot be reached").scroll_to_me();
    settle(&mut harness);
    if can_render(&mut harness) {
        harness.snapshot_options("export_job_fan_out", &SnapshotOptions::new().max_failed_pixels(4000));
    }
    // The run history shows the cluster run with its tasks, as they stood when the submission ended.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::H);
    settle(&mut harness);
    harness.get_by_label("cluster · 125 tasks, 0 done");
}

#[test]
fn a_job_submitted_from_the_designer_runs_on_slurm_shows_its_progress_and_lands_in_the_run_history() {
    let Some(slurm) = pipewright_e2e::cluster::Slurm::start() else { return };
    // The headless runner the job calls: the workspace's pipewright binary, built by `cargo test --workspace`.
    let runner = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().and_then(Path::parent).map(|dir| dir.join("pipewright")))
        .filter(|p| p.is_file());
    if !pipewright_e2e::cluster::available(
        "the pipewright binary",
        runner.is_some(),
        "cargo test --workspace builds it beside the tests",
    ) {
        return;
    }
    let runner = runner.expect("runner");
    let (_config, project, mut harness) = titanic_deploy_copy();
    harness.state_mut().open_export_job();
    settle(&mut harness);
    let cluster = &mut harness.state_mut().cluster;
    cluster.set_resources(1, 1, 1.0);
    cluster.set_runner_path(&runner.to_string_lossy());
    cluster.set_slurm_rest(&slurm.rest, &slurm.token);
    harness.get_by_label("Export bundle").click();
    settle(&mut harness);
    harness.get_by_label_contains("Exported to ");
    let bundle = harness.state().cluster.bundle().expect("exported").dir.clone();
    let script = std::fs::read_to_string(bundle.join("slurm/job.sbatch")).expect("sbatch script");
    assert!(script.contains("#SBATCH --gres=gpu:1") && script.contains("#SBATCH --cpus-per-task=1"), "{script}");

    harness.get_by_label("▶ Submit").click();
    let started = Instant::now();
    let mut states = Vec::new();
    while harness.state().cluster.job_view().is_none_or(|v| v.finished.is_none()) {
        assert!(started.elapsed() < Duration::from_secs(90), "the job did not end");
        if let Some(state) = harness.state().cluster.job_view().and_then(|v| v.state)
            && states.last() != Some(&state)
        {
            states.push(state);
        }
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
    settle(&mut harness);
    let view = harness.state().cluster.job_view().expect("followed");
    assert!(matches!(view.finished, Some(Ok(_))), "{view:?}");
    assert_eq!(view.progress, (11, 11), "{view:?}");
    assert!(view.log.contains("done      evaluate"), "{}", view.log);
    let job = view.job.clone().expect("job id");
    harness.get_by_label(&format!("Job {job}: done"));
    harness.get_by_label("11 / 11 blocks");
    harness.get_by_label_contains("Succeeded: 8 metric(s) brought back");
    harness.get_by_label("Recorded as run 1 in the project's history");
    let store = pipewright_store::Store::open(&pipewright_store::store_path(project.path())).expect("store");
    let run = store.run(1).expect("query").expect("run 1");
    assert_eq!((run.source.as_str(), run.status.as_str()), ("cluster", "succeeded"));
    let auc = store.metrics_of(1).expect("metrics").into_iter().find(|m| m.2 == "roc_auc").expect("roc_auc");
    assert!((auc.3 - 0.841_157).abs() < 1e-5, "{auc:?}");
    // Followed from the queue to the end.
    assert_eq!(states.first().map(JobState::word), Some("queued"), "{states:?}");
    assert_eq!(view.state.as_ref().map(JobState::word), Some("done"));
}

#[test]
fn the_command_palette_finds_a_command_as_one_types_and_runs_it_with_enter() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    open_document(&mut harness, two_blocks());
    // View → Command palette… opens it, with every command and its shortcut.
    harness.get_by_label("View").click();
    settle(&mut harness);
    harness.get_by_label_contains("Command palette…").click();
    settle(&mut harness);
    assert!(harness.state().command_palette.is_open());
    harness.get_by_label_contains("Save as…");
    harness.get_by_label_contains("Ctrl+Shift+S");
    harness.key_press(Key::Escape);
    settle(&mut harness);
    assert!(!harness.state().command_palette.is_open(), "Escape closes it");
    assert!(harness.query_by_label_contains("Save as…").is_none());

    // Ctrl+Shift+P, then typing filters the list; Enter runs the first match.
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::P);
    settle(&mut harness);
    if can_render(&mut harness) {
        harness.snapshot_options("command_palette", &SnapshotOptions::new().max_failed_pixels(200));
    }
    harness.event(egui::Event::Text("HISTORY".into()));
    settle(&mut harness);
    assert!(harness.query_by_label_contains("Save as…").is_none(), "commands that do not match are hidden");
    harness.get_by_label_contains("Runs and models…");
    assert!(!harness.state().history.open);
    harness.key_press(Key::Enter);
    settle(&mut harness);
    assert!(!harness.state().command_palette.is_open(), "running a command closes the palette");
    assert!(harness.state().history.open, "Enter ran the command");
    harness.get_by_label("Project history");
    harness.state_mut().history.open = false;

    // The arrow keys move the highlight: the second of the scales.
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::P);
    settle(&mut harness);
    harness.event(egui::Event::Text("scale".into()));
    settle(&mut harness);
    harness.key_press(Key::ArrowDown);
    settle(&mut harness);
    harness.key_press(Key::Enter);
    settle(&mut harness);
    assert!((harness.state().settings().zoom - 1.25).abs() < 0.001, "{}", harness.state().settings().zoom);
    harness.state_mut().push(pipewright_ui::AppCommand::Scale100);
    settle(&mut harness);

    // A command that cannot run now shows why, and Enter leaves it alone.
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::P);
    settle(&mut harness);
    harness.event(egui::Event::Text("package model".into()));
    settle(&mut harness);
    harness.get_by_label_contains("select a training block");
    harness.key_press(Key::Enter);
    settle(&mut harness);
    assert!(harness.state().command_palette.is_open(), "a disabled command does not run");
}

#[test]
fn the_palette_offers_examples_tabs_and_history_views_by_name_and_the_tab_keys_move_between_tabs() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    open_document(&mut harness, two_blocks());
    open_document(&mut harness, Workflow::new("second"));
    assert_eq!(harness.state().active_index(), Some(1));
    // Ctrl+PageUp and Ctrl+PageDown go round the tabs.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::PageUp);
    settle(&mut harness);
    assert_eq!(harness.state().active_index(), Some(0));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::PageUp);
    settle(&mut harness);
    assert_eq!(harness.state().active_index(), Some(1), "before the first, the last");
    harness.key_press_modifiers(Modifiers::COMMAND, Key::PageDown);
    settle(&mut harness);
    assert_eq!(harness.state().active_index(), Some(0), "after the last, the first");

    // A tab by its title.
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::P);
    settle(&mut harness);
    harness.event(egui::Event::Text("tab: second".into()));
    settle(&mut harness);
    harness.key_press(Key::Enter);
    settle(&mut harness);
    assert_eq!(harness.state().active_index(), Some(1));

    // A view of the project history.
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::P);
    settle(&mut harness);
    harness.event(egui::Event::Text("model registry".into()));
    settle(&mut harness);
    harness.key_press(Key::Enter);
    settle(&mut harness);
    assert!(harness.state().history.open);
    assert_eq!(harness.state().history.view, pipewright_ui::HistoryView::Models);
    harness.state_mut().history.open = false;

    // An example by its name, found by its description too.
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::P);
    settle(&mut harness);
    harness.event(egui::Event::Text("example: penguin".into()));
    settle(&mut harness);
    harness.get_by_label_contains("Open example: Penguin species");
    harness.key_press(Key::Enter);
    settle(&mut harness);
    assert_eq!(harness.state().tabs().len(), 3);
    assert_eq!(
        harness.state().active_tab().map(|t| t.document.workflow().name.clone()).as_deref(),
        Some("Penguin species (multiclass)")
    );
}

#[test]
fn the_memory_budget_is_a_setting_chosen_from_the_run_menu_or_the_palette() {
    let config = tempfile::tempdir().expect("temp dir");
    let mut harness = harness(designer(config.path()));
    open_document(&mut harness, two_blocks());
    assert_eq!(harness.state().settings().memory_budget_mib, None, "half of the machine by default");
    harness.get_by_label("Run").click();
    settle(&mut harness);
    harness.get_by_label_contains("Memory budget: half of this machine");
    harness.key_press(Key::Escape);
    settle(&mut harness);

    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::P);
    settle(&mut harness);
    harness.event(egui::Event::Text("memory budget: 1 gib".into()));
    settle(&mut harness);
    harness.key_press(Key::Enter);
    settle(&mut harness);
    assert_eq!(harness.state().settings().memory_budget_mib, Some(1024));
    let saved = std::fs::read_to_string(config.path().join("settings.json")).expect("saved");
    assert!(saved.contains("\"memory_budget_mib\": 1024"), "{saved}");
    harness.get_by_label("Run").click();
    settle(&mut harness);
    harness.get_by_label_contains("Memory budget: 1 GiB");
}

/// The Models view's actions on a second version (the logistic model of run 2): Deploy serves the model
/// from the registry, Promote twice puts version 2 in production and the endpoint follows, Roll back returns to
/// version 1, Stop ends the endpoint.
fn deploy_promote_and_roll_back(harness: &mut Harness<'_, Designer>, name: &str) {
    use pipewright_store::Stage;
    harness.state_mut().history.begin_register(2, "train_logistic", name);
    let _ = harness.state_mut().history.submit_register();
    harness.state_mut().history.show_view(pipewright_ui::HistoryView::Models);
    settle(harness);
    let stages =
        |h: &Harness<'_, Designer>| h.state().history.models().iter().map(|m| (m.version, m.stage)).collect::<Vec<_>>();
    assert_eq!(stages(harness), vec![(2, Stage::None), (1, Stage::Production)]);
    // Rows: version 2 (Promote, Deploy, Split…, Shadow), then version 1 (Roll back, Deploy).
    harness.get_all_by_label("Deploy").nth(1).expect("version 1's Deploy").click();
    settle(harness);
    harness.get_by_label_contains(&format!("{name} v1 (production) at"));
    let url = {
        let deployed = harness.state().history.deployed().expect("serving");
        format!("{}{}", deployed.server.url(), pipewright_deploy::score_path(name))
    };
    let record = r#"{"pclass": 3, "sex": "male", "age": 22, "sibsp": 1, "parch": 0, "fare": 7.25, "embarked": "S"}"#;
    let version = || {
        let answer = pipewright_deploy::client::request(
            "POST",
            &url,
            &[("Content-Type", "application/json")],
            record.as_bytes(),
        )
        .expect("answers");
        answer.json().expect("json")["version"].as_i64().expect("version")
    };
    assert_eq!(version(), 1);
    harness.get_all_by_label("Promote").next().expect("version 2's Promote").click();
    settle(harness);
    harness.get_all_by_label("Promote").next().expect("version 2's Promote").click();
    settle(harness);
    assert_eq!(stages(harness), vec![(2, Stage::Production), (1, Stage::Staging)]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while version() != 2 {
        assert!(std::time::Instant::now() < deadline, "the designer's endpoint never followed the promotion");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    harness.get_by_label("Split…").click();
    settle(harness);
    if can_render(harness) {
        harness.snapshot_options("models_registry", &SnapshotOptions::new().max_failed_pixels(3000));
    }
    harness.get_by_label("Roll back").click();
    settle(harness);
    assert_eq!(stages(harness), vec![(2, Stage::Staging), (1, Stage::Production)]);
    while version() != 1 {
        assert!(std::time::Instant::now() < deadline, "the designer's endpoint never followed the rollback");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    harness.get_by_label("■ Stop").click();
    settle(harness);
    assert!(harness.state().history.deployed().is_none());
    assert!(pipewright_deploy::client::get(&url, None).is_err(), "the endpoint is gone");

    // The endpoint captured its requests: the Monitor view compares them with version 1's training profile.
    harness.get_by_label("Monitor").click();
    settle(harness);
    harness.get_by_label("Compute").click();
    settle(harness);
    harness.get_by_label_contains("Version 1: 1 window(s)");
    harness.get_by_label("fare").click();
    settle(harness);
    harness.get_by_label_contains("fare: wasserstein by window");
    if can_render(harness) {
        harness.snapshot_options("monitor_view", &SnapshotOptions::new().max_failed_pixels(3000));
    }
}
