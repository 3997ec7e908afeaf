//! `[override]`: who may break the glass, past which rules, and where the server names the
//! pusher (`pusher_env`).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use toml::Spanned;

use super::{Holders, Validator};
use crate::policy::raw;
use crate::policy::{BreakGlass, DEFAULT_PUSHER_ENV, Policy};

const DEFAULT_MIN_REASON: usize = 10;

impl Validator {
    /// `[override]`: every name must be a person, role or rule the policy has, else a typo
    /// would silently give nobody (or everyone) the break-glass.
    pub(super) fn break_glass(
        &mut self,
        raw: raw::RawOverride,
        policy: &Policy,
        holders: &Holders,
    ) -> BreakGlass {
        let people = self.people_named(raw.people.unwrap_or_default(), &policy.people);
        let mut roles = Vec::new();
        for role in raw.roles.unwrap_or_default() {
            if holders.by_role.contains_key(role.get_ref()) {
                roles.push(role.into_inner());
            } else {
                let hint = holders.unknown_role_hint(role.get_ref());
                self.error(
                    "unknown-role",
                    format!("no person holds role `{}`{hint}", role.get_ref()),
                    role.span(),
                );
            }
        }
        let rules = raw.rules.map(|raw_rules| {
            let mut rules = Vec::new();
            for rule in raw_rules {
                if policy.rules.iter().any(|r| &r.name == rule.get_ref()) {
                    rules.push(rule.into_inner());
                } else {
                    self.error(
                        "unknown-rule",
                        format!("no `[[rule]]` is named `{}`", rule.get_ref()),
                        rule.span(),
                    );
                }
            }
            rules
        });
        let min_reason = match &raw.min_reason {
            None => DEFAULT_MIN_REASON,
            Some(n) if (1..=1000).contains(n.get_ref()) => *n.get_ref() as usize,
            Some(n) => {
                self.error("bad-min-reason", "`min_reason` must be between 1 and 1000 characters", n.span());
                DEFAULT_MIN_REASON
            }
        };
        BreakGlass { people, roles, rules, min_reason }
    }

    pub(super) fn env_names(&mut self, raw: Option<Vec<Spanned<String>>>) -> Vec<String> {
        let Some(raw) = raw else { return DEFAULT_PUSHER_ENV.iter().map(|v| v.to_string()).collect() };
        let mut names = Vec::with_capacity(raw.len());
        for name in raw {
            let valid = name
                .get_ref()
                .bytes()
                .enumerate()
                .all(|(i, b)| b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()))
                && !name.get_ref().is_empty();
            if valid {
                names.push(name.into_inner());
            } else {
                self.error(
                    "bad-env-name",
                    format!("`{}` is not an environment variable name", name.get_ref()),
                    name.span(),
                );
            }
        }
        names
    }
}
