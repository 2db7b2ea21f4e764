//! Incoming webhooks: what ringhook knows of the providers whose webhooks
//! it receives. `verify` checks a request against a provider's published
//! signature scheme; `source` turns a source's type and `config` into a
//! scheme and reads a request's delivery id and event type; `cron` holds
//! cron sources' schedules. These are pure; the task on shard 0 that
//! fires cron sources is the `ticker` room. The receive URL itself is served by
//! `api::receive`, and a source's records live in the catalog.

pub mod cron;
pub mod source;
pub mod verify;
