//! Sync end to end: a real server and remotes on 127.0.0.1, and each device
//! a folder with its own config directory (its own session, state and
//! device name), driven pass by pass so each test decides what every
//! device has seen.

mod basics;
mod conflicts;
mod hostile;
mod safety;
mod shared;
mod status;
mod support;
