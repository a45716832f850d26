//! Data-parallel training across processes: the ranks of a Slurm step (`srun --ntasks=N`) or of Ray actors,
//! each fitting the same learner over its own shard of the rows. After every pass the ranks exchange what their
//! rows summed to through files in a folder they share ([`FileExchange`]), so each continues from the sums of
//! all the rows and they all end with the model one process would fit over the whole table. Rank 0 writes it.
//!
//! A fit is a folder: `fit.json` ([`ShardedFit`]: the learner, the label, the whole table's classes and the
//! shards with their place in it), the shard files (any format Import Data reads), `exchange/` (the passes'
//! sums, round by round) and, at the end, `model/` (the model, as the cache stores values).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use pipewright_engine::{
    Device, DeviceRecord, FrameBatches, Learner, Model, NodeError, Params, TableStream, Value, write_values,
};
use pipewright_nodes::model::{Exchange, StreamClasses};

use super::ClusterError;

/// The fit's description in its folder.
pub const FIT_FILE: &str = "fit.json";
/// Where rank 0 writes the model.
pub const MODEL_DIR: &str = "model";
/// Rows of a batch a rank reads its shard in.
const BATCH_ROWS: usize = 65_536;

/// What the ranks fit: `fit.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardedFit {
    /// The learner, with its parameters.
    pub learner: Learner,
    /// The label column.
    pub label: String,
    /// A classifier's classes in the model's order (the whole table's); empty for regression.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Rows of the whole table.
    pub rows: usize,
    /// The shards, one a rank, in row order.
    pub shards: Vec<Shard>,
}

/// One rank's rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Its file, relative to the fit's folder.
    pub file: String,
    /// Its rows.
    pub rows: usize,
    /// Where its first row is in the whole table.
    pub offset: usize,
}

/// Ranks meeting through files in a shared folder: round `r`'s sums of rank `k` are `exchange/r/k.json`,
/// written under a temporary name and renamed, and read once every rank's is there.
pub struct FileExchange {
    dir: PathBuf,
    rank: usize,
    ranks: usize,
    round: AtomicUsize,
    timeout: Duration,
}

impl FileExchange {
    /// Rank `rank` of `ranks`, exchanging in `dir`, waiting at most `timeout` for the others at each round.
    pub fn new(dir: &Path, rank: usize, ranks: usize, timeout: Duration) -> Self {
        Self { dir: dir.to_path_buf(), rank, ranks, round: AtomicUsize::new(0), timeout }
    }
}

impl Exchange for FileExchange {
    fn rank(&self) -> usize {
        self.rank
    }

    fn all_gather(&self, mine: Vec<u8>) -> Result<Vec<Vec<u8>>, NodeError> {
        let round = self.round.fetch_add(1, Ordering::SeqCst);
        if let Some(old) = round.checked_sub(2) {
            // Every rank has written round `round - 1`, so has read round `round - 2`: this rank's sums of it go
            // (a fit of thousands of rounds leaves two on the shared file system, not all).
            let old = self.dir.join(old.to_string());
            let _ = std::fs::remove_file(old.join(format!("{}.json", self.rank)));
            let _ = std::fs::remove_dir(old);
        }
        let folder = self.dir.join(round.to_string());
        std::fs::create_dir_all(&folder).map_err(|e| NodeError::Io(format!("{}: {e}", folder.display())))?;
        let path = |rank: usize| folder.join(format!("{rank}.json"));
        let tmp = folder.join(format!(".{}.{}.tmp", self.rank, std::process::id()));
        std::fs::write(&tmp, &mine)
            .and_then(|()| std::fs::rename(&tmp, path(self.rank)))
            .map_err(|e| NodeError::Io(format!("{}: {e}", path(self.rank).display())))?;
        let started = Instant::now();
        let mut wait = Duration::from_millis(2);
        loop {
            let missing: Vec<usize> = (0..self.ranks).filter(|&k| !path(k).is_file()).collect();
            if missing.is_empty() {
                break;
            }
            if started.elapsed() > self.timeout {
                return Err(NodeError::data(format!(
                    "pass {} of the data-parallel fit: rank(s) {} gave no sums within {} s (stopped, or never \
                     started; see their logs)",
                    round + 1,
                    missing.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                    self.timeout.as_secs()
                )));
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_millis(100));
        }
        (0..self.ranks)
            .map(|k| std::fs::read(path(k)).map_err(|e| NodeError::Io(format!("{}: {e}", path(k).display()))))
            .collect()
    }
}

/// Fits rank `rank` of `ranks` of the fit in `dir`, exchanging in `dir/exchange/RUN/` (`run` names this run's
/// ranks: the Slurm job's id, so that a run never reads an earlier one's sums); rank 0 writes the model to
/// `dir/model/` and returns it.
pub fn fit_rank(
    dir: &Path,
    run: &str,
    rank: usize,
    ranks: usize,
    timeout: Duration,
) -> Result<Option<Model>, ClusterError> {
    let path = dir.join(FIT_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| ClusterError::io(&path, e))?;
    let fit: ShardedFit = serde_json::from_str(&text)
        .map_err(|e| ClusterError::Bundle(format!("{}: not a readable data-parallel fit: {e}", path.display())))?;
    if fit.shards.len() != ranks {
        return Err(ClusterError::Bundle(format!(
            "{} has {} shards but {ranks} ranks were started: start one rank a shard (srun --ntasks={})",
            path.display(),
            fit.shards.len(),
            fit.shards.len()
        )));
    }
    let shard = fit.shards.get(rank).ok_or_else(|| {
        ClusterError::Bundle(format!("rank {rank} is not among the {} ranks of {}", ranks, path.display()))
    })?;
    let file = dir.join(&shard.file);
    let frame = pipewright_nodes::data::read_file(&file).map_err(|e| {
        ClusterError::Workflow(format!("rank {rank}: its shard {} cannot be read: {e}", file.display()))
    })?;
    if frame.height() != shard.rows {
        return Err(ClusterError::Workflow(format!(
            "rank {rank}: its shard {} has {} rows, not the {} the fit lists",
            file.display(),
            frame.height(),
            shard.rows
        )));
    }
    let stream = TableStream::new(std::sync::Arc::new(FrameBatches::new(frame, BATCH_ROWS)));
    let classes = (!fit.classes.is_empty()).then(|| StreamClasses { names: fit.classes.clone(), rows: fit.rows });
    let exchange = FileExchange::new(&dir.join("exchange").join(run), rank, ranks, timeout);
    let catalog = pipewright_nodes::catalog();
    let entry = catalog
        .get(pipewright_nodes::train::TrainModel::ID)
        .ok_or_else(|| ClusterError::Workflow("this Pipewright has no Train Model".into()))?;
    let (params, device_used) = (Params::default(), DeviceRecord::default());
    let block = super::tasks::Block {
        dir,
        node_id: "train",
        spec: &entry.spec,
        params: &params,
        device: (Device::Cpu, &device_used),
    };
    let model = block
        .run(Vec::new(), |ctx| {
            pipewright_nodes::train::train_shard(
                &fit.learner,
                &stream,
                &fit.label,
                classes.as_ref(),
                &exchange,
                shard.offset,
                ctx,
            )
        })
        .map_err(|e| ClusterError::Workflow(format!("rank {rank}: {e}")))?;
    if rank != 0 {
        return Ok(None);
    }
    let out = dir.join(MODEL_DIR);
    write_values(&out, &[Value::Model(std::sync::Arc::new(model.clone()))]).map_err(|e| ClusterError::io(&out, e))?;
    Ok(Some(model))
}
