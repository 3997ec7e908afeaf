//! The policy file as written: serde structs that mirror the TOML one to one, with spans kept
//! on every value a later check may need to point at. Unknown keys are errors everywhere.

use serde::Deserialize;
use toml::Spanned;
use toml::value::Datetime;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub version: Spanned<i64>,
    #[serde(default)]
    pub gate: RawGate,
    #[serde(default)]
    pub provenance: RawProvenance,
    #[serde(default)]
    pub approvals: RawApprovals,
    #[serde(default)]
    pub person: Vec<RawPerson>,
    #[serde(default)]
    pub rule: Vec<RawRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Enforce,
    Warn,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGate {
    pub mode: Option<Mode>,
    pub protected: Option<Vec<Spanned<String>>>,
    pub allow_delete: Option<bool>,
    pub allow_force_push: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvenance {
    pub builtin: Option<bool>,
    pub trailers: Option<Vec<Spanned<String>>>,
    pub none_values: Option<Vec<String>>,
    pub footers: Option<bool>,
    pub identities: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApprovals {
    pub trailers: Option<Vec<Spanned<String>>>,
    pub reviewers: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerson {
    pub name: Spanned<String>,
    pub emails: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: Spanned<String>,
    pub when: Option<RawWhen>,
    pub require: Option<Spanned<i64>>,
    pub from_role: Option<Spanned<String>>,
    pub since: Option<Spanned<Datetime>>,
    pub until: Option<Spanned<Datetime>>,
    pub mode: Option<Mode>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    pub ai_assisted: Option<bool>,
    pub paths: Option<Vec<Spanned<String>>>,
    pub refs: Option<Vec<Spanned<String>>>,
}
