//! Poller consumers' positions (`/api/v1/app/{app}/poller/{endpoint}/
//! consumer/{consumer}`): the id of the last message each named consumer
//! of an endpoint was given, kept in the catalog so it survives restarts.
//!
//! # Invariants
//! - a consumer belongs to an endpoint that exists: deleting the endpoint
//!   (or its application) forgets its consumers; a position of an unknown
//!   endpoint is ignored.

use super::Catalog;
use crate::records::ConsumerRecord;
use std::sync::Arc;

impl Catalog {
    pub fn put_consumer(&mut self, c: ConsumerRecord) {
        if self.endpoints.contains_key(&c.endpoint_id) {
            let key = (c.endpoint_id.clone(), c.consumer_id.clone());
            self.consumers.insert(key, Arc::new(c));
        }
    }

    pub(super) fn forget_consumers(&mut self, endpoint_id: &str) {
        let from = (endpoint_id.to_string(), String::new());
        let keys: Vec<(String, String)> = self
            .consumers
            .range(from..)
            .map(|(key, _)| key)
            .take_while(|(ep, _)| ep == endpoint_id)
            .cloned()
            .collect();
        for key in keys {
            self.consumers.remove(&key);
        }
    }

    /// A consumer's position.
    pub fn consumer(&self, endpoint_id: &str, consumer_id: &str) -> Option<&Arc<ConsumerRecord>> {
        self.consumers
            .get(&(endpoint_id.to_string(), consumer_id.to_string()))
    }

    /// How many consumers the catalog keeps.
    pub fn consumer_count(&self) -> usize {
        self.consumers.len()
    }
}
