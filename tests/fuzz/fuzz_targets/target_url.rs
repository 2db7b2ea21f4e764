//! cargo-fuzz target: `ringhook::fuzz::target_url` (see that module and docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringhook::fuzz::target_url(data));
