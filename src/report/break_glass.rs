//! What became of a break-glass request ([`crate::gate::breakglass`] decides it), as the
//! report shows it to the pusher and the audit log keeps it.

use std::fmt::{self, Write as _};

use engine::pusher::Pusher;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Unmet rules were bypassed; `bypassed` says which.
    Applied,
    /// Allowed, but nothing needed it (or nothing it may bypass).
    Unused,
    /// The push is refused for asking.
    Refused,
}

/// One commit let through, and the rules it did not meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bypassed {
    #[serde(rename = "ref")]
    pub refname: String,
    pub commit: String,
    pub rules: Vec<String>,
}

/// What became of an override request: recorded in the report and the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct Override {
    pub reason: String,
    pub by: Pusher,
    pub status: Status,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    pub bypassed: Vec<Bypassed>,
}

impl fmt::Display for Override {
    /// The loud lines the pusher sees.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        match (&self.status, &self.refused) {
            (Status::Refused, Some(why)) => {
                let _ = writeln!(out, "countersign: override refused: {why}");
            }
            (Status::Applied, _) => {
                let commits: Vec<&str> = self.bypassed.iter().map(|b| b.commit.as_str()).collect();
                let mut rules: Vec<&str> =
                    self.bypassed.iter().flat_map(|b| b.rules.iter().map(String::as_str)).collect();
                rules.sort();
                rules.dedup();
                let _ = writeln!(out, "countersign: !!! OVERRIDDEN by {}", self.by);
                let _ = writeln!(out, "countersign: !!! reason: {:?}", self.reason.trim());
                let _ = writeln!(
                    out,
                    "countersign: !!! bypassed: {} commit(s) lacking approval ({})",
                    commits.len(),
                    rules.join(", ")
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "countersign: override by {} requested ({:?}) but not used: nothing it may bypass",
                    self.by,
                    self.reason.trim()
                );
            }
        }
        f.write_str(&out)
    }
}
