//! Integration tests of the data path (one binary: each test file is a link).

mod corruption;
mod roundtrip;
mod support;
mod vectors;
