//! cargo-fuzz target: `ringhook::fuzz::http_response` (see that module and docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringhook::fuzz::http_response(data));
