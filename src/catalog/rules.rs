//! The catalog's notification rules (`/api/v1/rule`) and their states: a
//! rule is put and deleted like any catalog object; its state (ok or
//! firing, and since when) is journaled beside it at each change by the
//! evaluator (`rules::evaluator`), so a restart neither forgets a firing
//! rule nor fires it twice.
//!
//! # Invariants
//! - every state belongs to a rule that exists: a state of an unknown rule
//!   is ignored, and deleting a rule deletes its state.

use super::Catalog;
use crate::records::{self, Kind, RecordError, RuleRecord, RuleStateRecord};
use std::sync::Arc;

impl Catalog {
    pub fn put_rule(&mut self, rule: RuleRecord) {
        self.rules.insert(rule.id.clone(), Arc::new(rule));
    }

    pub fn delete_rule(&mut self, id: &str) {
        self.rules.remove(id);
        self.rule_states.remove(id);
    }

    pub fn put_rule_state(&mut self, state: RuleStateRecord) {
        if self.rules.contains_key(&state.rule_id) {
            self.rule_states
                .insert(state.rule_id.clone(), Arc::new(state));
        }
    }

    /// A rule by id.
    pub fn rule(&self, id: &str) -> Option<&Arc<RuleRecord>> {
        self.rules.get(id)
    }

    /// Rules in id order (creation order).
    pub fn rules(&self) -> impl DoubleEndedIterator<Item = &Arc<RuleRecord>> {
        self.rules.values()
    }

    /// The rules whose ids lie in `ids`, in id order.
    pub fn rules_in<'a>(
        &'a self,
        ids: super::IdRange<'_>,
    ) -> impl DoubleEndedIterator<Item = &'a Arc<RuleRecord>> + 'a {
        super::in_range(&self.rules, ids)
    }

    /// How many rules the catalog holds.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// A rule's newest state; none while it has never changed (ok).
    pub fn rule_state(&self, id: &str) -> Option<&Arc<RuleStateRecord>> {
        self.rule_states.get(id)
    }

    /// Rules, then their states (a state follows its rule on replay).
    pub(super) fn snapshot_rules(
        &self,
        out: &mut Vec<(Kind, rkyv::util::AlignedVec)>,
    ) -> Result<(), RecordError> {
        for rule in self.rules.values() {
            out.push((Kind::RulePut, records::encode(rule.as_ref())?));
        }
        for state in self.rule_states.values() {
            out.push((Kind::RuleState, records::encode(state.as_ref())?));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str) -> RuleRecord {
        RuleRecord {
            id: id.into(),
            name: "down".into(),
            scope: "all".into(),
            app_id: String::new(),
            target: String::new(),
            signal: "failure_rate".into(),
            comparison: ">".into(),
            threshold: 0.5,
            window_ms: 60_000,
            cooldown_ms: 0,
            disabled: false,
            metadata: "{}".into(),
            created_ms: 1,
            updated_ms: 1,
        }
    }

    fn state(id: &str, firing: bool) -> RuleStateRecord {
        RuleStateRecord {
            rule_id: id.into(),
            firing,
            value: 0.9,
            changed_ms: 5,
            changes: 1,
            fired_ms: 5,
        }
    }

    #[test]
    fn states_follow_their_rules_through_replay_and_deletion() {
        let mut c = Catalog::default();
        c.put_rule_state(state("rule_x", true));
        assert!(c.rule_state("rule_x").is_none(), "no rule, no state");
        c.put_rule(rule("rule_x"));
        c.put_rule_state(state("rule_x", true));
        let mut replayed = Catalog::default();
        for (kind, body) in c.snapshot_records().expect("snapshot") {
            replayed.apply(kind as u8, &body).expect("apply");
        }
        assert!(replayed.rule_state("rule_x").is_some_and(|s| s.firing));
        assert_eq!(replayed.rule_count(), 1);
        replayed.delete_rule("rule_x");
        assert!(replayed.rule_state("rule_x").is_none());
        assert_eq!(replayed.rule_count(), 0);
    }
}
