//! `[provenance]` and `[approvals]` keys: trailer keys and the notes refs read for AI evidence.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use toml::Spanned;

use super::Validator;

/// git-ai's authorship logs and Qwen Code's attributions.
const DEFAULT_NOTES_REFS: &[&str] = &["refs/notes/ai", "refs/notes/ai-attribution"];

impl Validator {
    pub(super) fn trailer_keys(
        &mut self,
        raw: Option<Vec<Spanned<String>>>,
        default: &[&str],
    ) -> Vec<String> {
        let Some(raw) = raw else {
            return default.iter().map(|k| k.to_string()).collect();
        };
        let mut keys = Vec::with_capacity(raw.len());
        for key in raw {
            // git only takes letters, digits and '-' as a trailer key; anything else never matches.
            let valid = !key.get_ref().is_empty()
                && key.get_ref().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !key.get_ref().starts_with('-');
            if valid {
                keys.push(key.into_inner());
            } else {
                self.error(
                    "bad-trailer-key",
                    format!("`{}` cannot be a git trailer key (letters, digits and '-' only)", key.get_ref()),
                    key.span(),
                );
            }
        }
        keys
    }

    pub(super) fn notes_refs(&mut self, raw: Option<Vec<Spanned<String>>>) -> Vec<String> {
        let Some(raw) = raw else {
            return DEFAULT_NOTES_REFS.iter().map(|r| r.to_string()).collect();
        };
        let mut refs = Vec::with_capacity(raw.len());
        for name in raw {
            // A conservative subset of git's ref names: plain components of letters, digits,
            // `-`, `_` and inner dots.
            let valid = name.get_ref().strip_prefix("refs/notes/").is_some_and(|rest| {
                rest.split('/').all(|part| {
                    !part.is_empty()
                        && !part.starts_with('.')
                        && !part.ends_with('.')
                        && !part.ends_with(".lock")
                        && !part.contains("..")
                        && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                })
            });
            if valid {
                refs.push(name.into_inner());
            } else {
                let message = format!("`{}` is not a notes ref (refs/notes/...)", name.get_ref());
                self.error("bad-notes-ref", message, name.span());
            }
        }
        refs
    }
}
