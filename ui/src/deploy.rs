//! Packaging and local deployment in the designer: "Package model…" on a Train Model block gathers the
//! trained model and the fitted transforms in front of it from the last run and writes a model package;
//! "Deploy locally…" starts a scoring endpoint from a package, shows its URL, a test form and a ready curl
//! command, and stops it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use egui::Ui;
use serde_json::{Value as Json, json};

use pipewright_deploy::{
    AssembleError, FieldType, Package, RunValues, ServeOptions, Server, Source, client, output_by_port,
};
use pipewright_engine::{Catalog, Value, Workflow};

use crate::runtime::Runtime;

/// The designer's last run of a tab, as the values a package is assembled from.
pub struct LastRun<'a> {
    /// The tab's runtime.
    pub runtime: &'a Runtime,
    /// The catalog.
    pub catalog: &'a Catalog,
    /// The tab's workflow.
    pub workflow: &'a Workflow,
}

impl RunValues for LastRun<'_> {
    fn output(&self, node: &str, port: &str) -> Option<Value> {
        output_by_port(self.catalog, self.workflow, node, port, self.runtime.outputs(node)?)
    }
}

/// A package of the model trained by `node`, from the last run's values, and notes for the user about what the
/// package does not include.
pub fn assemble(
    workflow: &Workflow,
    runtime: &Runtime,
    catalog: &Catalog,
    node: &str,
    workflow_file: Option<&Path>,
) -> Result<(Package, Vec<String>), String> {
    let source = Source {
        workflow: workflow_file.map(|p| p.display().to_string()),
        node: Some(node.to_owned()),
        run: runtime.recorded_run_of(node),
    };
    let last = LastRun { runtime, catalog, workflow };
    let assembled = pipewright_deploy::assemble(workflow, catalog, &last, node, source).map_err(|e| match e {
        AssembleError::NotRun(_) => "run the workflow first (▶ Run), then package the model".to_owned(),
        other => other.to_string(),
    })?;
    Ok((assembled.package, assembled.notes))
}

/// The "Package model" window's state.
struct Packaging {
    package: Package,
    notes: Vec<String>,
    base_dir: PathBuf,
    path: String,
    written: Option<Result<PathBuf, String>>,
}

/// What a test request came back with.
type Answer = Arc<Mutex<Option<Result<(u16, String), String>>>>;

/// The packaging and deployment windows.
#[derive(Default)]
pub struct Deploy {
    packaging: Option<Packaging>,
    /// Whether the deployment window shows.
    pub open: bool,
    package_path: String,
    package: Option<Arc<Package>>,
    host: String,
    port: u16,
    token: String,
    server: Option<Server>,
    problem: Option<String>,
    form: Vec<String>,
    answer: Answer,
    sending: bool,
}

impl Deploy {
    /// Opens the packaging window for a package assembled from the last run.
    pub fn offer_package(&mut self, package: Package, notes: Vec<String>, base_dir: PathBuf) {
        let file = package.manifest.name.to_lowercase().replace(|c: char| !c.is_alphanumeric(), "-");
        let path = format!("models/{}.pwmodel", file.trim_matches('-'));
        self.packaging = Some(Packaging { package, notes, base_dir, path, written: None });
    }

    /// Opens the deployment window on a package file, loading it.
    pub fn open_package(&mut self, path: &Path) {
        self.open = true;
        self.package_path = path.display().to_string();
        self.load();
    }

    /// The port the endpoint will listen on (0 picks a free one).
    pub fn set_port(&mut self, port: u16) {
        self.port = port;
    }

    /// The running endpoint's URL.
    pub fn url(&self) -> Option<String> {
        self.server.as_ref().map(Server::url)
    }

    fn load(&mut self) {
        self.problem = None;
        match Package::read(Path::new(self.package_path.trim())) {
            Ok(p) => self.use_package(p),
            Err(e) => self.problem = Some(e.to_string()),
        }
    }

    fn use_package(&mut self, package: Package) {
        let example = package.manifest.example.clone().unwrap_or_else(|| package.plain_record());
        self.form = package
            .manifest
            .inputs
            .iter()
            .map(|f| match &example[&f.name] {
                Json::Null => String::new(),
                Json::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        self.package = Some(Arc::new(package));
        if self.host.is_empty() {
            self.host = "127.0.0.1".into();
            self.port = 8080;
        }
    }

    /// The windows; call every frame.
    pub fn windows_ui(&mut self, ctx: &egui::Context) {
        self.packaging_ui(ctx);
        if !self.open {
            return;
        }
        let mut open = self.open;
        egui::Window::new("Deploy locally")
            .id(egui::Id::new("deploy-window"))
            .open(&mut open)
            .default_size([620.0, 560.0])
            .collapsible(false)
            .show(ctx, |ui| egui::ScrollArea::vertical().show(ui, |ui| self.deploy_ui(ui)));
        if !open {
            self.stop();
        }
        self.open = open;
    }

    fn packaging_ui(&mut self, ctx: &egui::Context) {
        let Some(p) = &mut self.packaging else { return };
        let mut open = true;
        let mut deploy = None;
        egui::Window::new("Package model")
            .id(egui::Id::new("package-window"))
            .open(&mut open)
            .default_width(520.0)
            .collapsible(false)
            .show(ctx, |ui| {
                let m = &p.package.manifest;
                ui.label(egui::RichText::new(&m.name).strong());
                let steps: Vec<&str> = p.package.steps.iter().map(|s| s.name.as_str()).collect();
                ui.label(format!(
                    "Steps: {}{}",
                    steps.join(" → "),
                    if steps.is_empty() { "the model" } else { " → the model" }
                ));
                let required = m.inputs.iter().filter(|f| f.required).count();
                ui.label(format!("{} input fields ({required} required)", m.inputs.len()));
                if let Some(metric) = m.metrics.first() {
                    ui.label(format!("{} = {:.4}", metric.name, metric.value));
                }
                for note in &p.notes {
                    ui.colored_label(ui.visuals().warn_fg_color, note);
                }
                ui.separator();
                ui.horizontal(|ui| {
                    ui.label("File:");
                    ui.add(egui::TextEdit::singleline(&mut p.path).desired_width(320.0));
                });
                ui.label(egui::RichText::new(format!("relative to {}", p.base_dir.display())).small().weak());
                ui.horizontal(|ui| {
                    let write = ui.button("Write package").clicked();
                    let and_deploy = ui.button("Write and deploy locally…").clicked();
                    if write || and_deploy {
                        let path = p.base_dir.join(p.path.trim());
                        p.written = Some(p.package.write(&path).map(|()| path).map_err(|e| e.to_string()));
                        if and_deploy && let Some(Ok(path)) = &p.written {
                            deploy = Some(path.clone());
                        }
                    }
                });
                match &p.written {
                    Some(Ok(path)) => {
                        ui.label(format!("Written to {}", path.display()));
                    }
                    Some(Err(e)) => {
                        ui.colored_label(ui.visuals().error_fg_color, e);
                    }
                    None => {}
                }
            });
        if !open {
            self.packaging = None;
        }
        if let Some(path) = deploy {
            self.packaging = None;
            self.open_package(&path);
        }
    }

    fn stop(&mut self) {
        if let Some(server) = self.server.take()
            && let Err(e) = server.stop()
        {
            self.problem = Some(e);
        }
    }

    fn deploy_ui(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.label("Package:");
            ui.add(egui::TextEdit::singleline(&mut self.package_path).desired_width(340.0));
            if ui.button("Browse…").clicked()
                && let Some(path) = rfd::FileDialog::new().add_filter("Model package", &["pwmodel"]).pick_file()
            {
                self.package_path = path.display().to_string();
                self.load();
            }
            if ui.add_enabled(self.server.is_none(), egui::Button::new("Load")).clicked() {
                self.load();
            }
        });
        if let Some(problem) = &self.problem {
            ui.colored_label(ui.visuals().error_fg_color, problem);
        }
        let Some(package) = self.package.clone() else {
            ui.label("Choose a .pwmodel file written by Export Model Package or Package model….");
            return;
        };
        let m = &package.manifest;
        ui.label(format!("{} — {}, {} input fields, made {}", m.name, m.task.label(), m.inputs.len(), m.created));
        ui.separator();
        let running = self.server.is_some();
        ui.add_enabled_ui(!running, |ui| {
            ui.horizontal(|ui| {
                ui.label("Host:");
                ui.add(egui::TextEdit::singleline(&mut self.host).desired_width(110.0));
                ui.label("Port:");
                ui.add(egui::DragValue::new(&mut self.port));
                ui.label("Token:");
                ui.add(
                    egui::TextEdit::singleline(&mut self.token).password(true).hint_text("none").desired_width(110.0),
                );
            });
        });
        ui.horizontal(|ui| {
            if running {
                if ui.button("■ Stop").clicked() {
                    self.stop();
                }
            } else if ui.button("▶ Start").clicked() {
                let options = ServeOptions {
                    host: self.host.trim().to_owned(),
                    port: self.port,
                    token: Some(self.token.trim().to_owned()).filter(|t| !t.is_empty()),
                    ..ServeOptions::default()
                };
                self.problem = None;
                match Server::start((*package).clone(), &options) {
                    Ok(server) => self.server = Some(server),
                    Err(e) => self.problem = Some(e.to_string()),
                }
            }
            match &self.server {
                Some(server) => {
                    ui.label(format!("Serving at {}", server.url()));
                }
                None => {
                    ui.weak("Stopped");
                }
            }
        });
        let Some(url) = self.url() else { return };
        let record = self.record(&package);
        let auth =
            if self.token.trim().is_empty() { String::new() } else { " -H 'Authorization: Bearer <token>'".into() };
        let curl = format!("curl -s {url}/score -H 'Content-Type: application/json'{auth} -d '{record}'");
        ui.horizontal(|ui| {
            ui.label("curl:");
            if ui.button("Copy").clicked() {
                ui.ctx().copy_text(curl.clone());
            }
        });
        ui.add(egui::Label::new(egui::RichText::new(&curl).monospace().small()).wrap());
        ui.separator();
        ui.label(egui::RichText::new("Test").strong());
        self.form_ui(ui, &package);
        ui.horizontal(|ui| {
            if ui.add_enabled(!self.sending, egui::Button::new("Send")).clicked() {
                self.send(ui.ctx(), &url, record);
            }
            if self.sending {
                ui.spinner();
            }
        });
        self.answer_ui(ui);
    }

    /// The last test request's answer.
    fn answer_ui(&mut self, ui: &mut Ui) {
        let answer = self.answer.lock().map(|a| a.clone()).unwrap_or_default();
        if let Some(answer) = answer {
            self.sending = false;
            match answer {
                Ok((status, body)) => {
                    let pretty = serde_json::from_str::<Json>(&body)
                        .and_then(|j| serde_json::to_string_pretty(&j))
                        .unwrap_or(body);
                    ui.label(format!("HTTP {status}"));
                    egui::ScrollArea::vertical().max_height(160.0).show(ui, |ui| {
                        ui.add(egui::Label::new(egui::RichText::new(pretty).monospace()).wrap());
                    });
                }
                Err(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
            }
        }
    }

    fn form_ui(&mut self, ui: &mut Ui, package: &Package) {
        egui::Grid::new("deploy-form").num_columns(2).striped(true).show(ui, |ui| {
            for (field, value) in package.manifest.inputs.iter().zip(&mut self.form) {
                let star = if field.required { " *" } else { "" };
                ui.label(format!("{}{star}", field.name)).on_hover_text(field.ty.as_str());
                if field.ty == FieldType::Category {
                    egui::ComboBox::from_id_salt(("deploy-field", &field.name))
                        .selected_text(if value.is_empty() { "(missing)" } else { value.as_str() })
                        .show_ui(ui, |ui| {
                            if !field.required {
                                ui.selectable_value(value, String::new(), "(missing)");
                            }
                            for c in &field.categories {
                                ui.selectable_value(value, c.clone(), c);
                            }
                        });
                } else {
                    ui.add(egui::TextEdit::singleline(value).desired_width(160.0).hint_text("(missing)"));
                }
                ui.end_row();
            }
        });
    }

    /// The form as one record: numbers where they parse, text otherwise (the endpoint says what is wrong).
    fn record(&self, package: &Package) -> Json {
        let record: serde_json::Map<String, Json> = package
            .manifest
            .inputs
            .iter()
            .zip(&self.form)
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(f, v)| {
                let value = match (f.ty, v.trim().parse::<f64>()) {
                    (FieldType::Number, Ok(x)) => json!(x),
                    _ => json!(v.trim()),
                };
                (f.name.clone(), value)
            })
            .collect();
        Json::Object(record)
    }

    /// Sends the record to the endpoint off the UI thread.
    fn send(&mut self, ctx: &egui::Context, url: &str, record: Json) {
        self.sending = true;
        if let Ok(mut a) = self.answer.lock() {
            *a = None;
        }
        let answer = self.answer.clone();
        let token = Some(self.token.trim().to_owned()).filter(|t| !t.is_empty());
        let url = format!("{url}/score");
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name("pipewright-score-request".into()).spawn(move || {
            let result = client::post_json(&url, token.as_deref(), &record).map(|r| (r.status, r.text()));
            if let Ok(mut a) = answer.lock() {
                *a = Some(result);
            }
            ctx.request_repaint();
        });
        if let Err(e) = spawned
            && let Ok(mut a) = self.answer.lock()
        {
            *a = Some(Err(format!("no thread to send the request on ({e})")));
        }
    }
}
