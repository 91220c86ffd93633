//! Sync: keeps a local folder and a path of the user's Pyxis tree in step.
//!
//! A pass scans the folder ([`scan`]), lists the remote path, plans with a
//! three-way merge against what both sides last agreed on ([`plan`]), and
//! carries the plan out ([`engine`]) through the client's data path
//! ([`disk`]), remembering each step in the folder's state ([`state`]).
//! The [`daemon`] runs a pass whenever the file watcher or the server's
//! change feed says something changed, and on a timer as a safety net.

pub mod clock;
pub mod daemon;
pub mod disk;
pub mod engine;
pub mod folder;
pub mod model;
pub mod plan;
pub mod progress;
pub mod remote;
pub mod scan;
pub mod state;

pub use engine::{PassReport, SyncError};
pub use folder::{Folder, FolderOptions, Status, statuses};
