#![no_main]
//! `cargo fuzz run stack_yml`: the body is faas_fuzz::stack_yml (crates/faas-fuzz/src/stack_yml.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| faas_fuzz::stack_yml::run(data));
