#![no_main]
// The checks live in src/wrapped_key.rs, where `cargo test` also runs them on the seeds.
libfuzzer_sys::fuzz_target!(init: pyxis_fuzz::init(), |data: &[u8]| pyxis_fuzz::wrapped_key::run(data));
