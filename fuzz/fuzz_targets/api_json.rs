#![no_main]
//! `cargo fuzz run api_json`: the body is faas_fuzz::api_json (crates/faas-fuzz/src/api_json.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| faas_fuzz::api_json::run(data));
