#![no_main]
// The checks live in src/volume_record.rs, where `cargo test` also runs them on the seeds.
libfuzzer_sys::fuzz_target!(init: pyxis_fuzz::init(), |data: &[u8]| pyxis_fuzz::volume_record::run(data));
