//! The producer: pushes events over the ingest socket in pipelined batches, open loop at a
//! target rate or as fast as ACKs allow, with the send time stamped into every payload.
//!
//! Payloads are JSON objects `{"t":<unix µs, 16 digits>,"seq":<n>,"pad":"xxx…"}` padded to
//! the requested size; the timestamp is rewritten in place just before each batch is sent,
//! so the batch's `Event`s are built once and reused.

use crate::sink::now_us;
use ringhook::ingest::client::IngestClient;
use ringhook::ingest::frame::{Event, EventResult, EventStatus};
use ringhook::limits::INGEST_CLIENT_IN_FLIGHT_MAX;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Width of the timestamp digits, so rewriting keeps the payload length.
const TS_DIGITS: usize = 16;
/// Byte offset of the timestamp digits in every payload (after `{"t":`).
const TS_AT: usize = 5;

#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub app: String,
    /// Event types used in turn, one per event (one type: every event has it).
    pub event_types: Vec<String>,
    pub messages: u64,
    pub payload_bytes: usize,
    pub batch: usize,
    /// Batches sent before waiting for an ACK; at most the client's INGEST_CLIENT_IN_FLIGHT_MAX.
    pub pipeline: usize,
    /// Target events per second; `None` = as fast as ACKs allow.
    pub rate: Option<f64>,
    /// Core to pin the producer thread to.
    pub cpu: Option<usize>,
}

/// Progress visible to other threads while the producer runs.
#[derive(Debug, Default)]
pub struct ProducerProgress {
    pub sent: AtomicU64,
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
}

#[derive(Clone, Debug, Default)]
pub struct ProducerReport {
    pub accepted: u64,
    pub rejected: u64,
    /// Of the rejected: answered "overloaded" (not stored).
    pub overloaded: u64,
    /// From the first send to the last ACK.
    pub elapsed: Duration,
}

/// Pins the calling thread to `cpu`.
pub fn pin_current_thread(cpu: usize) -> anyhow::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and sched_setaffinity only
    // touch the set we own and the calling thread's affinity.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        anyhow::bail!("pinning to cpu {cpu}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// A payload of at least `bytes` bytes (never less than the fixed fields need).
fn payload(seq: u64, bytes: usize) -> Vec<u8> {
    // A valid 16-digit placeholder (JSON numbers have no leading zeros) until stamped.
    let head = format!(
        "{{\"t\":1{:0width$},\"seq\":{seq},\"pad\":\"",
        0,
        width = TS_DIGITS - 1
    );
    let mut p = head.into_bytes();
    let pad = bytes.saturating_sub(p.len() + 2);
    p.resize(p.len() + pad, b'x');
    p.extend_from_slice(b"\"}");
    p
}

fn stamp(event: &mut Event, now_us: u64) {
    let digits = format!("{now_us:0width$}", width = TS_DIGITS);
    if let Some(slot) = event.payload.get_mut(TS_AT..TS_AT + TS_DIGITS) {
        slot.copy_from_slice(digits.as_bytes());
    }
}

/// Runs the producer to completion on the calling thread.
pub fn run(
    socket: &Path,
    config: &ProducerConfig,
    progress: &Arc<ProducerProgress>,
) -> anyhow::Result<ProducerReport> {
    if let Some(cpu) = config.cpu {
        pin_current_thread(cpu)?;
    }
    let mut client = IngestClient::connect(socket)?;
    client.set_timeout(Some(Duration::from_secs(60)))?;
    let batch = config.batch.max(1);
    let pipeline = config.pipeline.clamp(1, INGEST_CLIENT_IN_FLIGHT_MAX);
    let mut events: Vec<Event> = (0..batch)
        .map(|i| Event {
            app: config.app.clone(),
            event_type: config.event_types.first().cloned().unwrap_or_default(),
            event_id: None,
            channels: Vec::new(),
            payload: payload(i as u64, config.payload_bytes),
        })
        .collect();
    let mut report = ProducerReport::default();
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < config.messages {
        let n = (config.messages - sent).min(batch as u64) as usize;
        if let Some(rate) = config.rate {
            // Open loop: batch k is due when k*batch events would have been sent at `rate`.
            let due = start + Duration::from_secs_f64(sent as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        while client.in_flight() >= pipeline {
            let (_, results) = client.recv_ack()?;
            tally(&mut report, &results, progress);
        }
        let now = now_us();
        let slice = events.get_mut(..n).unwrap_or(&mut []);
        slice.iter_mut().for_each(|e| stamp(e, now));
        if config.event_types.len() > 1 {
            // Rotate through the types so each group of endpoints gets its share.
            for (j, e) in slice.iter_mut().enumerate() {
                let k = (sent as usize + j) % config.event_types.len();
                e.event_type.clone_from(&config.event_types[k]);
            }
        }
        client.send_batch_nowait(slice)?;
        sent += n as u64;
        progress.sent.store(sent, Ordering::Relaxed);
    }
    while client.in_flight() > 0 {
        let (_, results) = client.recv_ack()?;
        tally(&mut report, &results, progress);
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

fn tally(report: &mut ProducerReport, results: &[EventResult], progress: &ProducerProgress) {
    for r in results {
        match r {
            EventResult::Accepted { .. } => report.accepted += 1,
            EventResult::Rejected(status) => {
                report.rejected += 1;
                report.overloaded += u64::from(*status == EventStatus::Overloaded);
            }
        }
    }
    progress.accepted.store(report.accepted, Ordering::Relaxed);
    progress.rejected.store(report.rejected, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_json_of_the_requested_size_and_stamps_in_place() {
        let mut e = Event {
            payload: payload(7, 300),
            ..Event::default()
        };
        assert_eq!(e.payload.len(), 300);
        stamp(&mut e, 1_700_000_000_123_456);
        let v: serde_json::Value = serde_json::from_slice(&e.payload).expect("json");
        assert_eq!(v["seq"], 7);
        assert_eq!(
            crate::sink::sent_us(&e.payload),
            Some(1_700_000_000_123_456)
        );
        // Too small a size still gives valid JSON.
        assert!(serde_json::from_slice::<serde_json::Value>(&payload(1, 0)).is_ok());
    }
}
