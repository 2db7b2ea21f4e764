//! cargo-fuzz target: `ringhook::fuzz::config` (see that module and docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringhook::fuzz::config(data));
