//! Tests that run the real `pyxis` binary as separate processes, so a server
//! or a remote can be killed with SIGKILL mid-transfer.

mod abuse;
mod chaos;
mod cli;
mod crashes;
mod logs;
mod procs;
mod scale;
mod strangers;
mod sync;
mod upgrade;
