//! Integration tests of the remote (one binary: each test file is a link).
//! Real files in temp directories and real sockets on 127.0.0.1:0; no mocks.

mod api;
mod crash;
mod quarantine;
mod registration;
mod server;
mod store;
mod support;
