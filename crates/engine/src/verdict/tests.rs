use super::*;
use crate::policy::PolicySource;

const POLICY: &str = r#"
version = 1
[approvals]
trailers = ["Reviewed-by", "Approved-by"]
reviewers = ["*@contractors.example.com"]
[[person]]
name = "Alice Senior"
emails = ["alice@example.com", "alice@home.example.org"]
roles = ["senior"]
[[person]]
name = "Bob Dev"
emails = ["bob@example.com"]
[[person]]
name = "Dana Director"
emails = ["dana@example.com"]
roles = ["senior", "director"]
[[rule]]
name = "two-person review"
[[rule]]
name = "senior sign-off"
when = { ai_assisted = true }
from_role = "senior"
[[rule]]
name = "director audit"
when = { paths = ["infra/**"] }
from_role = "director"
[[rule]]
name = "release double check"
when = { refs = ["refs/heads/release/**"] }
require = 2
mode = "warn"
"#;

fn today() -> Date {
    Date::new(2026, 6, 1).unwrap()
}

fn policy(text: &str) -> Policy {
    Policy::parse(PolicySource::new("p.toml", text), today()).unwrap()
}

fn commit(author: &str, message: &str, paths: &[&str]) -> CommitFacts {
    let (name, email) = author.split_once(" <").unwrap();
    let author = Signature { name: name.into(), email: email.trim_end_matches('>').into() };
    CommitFacts {
        changes: Changes::Paths(paths.iter().map(|p| p.to_string()).collect()),
        ..CommitFacts::of_message("1".repeat(40), author.clone(), author, message.into())
    }
}

fn judge(message: &str) -> CommitVerdict {
    judge_on(message, &[], "refs/heads/main")
}

fn judge_on(message: &str, paths: &[&str], refname: &str) -> CommitVerdict {
    let policy = policy(POLICY);
    Engine::new(&policy, today())
        .judge(&commit("Bob Dev <bob@example.com>", message, paths), &[refname.into()])
}

fn rule<'v>(verdict: &'v CommitVerdict, name: &str) -> &'v RuleOutcome {
    verdict.rules.iter().find(|r| r.name == name).unwrap()
}

fn reasons(outcome: &RuleOutcome) -> Vec<String> {
    outcome.not_counted.iter().map(|n| n.reason.to_string()).collect()
}

#[test]
fn peer_review_satisfies_two_person_rule() {
    let v = judge("Fix\n\nReviewed-by: Alice Senior <alice@example.com>\n");
    assert_eq!(v.verdict, CommitStatus::Pass);
    assert_eq!(rule(&v, "two-person review").counted[0].person, "Alice Senior");
}

#[test]
fn no_review_fails_and_names_who_could_approve() {
    let v = judge("Fix\n");
    assert_eq!(v.verdict, CommitStatus::Fail);
    let r = rule(&v, "two-person review");
    assert!(r.applies && !r.satisfied);
    let eligible: Vec<_> = r.eligible.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(eligible, ["Alice Senior", "Dana Director"], "the author is not eligible");
}

#[test]
fn self_approval_does_not_count() {
    let v = judge("Fix\n\nReviewed-by: Bob Dev <BOB@example.com>\n");
    assert_eq!(reasons(rule(&v, "two-person review")), ["author"]);
    assert_eq!(v.verdict, CommitStatus::Fail);
}

#[test]
fn co_author_approval_does_not_count() {
    let v = judge(
        "Fix\n\nCo-authored-by: Alice Senior <alice@home.example.org>\nReviewed-by: Alice Senior <alice@example.com>\n",
    );
    assert_eq!(reasons(rule(&v, "two-person review")), ["co-author"]);
    let v = judge("Fix\n\nCo-developed-by: A <alice@example.com>\nReviewed-by: Alice <alice@example.com>\n");
    assert_eq!(reasons(rule(&v, "two-person review")), ["co-author"]);
}

#[test]
fn ai_identity_approval_does_not_count() {
    let policy = policy(&format!("{POLICY}\n[provenance]\nidentities = [\"*@contractors.example.com\"]\n"));
    let c =
        commit("Bob Dev <bob@example.com>", "Fix\n\nReviewed-by: Bot <bot@contractors.example.com>\n", &[]);
    let v = Engine::new(&policy, today()).judge(&c, &["refs/heads/main".into()]);
    assert_eq!(reasons(rule(&v, "two-person review")), ["AI identity"]);
    let v = judge("Fix\n\nReviewed-by: Claude <noreply@anthropic.com>\n");
    assert_eq!(reasons(rule(&v, "two-person review")), ["AI identity"]);
}

#[test]
fn unlisted_approver_does_not_count() {
    let v = judge("Fix\n\nReviewed-by: Mallory <mallory@evil.example>\n");
    assert_eq!(reasons(rule(&v, "two-person review")), ["not a person in the policy"]);
}

#[test]
fn reviewers_glob_counts_for_role_free_rules_only() {
    let v = judge("Fix\n\nAssisted-by: Claude\nReviewed-by: Carl <carl@contractors.example.com>\n");
    assert!(rule(&v, "two-person review").satisfied);
    assert_eq!(reasons(rule(&v, "senior sign-off")), ["not role senior"]);
}

#[test]
fn case_different_email_counts() {
    let v = judge("Fix\n\nApproved-by: alice <ALICE@Example.COM>\n");
    assert_eq!(v.verdict, CommitStatus::Pass);
}

#[test]
fn approval_key_compares_case_insensitively() {
    assert_eq!(judge("Fix\n\nreviewed-BY: Alice Senior <alice@example.com>\n").verdict, CommitStatus::Pass);
}

#[test]
fn unknown_approval_key_is_ignored() {
    let v = judge("Fix\n\nLooks-good-to: Alice Senior <alice@example.com>\n");
    assert!(rule(&v, "two-person review").not_counted.is_empty());
    assert_eq!(v.verdict, CommitStatus::Fail);
}

#[test]
fn approval_outside_the_trailer_block_does_not_count() {
    let v = judge("Fix\n\nReviewed-by: Alice Senior <alice@example.com>\nas quoted from the thread above.\n");
    assert!(rule(&v, "two-person review").counted.is_empty());
    assert_eq!(v.verdict, CommitStatus::Fail);
}

#[test]
fn one_person_counts_once_whatever_the_emails() {
    let policy =
        policy(&POLICY.replace("name = \"two-person review\"", "name = \"two-person review\"\nrequire = 2"));
    let c = commit(
        "Bob Dev <bob@example.com>",
        "Fix\n\nReviewed-by: Alice <alice@example.com>\nApproved-by: Alice <alice@home.example.org>\n",
        &[],
    );
    let v = Engine::new(&policy, today()).judge(&c, &["refs/heads/main".into()]);
    let r = rule(&v, "two-person review");
    assert_eq!(r.counted.len(), 1);
    assert_eq!(reasons(r), ["Alice Senior already counted"]);
    assert_eq!(v.verdict, CommitStatus::Fail);
}

#[test]
fn ai_assisted_commit_needs_a_senior() {
    let v = judge(
        "Fix\n\nCo-authored-by: Claude <noreply@anthropic.com>\nReviewed-by: Bob <bob@example.com>\nReviewed-by: X <x@contractors.example.com>\n",
    );
    let r = rule(&v, "senior sign-off");
    assert!(r.applies && !r.satisfied);
    assert!(r.why.contains("Co-authored-by: Claude <noreply@anthropic.com>"), "{}", r.why);
    assert_eq!(v.verdict, CommitStatus::Fail);
    let v = judge(
        "Fix\n\nCo-authored-by: Claude <noreply@anthropic.com>\nApproved-by: Dana <dana@example.com>\n",
    );
    assert_eq!(v.verdict, CommitStatus::Pass);
}

#[test]
fn senior_rule_does_not_apply_without_ai() {
    let v = judge("Fix\n\nReviewed-by: X <x@contractors.example.com>\n");
    let r = rule(&v, "senior sign-off");
    assert!(!r.applies && r.satisfied);
    assert_eq!(r.why, "not AI-assisted");
}

#[test]
fn non_senior_lacks_the_role() {
    let policy = policy(POLICY);
    let c = commit(
        "Alice Senior <alice@example.com>",
        "F\n\nAssisted-by: Claude\nReviewed-by: Bob <bob@example.com>\n",
        &[],
    );
    let v = Engine::new(&policy, today()).judge(&c, &["refs/heads/main".into()]);
    assert_eq!(reasons(rule(&v, "senior sign-off")), ["not role senior"]);
}

#[test]
fn tier1_path_needs_the_director() {
    let v = judge_on(
        "F\n\nReviewed-by: Alice <alice@example.com>\n",
        &["app/x", "infra/db/main.tf"],
        "refs/heads/main",
    );
    let r = rule(&v, "director audit");
    assert!(r.applies && !r.satisfied);
    assert_eq!(r.why, "infra/db/main.tf matches infra/**");
    assert_eq!(v.paths_matched, ["infra/db/main.tf"]);
    let v = judge_on("F\n\nReviewed-by: Dana <dana@example.com>\n", &["infra/x"], "refs/heads/main");
    assert_eq!(v.verdict, CommitStatus::Pass);
}

#[test]
fn path_rule_does_not_apply_elsewhere() {
    let v = judge_on("F\n\nReviewed-by: Alice <alice@example.com>\n", &["app/infra/x"], "refs/heads/main");
    assert!(!rule(&v, "director audit").applies);
}

#[test]
fn ref_rule_applies_only_to_its_refs_and_warn_mode_only_warns() {
    let msg = "F\n\nReviewed-by: Alice <alice@example.com>\n";
    let v = judge_on(msg, &[], "refs/heads/main");
    assert!(!rule(&v, "release double check").applies);
    assert_eq!(v.verdict, CommitStatus::Pass);
    let v = judge_on(msg, &[], "refs/heads/release/1.0");
    let r = rule(&v, "release double check");
    assert!(r.applies && !r.satisfied && r.mode == Mode::Warn);
    assert_eq!(v.verdict, CommitStatus::Warn);
}

#[test]
fn inactive_rule_does_not_apply() {
    let text = POLICY.replace("name = \"director audit\"", "name = \"director audit\"\nuntil = 2026-05-31");
    let policy = policy(&text);
    let c = commit("Bob Dev <bob@example.com>", "F\n\nReviewed-by: A <alice@example.com>\n", &["infra/x"]);
    let v = Engine::new(&policy, today()).judge(&c, &["refs/heads/main".into()]);
    let r = rule(&v, "director audit");
    assert!(!r.applies);
    assert_eq!(r.why, "inactive on 2026-06-01: active until 2026-05-31");
    assert_eq!(v.verdict, CommitStatus::Pass);
    // The same commit on the last day of the window is judged.
    let v = Engine::new(&policy, Date::new(2026, 5, 31).unwrap()).judge(&c, &["refs/heads/main".into()]);
    assert_eq!(v.verdict, CommitStatus::Fail);
}

#[test]
fn clean_merge_is_exempt() {
    let policy = policy(POLICY);
    let mut c = commit("Bob Dev <bob@example.com>", "Merge branch 'x'\n", &[]);
    c.clean_merge = true;
    let v = Engine::new(&policy, today()).judge(&c, &["refs/heads/main".into()]);
    assert_eq!(v.verdict, CommitStatus::Pass);
    assert!(v.exempt.is_some());
    assert!(v.rules.iter().all(|r| !r.applies));
}
