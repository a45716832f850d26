//! A job's results: written by the runner on the cluster (`pipewright run --results DIR`), read back by
//! `pipewright submit` from the bundle's folder or, where the cluster's files are out of reach, from the
//! job's log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pipewright_engine::{NodeOutcome, OutputFile, RunResult, write_atomic};

use super::ClusterError;
use super::bundle::Bundle;

/// The log line that carries the run's result (compact JSON after it), so engines whose files are out of
/// reach still give their metrics back through the log.
pub const RESULT_MARKER: &str = "pipewright-result: ";

/// The result file in a results folder.
pub const RESULT_FILE: &str = "result.json";

/// Writes a run's results into a folder as the run goes (`pipewright run --results DIR`): each block's
/// outputs that the run history keeps (`outputs/NODE.PORT.KIND`) the moment it is done — a headless run lets
/// go of intermediate values early — then `result.json`.
pub struct ResultsWriter {
    dir: PathBuf,
    ports: HashMap<String, Vec<String>>,
    listed: Mutex<Vec<OutputFile>>,
    trouble: Mutex<Option<String>>,
}

impl ResultsWriter {
    /// A writer into `dir` (created); `ports` names each node's output ports.
    pub fn new(dir: &Path, ports: HashMap<String, Vec<String>>) -> Result<Self, ClusterError> {
        let outputs = dir.join("outputs");
        std::fs::create_dir_all(&outputs).map_err(|e| ClusterError::io(&outputs, e))?;
        Ok(Self { dir: dir.to_path_buf(), ports, listed: Mutex::default(), trouble: Mutex::default() })
    }

    /// Subscribes to the run's events: writes each block's outputs the moment it is done.
    pub fn on_event(&self, event: &pipewright_engine::Event) {
        if let pipewright_engine::Event::NodeDone(pipewright_engine::Done(outcome)) = event {
            self.node_done(outcome);
        }
    }

    /// Writes one finished block's outputs.
    pub fn node_done(&self, outcome: &NodeOutcome) {
        let ports = self.ports.get(&outcome.node).map_or(&[][..], Vec::as_slice);
        for (i, value) in outcome.outputs.iter().enumerate() {
            let Some((kind, bytes)) = pipewright_store::artifact_of(value) else { continue };
            let port = ports.get(i).cloned().unwrap_or_else(|| i.to_string());
            let file = format!("outputs/{}.{port}.{kind}", outcome.node);
            let path = self.dir.join(&file);
            match write_atomic(&path, &bytes) {
                Ok(()) => {
                    lock(&self.listed).push(OutputFile {
                        node: outcome.node.clone(),
                        port,
                        kind: kind.to_owned(),
                        file,
                    });
                }
                Err(e) => {
                    lock(&self.trouble).get_or_insert_with(|| e.to_string());
                }
            }
        }
    }

    /// Writes `result` (what `pipewright run --json` prints) with the outputs listed under `outputs` to
    /// `result.json`; returns it as written.
    pub fn finish(&self, mut result: RunResult) -> Result<RunResult, ClusterError> {
        result.outputs.clone_from(&lock(&self.listed));
        let path = self.dir.join(RESULT_FILE);
        let text = serde_json::to_string_pretty(&result).unwrap_or_default() + "\n";
        write_atomic(&path, text.as_bytes())
            .map_err(|e| ClusterError::io(&path, std::io::Error::other(e.to_string())))?;
        match lock(&self.trouble).take() {
            Some(trouble) => {
                Err(ClusterError::io(&self.dir, std::io::Error::other(format!("an output was not written: {trouble}"))))
            }
            None => Ok(result),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What came back from a job.
#[derive(Debug, Clone, Default)]
pub struct JobResults {
    /// `result.json`: every block's status and time, the metrics, the outputs.
    pub result: Option<RunResult>,
    /// The results folder the outputs are in, when it could be read (shared with the cluster).
    pub dir: Option<PathBuf>,
    /// The job's log.
    pub log: String,
}

impl JobResults {
    /// The metrics: (node, source, name, value).
    pub fn metrics(&self) -> Vec<(String, String, String, f64)> {
        self.result.as_ref().map(RunResult::metric_list).unwrap_or_default()
    }

    /// The first failed block's message, as "node \"id\" failed: message".
    pub fn failure(&self) -> Option<String> {
        self.result.as_ref()?.failure()
    }
}

/// Reads the results of the job that just ended: `results/result.json` in the bundle when it is there
/// (the folder is shared with the cluster), else the result line of the log.
pub(super) fn collect(bundle: &Bundle, log: String) -> JobResults {
    collect_from(&bundle.results_dir(), log)
}

/// The results in folder `dir`, else in the result line of the log.
fn collect_from(dir: &Path, log: String) -> JobResults {
    let from_file =
        std::fs::read_to_string(dir.join(RESULT_FILE)).ok().and_then(|t| serde_json::from_str::<RunResult>(&t).ok());
    if let Some(result) = from_file {
        return JobResults { result: Some(result), dir: Some(dir.to_path_buf()), log };
    }
    let result = log
        .lines()
        .rev()
        .find_map(|l| l.find(RESULT_MARKER).map(|i| &l[i + RESULT_MARKER.len()..]))
        .and_then(|t| serde_json::from_str::<RunResult>(t).ok());
    JobResults { result, dir: None, log }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_comes_back_from_the_log_when_the_folder_is_out_of_reach() {
        let result = RunResult {
            workflow: "w".into(),
            file: None,
            success: false,
            cancelled: false,
            device: pipewright_engine::Device::Auto,
            duration_secs: 1.0,
            nodes: Vec::new(),
            metrics: [("eval".to_owned(), [("scored".to_owned(), [("accuracy".to_owned(), 0.75)].into())].into())]
                .into(),
            run: None,
            outputs: Vec::new(),
        };
        let log = format!("starting\n{RESULT_MARKER}{}\nbye\n", serde_json::to_string(&result).expect("json"));
        let dir = tempfile::tempdir().expect("a folder");
        let read = collect_from(dir.path(), log);
        assert_eq!(read.result.as_ref(), Some(&result));
        assert_eq!(read.metrics(), vec![("eval".into(), "scored".into(), "accuracy".into(), 0.75)]);
    }
}
