//! Signed approvals through the engine: pairing of a signature with its approval, and what
//! each `signatures` setting counts.

use jiff::civil::Date;
use ssh_key::private::{Ed25519Keypair, PrivateKey};
use ssh_key::{HashAlg, LineEnding};

use crate::facts::{CommitFacts, Signature};
use crate::policy::{Policy, PolicySource};
use crate::signature::{self, NAMESPACE};
use crate::verdict::{CommitVerdict, Engine};

const PATCH: &str = "5360eb44e69fba2d0607746174409a21c18fb33b74dc846792795dc5630e970e";
const MOVED: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn key(seed: u8) -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
}

/// Alice signs with key 1, Carol with key 2; the senior rule's mode is `senior`.
fn policy(global: &str, senior: &str) -> Policy {
    let text = format!(
        "version = 1\n[approvals]\nsignatures = \"{global}\"\n\
         [[person]]\nname = \"Alice Senior\"\nemails = [\"alice@example.com\"]\nroles = [\"senior\"]\nkeys = [\"{}\"]\n\
         [[person]]\nname = \"Carol Senior\"\nemails = [\"carol@example.com\"]\nroles = [\"senior\"]\nkeys = [\"{}\"]\n\
         [[rule]]\nname = \"review\"\n\
         [[rule]]\nname = \"senior\"\nfrom_role = \"senior\"\nsignatures = \"{senior}\"\n",
        key(1).public_key().to_openssh().unwrap(),
        key(2).public_key().to_openssh().unwrap(),
    );
    Policy::parse(PolicySource::new("p.toml", text), today()).unwrap()
}

fn today() -> Date {
    Date::new(2026, 6, 1).unwrap()
}

/// `Approval-Signature: ...` by `key` for `email` over `patch_id`.
fn sig(key: &PrivateKey, email: &str, patch_id: &str) -> String {
    let statement = signature::statement(patch_id, email);
    let armored = key.sign(NAMESPACE, HashAlg::Sha512, statement.as_bytes()).unwrap().to_pem(LineEnding::LF);
    format!("Approval-Signature: {}", signature::trailer_value(patch_id, &armored.unwrap()).unwrap())
}

fn judge(policy: &Policy, trailers: &[String]) -> CommitVerdict {
    let message = format!("Change\n\n{}\n", trailers.join("\n"));
    let author = Signature { name: "Bob Dev".into(), email: "bob@example.com".into() };
    let commit = CommitFacts {
        patch_id: Some(PATCH.into()),
        ..CommitFacts::of_message("1".repeat(40), author.clone(), author, message)
    };
    Engine::new(policy, today()).judge(&commit, &["refs/heads/main".into()])
}

/// (counted people, not-counted reasons) of a rule.
fn outcome(verdict: &CommitVerdict, rule: &str) -> (Vec<String>, Vec<String>) {
    let rule = verdict.rules.iter().find(|r| r.name == rule).unwrap();
    (
        rule.counted.iter().map(|c| c.person.clone()).collect(),
        rule.not_counted.iter().map(|n| n.reason.to_string()).collect(),
    )
}

const ALICE: &str = "Approved-by: Alice Senior <alice@example.com>";

#[test]
fn required_counts_only_a_valid_signature_right_after_its_approval() {
    let policy = policy("off", "required");
    let signed = judge(&policy, &[ALICE.into(), sig(&key(1), "alice@example.com", PATCH)]);
    assert_eq!(outcome(&signed, "senior"), (vec!["Alice Senior".into()], vec![]));

    let unsigned = judge(&policy, &[ALICE.into()]);
    let (counted, reasons) = outcome(&unsigned, "senior");
    assert!(counted.is_empty());
    assert_eq!(reasons, ["no signature (an Approval-Signature trailer right after it)"]);
    // The rule without `signatures` follows the global "off": the same trailer counts there.
    assert_eq!(outcome(&unsigned, "review").0, ["Alice Senior"]);

    // A signature separated from its approval by another trailer backs nothing.
    let apart = judge(
        &policy,
        &[ALICE.into(), "Tested-by: X <x@y.z>".into(), sig(&key(1), "alice@example.com", PATCH)],
    );
    assert_eq!(outcome(&apart, "senior").1, ["no signature (an Approval-Signature trailer right after it)"]);
}

#[test]
fn each_signature_problem_has_its_reason() {
    let policy = policy("off", "required");
    let cases = [
        (sig(&key(2), "alice@example.com", PATCH), "signed by key SHA256:"),
        (sig(&key(1), "alice@example.com", MOVED), "stale signature: it approves patch e3b0c44298fc"),
        ("Approval-Signature: v1 garbage".into(), "malformed Approval-Signature"),
    ];
    for (signature, expected) in cases {
        let verdict = judge(&policy, &[ALICE.into(), signature]);
        let (counted, reasons) = outcome(&verdict, "senior");
        assert!(counted.is_empty() && reasons.len() == 1, "{reasons:?}");
        assert!(reasons[0].contains(expected), "{reasons:?}");
    }
    // Carol's valid signature copied under Alice's approval: not Alice's key.
    let copied = judge(&policy, &[ALICE.into(), sig(&key(2), "carol@example.com", PATCH)]);
    assert!(outcome(&copied, "senior").1[0].contains("which the policy does not list for alice@example.com"));
}

#[test]
fn optional_counts_unsigned_but_not_badly_signed() {
    let policy = policy("optional", "optional");
    let unsigned = judge(&policy, &[ALICE.into()]);
    assert_eq!(outcome(&unsigned, "senior").0, ["Alice Senior"]);
    let stale = judge(&policy, &[ALICE.into(), sig(&key(1), "alice@example.com", MOVED)]);
    assert!(outcome(&stale, "senior").0.is_empty());
    assert!(outcome(&stale, "review").0.is_empty(), "the global optional applies to the rule too");
}

#[test]
fn off_ignores_even_a_bad_signature() {
    let policy = policy("off", "off");
    let verdict = judge(&policy, &[ALICE.into(), "Approval-Signature: v1 garbage".into()]);
    assert_eq!(outcome(&verdict, "senior").0, ["Alice Senior"]);
}

#[test]
fn unsigned_then_signed_approval_by_the_same_person_counts_once() {
    let policy = policy("off", "required");
    let verdict = judge(&policy, &[ALICE.into(), ALICE.into(), sig(&key(1), "alice@example.com", PATCH)]);
    assert_eq!(outcome(&verdict, "senior").0, ["Alice Senior"]);
}

#[test]
fn only_a_few_signatures_per_person_are_checked_so_a_flood_costs_nothing() {
    let policy = policy("off", "required");
    // Five bad signatures by Alice, then her valid one: the flood is cut at four checks, so
    // even the valid sixth is not checked (one valid signature is all an honest commit has).
    let mut trailers = Vec::new();
    for _ in 0..5 {
        trailers.extend([ALICE.to_string(), sig(&key(2), "alice@example.com", PATCH)]);
    }
    trailers.extend([ALICE.to_string(), sig(&key(1), "alice@example.com", PATCH)]);
    let (counted, reasons) = outcome(&judge(&policy, &trailers), "senior");
    assert!(counted.is_empty(), "{counted:?}");
    assert_eq!(reasons.len(), 6);
    assert!(reasons[..4].iter().all(|r| r.contains("signed by key SHA256:")), "{reasons:?}");
    assert!(
        reasons[4..]
            .iter()
            .all(|r| r.contains("Alice Senior has more than 4 signed approvals in this commit")),
        "{reasons:?}"
    );
}

/// The look-alike lines of a failing commit with `message`, as (line, reason).
fn look_alikes(message: &str) -> Vec<(String, String)> {
    let policy = policy("off", "off");
    let author = Signature { name: "Bob Dev".into(), email: "bob@example.com".into() };
    let commit = CommitFacts::of_message("1".repeat(40), author.clone(), author, message.into());
    let verdict = Engine::new(&policy, today()).judge(&commit, &["refs/heads/main".to_string()]);
    verdict.look_alikes.iter().map(|l| (l.line.clone(), l.reason.to_string())).collect()
}

#[test]
fn a_review_key_with_a_space_is_pointed_at() {
    let found = look_alikes("Change\n\nReviewed by: Sam <sam@example.com>\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "Reviewed by: Sam <sam@example.com>");
    assert!(found[0].1.contains("write `Reviewed-by:`"), "{found:?}");
}

#[test]
fn an_approval_in_a_paragraph_followed_by_text_is_outside_the_trailer_block() {
    let found =
        look_alikes("Change\n\nApproved-by: Alice Senior <alice@example.com>\nand more words\n\nEnd.\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].1.starts_with("not in the trailer block"), "{found:?}");
}

#[test]
fn a_sign_off_is_explained_and_acked_by_is_not_an_approval_key() {
    let found =
        look_alikes("Change\n\nSigned-off-by: Bob Dev <bob@example.com>\nAcked-by: Sam <sam@example.com>\n");
    let reasons: Vec<&str> = found.iter().map(|(_, r)| r.as_str()).collect();
    assert!(reasons[0].contains("certificate of origin"), "{reasons:?}");
    assert!(reasons[1].contains("Acked-by is not an approval key in this policy"), "{reasons:?}");
}

#[test]
fn a_counted_approval_or_a_passing_commit_has_no_look_alikes() {
    // Alice's approval is in the block (not a look-alike); the commit still fails (unsigned
    // senior rule is off here, so it passes and nothing is looked for).
    assert_eq!(look_alikes("Change\n\nApproved-by: Alice Senior <alice@example.com>\n"), vec![]);
    // A failing commit whose only approval line is a real trailer: nothing to point at.
    assert_eq!(look_alikes("Change\n\nApproved-by: Nobody <nobody@example.com>\n"), vec![]);
}

#[test]
fn keys_are_the_same_in_any_case_and_with_a_space_tab_or_underscore_for_a_hyphen() {
    assert!(super::same_key("Reviewed-by", " reviewed by "));
    assert!(super::same_key("Reviewed-by", "REVIEWED_BY"));
    assert!(super::same_key("Reviewed-by", "reviewed\tby"));
    assert!(!super::same_key("Reviewed-by", "Reviewed-b"));
    assert!(!super::same_key("Reviewed-by", "Reviewed-bx"));
    assert!(!super::same_key("Reviewed-by", "Reviewedby"));
    // Only ASCII folds: a non-ASCII letter is compared as written.
    assert!(super::same_key("Geprüft-von", "geprüft von"));
    assert!(!super::same_key("Geprüft-von", "GEPRÜFT-VON"));
}

#[test]
fn a_key_whose_colon_is_within_the_first_40_characters_is_pointed_at_and_one_past_them_is_prose() {
    // Leading blanks are trimmed from the key: they move the colon, not the key.
    for (blank, width) in [(" ", 1), ("\u{3000}", 3)] {
        for (blanks, pointed_at) in [(28, true), (29, false)] {
            let line = format!("{}Reviewed by: Sam <sam@example.com>", blank.repeat(blanks));
            let colon = line.find(':').unwrap();
            assert_eq!(colon, blanks * width + "Reviewed by".len());
            let found = look_alikes(&format!("Change\n\n{line}\n"));
            assert_eq!(found.len(), usize::from(pointed_at), "{blanks} of {blank:?}: {found:?}");
        }
    }
}
