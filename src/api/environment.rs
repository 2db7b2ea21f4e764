//! Environment export and import (Svix's `svix.environment.export` /
//! `import`): the whole catalog as one JSON document, to back it up, move
//! it or seed a test environment. Svix's fields (`version`, `createdAt`,
//! `eventTypes`, `settings`, `connectors`) plus ringhook's `ringhook`
//! section: the applications (ringhook's own and sources' too), endpoints
//! with their secrets and headers (operational endpoints included),
//! sources with their secrets and receive tokens, and notification rules,
//! as the catalog's own records.
//!
//! Import checks everything first, against the catalog as it would be with
//! the document applied (names, URLs, references between records, limits,
//! and the fields the views show, as the API itself would take them),
//! and changes nothing when anything is wrong (422 naming each problem);
//! then it writes the records in as few syncs as fit
//! (`Shard::commit_catalog_batch`). Records keep their ids: an
//! import over the same engine replaces them, over another adds them. It
//! makes no operational events and deletes nothing.

use super::http::{error, Request, Response};
use super::params::*;
use crate::catalog::Catalog;
use crate::records::{
    self, AppRecord, EndpointRecord, EventTypeDetailsRecord, EventTypeRecord, Kind, RuleRecord,
    SourceRecord,
};
use crate::shard::state::Shard;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The document's format; an import refuses another.
const FORMAT_VERSION: u64 = 1;

/// ringhook's part of the document.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Section {
    #[serde(default)]
    applications: Vec<AppRecord>,
    #[serde(default)]
    endpoints: Vec<EndpointRecord>,
    #[serde(default)]
    sources: Vec<SourceRecord>,
    #[serde(default)]
    rules: Vec<RuleRecord>,
}

/// `POST /api/v1/environment/export`.
pub fn export(shard: &Shard) -> Result<Response> {
    let catalog = shard.shared().catalog.load();
    let event_types: Vec<Value> = catalog
        .event_types()
        .map(|t| super::views::event_type(t, catalog.event_type_details(&t.name).map(|d| &**d)))
        .collect();
    let section = Section {
        applications: catalog
            .every_app()
            .filter(|a| !catalog.is_source_app(&a.id))
            .map(|a| (**a).clone())
            .collect(),
        endpoints: catalog
            .every_app()
            .flat_map(|a| catalog.endpoints_of(&a.id).map(|e| (**e).clone()))
            .collect(),
        sources: catalog.sources().map(|s| (**s).clone()).collect(),
        rules: catalog.rules().map(|r| (**r).clone()).collect(),
    };
    let section =
        serde_json::to_value(&section).map_err(|e| error(500, "internal", e.to_string()))?;
    Ok(ok(
        200,
        json!({
            "version": FORMAT_VERSION,
            "createdAt": crate::time::rfc3339(crate::time::now_ms()),
            "eventTypes": event_types,
            "settings": {},
            "connectors": [],
            "ringhook": section,
        }),
    ))
}

/// Problems found, each `{loc, msg, type}` as Svix's 422 lists them.
struct Problems(Vec<Value>);

impl Problems {
    fn add(&mut self, loc: &[Value], msg: impl Into<String>) {
        self.0
            .push(json!({ "loc": loc, "msg": msg.into(), "type": "value_error" }));
    }
}

/// The event types of the document as records (Svix's `EventTypeIn`).
fn event_types(
    doc: &Map<String, Value>,
    problems: &mut Problems,
) -> Vec<(EventTypeRecord, EventTypeDetailsRecord)> {
    let now = crate::time::now_ms();
    let items = match doc.get("eventTypes") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            problems.add(&[json!("body"), json!("eventTypes")], "must be a list");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let loc = |f: &str| [json!("body"), json!("eventTypes"), json!(i), json!(f)];
        let Some(obj) = item.as_object() else {
            problems.add(&loc(""), "must be an object");
            continue;
        };
        let name = obj.get("name").and_then(Value::as_str).unwrap_or("");
        if !crate::catalog::valid_event_type(name) {
            problems.add(
                &loc("name"),
                "an event type name ([a-zA-Z0-9-_.], 1 to 256)",
            );
            continue;
        }
        let base = EventTypeRecord {
            name: name.to_string(),
            description: String::new(),
            archived: false,
            created_ms: now,
            updated_ms: now,
        };
        let details = EventTypeDetailsRecord {
            name: name.to_string(),
            schemas: String::new(),
            deprecated: false,
            group_name: None,
            feature_flag: None,
        };
        let rec = super::event_types::from_body(obj, base, Mode::Create);
        let d = super::event_types::details_from_body(obj, details, Mode::Create);
        match (rec, d) {
            (Ok(rec), Ok(d)) => out.push((rec, d)),
            _ => problems.add(&loc(""), "not a valid event type (description, archived, schemas, deprecated, groupName, featureFlag)"),
        }
    }
    out
}

/// Refuses what would make two records answer to one name: a uid, an id
/// under another application, a receive token (the catalog keeps one
/// record per name, so the other would silently lose it).
fn check_names(s: &Section, before: &Catalog, problems: &mut Problems) {
    use std::collections::HashMap;
    let at = |list: &str, i: usize, f: &str| [json!("ringhook"), json!(list), json!(i), json!(f)];
    let mut app_uids: HashMap<&str, &str> = HashMap::new();
    for (i, a) in s.applications.iter().enumerate() {
        if let Some(uid) = a.uid.as_deref() {
            let other = before
                .app(uid)
                .map(|o| o.id.as_str())
                .filter(|o| *o != a.id);
            let twice = app_uids.insert(uid, &a.id).is_some_and(|o| o != a.id);
            if other.is_some() || twice {
                problems.add(
                    &at("applications", i, "uid"),
                    format!("uid {uid} names another application"),
                );
            }
        }
    }
    let mut endpoint_apps: HashMap<&str, &str> = HashMap::new();
    let mut endpoint_uids: HashMap<(&str, &str), &str> = HashMap::new();
    for (i, e) in s.endpoints.iter().enumerate() {
        let elsewhere = before
            .endpoint_by_id(&e.id)
            .is_some_and(|o| o.app_id != e.app_id);
        let twice = endpoint_apps.insert(&e.id, &e.app_id).is_some();
        if elsewhere || twice {
            problems.add(
                &at("endpoints", i, "id"),
                format!(
                    "endpoint {} is another application's, or twice in the document",
                    e.id
                ),
            );
        }
        if let Some(uid) = e.uid.as_deref() {
            let other = before
                .endpoint(&e.app_id, uid)
                .is_some_and(|o| o.id != e.id);
            let twice = endpoint_uids
                .insert((&e.app_id, uid), &e.id)
                .is_some_and(|o| o != e.id);
            if other || twice {
                problems.add(
                    &at("endpoints", i, "uid"),
                    format!("uid {uid} names another endpoint of {}", e.app_id),
                );
            }
        }
    }
    let mut source_names: HashMap<&str, &str> = HashMap::new();
    for (i, src) in s.sources.iter().enumerate() {
        let token_other = before
            .source_by_token(&src.token)
            .is_some_and(|o| o.id != src.id);
        let uid_other = src
            .uid
            .as_deref()
            .and_then(|u| before.source(u))
            .is_some_and(|o| o.id != src.id);
        let mut twice = source_names
            .insert(&src.token, &src.id)
            .is_some_and(|o| o != src.id);
        if let Some(uid) = src.uid.as_deref() {
            twice |= source_names
                .insert(uid, &src.id)
                .is_some_and(|o| o != src.id);
        }
        if token_other || uid_other || twice {
            problems.add(
                &at("sources", i, ""),
                "its uid or receive token names another source",
            );
        }
    }
}

/// Whether a record's `metadata` text is what the API itself would keep: a
/// JSON object of strings within the API's bounds (views show it as is).
fn metadata_ok(text: &str) -> bool {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => {
            metadata(&Map::from_iter([("metadata".to_string(), v)])).is_ok()
        }
        _ => false,
    }
}

/// The fields every record shares that the views show: its metadata and
/// its times (a time the API cannot write, past the year 9999, is refused).
fn check_shown(
    problems: &mut Problems,
    at: impl Fn(&str) -> [Value; 4],
    metadata: &str,
    times: [u64; 2],
) {
    if !metadata_ok(metadata) {
        problems.add(
            &at("metadata"),
            "JSON object text of strings (at most 64 keys, 8 KiB)",
        );
    }
    for (ms, field) in times.into_iter().zip(["createdMs", "updatedMs"]) {
        if crate::time::rfc3339(ms).is_empty() {
            problems.add(&at(field), "a time before the year 10000");
        }
    }
}

/// Checks the records against the catalog they would make.
fn check(shard: &Shard, s: &Section, after: &Catalog, problems: &mut Problems) {
    let config = &shard.shared().config;
    let at = |list: &str, i: usize, f: &str| [json!("ringhook"), json!(list), json!(i), json!(f)];
    for (i, a) in s.applications.iter().enumerate() {
        let times = [a.created_ms, a.updated_ms];
        check_shown(problems, |f| at("applications", i, f), &a.metadata, times);
        let own = a.id == crate::operational::APP_ID;
        if !own && !crate::ids::has_prefix(&a.id, "app") {
            problems.add(&at("applications", i, "id"), "an application id (app_…)");
        }
        if a.name.is_empty() {
            problems.add(&at("applications", i, "name"), "required");
        }
    }
    for (i, e) in s.endpoints.iter().enumerate() {
        let times = [e.created_ms, e.updated_ms];
        check_shown(problems, |f| at("endpoints", i, f), &e.metadata, times);
        let extra = serde_json::from_str::<Map<String, Value>>(&e.extra_json);
        if !e.extra_json.is_empty() && extra.is_err() {
            problems.add(
                &at("endpoints", i, "extraJson"),
                "JSON object text, or empty",
            );
        }
        if !["POST", "PUT", "PATCH"].contains(&e.method.as_str()) {
            problems.add(&at("endpoints", i, "method"), "POST, PUT or PATCH");
        }
        let headers_ok = e.headers.len() <= crate::limits::ENDPOINT_HEADERS_MAX
            && e.headers
                .iter()
                .all(|h| super::headers::check("headers", &h.name, &h.value).is_ok());
        if !headers_ok {
            problems.add(
                &at("endpoints", i, "headers"),
                "headers the API takes (at most 64, valid, none the engine sets)",
            );
        }
        let type_header = e.event_type_header.as_deref();
        if type_header.is_some_and(|h| super::headers::check_event_type_header(h).is_err()) {
            problems.add(
                &at("endpoints", i, "eventTypeHeader"),
                "a header name the engine does not write",
            );
        }
        // An ed25519 seed that is no key would show as "" and sign nothing.
        let bad_seed = e.secrets.iter().any(|k| {
            k.scheme == crate::records::KeyScheme::Ed25519
                && crate::signing::shown(k.scheme, &k.key).is_empty()
        });
        if bad_seed {
            problems.add(
                &at("endpoints", i, "secrets"),
                "an ed25519 key is a 32-byte seed",
            );
        }
        // As rotation keeps them: each is readied for signing
        // (`signing::Keyed`), within this bound.
        if e.secrets.len() > crate::limits::ENDPOINT_SECRETS_MAX {
            problems.add(
                &at("endpoints", i, "secrets"),
                format!("at most {} keys", crate::limits::ENDPOINT_SECRETS_MAX),
            );
        }
        // As through the API: the delivery order is fixed at creation.
        let now = shard.shared().catalog.load();
        if now
            .endpoint_by_id(&e.id)
            .is_some_and(|old| old.fifo != e.fifo)
        {
            problems.add(
                &at("endpoints", i, "fifo"),
                "fixed when the endpoint was created",
            );
        }
        if !e.proxy_url.is_empty() && crate::delivery::proxy::Proxy::parse(&e.proxy_url).is_err() {
            problems.add(
                &at("endpoints", i, "proxyUrl"),
                "http://host:port (a CONNECT proxy)",
            );
        }
        if let Err(err) =
            crate::delivery::tls::for_endpoint(crate::delivery::tls::EndpointTls::of(e))
        {
            problems.add(&at("endpoints", i, "tlsCa"), err.to_string());
        }
        if !crate::ids::has_prefix(&e.id, "ep") {
            problems.add(&at("endpoints", i, "id"), "an endpoint id (ep_…)");
        }
        if after.app(&e.app_id).is_none() {
            problems.add(
                &at("endpoints", i, "appId"),
                format!("no application {}", e.app_id),
            );
        }
        match crate::delivery::guard::Target::parse(&e.url) {
            Err(err) => problems.add(&at("endpoints", i, "url"), err.to_string()),
            Ok(t) => {
                let private = t
                    .host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(crate::delivery::guard::is_private);
                if private && !config.allow_private_targets {
                    problems.add(
                        &at("endpoints", i, "url"),
                        "a private, loopback or link-local address (see allow_private_targets)",
                    );
                }
            }
        }
        if !e
            .secrets
            .iter()
            .any(|k| k.expires_ms == 0 && !k.key.is_empty())
        {
            problems.add(
                &at("endpoints", i, "secrets"),
                "needs a current key (expiresMs 0)",
            );
        }
        for t in e.event_types.iter().chain(&e.channels) {
            if !crate::catalog::valid_event_type(t) {
                problems.add(
                    &at("endpoints", i, "eventTypes"),
                    format!("not a name: {t}"),
                );
            }
        }
    }
    for (i, src) in s.sources.iter().enumerate() {
        if !crate::ids::has_prefix(&src.id, "src") {
            problems.add(&at("sources", i, "id"), "a source id (src_…)");
        }
        let times = [src.created_ms, src.updated_ms];
        check_shown(problems, |f| at("sources", i, f), &src.metadata, times);
        // Checked as receiving reads it (`source::scheme_of`).
        match serde_json::from_str::<Map<String, Value>>(&src.config) {
            Err(_) => problems.add(&at("sources", i, "config"), "JSON object text"),
            Ok(config_obj) => {
                if let Err(err) = crate::incoming::source::scheme(&src.kind, &config_obj) {
                    problems.add(&at("sources", i, "config"), err.to_string());
                }
            }
        }
        if src.token.len() < 16 {
            problems.add(&at("sources", i, "token"), "a receive token");
        }
        for r in &src.routes {
            if after.app(&r.app_id).is_none() {
                problems.add(
                    &at("sources", i, "routes"),
                    format!("no application {}", r.app_id),
                );
            }
        }
    }
    for (i, r) in s.rules.iter().enumerate() {
        let times = [r.created_ms, r.updated_ms];
        check_shown(problems, |f| at("rules", i, f), &r.metadata, times);
        if !crate::ids::has_prefix(&r.id, "rule") || crate::rules::Rule::of(r).is_none() {
            problems.add(&at("rules", i, ""), "not a rule this engine can evaluate");
        }
    }
    let endpoints_max = config.max_endpoints_per_app;
    for a in after.every_app() {
        if after.endpoint_count(&a.id) > endpoints_max {
            problems.add(
                &[json!("ringhook"), json!("endpoints")],
                format!(
                    "application {} would have more than {endpoints_max} endpoints",
                    a.id
                ),
            );
        }
    }
    if after.app_count() > config.max_apps {
        problems.add(
            &[json!("ringhook"), json!("applications")],
            format!("more than {} applications", config.max_apps),
        );
    }
    if after.source_count() > config.max_sources {
        problems.add(
            &[json!("ringhook"), json!("sources")],
            format!("more than {} sources", config.max_sources),
        );
    }
    if after.event_type_count() > config.max_event_types {
        problems.add(
            &[json!("ringhook"), json!("eventTypes")],
            format!("more than {} event types", config.max_event_types),
        );
    }
    if after.rule_count() > crate::limits::RULES_MAX {
        problems.add(&[json!("ringhook"), json!("rules")], "more than 1000 rules");
    }
}

/// `POST /api/v1/environment/import`.
pub fn import(shard: &Shard, req: &Request) -> Result<Response> {
    let doc = json_object(req)?;
    let mut problems = Problems(Vec::new());
    if let Some(v) = doc.get("version").filter(|v| !v.is_null()) {
        if v.as_u64() != Some(FORMAT_VERSION) {
            problems.add(
                &[json!("body"), json!("version")],
                format!("this engine reads version {FORMAT_VERSION}"),
            );
        }
    }
    let types = event_types(&doc, &mut problems);
    let section: Section = match doc.get("ringhook") {
        None | Some(Value::Null) => Section::default(),
        Some(v) => match Section::deserialize(v) {
            Ok(s) => s,
            Err(e) => {
                problems.add(&[json!("body"), json!("ringhook")], e.to_string());
                Section::default()
            }
        },
    };
    // The records in the order replay needs: applications, event types,
    // sources (which make their applications), endpoints, rules.
    let mut batch: Vec<(Kind, Vec<u8>)> = Vec::new();
    let mut push =
        |kind: Kind, body: std::result::Result<rkyv::util::AlignedVec, records::RecordError>| {
            match body {
                Ok(b) => batch.push((kind, b.to_vec())),
                Err(e) => problems.add(&[json!("ringhook")], e.to_string()),
            }
        };
    for a in &section.applications {
        push(Kind::AppPut, records::encode(a));
    }
    for (t, d) in &types {
        push(Kind::EventTypePut, records::encode(t));
        push(Kind::EventTypeDetails, records::encode(d));
    }
    for s in &section.sources {
        push(Kind::SourcePut, records::encode(s));
    }
    for e in &section.endpoints {
        push(Kind::EndpointPut, records::encode(e));
    }
    for r in &section.rules {
        push(Kind::RulePut, records::encode(r));
    }
    let before = shard.shared().catalog.load_full();
    check_names(&section, &before, &mut problems);
    let mut after = (*before).clone();
    for (kind, body) in &batch {
        if let Err(e) = after.apply(*kind as u8, body) {
            problems.add(&[json!("ringhook")], e.to_string());
        }
    }
    check(shard, &section, &after, &mut problems);
    if !problems.0.is_empty() {
        return Err(error(422, "validation_error", Value::Array(problems.0)));
    }
    shard
        .commit_catalog_batch(&batch)
        .map_err(|e| error(500, "internal", e.to_string()))?;
    Ok(no_content())
}
