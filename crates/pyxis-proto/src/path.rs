//! Catalog paths: `/`-separated, absolute, normalised. The server and the
//! client check them with the same function, so a name the client accepts is
//! one the server accepts.

use thiserror::Error;

/// Longest path accepted, in bytes (the usual PATH_MAX).
pub const MAX_PATH: usize = 4096;
/// Longest single name, in bytes (the usual NAME_MAX).
pub const MAX_NAME: usize = 255;

#[derive(Debug, Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path {0:?} has an empty segment (`//` or a trailing `/`)")]
    EmptySegment(String),
    #[error("path {0:?} contains `.` or `..`, which are not allowed")]
    DotSegment(String),
    #[error("path contains a NUL byte")]
    Nul,
    #[error("path contains a control character")]
    Control,
    #[error("path is {0} bytes long; the limit is {MAX_PATH}")]
    TooLong(usize),
    #[error("name {0:?} is over {MAX_NAME} bytes")]
    NameTooLong(String),
}

/// Checks a path and returns it in normal form: a leading `/`, no trailing
/// `/`, no empty, `.` or `..` segments. `/` itself is the root.
pub fn normalize(path: &str) -> Result<String, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.len() > MAX_PATH {
        return Err(PathError::TooLong(path.len()));
    }
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    if path.chars().any(char::is_control) {
        return Err(PathError::Control);
    }
    let body = path.strip_prefix('/').unwrap_or(path);
    if body.is_empty() {
        return Ok("/".to_owned());
    }
    let mut out = String::with_capacity(body.len() + 1);
    for seg in body.split('/') {
        match seg {
            "" => return Err(PathError::EmptySegment(path.to_owned())),
            "." | ".." => return Err(PathError::DotSegment(path.to_owned())),
            s if s.len() > MAX_NAME => return Err(PathError::NameTooLong(s.to_owned())),
            s => {
                out.push('/');
                out.push_str(s);
            }
        }
    }
    Ok(out)
}

/// The parent of a normalised path (`None` for the root).
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last segment of a normalised path (`""` for the root).
pub fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

/// Joins a normalised directory and a relative part (itself normalised).
pub fn join(dir: &str, rel: &str) -> Result<String, PathError> {
    let rel = rel.trim_start_matches('/');
    if dir == "/" { normalize(&format!("/{rel}")) } else { normalize(&format!("{dir}/{rel}")) }
}

/// Whether `path` is `dir` or lies under it.
pub fn is_within(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        assert_eq!(normalize("/").unwrap(), "/");
        assert_eq!(normalize("a/b").unwrap(), "/a/b");
        assert_eq!(normalize("/a/b c/ü.txt").unwrap(), "/a/b c/ü.txt");
    }

    #[test]
    fn bad_paths_are_named() {
        assert_eq!(normalize(""), Err(PathError::Empty));
        assert!(matches!(normalize("/a//b"), Err(PathError::EmptySegment(_))));
        assert!(matches!(normalize("/a/b/"), Err(PathError::EmptySegment(_))));
        assert!(matches!(normalize("/a/../b"), Err(PathError::DotSegment(_))));
        assert!(matches!(normalize("./a"), Err(PathError::DotSegment(_))));
        assert_eq!(normalize("/a\0b"), Err(PathError::Nul));
        assert_eq!(normalize("/a\nb"), Err(PathError::Control));
        assert!(matches!(normalize(&format!("/{}", "x".repeat(4097))), Err(PathError::TooLong(_))));
        assert!(matches!(normalize(&format!("/{}", "x".repeat(256))), Err(PathError::NameTooLong(_))));
        let err = normalize("/a/../b").unwrap_err().to_string();
        assert!(err.contains("..") && err.contains("/a/../b"), "{err}");
    }

    #[test]
    fn parents_names_and_containment() {
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(name("/a/b"), "b");
        assert_eq!(join("/", "x/y").unwrap(), "/x/y");
        assert_eq!(join("/a", "x").unwrap(), "/a/x");
        assert!(is_within("/a/b", "/a") && is_within("/a", "/a") && !is_within("/ab", "/a"));
        assert!(is_within("/anything", "/"));
    }
}
