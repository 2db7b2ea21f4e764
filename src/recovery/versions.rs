//! Recovery reads journals that mix record versions: attempt records
//! written as version 1 (before the error kind) beside today's. (The
//! simulator writes today's only; this is where the mix is checked.)

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::records::{self, AttemptRecord, EndpointRecord, Kind, MessageRecord, Outcome};

    fn attempt(endpoint: &str, no: u32, outcome: Outcome, next_ms: u64) -> AttemptRecord {
        let at_ms = crate::time::now_ms() + u64::from(no);
        AttemptRecord {
            id: format!("atmpt_{endpoint}_{no}"),
            msg_id: "msg_1".into(),
            endpoint_id: endpoint.into(),
            app_id: "app_1".into(),
            attempt_no: no,
            at_ms,
            status_code: if outcome == Outcome::Succeeded {
                200
            } else {
                500
            },
            duration_us: 10,
            outcome: outcome as u8,
            next_attempt_ms: next_ms,
            response: vec![],
            error_kind: records::ERROR_KIND_NONE,
        }
    }

    fn v1(rec: &AttemptRecord) -> Vec<u8> {
        let old = records::v1::AttemptRecord {
            id: rec.id.clone(),
            msg_id: rec.msg_id.clone(),
            endpoint_id: rec.endpoint_id.clone(),
            app_id: rec.app_id.clone(),
            attempt_no: rec.attempt_no,
            at_ms: rec.at_ms,
            status_code: rec.status_code,
            duration_us: rec.duration_us,
            outcome: rec.outcome,
            next_attempt_ms: rec.next_attempt_ms,
            response: rec.response.clone(),
        };
        records::encode(&old).expect("encode v1").to_vec()
    }

    /// Pending deliveries after a recovery: (endpoint, next attempt, due).
    fn pending(config: &Config) -> Vec<(String, u32, u64)> {
        let r = crate::recovery::recover(config, false).expect("recover");
        let mut out: Vec<_> = r
            .pending
            .into_iter()
            .flatten()
            .map(|d| {
                let endpoint = d.delivery.endpoint_id.to_string();
                (endpoint, d.delivery.attempt_no, d.due_ms)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn version_1_and_2_attempt_records_settle_deliveries_alike() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::load(None).expect("defaults");
        config.data_dir = dir.path().join("data");
        config.shards = 1;
        let config = config.finish().expect("config");
        crate::datadir::create(&config.data_dir).expect("data dir");
        let now = crate::time::now_ms();
        {
            let mut r = crate::recovery::recover(&config, false).expect("first start");
            let app = records::AppRecord {
                id: "app_1".into(),
                uid: None,
                name: "app_1".into(),
                metadata: "{}".into(),
                rate_limit: None,
                created_ms: now,
                updated_ms: now,
            };
            let store = &mut r.catalog_store;
            store
                .append_synced(Kind::AppPut, &records::encode(&app).expect("app"))
                .expect("app");
            for ep in ["ep_a", "ep_b", "ep_c"] {
                let rec = EndpointRecord::new(
                    ep.into(),
                    "app_1".into(),
                    "https://x.example/".into(),
                    now,
                );
                store
                    .append_synced(Kind::EndpointPut, &records::encode(&rec).expect("ep"))
                    .expect("ep");
            }
            let msg = MessageRecord {
                id: "msg_1".into(),
                app_id: "app_1".into(),
                event_type: "a.b".into(),
                event_id: None,
                channels: vec![],
                payload: b"{}".to_vec(),
                created_ms: now,
                destinations: vec!["ep_a".into(), "ep_b".into(), "ep_c".into()],
            };
            let j = &mut r.journals[0];
            let body = records::encode(&msg).expect("msg");
            j.append_at(Kind::Message as u8, records::RECORD_VERSION, &body)
                .expect("append");
            let due = now + 60_000;
            // ep_a: succeeded, written as version 1.
            let a = v1(&attempt("ep_a", 0, Outcome::Succeeded, 0));
            j.append_at(Kind::Attempt as u8, 1, &a).expect("append");
            // ep_b: a version-1 retry, then a version-2 retry: the newest
            // decides.
            let b0 = v1(&attempt("ep_b", 0, Outcome::Retrying, now));
            j.append_at(Kind::Attempt as u8, 1, &b0).expect("append");
            let b1 = records::encode(&attempt("ep_b", 1, Outcome::Retrying, due)).expect("v2");
            j.append_at(Kind::Attempt as u8, records::RECORD_VERSION, &b1)
                .expect("append");
            // ep_c: a version-2 retry, then a version-1 final failure.
            let c0 = records::encode(&attempt("ep_c", 0, Outcome::Retrying, due)).expect("v2");
            j.append_at(Kind::Attempt as u8, records::RECORD_VERSION, &c0)
                .expect("append");
            let c1 = v1(&attempt("ep_c", 1, Outcome::Failed, 0));
            j.append_at(Kind::Attempt as u8, 1, &c1).expect("append");
            j.sync().expect("sync");
        }
        assert_eq!(
            pending(&config),
            vec![("ep_b".to_string(), 2, now + 60_000)],
            "ep_a and ep_c ended (versions 1 and 2 alike); ep_b waits for its third attempt"
        );
    }
}
