#![no_main]
//! `cargo fuzz run queue_record`: the body is faas_fuzz::queue_record (crates/faas-fuzz/src/queue_record.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| faas_fuzz::queue_record::run(data));
