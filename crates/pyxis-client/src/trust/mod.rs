//! What the client checks before it believes the server: the bindings its
//! writers made ([`binding`]), whose keys open and check what is read
//! ([`opener`]), this device's memory of the newest version seen of each
//! file ([`seen`]: rollback detection), and other users' public keys as
//! first seen ([`pins`]).

pub mod binding;
pub mod opener;
pub mod pins;
pub mod seen;
