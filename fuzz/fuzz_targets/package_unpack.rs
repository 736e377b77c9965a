#![no_main]
//! `cargo fuzz run package_unpack`: the body is faas_fuzz::package_unpack (crates/faas-fuzz/src/package_unpack.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| faas_fuzz::package_unpack::run(data));
