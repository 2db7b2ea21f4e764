//! cargo-fuzz target: `ringhook::fuzz::ingest_frame` (see that module and docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringhook::fuzz::ingest_frame(data));
