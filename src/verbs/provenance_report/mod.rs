//! `countersign report`: how much of a history was written with AI help, by whom and with which
//! tool, and how much of that carried the sign-off the policy asks. The "provenance tracking" of
//! the mission, for audits. Aggregates the same verdicts `check` produces.

pub mod html;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::Value;

use crate::report::{PolicyInfo, Report};
use engine::policy::{Mode, Policy};
use engine::provenance::EvidenceKind;
use engine::verdict::{CommitVerdict, RuleOutcome};

/// One line of a breakdown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Row {
    pub key: String,
    pub commits: usize,
    pub ai_assisted: usize,
    /// AI-assisted commits that meet every rule the policy applies to them, whatever its mode.
    pub signed_off: usize,
}

impl Row {
    fn count(&mut self, commit: &CommitVerdict) {
        self.commits += 1;
        if commit.ai_assisted {
            self.ai_assisted += 1;
            // Met, not merely tolerated: a `warn` rule left unmet is no sign-off.
            if commit.rules.iter().all(|rule| !rule.applies || rule.satisfied) {
                self.signed_off += 1;
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProvenanceReport {
    pub policy: PolicyInfo,
    /// Only commits made on or after this date (UTC committer date) are counted.
    pub since: Option<String>,
    pub total: Row,
    /// Key: `YYYY-MM` of the committer date, in UTC.
    pub by_month: Vec<Row>,
    /// Key: `Name <email>` of the author.
    pub by_author: Vec<Row>,
    /// AI-assisted commits only, by the tool their first evidence names.
    pub by_tool: Vec<Row>,
    /// AI-assisted commits that landed without the sign-off the policy asks, newest first.
    pub landed_without: Vec<Unsigned>,
}

/// An AI-assisted commit in the history that does not meet every rule applying to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unsigned {
    pub id: String,
    /// Committer date, UTC.
    pub date: String,
    pub author: String,
    pub summary: String,
    pub tools: Vec<String>,
    /// How it landed: as the audit log recorded it (an override, an unenforced accept), else
    /// how it could: the unmet rules' `warn` mode, a `since` after it, else an override or a
    /// push before the gate guarded the ref.
    pub why: String,
}

/// How commits landed, as the hook's audit log recorded it: by whose override and why, or
/// accepted while the gate was not enforcing. Commit id to words.
#[derive(Debug, Default)]
pub struct Landings {
    by_commit: HashMap<String, String>,
    /// Lines that were not an audit record: counted, not fatal (a log cut by rotation).
    pub unreadable: usize,
}

impl Landings {
    /// Reads an audit log's JSON lines (`crate::report::audit`); the latest record of a commit wins.
    pub fn parse(log: &str) -> Landings {
        let mut landings = Landings::default();
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(record) = serde_json::from_str::<Value>(line) else {
                landings.unreadable += 1;
                continue;
            };
            let text = |v: &Value| v.as_str().unwrap_or("").to_string();
            let time = text(&record["time"]);
            let break_glass = &record["override"];
            if text(&break_glass["status"]) == "applied" {
                let by = &break_glass["by"];
                let who = [&by["person"], &by["login"]].into_iter().map(text).find(|s| !s.is_empty());
                let who = who.unwrap_or_else(|| "an unknown pusher".into());
                let why = format!("by override of {who} on {time}: \"{}\"", text(&break_glass["reason"]));
                for bypassed in break_glass["bypassed"].as_array().into_iter().flatten() {
                    landings.by_commit.insert(text(&bypassed["commit"]), why.clone());
                }
            }
            let unenforced = record["decision"] == "accept" && record["enforced"] == false;
            let commits = record["refs"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["commits"].as_array().into_iter().flatten());
            for commit in commits.filter(|c| unenforced && c["verdict"] != "pass") {
                let why = format!("accepted unenforced (warn mode or dry run) on {time}");
                landings.by_commit.insert(text(&commit["id"]), why);
            }
        }
        landings
    }
}

pub fn build(report: &Report, policy: &Policy, since: Option<Date>, landings: &Landings) -> ProvenanceReport {
    let mut total = Row { key: "all".into(), ..Row::default() };
    let mut by_month: BTreeMap<String, Row> = BTreeMap::new();
    let mut by_author: BTreeMap<String, Row> = BTreeMap::new();
    let mut by_tool: BTreeMap<String, Row> = BTreeMap::new();
    let mut landed_without = Vec::new();
    for commit in report.refs.iter().flat_map(|r| &r.commits) {
        let date = utc_date(commit.timestamp);
        if since.is_some_and(|since| date < since) {
            continue;
        }
        total.count(commit);
        let month = format!("{:04}-{:02}", date.year(), date.month());
        by_month.entry(month.clone()).or_insert_with(|| Row { key: month, ..Row::default() }).count(commit);
        let author = commit.author.to_string();
        by_author
            .entry(author.clone())
            .or_insert_with(|| Row { key: author, ..Row::default() })
            .count(commit);
        // The first evidence that can count names the tool (an unreadable note names none).
        let counted = commit.evidence.iter().find(|e| e.kind != EvidenceKind::UnreadableNote);
        if let Some(evidence) = counted.filter(|_| commit.ai_assisted) {
            let tool = evidence.tool.clone();
            by_tool.entry(tool.clone()).or_insert_with(|| Row { key: tool, ..Row::default() }).count(commit);
        }
        if commit.ai_assisted && commit.unmet().next().is_some() {
            landed_without.push(unsigned(commit, date, policy, landings));
        }
    }
    ProvenanceReport {
        policy: report.policy.clone(),
        since: since.map(|d| d.to_string()),
        total,
        by_month: by_month.into_values().collect(),
        by_author: by_author.into_values().collect(),
        by_tool: by_tool.into_values().collect(),
        landed_without,
    }
}

fn unsigned(commit: &CommitVerdict, date: Date, policy: &Policy, landings: &Landings) -> Unsigned {
    let unmet: Vec<&RuleOutcome> = commit.unmet().collect();
    let since_of =
        |rule: &RuleOutcome| policy.rules.iter().find(|r| r.name == rule.name).and_then(|r| r.since);
    let later: Vec<String> = unmet
        .iter()
        .filter_map(|rule| {
            since_of(rule).filter(|since| *since > date).map(|since| format!("`{}` since {since}", rule.name))
        })
        .collect();
    let why = if let Some(recorded) = landings.by_commit.get(&commit.id) {
        recorded.clone()
    } else if later.len() == unmet.len() {
        format!("before the rule existed ({})", later.join(", "))
    } else if unmet.iter().all(|rule| rule.mode == Mode::Warn || since_of(rule).is_some_and(|s| s > date)) {
        let names: Vec<&str> =
            unmet.iter().filter(|r| r.mode == Mode::Warn).map(|r| r.name.as_str()).collect();
        format!("warn mode ({})", names.join(", "))
    } else {
        let names: Vec<&str> = unmet.iter().map(|r| r.name.as_str()).collect();
        format!(
            "by override, or before the gate guarded the ref ({} unmet; not in the audit log read)",
            names.join(", ")
        )
    };
    let mut tools: Vec<String> = Vec::new();
    for evidence in commit.evidence.iter().filter(|e| e.kind != EvidenceKind::UnreadableNote) {
        if !tools.contains(&evidence.tool) {
            tools.push(evidence.tool.clone());
        }
    }
    Unsigned {
        id: commit.id.clone(),
        date: date.to_string(),
        author: commit.author.to_string(),
        summary: commit.summary.clone(),
        tools,
        why,
    }
}

fn utc_date(seconds: i64) -> Date {
    Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH).to_zoned_datetime(TimeZone::UTC).date()
}

impl ProvenanceReport {
    pub fn human(&self) -> String {
        let mut out = String::new();
        let since = self.since.as_ref().map(|s| format!(" since {s}")).unwrap_or_default();
        let t = &self.total;
        let _ = writeln!(
            out,
            "AI provenance{since}: {} commit(s), {} AI-assisted ({}), {} of those signed off as the policy asks",
            t.commits,
            t.ai_assisted,
            percent(t.ai_assisted, t.commits),
            t.signed_off
        );
        for (title, rows) in [("month", &self.by_month), ("author", &self.by_author), ("tool", &self.by_tool)]
        {
            let width = rows.iter().map(|r| r.key.chars().count()).max().unwrap_or(0).max(title.len());
            let _ = writeln!(out, "\n{title:width$}  commits  AI-assisted  share  signed off");
            for row in rows {
                let _ = writeln!(
                    out,
                    "{:width$}  {:7}  {:11}  {:>5}  {:10}",
                    row.key,
                    row.commits,
                    row.ai_assisted,
                    percent(row.ai_assisted, row.commits),
                    row.signed_off
                );
            }
        }
        let _ = writeln!(out, "\npolicy {} (sha256 {})", self.policy.path, &self.policy.sha256[..12]);
        out
    }

    /// `breakdown,key,commits,ai_assisted,signed_off`, one line per row.
    pub fn csv(&self) -> String {
        let mut out = String::from("breakdown,key,commits,ai_assisted,signed_off\n");
        let sections = [("total", std::slice::from_ref(&self.total)), ("month", &self.by_month[..])];
        let sections =
            sections.into_iter().chain([("author", &self.by_author[..]), ("tool", &self.by_tool[..])]);
        for (breakdown, rows) in sections {
            for row in rows {
                let _ = writeln!(
                    out,
                    "{breakdown},{},{},{},{}",
                    csv_field(&row.key),
                    row.commits,
                    row.ai_assisted,
                    row.signed_off
                );
            }
        }
        out
    }
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 { "-".into() } else { format!("{:.0}%", part as f64 * 100.0 / whole as f64) }
}

/// RFC 4180 quoting, by hand: one function is all a four-column export needs. A leading `=`,
/// `+`, `-` or `@` is also quoted after a `'`, so a spreadsheet never runs an author's name
/// as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\n', '\r']) || text.starts_with('\'') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_separators_quotes_and_formulas() {
        assert_eq!(csv_field("Bob Dev <bob@example.com>"), "Bob Dev <bob@example.com>");
        assert_eq!(csv_field("Dev, Bob"), "\"Dev, Bob\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "\"'=cmd()\"");
    }

    #[test]
    fn utc_month_of_a_timestamp() {
        assert_eq!(utc_date(1_767_225_599).to_string(), "2025-12-31");
        assert_eq!(utc_date(1_767_225_600).to_string(), "2026-01-01");
    }

    #[test]
    fn audit_log_names_overrides_and_unenforced_accepts() {
        let log = concat!(
            r#"{"time":"2026-03-01T10:00:00Z","decision":"accept","enforced":true,"refs":[],"#,
            r#""override":{"reason":"INC-1","by":{"login":"dana","person":"Dana"},"status":"applied","#,
            r#""bypassed":[{"ref":"refs/heads/main","commit":"aaa","rules":["r"]}]}}"#,
            "
",
            r#"{"time":"2026-03-02T10:00:00Z","decision":"accept","enforced":false,"#,
            r#""refs":[{"commits":[{"id":"bbb","verdict":"fail"},{"id":"ccc","verdict":"pass"}]}]}"#,
            "
",
            r#"{"time":"2026-03-03T10:00:00Z","decision":"reject","enforced":true,"#,
            r#""override":{"reason":"x","by":{"login":"eve"},"status":"refused","bypassed":[]}}"#,
            "
not json
"
        );
        let landings = Landings::parse(log);
        assert_eq!(landings.by_commit["aaa"], "by override of Dana on 2026-03-01T10:00:00Z: \"INC-1\"");
        assert_eq!(
            landings.by_commit["bbb"],
            "accepted unenforced (warn mode or dry run) on 2026-03-02T10:00:00Z"
        );
        assert_eq!(landings.by_commit.len(), 2);
        assert_eq!(landings.unreadable, 1);
    }

    #[test]
    fn percent_of_nothing_is_a_dash() {
        assert_eq!(percent(0, 0), "-");
        assert_eq!(percent(1, 3), "33%");
    }
}
