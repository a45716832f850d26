//! The access log: one JSON line per request (time, request id, method, path, status, latency, and for a
//! scoring request the model, version and records), written by a thread of its own so a slow disk never
//! slows a request. Lines that cannot be queued or written are counted, never waited for.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value as Json;

/// Lines waiting to be written at most.
const QUEUE: usize = 1 << 16;

/// A running access log.
pub(crate) struct AccessLog {
    sender: Mutex<Option<SyncSender<String>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    pub(crate) dropped: AtomicU64,
}

impl AccessLog {
    /// Opens `path` for appending (`-`: standard output) and starts the writer.
    pub(crate) fn open(path: &Path) -> Result<Self, String> {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create the access log's folder {}: {e}", dir.display()))?;
            }
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open the access log {}: {e}", path.display()))?,
            )
        };
        let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("pipewright-access-log".into())
            .spawn(move || write_lines(&receiver, out))
            .map_err(|e| format!("cannot start the access log: {e}"))?;
        Ok(Self { sender: Mutex::new(Some(sender)), thread: Mutex::new(Some(thread)), dropped: AtomicU64::new(0) })
    }

    /// Queues one line.
    pub(crate) fn write(&self, line: &Json) {
        let sender = self.sender.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if sender.as_ref().is_none_or(|s| s.try_send(line.to_string()).is_err()) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Writes the queued lines and stops.
    pub(crate) fn finish(&self) {
        self.sender.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let thread = self.thread.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Writes lines as they come, flushing whenever the queue is empty for a moment.
fn write_lines(receiver: &Receiver<String>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::new(out);
    loop {
        match receiver.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let _ = writeln!(out, "{line}");
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let _ = out.flush();
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = out.flush();
}
