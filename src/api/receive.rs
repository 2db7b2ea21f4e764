//! The public receive URL, `/ingest/{token}`: a request is judged from its
//! head first (unknown token 404, disabled source 410, method 405, rate
//! 429) before a byte of its body is read; then its size (413) and its
//! signature (401); then it becomes messages — one of the source's own
//! application (whose endpoints are the source's destinations) and one per
//! route — accepted through the same path as API messages, and is answered
//! 2xx only once they are durable. The provider's delivery id is the
//! messages' `eventId`, so a repeat within the window is answered 2xx and
//! forwards nothing new, across restarts.
//!
//! State: per-source rate buckets, outcome counters and parsed
//! verification schemes, in shard 0's thread (receive URLs are served by
//! shard 0; the other shards hand them over, `api::forward`); each is
//! bounded by the catalog's `max_sources`.

use super::http::{error, Request, Response};
use crate::accept::IngestError;
use crate::incoming::source::{self, Identity};
use crate::incoming::verify::{self, Incoming};
use crate::limits::REQUEST_LOG_BODY_BYTES_MAX;
use crate::records::{HeaderPair, IncomingRequestRecord, Kind, SourceRecord};
use crate::shard::gather;
use crate::shard::state::Shard;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

/// The receive URL's path prefix.
pub const RECEIVE_PREFIX: &str = "/ingest/";

/// Whether a path is a receive URL (not the ingest admin API).
pub fn is_receive_path(path: &str) -> bool {
    path.strip_prefix(RECEIVE_PREFIX)
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with("api/") && !rest.contains('/'))
}

/// What happened to a request, as counted in
/// `ringhook_incoming_requests_total{source, outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Duplicate,
    Handshake,
    Disabled,
    MethodNotAllowed,
    RateLimited,
    TooLarge,
    Refused(verify::Refusal),
    Unavailable,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Handshake => "handshake",
            Outcome::Disabled => "disabled",
            Outcome::MethodNotAllowed => "method_not_allowed",
            Outcome::RateLimited => "rate_limited",
            Outcome::TooLarge => "too_large",
            Outcome::Refused(r) => r.code(),
            Outcome::Unavailable => "unavailable",
        }
    }
}

/// A token bucket of one source: `rate` requests a second, bursts of `rate`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

#[derive(Default)]
struct State {
    buckets: HashMap<String, Bucket>,
    /// By source id, then outcome: a request finds its source's counters
    /// without allocating a key.
    counts: BTreeMap<String, BTreeMap<&'static str, u64>>,
    /// Each source's verification scheme, parsed from its `config` once
    /// and kept while the catalog holds the same record (a changed source
    /// is a new `Arc`, so its scheme is parsed again).
    schemes: HashMap<String, (Arc<SourceRecord>, Rc<verify::Scheme>)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn count(source_id: &str, outcome: Outcome) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let counts = match s.counts.get_mut(source_id) {
            Some(counts) => counts,
            None => s.counts.entry(source_id.to_string()).or_default(),
        };
        *counts.entry(outcome.name()).or_insert(0) += 1;
    });
}

/// Forgets a deleted source's bucket, counters and scheme.
pub fn forget(source_id: &str) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.buckets.remove(source_id);
        s.counts.remove(source_id);
        s.schemes.remove(source_id);
    });
}

/// The source's verification scheme, parsed once per version of the
/// source (see `State::schemes`).
fn scheme_of(src: &Arc<SourceRecord>) -> Result<Rc<verify::Scheme>, source::ConfigError> {
    let cached = STATE.with(|s| {
        s.borrow()
            .schemes
            .get(&src.id)
            .filter(|(record, _)| Arc::ptr_eq(record, src))
            .map(|(_, scheme)| scheme.clone())
    });
    if let Some(scheme) = cached {
        return Ok(scheme);
    }
    let scheme = Rc::new(source::scheme_of(src)?);
    STATE.with(|s| {
        s.borrow_mut()
            .schemes
            .insert(src.id.clone(), (src.clone(), scheme.clone()))
    });
    Ok(scheme)
}

/// Takes one request from the source's bucket; `Err(seconds)` to wait.
/// A pure step: `take(bucket, rate, now) -> (bucket, verdict)`.
fn take(bucket: Option<Bucket>, rate: u32, now_ms: u64) -> (Bucket, Result<(), u64>) {
    let rate = f64::from(rate.max(1));
    let mut b = bucket.unwrap_or(Bucket {
        tokens: rate,
        at_ms: now_ms,
    });
    let elapsed = now_ms.saturating_sub(b.at_ms) as f64 / 1000.0;
    b.tokens = (b.tokens + elapsed * rate).min(rate);
    b.at_ms = now_ms;
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        (b, Ok(()))
    } else {
        let wait = ((1.0 - b.tokens) / rate).ceil().max(1.0) as u64;
        (b, Err(wait))
    }
}

fn rate_limited(src: &SourceRecord, now_ms: u64) -> Result<(), u64> {
    let Some(rate) = src.rate_limit else {
        return Ok(());
    };
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let (b, verdict) = take(s.buckets.get(&src.id).copied(), rate, now_ms);
        s.buckets.insert(src.id.clone(), b);
        verdict
    })
}

/// The `ringhook_incoming_requests_total` lines for `/metrics`.
pub fn render_metrics(out: &mut String) {
    use std::fmt::Write;
    out.push_str("# HELP ringhook_incoming_requests_total Requests to incoming sources' receive URLs, by source and outcome.\n");
    out.push_str("# TYPE ringhook_incoming_requests_total counter\n");
    STATE.with(|s| {
        for (source, counts) in &s.borrow().counts {
            for (outcome, n) in counts {
                let _ = writeln!(
                    out,
                    "ringhook_incoming_requests_total{{source=\"{source}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
    });
}

fn token_of(path: &str) -> &str {
    path.strip_prefix(RECEIVE_PREFIX).unwrap_or("")
}

fn find(shard: &Shard, path: &str) -> Option<Arc<SourceRecord>> {
    shard
        .shared()
        .catalog
        .load()
        .source_by_token(token_of(path))
        .cloned()
}

/// The answer to a receive request decided from its head alone, if any.
pub fn refuse_early(shard: &Shard, req: &Request) -> Option<Response> {
    let Some(src) = find(shard, &req.path) else {
        return Some(error(404, "not_found", "no source has this URL"));
    };
    if src.disabled {
        count(&src.id, Outcome::Disabled);
        return Some(error(410, "source_disabled", "this source is disabled"));
    }
    if src.kind == "cron" {
        count(&src.id, Outcome::MethodNotAllowed);
        return Some(error(
            405,
            "method_not_allowed",
            "a cron source is fired by its schedule and receives nothing",
        ));
    }
    if !matches!(req.method.as_str(), "POST" | "PUT") {
        count(&src.id, Outcome::MethodNotAllowed);
        return Some(error(405, "method_not_allowed", "send webhooks with POST"));
    }
    if let Err(wait) = rate_limited(&src, crate::time::now_ms()) {
        count(&src.id, Outcome::RateLimited);
        let mut resp = error(429, "rate_limited", "too many requests for this source");
        resp.headers.push(("retry-after", wait.to_string()));
        return Some(resp);
    }
    None
}

/// Handles a receive request whose head `refuse_early` let through; with
/// the source's `logRequests`, the request and what became of it are
/// journaled for its request log.
pub async fn receive(shard: &Rc<Shard>, req: Request) -> Response {
    let Some(src) = find(shard, &req.path) else {
        return error(404, "not_found", "no source has this URL");
    };
    let (resp, outcome, messages) = handle(shard, &src, &req).await;
    // Not for a source deleted while the request waited: its counters are
    // gone (`forget`) and must stay gone.
    let still_there = shard.shared().catalog.load().source(&src.id).is_some();
    if let Some(outcome) = outcome.filter(|_| still_there) {
        count(&src.id, outcome);
    }
    if src.log_requests {
        let rec = log_record(&src, &req, &resp, outcome, messages);
        if let Err(e) = shard.log_request(&rec) {
            tracing::error!(source = %src.id, error = %e, "cannot journal a logged request");
        }
    }
    resp
}

/// The request log's record of a request: credential header values
/// replaced, the body cut at `REQUEST_LOG_BODY_BYTES_MAX`.
fn log_record(
    src: &Arc<SourceRecord>,
    req: &Request,
    resp: &Response,
    outcome: Option<Outcome>,
    messages: Vec<String>,
) -> IncomingRequestRecord {
    // The scheme the request was judged by (parsed once, `scheme_of`).
    let scheme = scheme_of(src).ok();
    let secret = scheme
        .as_deref()
        .map(source::secret_headers)
        .unwrap_or_default();
    let headers = req
        .headers
        .iter()
        .map(|(name, value)| HeaderPair {
            name: name.clone(),
            value: if super::views::is_sensitive(name) || secret.contains(&name.as_str()) {
                "********".into()
            } else {
                value.clone()
            },
        })
        .collect();
    let keep = req.body.len().min(REQUEST_LOG_BODY_BYTES_MAX);
    IncomingRequestRecord {
        id: crate::ids::new_id("req"),
        source_id: src.id.clone(),
        at_ms: crate::time::now_ms(),
        method: req.method.clone(),
        headers,
        body: req.body[..keep].to_vec(),
        body_bytes: req.body.len() as u64,
        status: resp.status,
        outcome: outcome.map_or("error", Outcome::name).to_string(),
        messages,
    }
}

/// Decides a request: its answer, its outcome (for the counters and the
/// log) and the messages it became.
async fn handle(
    shard: &Rc<Shard>,
    src: &Arc<SourceRecord>,
    req: &Request,
) -> (Response, Option<Outcome>, Vec<String>) {
    let max = src
        .max_body_bytes
        .map_or(shard.shared().config.max_body_bytes, |m| m as usize);
    if req.body.len() > max {
        let resp = error(
            413,
            "payload_too_large",
            format!(
                "request body is {} bytes; this source takes {max}",
                req.body.len()
            ),
        );
        return (resp, Some(Outcome::TooLarge), Vec::new());
    }
    let scheme = match scheme_of(src) {
        Ok(s) => s,
        Err(e) => {
            let resp = error(500, "internal", format!("source configuration: {e}"));
            return (resp, None, Vec::new());
        }
    };
    let incoming = Incoming {
        headers: &req.headers,
        body: &req.body,
        now_s: crate::time::now_ms() / 1000,
        // Never longer than the deduplication window: a replay older than
        // it would otherwise pass both checks.
        tolerance_s: {
            let c = &shard.shared().config;
            c.incoming_tolerance_ms.min(c.idempotency_window_ms) / 1000
        },
    };
    if let Err(refusal) = verify::verify(&scheme, &incoming) {
        let resp = error(401, refusal.code(), refusal.to_string());
        return (resp, Some(Outcome::Refused(refusal)), Vec::new());
    }
    // Only for sources that read fields of the body (a GitHub source's
    // requests say everything in their headers; `message_payload` checks
    // the body itself).
    let parsed: Option<Value> = source::reads_body_fields(src)
        .then(|| serde_json::from_slice(&req.body).ok())
        .flatten();
    if let Some(reply) = source::handshake(&src.kind, &req.headers, parsed.as_ref()) {
        return (
            super::params::ok(200, reply),
            Some(Outcome::Handshake),
            Vec::new(),
        );
    }
    let Identity {
        delivery_id,
        event_type,
    } = source::identify(&src.kind, &req.headers, parsed.as_ref());
    let content_type = req
        .headers
        .iter()
        .find(|(n, _)| n == "content-type")
        .map(|(_, v)| v.as_str());
    let payload = source::message_payload(&req.body, content_type);
    let messages = source::messages_for(
        src,
        event_type,
        delivery_id,
        payload,
        &req.headers,
        parsed.as_ref(),
    );
    let results = gather::submit_gathered(shard, messages).await;
    let mut ids = Vec::new();
    let mut duplicate = false;
    for r in results {
        match r {
            Ok(m) => ids.push(m.id.to_string()),
            Err(IngestError::Duplicate(id)) => {
                duplicate = true;
                ids.push(id);
            }
            // A route to an application deleted since: the sender can do
            // nothing about it, so it is not refused for it.
            Err(IngestError::UnknownApp) => {}
            Err(IngestError::Unavailable) => {
                let mut resp = error(
                    503,
                    "unavailable",
                    "the engine is overloaded or stopping; retry",
                );
                resp.headers.push(("retry-after", "1".into()));
                return (resp, Some(Outcome::Unavailable), ids);
            }
            Err(IngestError::Invalid(e)) => return (error(400, "invalid", e), None, ids),
            Err(IngestError::Journal(e)) => return (error(500, "internal", e), None, ids),
        }
    }
    let outcome = if duplicate {
        Outcome::Duplicate
    } else {
        Outcome::Accepted
    };
    let resp = super::params::ok(200, serde_json::json!({ "ok": true, "messages": ids }));
    (resp, Some(outcome), ids)
}

/// `GET /ingest/api/v1/source/{src}/request`: the source's request log,
/// newest first (`limit`, `iterator` as for other listings).
pub async fn list_requests(
    shard: &Shard,
    req: &Request,
    source_id: &str,
) -> Result<Response, Response> {
    use super::params::*;
    let src = shard
        .shared()
        .catalog
        .load()
        .source(source_id)
        .cloned()
        .ok_or_else(|| not_found("source"))?;
    let (limit, iterator) = paging(req)?;
    let page = shard.list_requests(&src.id, &crate::reads::index::PageReq { limit, iterator });
    let body = super::listing::page_view(&page, async |e| {
        let rec = shard
            .read_record(e.loc, Kind::IncomingRequest)
            .await
            .map_err(|err| error(500, "internal", err.to_string()))?;
        let r = crate::records::decode_incoming_request(&rec.body)
            .map_err(|err| error(500, "internal", err.to_string()))?;
        Ok(request_view(&r, &shard.shared().expunged))
    })
    .await?;
    Ok(ok(200, body))
}

/// A logged request as the API shows it; its body is left out once a
/// message it became was expunged (the same content, `expunge`).
fn request_view(r: &IncomingRequestRecord, expunged: &crate::expunge::Expunged) -> Value {
    use base64::Engine;
    let headers: serde_json::Map<String, Value> = r
        .headers
        .iter()
        .map(|h| (h.name.clone(), Value::String(h.value.clone())))
        .collect();
    let mut v = serde_json::json!({
        "id": r.id,
        "sourceId": r.source_id,
        "method": r.method,
        "headers": headers,
        "bodyBytes": r.body_bytes,
        "bodyTruncated": (r.body.len() as u64) < r.body_bytes,
        "status": r.status,
        "outcome": r.outcome,
        "messages": r.messages,
        "createdAt": crate::time::rfc3339(r.at_ms),
    });
    if r.messages.iter().any(|m| expunged.contains(m)) {
        v["body"] = Value::String(String::new());
        v["bodyExpunged"] = Value::Bool(true);
        return v;
    }
    match std::str::from_utf8(&r.body) {
        Ok(text) => v["body"] = Value::String(text.to_string()),
        Err(_) => {
            v["bodyBase64"] =
                Value::String(base64::engine::general_purpose::STANDARD.encode(&r.body))
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_paths() {
        for (path, want) in [
            ("/ingest/itk_abc", true),
            ("/ingest/", false),
            ("/ingest/api/v1/source", false),
            ("/ingest/a/b", false),
            ("/api/v1/app", false),
        ] {
            assert_eq!(is_receive_path(path), want, "{path}");
        }
    }

    #[test]
    fn bucket_table() {
        // rate 2/s: two at once, then wait; refilled after a second.
        let (b, v) = take(None, 2, 1000);
        assert_eq!(v, Ok(()));
        let (b, v) = take(Some(b), 2, 1000);
        assert_eq!(v, Ok(()));
        let (b, v) = take(Some(b), 2, 1000);
        assert_eq!(v, Err(1));
        let (b, v) = take(Some(b), 2, 1500);
        assert_eq!(v, Ok(()));
        let (_, v) = take(Some(b), 2, 1500);
        assert_eq!(v, Err(1));
    }
}
