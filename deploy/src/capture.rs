//! The capture store: what an endpoint was asked and what it answered, for monitoring. Each scored record's
//! input fields (typed as the package reads them), its prediction and score, the model and version that
//! answered (or scored in the shadow), the latency and the request id go to Parquet files in a folder —
//! `NAME/vVERSION/<UTC time>-<n>.parquet`, one file per model version each time a buffer is rolled (by rows or
//! by age). Refused records go to `NAME/vVERSION/rejected/` with the field and what was wrong with it.
//!
//! Requests never wait for it: they hand their rows to a writer thread through a bounded queue. A queue that is
//! full, a folder over its size limit or a write that fails drops rows; serving goes on, and the dropped rows
//! are counted by reason in `/metrics` and logged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use polars::prelude::{Column, DataFrame, ParquetWriter};
use serde_json::Value as Json;

use pipewright_engine::Task;
use pipewright_nodes::deploy::{FieldType, Problem};

use crate::Package;

/// Capture settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureOptions {
    /// The folder of the capture store.
    pub dir: PathBuf,
    /// The share of requests captured, from 0 (none) to 1 (all).
    pub sample: f64,
    /// A model version's buffer is written as a file once it holds this many records…
    pub roll_rows: usize,
    /// …or once its oldest record is this old.
    pub roll_after: Duration,
    /// Past this many bytes in the folder, records are dropped (counted as `full`).
    pub max_bytes: u64,
}

impl CaptureOptions {
    /// Every request captured into `dir`, rolled each 100,000 records or minute, up to 10 GiB.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir, sample: 1.0, roll_rows: 100_000, roll_after: Duration::from_mins(1), max_bytes: 10 << 30 }
    }
}

/// What a request sent, shared between its scoring, its shadow and the capture.
pub(crate) enum Input {
    Records(Vec<Json>),
    Csv(axum::body::Bytes),
}

/// Who answered: a model version as the endpoint loaded it.
pub(crate) struct Answerer {
    pub(crate) name: String,
    pub(crate) version: Option<i64>,
    pub(crate) package: Arc<Package>,
}

/// What one request hands to the capture.
pub(crate) struct Captured {
    pub(crate) request_id: String,
    pub(crate) time: f64,
    pub(crate) by: Arc<Answerer>,
    pub(crate) shadow: bool,
    pub(crate) latency_ms: f64,
    pub(crate) input: Arc<Input>,
    pub(crate) outcome: Outcome,
}

/// Its predictions, or the problems that refused it.
pub(crate) enum Outcome {
    Scored(Vec<Json>),
    Refused(Vec<Problem>),
}

/// The capture's counters, shown in `/metrics`.
#[derive(Default)]
pub(crate) struct CaptureCounters {
    pub(crate) rows: AtomicU64,
    pub(crate) files: AtomicU64,
    pub(crate) dropped_backlog: AtomicU64,
    pub(crate) dropped_full: AtomicU64,
    pub(crate) dropped_write: AtomicU64,
}

/// Records waiting in the queue at most; past it, rows are dropped rather than requests slowed.
const QUEUE: usize = 1 << 16;

/// A running capture.
pub(crate) struct Capture {
    sender: Mutex<Option<SyncSender<Captured>>>,
    pub(crate) counters: Arc<CaptureCounters>,
    sample: f64,
    turn: AtomicU64,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Capture {
    /// Starts the writer. The folder is created now, so one that cannot be is an error at start.
    pub(crate) fn start(options: &CaptureOptions, log: crate::server::Log) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&options.sample) {
            return Err(format!("a capture sample of {}: give a share from 0 to 1", options.sample));
        }
        std::fs::create_dir_all(&options.dir)
            .map_err(|e| format!("cannot create the capture folder {}: {e}", options.dir.display()))?;
        let counters = Arc::new(CaptureCounters::default());
        let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE);
        let mut writer = Writer {
            options: options.clone(),
            counters: counters.clone(),
            buffers: BTreeMap::new(),
            used: folder_bytes(&options.dir),
            files: 0,
            log,
            last_complaint: None,
        };
        let thread = std::thread::Builder::new()
            .name("pipewright-capture".into())
            .spawn(move || writer.run(&receiver))
            .map_err(|e| format!("cannot start the capture writer: {e}"))?;
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            counters,
            sample: options.sample,
            turn: AtomicU64::new(0),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Whether this request is in the sample: an even spread of the given share of requests.
    pub(crate) fn sampled(&self) -> bool {
        self.sample >= 1.0 || {
            let n = self.turn.fetch_add(1, Ordering::Relaxed);
            (n as f64 * GOLDEN).fract() < self.sample
        }
    }

    /// Hands a request to the writer, or counts its records as dropped when the queue is full.
    pub(crate) fn offer(&self, captured: Captured) {
        let sender = self.sender.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(sender) = sender.as_ref() else { return };
        if let Err(TrySendError::Full(c) | TrySendError::Disconnected(c)) = sender.try_send(captured) {
            self.counters.dropped_backlog.fetch_add(c.records() as u64, Ordering::Relaxed);
        }
    }

    /// Writes what is buffered and stops the writer.
    pub(crate) fn finish(&self) {
        self.sender.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let thread = self.thread.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The fractional part of the golden ratio: multiples of it spread evenly over [0, 1).
pub(crate) const GOLDEN: f64 = 0.618_033_988_749_894_9;

impl Captured {
    fn records(&self) -> usize {
        match &self.outcome {
            Outcome::Scored(p) => p.len(),
            Outcome::Refused(problems) => problems.len().max(1),
        }
    }
}

/// A column being filled.
enum Cells {
    Numbers(Vec<Option<f64>>),
    Texts(Vec<Option<String>>),
}

impl Cells {
    fn for_type(ty: FieldType) -> Self {
        if ty == FieldType::Number { Self::Numbers(Vec::new()) } else { Self::Texts(Vec::new()) }
    }

    fn push_json(&mut self, value: Option<&Json>) {
        match self {
            Self::Numbers(v) => v.push(match value {
                Some(Json::Number(n)) => n.as_f64(),
                Some(Json::String(s)) => s.trim().parse().ok(),
                _ => None,
            }),
            Self::Texts(v) => v.push(match value {
                Some(Json::String(s)) => Some(s.clone()),
                Some(v @ (Json::Number(_) | Json::Bool(_))) => Some(v.to_string()),
                _ => None,
            }),
        }
    }

    fn column(self, name: &str) -> Column {
        match self {
            Self::Numbers(v) => Column::new(name.into(), v),
            Self::Texts(v) => Column::new(name.into(), v),
        }
    }
}

/// A refused record: request id, time, record, field, kind of problem, message.
type Rejected = (String, f64, Option<u32>, String, &'static str, String);

/// The records of one model version waiting to be written.
struct Buffer {
    by: Arc<Answerer>,
    opened: Instant,
    request_id: Vec<String>,
    record: Vec<u32>,
    time: Vec<f64>,
    shadow: Vec<bool>,
    latency_ms: Vec<f64>,
    inputs: Vec<Cells>,
    prediction: Cells,
    score: Vec<Option<f64>>,
    /// Refused records.
    rejected: Vec<Rejected>,
}

impl Buffer {
    fn new(by: Arc<Answerer>) -> Self {
        let m = &by.package.manifest;
        let inputs = m.inputs.iter().map(|f| Cells::for_type(f.ty)).collect();
        let prediction = match m.task {
            Task::BinaryClassification | Task::MulticlassClassification => Cells::Texts(Vec::new()),
            _ => Cells::Numbers(Vec::new()),
        };
        Self {
            by,
            opened: Instant::now(),
            request_id: Vec::new(),
            record: Vec::new(),
            time: Vec::new(),
            shadow: Vec::new(),
            latency_ms: Vec::new(),
            inputs,
            prediction,
            score: Vec::new(),
            rejected: Vec::new(),
        }
    }

    fn rows(&self) -> usize {
        self.request_id.len() + self.rejected.len()
    }

    fn add(&mut self, c: &Captured) {
        match &c.outcome {
            Outcome::Refused(problems) => {
                for p in problems {
                    let record = p.record.and_then(|r| u32::try_from(r).ok());
                    let kind = problem_kind(&p.message);
                    self.rejected.push((
                        c.request_id.clone(),
                        c.time,
                        record,
                        p.field.clone(),
                        kind,
                        p.message.clone(),
                    ));
                }
            }
            Outcome::Scored(predictions) => {
                let fields = &self.by.package.manifest.inputs;
                match c.input.as_ref() {
                    Input::Records(records) => {
                        for record in records.iter().take(predictions.len()) {
                            for (field, cells) in fields.iter().zip(&mut self.inputs) {
                                cells.push_json(record.get(&field.name));
                            }
                        }
                    }
                    Input::Csv(bytes) => self.add_csv(bytes, predictions.len()),
                }
                let classes = matches!(self.prediction, Cells::Texts(_));
                for (i, p) in predictions.iter().enumerate() {
                    self.request_id.push(c.request_id.clone());
                    self.record.push(u32::try_from(i).unwrap_or(u32::MAX));
                    self.time.push(c.time);
                    self.shadow.push(c.shadow);
                    self.latency_ms.push(c.latency_ms);
                    let predicted = p.get("prediction");
                    self.prediction.push_json(predicted);
                    self.score.push(if classes {
                        predicted.and_then(Json::as_str).and_then(|label| p["probabilities"][label].as_f64())
                    } else {
                        p.get("score").or_else(|| p.get("distance")).and_then(Json::as_f64)
                    });
                }
            }
        }
    }

    /// The input fields of a CSV body, read as the package reads them.
    fn add_csv(&mut self, bytes: &[u8], rows: usize) {
        let fields = &self.by.package.manifest.inputs;
        let typed = pipewright_nodes::deploy::fields::from_csv(fields, bytes).ok();
        for (field, cells) in fields.iter().zip(&mut self.inputs) {
            let frame = typed.as_ref().map(|t| &t.frame);
            match cells {
                Cells::Numbers(v) => {
                    let values = frame.and_then(|f| pipewright_nodes::frame::numeric_values(f, &field.name).ok());
                    v.extend(values.unwrap_or_default().into_iter().chain(std::iter::repeat(None)).take(rows));
                }
                Cells::Texts(v) => {
                    let values = frame.and_then(|f| pipewright_nodes::frame::text_values(f, &field.name).ok());
                    v.extend(values.unwrap_or_default().into_iter().chain(std::iter::repeat(None)).take(rows));
                }
            }
        }
    }

    /// The scored records as a frame, emptying the buffer.
    fn take_scored(&mut self) -> Option<DataFrame> {
        if self.request_id.is_empty() {
            return None;
        }
        let mut old = std::mem::replace(self, Self::new(self.by.clone()));
        self.rejected = std::mem::take(&mut old.rejected);
        let n = old.request_id.len();
        let mut columns = vec![
            Column::new("request_id".into(), old.request_id),
            Column::new("record".into(), old.record),
            Column::new("time".into(), old.time),
            Column::new("model".into(), vec![old.by.name.clone(); n]),
            Column::new("version".into(), vec![old.by.version; n]),
            Column::new("shadow".into(), old.shadow),
            Column::new("latency_ms".into(), old.latency_ms),
        ];
        for (field, cells) in old.by.package.manifest.inputs.iter().zip(old.inputs) {
            columns.push(cells.column(&format!("{INPUT_PREFIX}{}", field.name)));
        }
        columns.push(old.prediction.column("prediction"));
        columns.push(Column::new("score".into(), old.score));
        DataFrame::new(n, columns).ok()
    }

    /// The refused records as a frame, emptying them.
    fn take_rejected(&mut self) -> Option<DataFrame> {
        if self.rejected.is_empty() {
            return None;
        }
        let rows = std::mem::take(&mut self.rejected);
        let n = rows.len();
        let mut request_id = Vec::with_capacity(n);
        let mut time = Vec::with_capacity(n);
        let mut record = Vec::with_capacity(n);
        let mut field = Vec::with_capacity(n);
        let mut kind = Vec::with_capacity(n);
        let mut message = Vec::with_capacity(n);
        for (r, t, i, f, k, m) in rows {
            request_id.push(r);
            time.push(t);
            record.push(i);
            field.push(f);
            kind.push(k);
            message.push(m);
        }
        DataFrame::new(
            n,
            vec![
                Column::new("request_id".into(), request_id),
                Column::new("time".into(), time),
                Column::new("model".into(), vec![self.by.name.clone(); n]),
                Column::new("version".into(), vec![self.by.version; n]),
                Column::new("record".into(), record),
                Column::new("field".into(), field),
                Column::new("problem".into(), kind),
                Column::new("message".into(), message),
            ],
        )
        .ok()
    }
}

/// Input fields are captured under this prefix, so a field named like a capture column stays apart.
pub const INPUT_PREFIX: &str = "input.";

/// What kind of problem refused a record, for data quality: a type error, a missing value, an unseen
/// category, or another.
fn problem_kind(message: &str) -> &'static str {
    if message.starts_with("expected") {
        "type"
    } else if message.starts_with("a value is required") {
        "missing"
    } else if message.starts_with("unknown category") {
        "unseen_category"
    } else {
        "other"
    }
}

/// A time as a file name part: `20261206T053012Z`.
fn utc_stamp(time: SystemTime) -> String {
    pipewright_nodes::deploy::rfc3339(time).replace(['-', ':'], "")
}

/// A folder's size, files below it included.
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => folder_bytes(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

/// A model name as a folder name: letters, digits, `.`, `-` and `_` kept, anything else `_`.
pub fn folder_name(name: &str) -> String {
    let safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    if safe.trim_matches('.').is_empty() { "_".into() } else { safe }
}

/// The writer thread's state.
struct Writer {
    options: CaptureOptions,
    counters: Arc<CaptureCounters>,
    buffers: BTreeMap<(String, Option<i64>), Buffer>,
    used: u64,
    files: u64,
    log: crate::server::Log,
    last_complaint: Option<Instant>,
}

impl Writer {
    fn run(&mut self, receiver: &Receiver<Captured>) {
        loop {
            match receiver.recv_timeout(Duration::from_millis(500)) {
                Ok(captured) => {
                    let key = (captured.by.name.clone(), captured.by.version);
                    let buffer = self.buffers.entry(key.clone()).or_insert_with(|| Buffer::new(captured.by.clone()));
                    // A version reloaded with other fields starts a new buffer.
                    if !Arc::ptr_eq(&buffer.by.package, &captured.by.package) && buffer.rows() > 0 {
                        self.roll(&key);
                    }
                    let buffer = self.buffers.entry(key).or_insert_with(|| Buffer::new(captured.by.clone()));
                    buffer.by = captured.by.clone();
                    buffer.add(&captured);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let due: Vec<_> = self
                .buffers
                .iter()
                .filter(|(_, b)| {
                    b.rows() >= self.options.roll_rows
                        || (b.rows() > 0 && b.opened.elapsed() >= self.options.roll_after)
                })
                .map(|(k, _)| k.clone())
                .collect();
            for key in due {
                self.roll(&key);
            }
        }
        let keys: Vec<_> = self.buffers.keys().cloned().collect();
        for key in keys {
            self.roll(&key);
        }
    }

    /// Writes a buffer's records as files and empties it.
    fn roll(&mut self, key: &(String, Option<i64>)) {
        let Some(buffer) = self.buffers.get_mut(key) else { return };
        let folder =
            self.options.dir.join(folder_name(&key.0)).join(key.1.map_or("package".into(), |v| format!("v{v}")));
        let scored = buffer.take_scored();
        let rejected = buffer.take_rejected();
        buffer.opened = Instant::now();
        if let Some(frame) = scored {
            self.write(&folder, frame);
        }
        if let Some(frame) = rejected {
            self.write(&folder.join("rejected"), frame);
        }
    }

    fn write(&mut self, folder: &Path, mut frame: DataFrame) {
        let rows = frame.height() as u64;
        if self.used >= self.options.max_bytes {
            self.counters.dropped_full.fetch_add(rows, Ordering::Relaxed);
            self.complain(&format!(
                "the capture store {} holds {} bytes, its limit: {rows} records dropped",
                self.options.dir.display(),
                self.used
            ));
            return;
        }
        self.files += 1;
        let stamp = utc_stamp(SystemTime::now());
        let path = folder.join(format!("{stamp}-{:06}.parquet", self.files));
        let tmp = folder.join(format!(".{stamp}-{:06}.parquet.part", self.files));
        let written = std::fs::create_dir_all(folder)
            .and_then(|()| std::fs::File::create(&tmp))
            .map_err(|e| e.to_string())
            .and_then(|file| ParquetWriter::new(file).finish(&mut frame).map_err(|e| e.to_string()))
            .and_then(|bytes| std::fs::rename(&tmp, &path).map(|()| bytes).map_err(|e| e.to_string()));
        match written {
            Ok(bytes) => {
                self.used += bytes;
                self.counters.rows.fetch_add(rows, Ordering::Relaxed);
                self.counters.files.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                self.counters.dropped_write.fetch_add(rows, Ordering::Relaxed);
                self.complain(&format!(
                    "cannot write the capture file {}: {e}; {rows} records dropped",
                    path.display()
                ));
            }
        }
    }

    /// Logs a capture failure: the first, then at most one a minute.
    fn complain(&mut self, message: &str) {
        if self.last_complaint.is_none_or(|t| t.elapsed() >= Duration::from_mins(1)) {
            self.last_complaint = Some(Instant::now());
            (self.log)(&format!("capture: {message} (serving goes on; /metrics counts the dropped records)"));
        }
    }
}
