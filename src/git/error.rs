//! A git operation that failed, with what the layer was doing at the time: one error type for
//! the whole git layer, so every caller reports the same way.

/// A git operation that failed, with what we were doing at the time.
/// The message names the cause itself (the hook shows only the top error to the pusher), so
/// the cause is not chained a second time.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", cause.message())]
pub struct GitError {
    what: String,
    cause: git2::Error,
}

impl GitError {
    pub fn new(what: String, cause: git2::Error) -> Self {
        GitError { what, cause }
    }
}

pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, GitError>;
}

impl<T> Context<T> for Result<T, git2::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, GitError> {
        self.map_err(|cause| GitError::new(what(), cause))
    }
}
