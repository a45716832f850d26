//! Designer frame cost: CPU time per frame (layout, canvas, tessellation) with a 200-block workflow open,
//! the pointer moving over the canvas; and the cost of the first frame after opening it.
//!
//! `cargo bench --bench frames` (release). Time to the first frame of the real window, including the
//! GPU adapter and the display connection, is measured by `scripts/bench-designer`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Event, Key, Modifiers, Pos2, RawInput, Rect, vec2};
use pipewright_engine::{Edge, Node, PortRef, Workflow};
use pipewright_ui::{Designer, DesignerPaths, Document};

/// Blocks in the benchmark workflow.
const BLOCKS: usize = 200;
/// Frames measured.
const FRAMES: usize = 400;

/// Twenty preprocessing chains of ten blocks: sample → clean → normalize → select → edit → split → ….
fn big_workflow() -> Workflow {
    let kinds = [
        "data.sample_dataset",
        "transform.clean_missing_data",
        "transform.normalize_data",
        "transform.select_columns",
        "transform.edit_metadata",
        "transform.convert_to_indicator_values",
        "transform.clean_missing_data",
        "transform.normalize_data",
        "transform.select_columns",
        "transform.split_data",
    ];
    let mut workflow = Workflow::new("two hundred blocks");
    for i in 0..BLOCKS {
        let (chain, step) = (i / kinds.len(), i % kinds.len());
        workflow.nodes.push(Node {
            id: format!("n{i}"),
            kind: kinds[step].into(),
            title: None,
            params: std::collections::BTreeMap::default(),
            position: [step as f32 * 230.0, chain as f32 * 150.0],
        });
        if step > 0 {
            workflow.edges.push(Edge {
                from: PortRef::new(format!("n{}", i - 1), "data"),
                to: PortRef::new(format!("n{i}"), "data"),
            });
        }
    }
    workflow
}

fn input(size: egui::Vec2, time: f64, pointer: Pos2) -> RawInput {
    RawInput {
        screen_rect: Some(Rect::from_min_size(Pos2::ZERO, size)),
        time: Some(time),
        events: vec![Event::PointerMoved(pointer)],
        ..Default::default()
    }
}

fn frame(ctx: &egui::Context, designer: &mut Designer, raw: RawInput) -> Duration {
    let started = Instant::now();
    let output = ctx.run_ui(raw, |ui| designer.ui(ui));
    let primitives = ctx.tessellate(output.shapes, output.pixels_per_point);
    std::hint::black_box(primitives);
    started.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let size = vec2(1600.0, 1000.0);
    let config = std::env::temp_dir().join(format!("pipewright-bench-{}", std::process::id()));
    let paths = DesignerPaths { config_dir: config.clone(), projects_dir: None };
    let ctx = egui::Context::default();
    let mut designer = Designer::new(Arc::new(pipewright_nodes::catalog()), paths);
    designer.add_tab(Document::new(big_workflow()));
    let first = frame(&ctx, &mut designer, input(size, 0.0, Pos2::new(800.0, 500.0)));
    println!("designer frame, {BLOCKS} blocks, {}x{} points, {FRAMES} frames per view", size.x, size.y);
    println!("  first frame after opening: {:.2} ms", ms(first));
    let mut time = 0.0;
    for (view, fit_all) in [("opening view (readable scale)", false), ("all 200 blocks in view (Home)", true)] {
        // Let fitting and layout settle before measuring.
        for i in 0..10 {
            let mut raw = input(size, time, Pos2::new(800.0, 500.0));
            if fit_all && i == 0 {
                raw.events.push(Event::Key {
                    key: Key::Home,
                    physical_key: None,
                    pressed: true,
                    repeat: false,
                    modifiers: Modifiers::NONE,
                });
            }
            frame(&ctx, &mut designer, raw);
            time += 0.016;
        }
        let mut times: Vec<Duration> = (0..FRAMES)
            .map(|i| {
                let t = i as f32 / FRAMES as f32;
                let pointer = Pos2::new(300.0 + 1000.0 * t, 150.0 + 500.0 * (t * 6.0).sin().abs());
                time += 0.016;
                frame(&ctx, &mut designer, input(size, time, pointer))
            })
            .collect();
        times.sort();
        let mean = times.iter().map(|d| ms(*d)).sum::<f64>() / times.len() as f64;
        println!(
            "  {view}: mean {mean:.2} ms, median {:.2} ms, p95 {:.2} ms, max {:.2} ms per frame",
            ms(times[FRAMES / 2]),
            ms(times[FRAMES * 95 / 100]),
            ms(times[FRAMES - 1])
        );
    }
    println!("  target: <= 8 ms per frame");
    let _ = std::fs::remove_dir_all(config);
}
