//! Background tasks (`endpoint.recover`) and their status, kept on shard 0.
//!
//! A task is created by the API, runs as a local task on shard 0 (which
//! drives the work on the endpoint's owner shard) and records its outcome
//! here. The table is in memory only: the deliveries a task started are
//! journaled (`Resend` records) and survive a restart, the task's status
//! does not. At most `BACKGROUND_TASKS_MAX` are kept; the oldest finished ones go first.

use crate::limits::BACKGROUND_TASKS_MAX;
use std::collections::BTreeMap;

/// One background task.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    /// Svix's `BackgroundTaskType`, e.g. `endpoint.recover`.
    pub kind: &'static str,
    pub finished: bool,
    pub failed: bool,
    /// Task-specific result fields, e.g. `{"messages": 3}`.
    pub data: serde_json::Value,
    pub updated_ms: u64,
}

/// The task table.
#[derive(Debug, Default)]
pub struct Tasks {
    by_id: BTreeMap<String, Task>,
}

impl Tasks {
    /// Adds a running task, evicting the oldest finished (else oldest) ones
    /// beyond the bound.
    pub fn start(&mut self, kind: &'static str, now_ms: u64) -> Task {
        let task = Task {
            id: crate::ids::new_id_at("qtask", now_ms),
            kind,
            finished: false,
            failed: false,
            data: serde_json::json!({}),
            updated_ms: now_ms,
        };
        self.by_id.insert(task.id.clone(), task.clone());
        while self.by_id.len() > BACKGROUND_TASKS_MAX {
            let victim = self
                .by_id
                .values()
                .find(|t| t.finished)
                .map(|t| t.id.clone())
                .or_else(|| self.by_id.keys().next().cloned());
            if let Some(id) = victim {
                self.by_id.remove(&id);
            }
        }
        task
    }

    /// Marks a task finished (or failed) with its result.
    pub fn finish(&mut self, id: &str, failed: bool, data: serde_json::Value, now_ms: u64) {
        if let Some(t) = self.by_id.get_mut(id) {
            t.finished = true;
            t.failed = failed;
            t.data = data;
            t.updated_ms = now_ms;
        }
    }

    pub fn get(&self, id: &str) -> Option<&Task> {
        self.by_id.get(id)
    }

    /// All tasks in id order (oldest first).
    pub fn all(&self) -> impl DoubleEndedIterator<Item = &Task> {
        self.by_id.values()
    }
}
