//! The project store (SQLite): experiments, runs with a snapshot of the workflow, per-node results,
//! metrics, artifacts by content hash and the model registry. To be filled by the run-history work;
//! today every run's results live in the engine's cache under `.pipewright/cache/`.
