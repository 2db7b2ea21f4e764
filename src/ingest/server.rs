//! The ingest Unix socket server: decodes batches, submits them, writes acks.
//!
//! One reader task per connection starts a task per batch (at most
//! `INGEST_BATCHES_IN_FLIGHT_MAX` at once), and a writer task sends the acks.
//! The ack for a batch is written only after every accepted
//! event of it is durable, because [`route::submit`] returns only then.
//! A structurally broken frame gets an ERROR frame and the connection is
//! closed; a bad event inside a sound frame is rejected alone.
//!
//! Bounds: at most `INGEST_CONNECTIONS_MAX` connections; a connection buffers at most
//! one frame (`INGEST_FRAME_BYTES_MAX`) plus one read chunk. Frame bytes
//! over all connections, being read or in flight, stay within
//! `ingest_bytes_in_flight_max`: a frame larger than the read buffer takes
//! its bytes from that budget before the buffer grows (waiting for room,
//! which stops reading from that producer), and the buffer shrinks back
//! once the frame is decoded. A connection that started a frame must finish
//! it within `ingest_frame_timeout_ms`; an idle one is closed after
//! `ingest_idle_timeout_ms`.

use super::frame::{self, Decoded, EventStatus};
use crate::accept::{IngestError, NewMessage};
use crate::catalog::valid_event_type;
use crate::limits::{INGEST_BATCHES_IN_FLIGHT_MAX, INGEST_CONNECTIONS_MAX};
use crate::message::Message;
use crate::shard::route;
use crate::shard::state::Shard;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{UnixListener, UnixStream};
use std::rc::Rc;
use std::sync::Arc;

/// Bytes read per read call.
const READ_CHUNK_BYTES: usize = 256 * 1024;

/// Accepts ingest connections until the engine stops.
pub async fn serve(shard: Rc<Shard>, listener: UnixListener) {
    let open = Rc::new(std::cell::Cell::new(0usize));
    let budget = shard.shared().config.ingest_bytes_in_flight_max;
    let bytes = Rc::new(glommio::sync::Semaphore::new(budget));
    while !shard.shared().is_stopping() {
        let Ok(stream) = listener.accept().await else {
            // Out of descriptors or a transient error: back off rather than
            // spin, and let connections close meanwhile.
            glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        if open.get() >= INGEST_CONNECTIONS_MAX {
            continue;
        }
        open.set(open.get() + 1);
        let (shard, open, bytes) = (shard.clone(), open.clone(), bytes.clone());
        glommio::spawn_local(async move {
            connection(&shard, stream, bytes).await;
            open.set(open.get() - 1);
        })
        .detach();
    }
}

/// What to do with one decoded event before submission.
enum Slot {
    Submit,
    Rejected(EventStatus),
}

/// Reads frames and starts a task per batch, up to `INGEST_BATCHES_IN_FLIGHT_MAX`,
/// so a producer that pipelines batches fills each group commit with several
/// of them. Acks go out through a writer task as batches become durable,
/// possibly out of order (producers match them by `request_id`).
async fn connection(shard: &Rc<Shard>, stream: UnixStream, bytes: Rc<glommio::sync::Semaphore>) {
    // Split halves let one task read while another writes acks; the halves
    // share the stream through a two-party lock that never waits here, as
    // each half is used by one task at a time.
    let (mut stream, mut writer) = futures_util::io::AsyncReadExt::split(stream);
    let (ack_tx, ack_rx) =
        glommio::channels::local_channel::new_bounded::<Vec<u8>>(INGEST_BATCHES_IN_FLIGHT_MAX);
    let ack_tx = Rc::new(ack_tx);
    glommio::spawn_local(async move {
        while let Some(bytes) = ack_rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    })
    .detach();
    let permits = Rc::new(glommio::sync::Semaphore::new(
        INGEST_BATCHES_IN_FLIGHT_MAX as u64,
    ));
    let config = &shard.shared().config;
    let budget = config.ingest_bytes_in_flight_max;
    let frame_timeout = std::time::Duration::from_millis(config.ingest_frame_timeout_ms);
    let idle_timeout = std::time::Duration::from_millis(config.ingest_idle_timeout_ms);
    // Bytes received and not yet decoded are `buf[start..end]`; reads go
    // straight into the free tail (no copy through a separate chunk).
    let mut buf: Vec<u8> = vec![0u8; READ_CHUNK_BYTES];
    let (mut start, mut end) = (0, 0);
    // The budget share of a frame larger than the read buffer, taken before
    // the buffer grows for it; handed to its batch once it is decoded.
    let mut frame_share: Option<glommio::sync::StaticPermit> = None;
    // When the partial frame in `buf` began arriving.
    let mut frame_began: Option<std::time::Instant> = None;
    loop {
        loop {
            let (request_id, slots, news, consumed) = match frame::decode_frame(&buf[start..end]) {
                Ok(Decoded::Incomplete { needed_bytes }) => {
                    let frame_bytes = end - start + needed_bytes;
                    if frame_bytes > READ_CHUNK_BYTES && frame_share.is_none() {
                        // Waiting for room counts against the frame's deadline.
                        let began = *frame_began.get_or_insert_with(std::time::Instant::now);
                        let left = (began + frame_timeout)
                            .saturating_duration_since(std::time::Instant::now());
                        let share = (frame_bytes as u64).min(budget);
                        let take = async { bytes.acquire_static_permit(share).await.ok() };
                        let give_up = async {
                            glommio::timer::sleep(left).await;
                            None
                        };
                        match futures_lite::future::or(take, give_up).await {
                            Some(p) => frame_share = Some(p),
                            None => return,
                        }
                    }
                    break;
                }
                Ok(Decoded::Batch { frame, consumed }) => {
                    let (slots, news) = prepare(shard, frame.events);
                    (frame.request_id, slots, news, consumed)
                }
                Err(e) => {
                    let mut out = Vec::new();
                    frame::encode_error(&mut out, e.error_code(), &e.to_string());
                    let _ = ack_tx.send(out).await;
                    return;
                }
            };
            // Decoded frames are dropped from the front once per read, not
            // one by one (each drain moved the rest of the buffer).
            start += consumed;
            // The next frame's deadline starts when its bytes do.
            frame_began = None;
            let Ok(permit) = permits.acquire_static_permit(1).await else {
                return;
            };
            let byte_permit = match frame_share.take() {
                Some(p) => p,
                None => {
                    let share = (consumed as u64).min(budget);
                    let Ok(p) = bytes.acquire_static_permit(share).await else {
                        return;
                    };
                    p
                }
            };
            let (shard, ack_tx) = (shard.clone(), ack_tx.clone());
            glommio::spawn_local(async move {
                let out = acknowledge(&shard, request_id, slots, news).await;
                let _ = ack_tx.send(out).await;
                drop((permit, byte_permit));
            })
            .detach();
        }
        if start > 0 {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        // A large frame is gone: give its room back.
        if buf.len() > 2 * READ_CHUNK_BYTES && end <= READ_CHUNK_BYTES {
            buf.truncate(READ_CHUNK_BYTES);
            buf.shrink_to_fit();
        }
        // Room for a whole read chunk: the buffer grows only while one frame
        // is larger than what it holds (its share of the budget is held).
        if buf.len() - end < READ_CHUNK_BYTES {
            buf.resize(end + READ_CHUNK_BYTES, 0);
        }
        let deadline = match end > start {
            true => *frame_began.get_or_insert_with(std::time::Instant::now) + frame_timeout,
            false => {
                frame_began = None;
                std::time::Instant::now() + idle_timeout
            }
        };
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let read = async { Some(stream.read(&mut buf[end..]).await) };
        let timeout = async {
            glommio::timer::sleep(left).await;
            None
        };
        match futures_lite::future::or(read, timeout).await {
            None | Some(Ok(0)) | Some(Err(_)) => return,
            Some(Ok(n)) => end += n,
        }
    }
}

/// Submits a batch and encodes its ack (empty if it cannot be encoded).
async fn acknowledge(
    shard: &Rc<Shard>,
    request_id: u64,
    slots: Vec<Slot>,
    news: Vec<NewMessage>,
) -> Vec<u8> {
    let mut accepted = route::submit(shard, news).await.into_iter();
    let results: Vec<Result<Arc<Message>, EventStatus>> = slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Rejected(status) => Err(status),
            Slot::Submit => match accepted.next() {
                Some(Ok(msg)) => Ok(msg),
                Some(Err(e)) => Err(status_of(&e)),
                None => Err(EventStatus::Overloaded),
            },
        })
        .collect();
    let mut out = Vec::with_capacity(16 + results.len() * 34);
    let items = results.iter().map(|r| match r {
        Ok(msg) => Ok(msg.id.as_bytes()),
        Err(status) => Err(*status),
    });
    if frame::encode_ack_items(&mut out, request_id, items).is_err() {
        out.clear();
    }
    out
}

fn status_of(e: &IngestError) -> EventStatus {
    match e {
        IngestError::UnknownApp => EventStatus::UnknownApplication,
        IngestError::Duplicate(_) => EventStatus::DuplicateEventId,
        IngestError::Invalid(_) => EventStatus::InvalidPayload,
        IngestError::Unavailable | IngestError::Journal(_) => EventStatus::Overloaded,
    }
}

/// Validates events and resolves applications; returns one slot per event and
/// the messages to submit, in order.
fn prepare(
    shard: &Shard,
    events: Vec<Result<frame::EventRef<'_>, frame::EventError>>,
) -> (Vec<Slot>, Vec<NewMessage>) {
    let catalog = shard.shared().catalog.load();
    let max_payload = shard.shared().config.max_body_bytes;
    let mut slots = Vec::with_capacity(events.len());
    let mut news = Vec::with_capacity(events.len());
    for ev in events {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                slots.push(Slot::Rejected(e.status()));
                continue;
            }
        };
        let Some(app) = catalog.app(ev.app) else {
            slots.push(Slot::Rejected(EventStatus::UnknownApplication));
            continue;
        };
        let fields_ok = valid_event_type(ev.event_type)
            && ev.event_id.is_none_or(|e| !e.is_empty() && e.len() <= 256)
            && ev.channels.len() <= 10
            && ev.channels.iter().all(|c| valid_event_type(c));
        if !fields_ok {
            slots.push(Slot::Rejected(EventStatus::InvalidField));
            continue;
        }
        let is_object =
            ev.payload.len() <= max_payload && crate::accept::payload::check(ev.payload).is_ok();
        if !is_object {
            slots.push(Slot::Rejected(EventStatus::InvalidPayload));
            continue;
        }
        slots.push(Slot::Submit);
        news.push(NewMessage {
            app_id: app.id.clone(),
            event_type: ev.event_type.to_string(),
            event_id: ev.event_id.map(str::to_string),
            channels: ev.channels.iter().map(|c| c.to_string()).collect(),
            payload: ev.payload.to_vec(),
        });
    }
    (slots, news)
}
