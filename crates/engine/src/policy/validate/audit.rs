//! `[audit]`: where the log of every decision goes.

use alloc::string::ToString;

use super::Validator;
use crate::policy::Audit;
use crate::policy::raw;

impl Validator {
    pub(super) fn audit(&mut self, raw: raw::RawAudit) -> Audit {
        let path = raw.path.get_ref().trim().to_string();
        if !path.starts_with('/') {
            self.error(
                "bad-audit-path",
                "`path` must be absolute: hooks of different repositories run in different directories",
                raw.path.span(),
            );
        }
        Audit { path, required: raw.required.unwrap_or(true) }
    }
}
