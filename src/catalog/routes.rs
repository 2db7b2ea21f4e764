//! One application's endpoints and its part of the fan-out index: the
//! endpoints by id, those without an event-type filter, and those filtering
//! on each type, each a list sorted by id that holds the records themselves
//! (a message's fan-out reads its candidates without a lookup each).
//!
//! Plain sorted vectors, not persistent maps, each behind its own `Arc`:
//! the catalog keeps each application's `Routes` behind an `Arc` too, and
//! a change copies the `Routes` it changes (a reference count per list)
//! and the lists the endpoint is in: `all` and one list per type of its
//! filter, each at most `max_endpoints_per_app` reference counts, whatever
//! the other endpoints' filters. Persistent maps here took
//! 3.9–5.8 KB of memory per application with one endpoint (without and
//! with a filter; 100,000 applications), these lists 2.6–2.8 KB, and the
//! catalog of whole-map clones before both 1.9–2.2 KB.
//!
//! # Invariants
//! - `all` holds each endpoint once, sorted by id; `any` and every list of
//!   `typed` are sorted by id and hold records of `all`;
//! - an endpoint is in `any` when its filter is empty, else in the list of
//!   each type its filter names, and nowhere else;
//! - `typed` is sorted by type, and none of its lists is empty.

use super::IdRange;
use crate::records::EndpointRecord;
use std::ops::Bound;
use std::sync::Arc;

/// Endpoints sorted by id.
type Sorted = Vec<Arc<EndpointRecord>>;

/// One application's endpoints and fan-out lists.
#[derive(Debug, Clone, Default)]
pub(super) struct Routes {
    all: Arc<Sorted>,
    any: Arc<Sorted>,
    typed: Vec<(Arc<str>, Arc<Sorted>)>,
}

impl Routes {
    /// Puts `ep` (new, or a new version of one already here: take the old
    /// version out first with [`Routes::remove`], its filter may differ).
    pub fn put(&mut self, ep: &Arc<EndpointRecord>) {
        put_sorted(&mut self.all, ep);
        if ep.event_types.is_empty() {
            put_sorted(&mut self.any, ep);
        }
        for t in &ep.event_types {
            match self.typed.binary_search_by(|(k, _)| (**k).cmp(t)) {
                Ok(i) => put_sorted(&mut self.typed[i].1, ep),
                Err(i) => self
                    .typed
                    .insert(i, (Arc::from(t.as_str()), Arc::new(vec![ep.clone()]))),
            }
        }
    }

    /// Takes `ep` out of every list it is in (found by its filter); lists
    /// left empty go.
    pub fn remove(&mut self, ep: &EndpointRecord) {
        remove_sorted(&mut self.all, &ep.id);
        remove_sorted(&mut self.any, &ep.id);
        for t in &ep.event_types {
            if let Ok(i) = self.typed.binary_search_by(|(k, _)| (**k).cmp(t)) {
                if remove_sorted(&mut self.typed[i].1, &ep.id) {
                    self.typed.remove(i);
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// An endpoint by id.
    pub fn get(&self, id: &str) -> Option<&Arc<EndpointRecord>> {
        let i = self.all.binary_search_by(|e| e.id.as_str().cmp(id)).ok()?;
        self.all.get(i)
    }

    /// Every endpoint, by id.
    pub fn all(&self) -> &[Arc<EndpointRecord>] {
        &self.all
    }

    /// The endpoints whose ids lie in `ids`, by id.
    pub fn range(&self, (lower, upper): IdRange<'_>) -> &[Arc<EndpointRecord>] {
        let start = match lower {
            Bound::Included(id) => self.all.partition_point(|e| e.id.as_str() < id),
            Bound::Excluded(id) => self.all.partition_point(|e| e.id.as_str() <= id),
            Bound::Unbounded => 0,
        };
        let end = match upper {
            Bound::Included(id) => self.all.partition_point(|e| e.id.as_str() <= id),
            Bound::Excluded(id) => self.all.partition_point(|e| e.id.as_str() < id),
            Bound::Unbounded => self.all.len(),
        };
        self.all.get(start..end.max(start)).unwrap_or(&[])
    }

    /// A message's candidates: the endpoints without a filter, and those
    /// filtering on `event_type`; disjoint, each sorted by id.
    pub fn candidates(&self, event_type: &str) -> (&[Arc<EndpointRecord>], &[Arc<EndpointRecord>]) {
        let typed = self
            .typed
            .binary_search_by(|(k, _)| (**k).cmp(event_type))
            .map_or(&[][..], |i| &self.typed[i].1[..]);
        (&self.any, typed)
    }

    /// Whether every invariant of the module holds (tests).
    #[cfg(test)]
    pub fn is_sound(&self) -> bool {
        let sorted = |l: &Sorted| l.windows(2).all(|w| w[0].id < w[1].id);
        let placed = |e: &Arc<EndpointRecord>| {
            let in_any = self.any.iter().any(|a| Arc::ptr_eq(a, e));
            let in_types = self
                .typed
                .iter()
                .filter(|(_, l)| l.iter().any(|a| Arc::ptr_eq(a, e)))
                .count();
            let mut types = e.event_types.clone();
            types.sort();
            types.dedup();
            in_any == types.is_empty() && in_types == types.len()
        };
        sorted(&self.all)
            && sorted(&self.any)
            && self.typed.windows(2).all(|w| w[0].0 < w[1].0)
            && self.typed.iter().all(|(_, l)| !l.is_empty() && sorted(l))
            && self.all.iter().all(placed)
            && self.any.len() + self.typed.iter().map(|(_, l)| l.len()).sum::<usize>()
                == self
                    .all
                    .iter()
                    .map(|e| {
                        let mut t = e.event_types.clone();
                        t.sort();
                        t.dedup();
                        t.len().max(1)
                    })
                    .sum::<usize>()
    }
}

/// Puts `ep` in its place in `list` (sorted by id), replacing the one with
/// its id; copies the list first if another catalog shares it.
fn put_sorted(list: &mut Arc<Sorted>, ep: &Arc<EndpointRecord>) {
    let list = Arc::make_mut(list);
    match list.binary_search_by(|e| e.id.cmp(&ep.id)) {
        Ok(i) => list[i] = ep.clone(),
        Err(i) => list.insert(i, ep.clone()),
    }
}

/// Removes the endpoint `id` from `list` (sorted by id), copying the list
/// first only if it holds `id` and another catalog shares it; whether the
/// list is now empty.
fn remove_sorted(list: &mut Arc<Sorted>, id: &str) -> bool {
    if let Ok(i) = list.binary_search_by(|e| e.id.as_str().cmp(id)) {
        Arc::make_mut(list).remove(i);
    }
    list.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(id: &str, types: &[&str]) -> Arc<EndpointRecord> {
        Arc::new(EndpointRecord {
            event_types: types.iter().map(|t| t.to_string()).collect(),
            ..EndpointRecord::new(id.into(), "app_1".into(), "http://127.0.0.1:1/".into(), 1)
        })
    }

    #[test]
    fn ranges_take_the_ids_between_their_bounds() {
        let mut r = Routes::default();
        for id in ["ep_b", "ep_d", "ep_a", "ep_c"] {
            r.put(&ep(id, &[]));
        }
        let ids = |s: &[Arc<EndpointRecord>]| s.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        use Bound::{Excluded, Included, Unbounded};
        let table: [(IdRange<'_>, &[&str]); 6] = [
            ((Unbounded, Unbounded), &["ep_a", "ep_b", "ep_c", "ep_d"]),
            ((Excluded("ep_b"), Unbounded), &["ep_c", "ep_d"]),
            ((Included("ep_b"), Unbounded), &["ep_b", "ep_c", "ep_d"]),
            ((Unbounded, Excluded("ep_c")), &["ep_a", "ep_b"]),
            ((Excluded("ep_a"), Included("ep_c")), &["ep_b", "ep_c"]),
            ((Excluded("ep_d"), Excluded("ep_a")), &[]),
        ];
        for (range, want) in table {
            assert_eq!(ids(r.range(range)), want, "{range:?}");
        }
    }

    #[test]
    fn a_put_with_another_filter_moves_the_endpoint_between_lists() {
        let mut r = Routes::default();
        let first = ep("ep_a", &["a", "b"]);
        r.put(&first);
        r.put(&ep("ep_b", &[]));
        assert!(r.is_sound());
        r.remove(&first);
        r.put(&ep("ep_a", &["b", "b"]));
        assert!(r.is_sound());
        let (any, typed) = r.candidates("b");
        assert_eq!((any.len(), typed.len()), (1, 1));
        assert!(r.candidates("a").1.is_empty(), "type a's list went");
        assert_eq!(r.len(), 2);
    }
}
