//! The wall clock as sync records it: milliseconds since the Unix epoch
//! (status files, progress, the time a pass ran).

/// Now, in milliseconds since the Unix epoch; 0 on a clock set before it.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
