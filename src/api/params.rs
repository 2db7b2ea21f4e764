//! Request helpers shared by the handlers: JSON fields, paging, lookups, errors.
//!
//! Field helpers turn a wrong type or size into a 422 in Svix's shape, so
//! every handler reports bad input the same way.

use super::http::{error, Request, Response};
use super::views;
use crate::catalog::IdRange;
use crate::ids;
use crate::records::{self, AppRecord, EndpointRecord, Kind};
use crate::shard::state::Shard;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// A handler's failure, already rendered.
pub type Result<T> = std::result::Result<T, Response>;

pub fn ok(status: u16, body: Value) -> Response {
    Response {
        status,
        body: serde_json::to_vec(&body).unwrap_or_default(),
        content_type: None,
        headers: Vec::new(),
    }
}

pub fn not_found(what: &str) -> Response {
    error(404, "not_found", format!("{what} not found"))
}

/// A 422 in Svix's shape: `detail` lists `{loc, msg, type}`.
pub fn invalid(field: &str, msg: impl Into<String>) -> Response {
    error(
        422,
        "validation_error",
        json!([{ "loc": ["body", field], "msg": msg.into(), "type": "value_error" }]),
    )
}

/// Appends a catalog record, syncs it, then publishes the new snapshot
/// (see [`Shard::commit_catalog`]); failures become a 500.
pub fn commit_catalog(shard: &Shard, kind: Kind, body: &[u8]) -> Result<()> {
    shard
        .commit_catalog(kind, body)
        .map_err(|e| error(500, "internal", e.to_string()))
}

pub fn json_object(req: &Request) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(error(
            400,
            "invalid_json",
            "request body must be a JSON object",
        )),
        Err(e) => Err(error(
            400,
            "invalid_json",
            format!("request body is not valid JSON: {e}"),
        )),
    }
}

pub fn opt_str(obj: &Map<String, Value>, key: &str, max_len: usize) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= max_len => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(invalid(key, format!("at most {max_len} bytes"))),
        Some(_) => Err(invalid(key, "must be a string")),
    }
}

pub fn opt_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(key, "must be a boolean")),
    }
}

pub fn opt_u32(obj: &Map<String, Value>, keys: &[&str]) -> Result<Option<u32>> {
    for key in keys {
        match obj.get(*key) {
            None | Some(Value::Null) => continue,
            Some(v) => {
                return v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| invalid(key, "must be a non-negative integer"))
            }
        }
    }
    Ok(None)
}

pub fn opt_list(obj: &Map<String, Value>, keys: &[&str]) -> Result<Option<Vec<String>>> {
    for key in keys {
        match obj.get(*key) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => {
                if items.len() > 1000 {
                    return Err(invalid(key, "at most 1000 entries"));
                }
                return items
                    .iter()
                    .map(|v| match v.as_str() {
                        Some(s) if !s.is_empty() && s.len() <= 256 => Ok(s.to_string()),
                        _ => Err(invalid(
                            key,
                            "entries must be non-empty strings of at most 256 bytes",
                        )),
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(Some);
            }
            Some(_) => return Err(invalid(key, "must be a list of strings")),
        }
    }
    Ok(None)
}

pub fn metadata(obj: &Map<String, Value>) -> Result<String> {
    use crate::limits::{METADATA_BYTES_MAX, METADATA_KEYS_MAX};
    match obj.get("metadata") {
        None | Some(Value::Null) => Ok("{}".into()),
        Some(Value::Object(m)) if m.len() > METADATA_KEYS_MAX => Err(invalid(
            "metadata",
            format!("at most {METADATA_KEYS_MAX} keys"),
        )),
        Some(v @ Value::Object(m)) if m.values().all(Value::is_string) => {
            let text = v.to_string();
            match text.len() <= METADATA_BYTES_MAX {
                true => Ok(text),
                false => Err(invalid(
                    "metadata",
                    format!("at most {METADATA_BYTES_MAX} bytes of JSON"),
                )),
            }
        }
        Some(_) => Err(invalid("metadata", "must be an object of strings")),
    }
}

/// The 422 for a create past one of the catalog's limits.
pub fn limit_reached(what: &str, max: usize) -> Response {
    error(
        422,
        "limit_reached",
        format!("at most {max} {what}; raise the limit in the configuration or delete some"),
    )
}

pub fn valid_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 256
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !ids::has_prefix(uid, "app")
        && !ids::has_prefix(uid, "ep")
        && !ids::has_prefix(uid, "src")
}

/// Reads `limit` (default 50, at most 250) and `iterator` from the query.
pub fn paging(req: &Request) -> Result<(usize, Option<String>)> {
    let mut limit = 50usize;
    let mut iterator = None;
    for (k, v) in url::form_urlencoded::parse(req.query.as_bytes()) {
        match k.as_ref() {
            "limit" => {
                limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=250).contains(l))
                    .ok_or_else(|| {
                        error(
                            422,
                            "validation_error",
                            json!([{ "loc": ["query", "limit"], "msg": "limit must be between 1 and 250", "type": "value_error" }]),
                        )
                    })?
            }
            "iterator" if !v.is_empty() => iterator = Some(v.into_owned()),
            _ => {}
        }
    }
    Ok((limit, iterator))
}

pub fn query_flag(req: &Request, name: &str) -> bool {
    url::form_urlencoded::parse(req.query.as_bytes()).any(|(k, v)| k == name && v == "true")
}

/// The order of a listing (`?order=ascending|descending`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

/// Reads `?order=`, defaulting to `default`; other values are a 422.
pub fn order(req: &Request, default: Order) -> Result<Order> {
    for (k, v) in url::form_urlencoded::parse(req.query.as_bytes()) {
        if k == "order" {
            return match v.as_ref() {
                "ascending" => Ok(Order::Ascending),
                "descending" => Ok(Order::Descending),
                _ => Err(error(
                    422,
                    "validation_error",
                    json!([{ "loc": ["query", "order"], "msg": "order must be ascending or descending", "type": "value_error" }]),
                )),
            };
        }
    }
    Ok(default)
}

/// The part of a listing one page shows, Svix style: the first page, or
/// the items after a cursor (`iterator`), or for `-{id}` (a page's
/// `prevIterator`) the items just before it, in the listing's order.
pub struct Window {
    limit: usize,
    iterator: Option<String>,
    order: Order,
}

impl Window {
    /// Reads `limit`, `iterator` and `order` (defaulting to `default`).
    pub fn of(req: &Request, default: Order) -> Result<Window> {
        let (limit, iterator) = paging(req)?;
        let order = order(req, default)?;
        Ok(Window::new(limit, iterator, order))
    }

    fn new(limit: usize, iterator: Option<String>, order: Order) -> Window {
        Window {
            limit,
            iterator,
            order,
        }
    }

    /// The cursor's id, and whether the page lies before it (`-id`).
    fn cursor(&self) -> (Option<&str>, bool) {
        match self.iterator.as_deref() {
            Some(it) => match it.strip_prefix('-') {
                Some(id) => (Some(id), true),
                None => (Some(it), false),
            },
            None => (None, false),
        }
    }

    /// Whether the page lies above the cursor in id order.
    fn above(&self) -> bool {
        (self.order == Order::Ascending) != self.cursor().1
    }

    /// The ids the page is read from: the side of the cursor it lies on.
    pub fn ids(&self) -> IdRange<'_> {
        use std::ops::Bound::{Excluded, Unbounded};
        match (self.cursor().0, self.above()) {
            (None, _) => (Unbounded, Unbounded),
            (Some(c), true) => (Excluded(c), Unbounded),
            (Some(c), false) => (Unbounded, Excluded(c)),
        }
    }

    /// The page's items in the listing's order, and whether none lie beyond
    /// it, from `items`: those in [`Window::ids`], ascending by id. Reads
    /// only the page and one more, away from the cursor, so a page of a
    /// large catalog costs O(page · log n), plus whatever a filter in
    /// `items` steps over.
    fn page_of<'c, T: 'c>(
        &self,
        items: impl DoubleEndedIterator<Item = (&'c str, &'c T)>,
    ) -> (Vec<(&'c str, &'c T)>, bool) {
        let wanted = self.limit.saturating_add(1);
        let mut page: Vec<(&str, &T)> = match self.above() {
            true => items.take(wanted).collect(),
            false => items.rev().take(wanted).collect(),
        };
        let done = page.len() <= self.limit;
        page.truncate(self.limit);
        if self.cursor().1 {
            page.reverse();
        }
        (page, done)
    }
}

/// One page of a listing: `items` are those in `window.ids()`, ascending by
/// id (a catalog map's range).
pub fn paginate<'c, T: 'c>(
    window: &Window,
    items: impl DoubleEndedIterator<Item = (&'c str, &'c T)>,
    view: impl Fn(&T) -> Value,
) -> Value {
    let (page, done) = window.page_of(items);
    let data: Vec<Value> = page.iter().map(|(_, t)| view(t)).collect();
    let next = page.last().map(|(id, _)| id.to_string());
    let prev = page.first().map(|(id, _)| format!("-{id}"));
    views::page(data, next.or(window.iterator.clone()), prev, done)
}

pub fn find_app(shard: &Shard, app: &str) -> Result<Arc<AppRecord>> {
    shard
        .shared()
        .catalog
        .load()
        .app(app)
        .cloned()
        .ok_or_else(|| not_found("application"))
}

pub fn find_endpoint(shard: &Shard, app: &str, ep: &str) -> Result<Arc<EndpointRecord>> {
    let app = find_app(shard, app)?;
    shard
        .shared()
        .catalog
        .load()
        .endpoint(&app.id, ep)
        .cloned()
        .ok_or_else(|| not_found("endpoint"))
}

/// Whether any of `keys` is in the body; a present `null` counts, because in
/// a PATCH it clears the field while an absent key keeps it.
pub fn has(obj: &Map<String, Value>, keys: &[&str]) -> bool {
    keys.iter().any(|k| obj.contains_key(*k))
}

/// Encodes a catalog record, turning the (unexpected) failure into a 500.
pub fn encode<T: records::Body>(rec: &T) -> Result<rkyv::util::AlignedVec> {
    records::encode(rec).map_err(|e| error(500, "internal", e.to_string()))
}

/// Checks a `uid` given in a body (or a path used as one).
pub fn check_uid(uid: &str) -> Result<()> {
    if valid_uid(uid) {
        Ok(())
    } else {
        Err(invalid(
            "uid",
            "must match ^[a-zA-Z0-9\\-_.]+$ and not look like an id",
        ))
    }
}

/// The value of a query parameter, if given.
pub fn query_value(req: &Request, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// An empty 204 answer (deletes, header changes).
pub fn no_content() -> Response {
    Response {
        status: 204,
        body: Vec::new(),
        content_type: None,
        headers: Vec::new(),
    }
}

/// The body as a JSON object; an empty body reads as `{}` (for routes whose
/// every field is optional).
pub fn json_object_or_empty(req: &Request) -> Result<Map<String, Value>> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    json_object(req)
}

/// How a body is applied to a record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// A new record: absent fields take their defaults.
    Create,
    /// PUT on an existing record: absent Svix fields take their defaults
    /// (the uid is kept: it is how the record was addressed).
    Replace,
    /// PATCH: absent fields are kept, a present `null` clears.
    Patch,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The listing a page is cut from, as a whole: the ids in the listing's
    /// order, then the page after (or before, for `-id`) the cursor.
    fn model(ids: &[String], w: &Window) -> Value {
        let mut items: Vec<&String> = ids.iter().collect();
        if w.order == Order::Descending {
            items.reverse();
        }
        let before = |id: &str, it: &str| match w.order {
            Order::Ascending => id < it,
            Order::Descending => id > it,
        };
        let (start, end, done) = match w.cursor() {
            (Some(it), true) => {
                let end = items.partition_point(|id| before(id, it));
                let start = end.saturating_sub(w.limit);
                (start, end, start == 0)
            }
            (Some(it), false) => {
                let start = items.partition_point(|id| before(id, it) || *id == it);
                let end = (start + w.limit).min(items.len());
                (start, end, end == items.len())
            }
            (None, _) => {
                let end = w.limit.min(items.len());
                (0, end, end == items.len())
            }
        };
        let slice = &items[start..end];
        let data: Vec<Value> = slice.iter().map(|id| json!(id)).collect();
        let next = slice.last().map(|id| id.to_string());
        let prev = slice.first().map(|id| format!("-{id}"));
        views::page(data, next.or(w.iterator.clone()), prev, done)
    }

    proptest::proptest! {
        /// A page read from the cursor through the map's range is the page
        /// cut from the whole listing: every order, direction, limit, and
        /// cursor (present, absent, past either end).
        #[test]
        fn a_page_read_by_range_is_the_page_of_the_whole_listing(
            ids in proptest::collection::btree_set(0u32..40, 0..20),
            cursor in proptest::option::of((0u32..42, proptest::bool::ANY)),
            limit in 1usize..6,
            descending in proptest::bool::ANY,
        ) {
            let map: BTreeMap<String, String> =
                ids.iter().map(|i| (format!("id_{i:02}"), format!("id_{i:02}"))).collect();
            let sorted: Vec<String> = map.keys().cloned().collect();
            let iterator = cursor.map(|(i, back)| format!("{}id_{i:02}", if back { "-" } else { "" }));
            let order = if descending { Order::Descending } else { Order::Ascending };
            let w = Window::new(limit, iterator, order);
            let items = map.range::<str, _>(w.ids()).map(|(k, v)| (k.as_str(), v));
            let page = paginate(&w, items, |v| json!(v));
            proptest::prop_assert_eq!(page, model(&sorted, &w));
        }
    }
}
