//! `[[rule]]`: each rule's conditions, who may approve, how many, and whether anyone could.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};

use super::{Holders, Validator};
use crate::diagnostic::Diagnostic;
use crate::globs::GlobKind;
use crate::policy::raw;
use crate::policy::{Mode, Recorded, Rule, Signatures, When};

impl Validator {
    pub(super) fn rule(
        &mut self,
        raw: raw::RawRule,
        holders: &Holders,
        gate_mode: Mode,
        (default_signatures, default_recorded): (Signatures, Recorded),
        names: &mut BTreeSet<String>,
    ) -> Rule {
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() {
            self.error("empty-name", "a rule needs a name", raw.name.span());
        } else if !names.insert(name.clone()) {
            self.error(
                "duplicate-rule",
                format!("two rules are named `{name}`; reports name rules, so names must differ"),
                raw.name.span(),
            );
        }
        let require = match &raw.require {
            None => 1,
            Some(n) if *n.get_ref() >= 1 && *n.get_ref() <= 1000 => *n.get_ref() as usize,
            Some(n) => {
                self.error("bad-require", "`require` must be between 1 and 1000", n.span());
                1
            }
        };
        let since = raw.since.as_ref().and_then(|d| self.date(d, "since"));
        let until = raw.until.as_ref().and_then(|d| self.date(d, "until"));
        if let (Some(since), Some(until), Some(span)) = (since, until, raw.since.as_ref().map(|s| s.span()))
            && since > until
        {
            self.error("empty-window", format!("`since` {since} is after `until` {until}"), span);
        }
        // An expired rule applies to nothing: that it could no longer be met is worth a word,
        // not a policy that refuses every push.
        let expired = until.is_some_and(|until| until < self.today);
        let signatures = raw.signatures.unwrap_or(default_signatures);
        if let Some(role) = &raw.from_role {
            let (all, signers) = holders.by_role.get(role.get_ref().as_str()).copied().unwrap_or((0, 0));
            if all == 0 {
                self.unmet(
                    expired,
                    "unknown-role",
                    format!(
                        "no person holds role `{}`; this rule could never be satisfied{}",
                        role.get_ref(),
                        holders.unknown_role_hint(role.get_ref())
                    ),
                    role.span(),
                );
            } else if all < require {
                self.unmet(
                    expired,
                    "unsatisfiable-rule",
                    format!(
                        "rule `{name}` needs {require} approvals from role `{}`, held by only {all} person(s)",
                        role.get_ref()
                    ),
                    role.span(),
                );
            } else if signatures == Signatures::Required && signers < require {
                self.unmet(
                    expired,
                    "unsatisfiable-rule",
                    format!(
                        "rule `{name}` needs {require} signed approvals from role `{}`, but only \
                         {signers} of its holders list `keys`",
                        role.get_ref()
                    ),
                    role.span(),
                );
            }
        } else if signatures == Signatures::Required && holders.signers < require {
            self.unmet(
                expired,
                "unsatisfiable-rule",
                format!(
                    "rule `{name}` needs {require} signed approvals, but only {} person(s) list `keys`",
                    holders.signers
                ),
                raw.name.span(),
            );
        }
        if let (Some(until), Some(raw_until)) = (until, &raw.until)
            && until < self.today
        {
            self.diagnostics.push(Diagnostic::warning(
                "rule-expired",
                format!("rule `{name}` expired on {until}; it no longer applies"),
                Some(raw_until.span()),
            ));
        }
        if let (Some(since), Some(raw_since)) = (since, &raw.since)
            && since > self.today
        {
            self.diagnostics.push(Diagnostic::warning(
                "rule-not-yet-active",
                format!("rule `{name}` becomes active on {since}"),
                Some(raw_since.span()),
            ));
        }
        let when = raw.when.unwrap_or_default();
        let when = When {
            ai_assisted: when.ai_assisted,
            paths: when.paths.map(|p| self.globs(Some(p), &[], GlobKind::Path)),
            refs: when.refs.map(|r| self.globs(Some(r), &[], GlobKind::Path)),
        };
        let mode = match (gate_mode, raw.mode) {
            (Mode::Warn, _) | (_, Some(Mode::Warn)) => Mode::Warn,
            _ => Mode::Enforce,
        };
        Rule {
            name,
            when,
            require,
            from_role: raw.from_role.map(|r| r.into_inner()),
            since,
            until,
            mode,
            signatures,
            recorded: raw.recorded.unwrap_or(default_recorded),
        }
    }
}
