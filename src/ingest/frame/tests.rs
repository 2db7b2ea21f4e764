//! Tests of the ingest frame codec: round trips, truncation, hostile bytes and per-event errors.

use super::*;
use proptest::prelude::*;

fn borrow(e: &Event) -> EventRef<'_> {
    EventRef {
        app: &e.app,
        event_type: &e.event_type,
        event_id: e.event_id.as_deref(),
        channels: e.channels.iter().map(String::as_str).collect(),
        payload: &e.payload,
    }
}

fn event(app: &str, event_type: &str) -> Event {
    Event {
        app: app.into(),
        event_type: event_type.into(),
        event_id: Some("ev-1".into()),
        channels: vec!["ch".into()],
        payload: b"{}".to_vec(),
    }
}

fn arb_event() -> impl Strategy<Value = Event> {
    let id = prop::option::of(".{1,12}");
    let channels = prop::collection::vec(".{1,8}", 0..4);
    let payload = prop::collection::vec(any::<u8>(), 0..40);
    (".{1,12}", ".{1,12}", id, channels, payload).prop_map(
        |(app, event_type, event_id, channels, payload)| Event {
            app,
            event_type,
            event_id,
            channels,
            payload,
        },
    )
}

fn arb_result() -> impl Strategy<Value = EventResult> {
    use EventStatus::*;
    let statuses = vec![
        UnknownApplication,
        InvalidPayload,
        DuplicateEventId,
        InvalidField,
        Overloaded,
    ];
    prop_oneof![
        "[!-~]{1,64}".prop_map(|msg_id| EventResult::Accepted { msg_id }),
        prop::sample::select(statuses).prop_map(EventResult::Rejected),
    ]
}

/// Every strict prefix of a valid frame must ask for more bytes, and never more than remain.
fn assert_prefixes_incomplete(frame: &[u8], server: bool) {
    for cut in 0..frame.len() {
        let prefix = frame.get(..cut).unwrap_or(&[]);
        let needed = if server {
            match decode_frame(prefix) {
                Ok(Decoded::Incomplete { needed_bytes }) => needed_bytes,
                other => panic!("prefix of {cut} bytes gave {other:?}"),
            }
        } else {
            match decode_server_frame(prefix) {
                Ok(ServerDecoded::Incomplete { needed_bytes }) => needed_bytes,
                other => panic!("prefix of {cut} bytes gave {other:?}"),
            }
        };
        assert!(
            needed > 0 && cut + needed <= frame.len(),
            "cut {cut} needs {needed}"
        );
    }
}

proptest! {
    #[test]
    fn batch_round_trip(request_id in any::<u64>(), events in prop::collection::vec(arb_event(), 0..6)) {
        let mut buf = b"queued".to_vec();
        encode_batch(&mut buf, request_id, &events).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let frame = buf.get(6..).unwrap_or(&[]);
        let Ok(Decoded::Batch { frame: batch, consumed }) = decode_frame(frame) else {
            return Err(TestCaseError::fail("a whole frame must decode"));
        };
        prop_assert_eq!(consumed, frame.len());
        prop_assert_eq!(batch.request_id, request_id);
        let expected: Vec<_> = events.iter().map(|e| Ok(borrow(e))).collect();
        prop_assert_eq!(&batch.events, &expected);
        // The borrowed encoder must produce identical bytes.
        let refs: Vec<EventRef<'_>> = batch.events.iter().flatten().cloned().collect();
        let mut again = Vec::new();
        prop_assert!(encode_batch_refs(&mut again, request_id, &refs).is_ok());
        prop_assert_eq!(&again[..], frame);
        assert_prefixes_incomplete(frame, true);
    }

    #[test]
    fn ack_round_trip(request_id in any::<u64>(), results in prop::collection::vec(arb_result(), 0..8)) {
        let mut buf = Vec::new();
        prop_assert!(encode_ack(&mut buf, request_id, &results).is_ok());
        let consumed = buf.len();
        let decoded = decode_server_frame(&buf);
        prop_assert_eq!(decoded, Ok(ServerDecoded::Ack { request_id, results, consumed }));
        assert_prefixes_incomplete(&buf, false);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_frame(&bytes);
        let _ = decode_server_frame(&bytes);
    }

    /// Random bytes rarely pass the header, so valid frames are corrupted instead.
    #[test]
    fn corrupted_frames_never_panic(events in prop::collection::vec(arb_event(), 1..4), edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let mut buf = Vec::new();
        prop_assert!(encode_batch(&mut buf, 1, &events).is_ok());
        let results = vec![EventResult::Rejected(EventStatus::Overloaded); events.len()];
        let mut ack = Vec::new();
        prop_assert!(encode_ack(&mut ack, 1, &results).is_ok());
        for (at, value) in edits {
            let (len, ack_len) = (buf.len(), ack.len());
            if let Some(b) = buf.get_mut(at % len) { *b = value; }
            if let Some(b) = ack.get_mut(at % ack_len) { *b = value; }
        }
        let _ = decode_frame(&buf);
        let _ = decode_server_frame(&ack);
    }
}

#[test]
fn bad_utf8_is_reported_per_event() {
    let events = [
        event("app-1", "a.b"),
        event("BAD!", "a.b"),
        event("app-3", "a.b"),
    ];
    let mut buf = Vec::new();
    assert_eq!(encode_batch(&mut buf, 9, &events), Ok(()));
    let at = buf.windows(4).position(|w| w == b"BAD!").unwrap_or(0);
    buf.splice(at..at + 4, [0xff, 0xfe, b'x', b'y']);
    let Ok(Decoded::Batch { frame, .. }) = decode_frame(&buf) else {
        panic!("the frame structure is intact, so the frame must decode");
    };
    assert_eq!(frame.events.len(), 3);
    assert_eq!(frame.events[0], Ok(borrow(&events[0])));
    assert_eq!(frame.events[1], Err(EventError::InvalidUtf8(Field::App)));
    assert_eq!(frame.events[2], Ok(borrow(&events[2])));
}

/// Builds a BATCH frame by hand so that invalid field contents can be expressed.
fn raw_batch(count: u32, events: &[u8], version: u8) -> Vec<u8> {
    let mut body = vec![FRAME_BATCH, version];
    body.extend_from_slice(&7u64.to_le_bytes());
    body.extend_from_slice(&count.to_le_bytes());
    body.extend_from_slice(events);
    [&(body.len() as u32).to_le_bytes()[..], &body].concat()
}

#[test]
fn empty_required_fields_are_per_event() {
    // app "a", empty event type, no id, one empty channel, payload "{}".
    let raw = [1, 0, b'a', 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, b'{', b'}'];
    let buf = raw_batch(1, &raw, 1);
    let Ok(Decoded::Batch { frame, .. }) = decode_frame(&buf) else {
        panic!("structurally valid");
    };
    assert_eq!(frame.events, vec![Err(EventError::Empty(Field::EventType))]);
    assert_eq!(
        frame.events[0].as_ref().map_err(|e| e.status()).map(|_| ()),
        Err(EventStatus::InvalidField)
    );
}

#[test]
fn structural_damage_is_fatal() {
    let one = [1, 0, b'a', 1, 0, b't', 0, 0, 0, 0, 0, 0, 0];
    let malformed = |r: Result<Decoded<'_>, FrameError>| matches!(r, Err(FrameError::Malformed(_)));
    assert!(
        malformed(decode_frame(&raw_batch(2, &one, 1))),
        "count above events"
    );
    assert!(
        malformed(decode_frame(&raw_batch(0, &one, 1))),
        "trailing bytes"
    );
    assert!(
        malformed(decode_frame(&raw_batch(70_000, &one, 1))),
        "count limit"
    );
    assert!(
        malformed(decode_frame(&raw_batch(1, &[9, 0, b'a'], 1))),
        "length past end"
    );
    assert!(matches!(
        decode_frame(&raw_batch(1, &one, 1)),
        Ok(Decoded::Batch { .. })
    ));
    let v2 = raw_batch(1, &one, 2);
    assert_eq!(decode_frame(&v2), Err(FrameError::BadVersion(2)));
    let too_large = ((INGEST_FRAME_BYTES_MAX + 1) as u32).to_le_bytes();
    let err = decode_frame(&too_large).map_err(|e| e.error_code());
    assert_eq!(err, Err(ErrorCode::FRAME_TOO_LARGE));
    let mut ack = Vec::new();
    assert_eq!(encode_ack(&mut ack, 1, &[]), Ok(()));
    assert_eq!(decode_frame(&ack), Err(FrameError::BadType(FRAME_ACK)));
    assert!(matches!(
        decode_server_frame(&raw_batch(0, &[], 1)),
        Err(FrameError::BadType(1))
    ));
    let short = [1, 0, 0, 0, FRAME_BATCH];
    assert!(
        malformed(decode_frame(&short)),
        "length below type and version"
    );
}

#[test]
fn error_frames_round_trip_and_cut_long_messages() {
    let mut buf = Vec::new();
    encode_error(&mut buf, ErrorCode::MALFORMED_BATCH, "bad batch");
    encode_error(
        &mut buf,
        ErrorCode(77),
        &"é".repeat(INGEST_ERROR_MESSAGE_BYTES_MAX),
    );
    let Ok(ServerDecoded::Error {
        code,
        message,
        consumed,
    }) = decode_server_frame(&buf)
    else {
        panic!("first error frame");
    };
    assert_eq!(
        (code, message.as_str()),
        (ErrorCode::MALFORMED_BATCH, "bad batch")
    );
    let rest = buf.get(consumed..).unwrap_or(&[]);
    let Ok(ServerDecoded::Error { code, message, .. }) = decode_server_frame(rest) else {
        panic!("second error frame");
    };
    assert_eq!(
        (code, message.len()),
        (ErrorCode(77), INGEST_ERROR_MESSAGE_BYTES_MAX)
    );
    assert_prefixes_incomplete(rest, false);
}

#[test]
fn encoders_refuse_bad_input_and_leave_the_buffer_alone() {
    let mut buf = b"keep".to_vec();
    let mut e = event("app", "t");
    e.event_id = Some(String::new());
    let index = 1;
    let err = encode_batch(&mut buf, 1, &[event("a", "t"), e]);
    assert_eq!(
        err,
        Err(BatchEncodeError::EmptyField {
            index,
            field: Field::EventId
        })
    );
    let mut e = event("app", "t");
    e.channels = vec!["c".into(); 256];
    assert_eq!(
        encode_batch(&mut buf, 1, &[e]),
        Err(BatchEncodeError::TooManyChannels { index: 0 })
    );
    let long = event(&"a".repeat(70_000), "t");
    let err = encode_batch(&mut buf, 1, &[long]);
    assert_eq!(
        err,
        Err(BatchEncodeError::FieldTooLong {
            index: 0,
            field: Field::App
        })
    );
    let mut big = event("a", "t");
    big.payload = vec![b' '; INGEST_FRAME_BYTES_MAX];
    assert_eq!(
        encode_batch(&mut buf, 1, &[big]),
        Err(BatchEncodeError::FrameTooLarge)
    );
    let results = [EventResult::Accepted {
        msg_id: "has space".into(),
    }];
    assert_eq!(
        encode_ack(&mut buf, 1, &results),
        Err(AckEncodeError::BadMsgId { index: 0 })
    );
    assert_eq!(buf, b"keep");
}
