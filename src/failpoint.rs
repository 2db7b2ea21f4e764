//! Failpoints: deliberate failures a test (or an operator rehearsing their
//! supervisor) can switch on from the environment, to see how the process
//! fails. Read once, at first use; off unless the variable is set.
//!
//! `RINGHOOK_FAILPOINT_PANIC_EVENT_TYPE=<type>`: the delivery worker panics
//! when it is about to attempt a message of that event type.

use std::sync::OnceLock;

fn panic_event_type() -> Option<&'static str> {
    static VALUE: OnceLock<Option<String>> = OnceLock::new();
    VALUE
        .get_or_init(|| std::env::var("RINGHOOK_FAILPOINT_PANIC_EVENT_TYPE").ok())
        .as_deref()
}

/// Panics if the panic failpoint names `event_type`.
pub fn panic_before_attempt(event_type: &str) {
    if panic_event_type() == Some(event_type) {
        panic!("failpoint RINGHOOK_FAILPOINT_PANIC_EVENT_TYPE: attempting a {event_type} message");
    }
}
