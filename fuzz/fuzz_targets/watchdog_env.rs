#![no_main]
//! `cargo fuzz run watchdog_env`: the body is faas_fuzz::watchdog_env (crates/faas-fuzz/src/watchdog_env.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| faas_fuzz::watchdog_env::run(data));
