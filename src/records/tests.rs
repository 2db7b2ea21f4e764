//! Round trips and version rules of the record bodies (proptest), and the
//! reading of version-1 attempts and version-2 endpoints.

use super::*;
use proptest::prelude::*;

fn aligned(bytes: &[u8]) -> rkyv::util::AlignedVec {
    let mut v = rkyv::util::AlignedVec::new();
    v.extend_from_slice(bytes);
    v
}

#[test]
fn version_2_endpoints_read_as_today_s_with_hmac_keys_and_no_topic_header() {
    let old = v2::EndpointRecord {
        id: "ep_1".into(),
        app_id: "app_1".into(),
        uid: Some("u".into()),
        url: "https://example.com/hook".into(),
        description: "d".into(),
        disabled: false,
        event_types: vec!["a.b".into()],
        channels: vec![],
        headers: vec![HeaderPair {
            name: "x-a".into(),
            value: "1".into(),
        }],
        method: "POST".into(),
        extra_json: String::new(),
        secrets: vec![v2::SecretKey {
            key: vec![3; 24],
            expires_ms: 0,
        }],
        rate_limit: Some(5),
        metadata: "{}".into(),
        created_ms: 1,
        updated_ms: 2,
    };
    let bytes = aligned(&encode(&old).expect("encodes"));
    for version in [1, 2] {
        let rec = decode_endpoint(version, &bytes).expect("an old body decodes");
        assert_eq!(rec.secrets[0].scheme, KeyScheme::Hmac);
        assert_eq!(rec.secrets[0].key, vec![3; 24]);
        assert_eq!(rec.event_type_header, None);
        assert_eq!(
            (rec.url.as_str(), rec.rate_limit),
            ("https://example.com/hook", Some(5))
        );
        assert!(validate(Kind::EndpointPut as u8, version, &bytes).is_ok());
    }
    // Today's decoder must not take the old layout as its own.
    let today: EndpointRecord = old.into();
    let new = aligned(&encode(&today).expect("encodes"));
    assert_eq!(
        decode_endpoint(RECORD_VERSION, &new).expect("decodes"),
        today
    );
}

#[test]
fn version_1_attempts_read_as_today_s_with_their_error_kind_unknown() {
    let old = |status_code| v1::AttemptRecord {
        id: "atmpt_1".into(),
        msg_id: "msg_1".into(),
        endpoint_id: "ep_1".into(),
        app_id: "app_1".into(),
        attempt_no: 2,
        at_ms: 5,
        status_code,
        duration_us: 7,
        outcome: Outcome::Retrying as u8,
        next_attempt_ms: 9,
        response: b"connect to 127.0.0.1:1 failed".to_vec(),
    };
    for (status, kind) in [(0, ERROR_KIND_UNKNOWN), (503, ERROR_KIND_NONE)] {
        let bytes = aligned(&encode(&old(status)).expect("encodes"));
        let rec = decode_attempt(1, &bytes).expect("a version-1 body decodes");
        assert_eq!(
            (rec.status_code, rec.error_kind, rec.attempt_no),
            (status, kind, 2)
        );
        let head = attempt_head(1, &bytes).expect("reads in place");
        assert_eq!(
            (head.msg_id, head.endpoint_id, head.next_attempt_ms),
            ("msg_1", "ep_1", 9)
        );
        assert!(validate(Kind::Attempt as u8, 1, &bytes).is_ok());
        // Read as the other version, the same bytes do not validate.
        assert!(decode_attempt(2, &bytes).is_err());
    }
}

#[test]
fn error_kind_codes_name_their_kinds() {
    let rows: [(u8, Option<&str>); 8] = [
        (ERROR_KIND_NONE, None),
        (error_kind_code(0), Some("target")),
        (error_kind_code(6), Some("timeout")),
        (error_kind_code(12), Some("not_sent")),
        (error_kind_code(15), Some("tls_wrong_name")),
        (error_kind_code(16), Some("proxy")),
        (18, Some("unknown")),
        (ERROR_KIND_UNKNOWN, Some("unknown")),
    ];
    for (code, name) in rows {
        assert_eq!(error_kind_name(code), name, "code {code}");
    }
}

proptest! {
    #[test]
    fn message_records_round_trip(
        id in "msg_[a-zA-Z0-9]{1,27}",
        event_type in "[a-z.]{1,40}",
        event_id in proptest::option::of("[ -~]{0,60}"),
        channels in proptest::collection::vec("[a-z]{1,10}", 0..4),
        payload in proptest::collection::vec(any::<u8>(), 0..2000),
        created_ms in any::<u64>(),
        destinations in proptest::collection::vec("ep_[a-z0-9]{5}", 0..10),
    ) {
        let rec = MessageRecord { id, app_id: "app_x".into(), event_type, event_id, channels, payload, created_ms, destinations };
        let bytes = encode(&rec).expect("encodes");
        prop_assert_eq!(decode_message(&aligned(&bytes)).expect("decodes"), rec);
    }

    #[test]
    fn attempt_records_round_trip(attempt_no in any::<u32>(), status in any::<u16>(), next in any::<u64>(), response in proptest::collection::vec(any::<u8>(), 0..100), error_kind in any::<u8>()) {
        let rec = AttemptRecord { id: "atmpt_1".into(), msg_id: "msg_1".into(), endpoint_id: "ep_1".into(), app_id: "app_1".into(), attempt_no, at_ms: 5, status_code: status, duration_us: 7, outcome: Outcome::Retrying as u8, next_attempt_ms: next, response, error_kind };
        let bytes = aligned(&encode(&rec).expect("encodes"));
        prop_assert_eq!(decode_attempt(RECORD_VERSION, &bytes).expect("decodes"), rec.clone());
        let head = attempt_head(RECORD_VERSION, &bytes).expect("reads");
        prop_assert_eq!((head.msg_id, head.attempt_no, head.next_attempt_ms), ("msg_1", attempt_no, next));
    }

    #[test]
    fn validate_accepts_what_encode_wrote_and_refuses_other_versions(version in any::<u8>()) {
        let rec = DeleteRecord { id: "ep_1".into(), at_ms: 3 };
        let bytes = aligned(&encode(&rec).expect("encodes"));
        let result = validate(Kind::EndpointDelete as u8, version, &bytes);
        prop_assert_eq!(result.is_ok(), (RECORD_VERSION_OLDEST..=RECORD_VERSION).contains(&version));
        prop_assert!(validate(99, RECORD_VERSION, &bytes).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_message(&aligned(&bytes));
        let _ = decode_endpoint(RECORD_VERSION, &aligned(&bytes));
        let _ = decode_endpoint(2, &aligned(&bytes));
    }
}
