//! End-to-end tests: a real server, real remotes and real clients talking
//! over 127.0.0.1 sockets, in one process (one test binary: links are slow).

mod accounts;
mod admin_page;
mod bindings;
mod catalog;
mod changes;
mod check;
mod durability;
mod failures;
mod history;
mod hostile;
mod limits;
mod names;
mod operations;
mod putget;
mod registry;
mod security;
mod shares;
mod strangers;
mod support;
mod tail;
