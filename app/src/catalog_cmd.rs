//! `pipewright nodes` (the block catalog) and `pipewright devices` (the GPU adapters).

use std::process::ExitCode;

use pipewright_engine::{Category, ParamKind};

pub fn nodes(json: bool) -> ExitCode {
    let catalog = pipewright_nodes::catalog();
    if json {
        let specs: Vec<_> = catalog.entries().map(|e| e.spec.as_ref()).collect();
        match serde_json::to_string_pretty(&specs) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    let mut entries: Vec<_> = catalog.entries().collect();
    entries.sort_by_key(|e| (e.spec.category, e.spec.name));
    let mut category: Option<Category> = None;
    for entry in entries {
        let spec = &entry.spec;
        if category != Some(spec.category) {
            category = Some(spec.category);
            println!("\n{}", spec.category.label().to_uppercase());
        }
        println!("  {}  ({})", spec.name, spec.id);
        println!("    {}", spec.description);
        let ports = |ports: &[pipewright_engine::PortSpec]| {
            ports
                .iter()
                .map(|p| format!("{}: {}{}", p.name, p.ty.label(), if p.required { "" } else { "?" }))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !spec.inputs.is_empty() {
            println!("    in:  {}", ports(&spec.inputs));
        }
        println!("    out: {}", ports(&spec.outputs));
        for p in &spec.params {
            let kind = match &p.kind {
                ParamKind::Integer { min, max } => format!("integer {min}..{max}"),
                ParamKind::Float { min, max } => format!("number {min}..{max}"),
                ParamKind::Bool => "bool".into(),
                ParamKind::Choice { choices } => choices.join("|"),
                ParamKind::Text => "text".into(),
                ParamKind::Column { port } => format!("column of {port}"),
                ParamKind::ColumnList { port } => format!("columns of {port}"),
                ParamKind::FilePath { .. } => "file".into(),
                ParamKind::Seed => "seed".into(),
            };
            let default = if p.default.is_null() { String::new() } else { format!(" = {}", p.default) };
            println!("    - {} [{kind}]{default}: {}", p.name, p.help);
        }
    }
    ExitCode::SUCCESS
}

pub fn devices(json: bool) -> ExitCode {
    let adapters = pipewright_compute::adapters();
    if json {
        println!("{}", serde_json::to_string_pretty(&adapters).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    if adapters.is_empty() {
        println!(
            "No GPU adapter: every kernel runs on the CPU. (On Linux without a GPU, Mesa's lavapipe gives a \
             software Vulkan adapter: apt-get install mesa-vulkan-drivers libvulkan1.)"
        );
        return ExitCode::SUCCESS;
    }
    for (i, a) in adapters.iter().enumerate() {
        let role = match (i, a.software) {
            (0, false) => "  <- used by --device gpu and auto",
            (0, true) => "  <- used by --device gpu (software: auto keeps the CPU)",
            _ => "",
        };
        println!("{}{role}", a.label());
        println!("    driver: {}", a.driver);
        println!(
            "    limits: buffer {} MiB, storage binding {} MiB, {} workgroups per dimension, {} invocations per workgroup",
            a.max_buffer_bytes >> 20,
            a.max_storage_binding_bytes >> 20,
            a.max_workgroups_per_dimension,
            a.max_invocations_per_workgroup
        );
    }
    println!(
        "auto sends a kernel to a hardware GPU from {} matrix elements (rows x columns) up.",
        pipewright_compute::AUTO_MIN_ELEMENTS
    );
    ExitCode::SUCCESS
}
