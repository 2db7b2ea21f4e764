//! cargo-fuzz target: `ringhook::fuzz::journal_segment` (see that module and docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringhook::fuzz::journal_segment(data));
