#![no_main]
// The checks live in src/remote_signed.rs, where `cargo test` also runs them on the seeds.
libfuzzer_sys::fuzz_target!(init: pyxis_fuzz::init(), |data: &[u8]| pyxis_fuzz::remote_signed::run(data));
