use ssh_key::private::{Ed25519Keypair, PrivateKey};
use ssh_key::{HashAlg, LineEnding, PublicKey};

use super::*;

const PATCH: &str = "1f0e3dad99908345f7439f8ffabdffc4a27ce5a1f2d1d3e8c9c5a5f8b0d0f4c2";
const OTHER_PATCH: &str = "2f0e3dad99908345f7439f8ffabdffc4a27ce5a1f2d1d3e8c9c5a5f8b0d0f4c2";

fn key(seed: u8) -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
}

/// A trailer value as `countersign approve` writes it, signed over `statement`.
fn signed(key: &PrivateKey, namespace: &str, patch_id: &str, statement: &str) -> String {
    let sig = key.sign(namespace, HashAlg::Sha512, statement.as_bytes()).unwrap();
    trailer_value(patch_id, &sig.to_pem(LineEnding::LF).unwrap()).unwrap()
}

fn alice_signs(patch_id: &str) -> String {
    signed(&key(1), NAMESPACE, patch_id, &statement(patch_id, "alice@example.com"))
}

fn public(seed: u8) -> Vec<PublicKey> {
    vec![key(seed).public_key().clone()]
}

#[test]
fn statement_is_versioned_and_normalises_the_email() {
    assert_eq!(
        statement(PATCH, " Alice@Example.com "),
        format!("countersign-approval v1\npatch-id {PATCH}\napprover alice@example.com\n")
    );
}

#[test]
fn valid_signature_verifies_whatever_the_emails_case() {
    let value = alice_signs(PATCH);
    assert!(value.starts_with(&format!("v1 {PATCH} U1NIU0lH")), "{value}");
    assert!(!value.contains('\n'));
    assert_eq!(verify(&value, Some(PATCH), "ALICE@example.com", &public(1)), Ok(()));
}

#[test]
fn signature_over_another_patch_is_stale() {
    let value = alice_signs(OTHER_PATCH);
    assert_eq!(
        verify(&value, Some(PATCH), "alice@example.com", &public(1)),
        Err(Problem::Stale { signed: OTHER_PATCH.into(), current: PATCH.into() })
    );
}

#[test]
fn clear_patch_id_that_lies_does_not_verify() {
    // The signature is over OTHER_PATCH; the trailer claims PATCH.
    let value = alice_signs(OTHER_PATCH).replace(OTHER_PATCH, PATCH);
    assert_eq!(verify(&value, Some(PATCH), "alice@example.com", &public(1)), Err(Problem::Invalid));
}

#[test]
fn signature_for_another_approver_does_not_verify() {
    let value = signed(&key(1), NAMESPACE, PATCH, &statement(PATCH, "mallory@example.com"));
    assert_eq!(verify(&value, Some(PATCH), "alice@example.com", &public(1)), Err(Problem::Invalid));
}

#[test]
fn key_not_listed_for_the_approver_is_named_by_fingerprint() {
    let value = alice_signs(PATCH);
    let fingerprint = key(1).public_key().fingerprint(HashAlg::Sha256).to_string();
    assert_eq!(
        verify(&value, Some(PATCH), "alice@example.com", &public(2)),
        Err(Problem::KeyNotListed { fingerprint, approver: "alice@example.com".into() })
    );
    assert!(matches!(
        verify(&value, Some(PATCH), "alice@example.com", &[]),
        Err(Problem::KeyNotListed { .. })
    ));
}

#[test]
fn other_namespace_is_refused() {
    let value = signed(&key(1), "git", PATCH, &statement(PATCH, "alice@example.com"));
    assert_eq!(
        verify(&value, Some(PATCH), "alice@example.com", &public(1)),
        Err(Problem::WrongNamespace("git".into()))
    );
}

#[test]
fn unknown_patch_id_fails_closed() {
    assert_eq!(verify(&alice_signs(PATCH), None, "alice@example.com", &public(1)), Err(Problem::NoPatchId));
}

#[test]
fn malformed_values_say_why() {
    let good = alice_signs(PATCH);
    let blob = good.rsplit(' ').next().unwrap();
    let cases = [
        ("".to_string(), "empty"),
        (format!("v2 {PATCH} {blob}"), "version `v2` is not v1"),
        (format!("v1 {}", &PATCH[1..]), "not 64 lower-case hex"),
        (format!("v1 {PATCH}"), "no signature"),
        (format!("v1 {PATCH} {blob} extra"), "text after the signature"),
        (format!("v1 {PATCH} not-base64!"), "not base64"),
        (format!("v1 {PATCH} {}", &blob[..blob.len() - 8]), "not an SSH signature"),
        (format!("v1 {PATCH} QUJDRA=="), "not an SSH signature"),
    ];
    for (value, expected) in cases {
        match verify(&value, Some(PATCH), "alice@example.com", &public(1)) {
            Err(Problem::Malformed(why)) => assert!(why.contains(expected), "{value:?}: {why}"),
            other => panic!("{value:?}: {other:?}"),
        }
    }
}

#[test]
fn ed25519_policy_key_is_accepted() {
    assert_eq!(check_key(key(1).public_key()), Ok(()));
}

/// A `gpgsig` header value as `git commit -S` writes it with `gpg.format=ssh`.
fn git_signs(key: &PrivateKey, namespace: &str, data: &[u8]) -> Vec<u8> {
    key.sign(namespace, HashAlg::Sha512, data).unwrap().to_pem(LineEnding::LF).unwrap().into_bytes()
}

#[test]
fn commit_signature_is_checked_against_the_committers_keys() {
    let data = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor B <b@x.io> 1 +0000\n\nmsg\n";
    let armored = git_signs(&key(1), GIT_NAMESPACE, data);
    let fingerprint = key(1).public_key().fingerprint(HashAlg::Sha256).to_string();
    assert_eq!(verify_commit(&armored, data, "b@x.io", &public(1)), Ok(fingerprint.clone()));
    assert_eq!(verify_commit(&armored, b"tampered", "b@x.io", &public(1)), Err(CommitProblem::Invalid));
    assert_eq!(
        verify_commit(&armored, data, " B@X.io", &public(2)),
        Err(CommitProblem::KeyNotListed { fingerprint, committer: "b@x.io".into() })
    );
    let approval = git_signs(&key(1), NAMESPACE, data);
    assert_eq!(
        verify_commit(&approval, data, "b@x.io", &public(1)),
        Err(CommitProblem::WrongNamespace(NAMESPACE.into()))
    );
}

#[test]
fn hostile_commit_signatures_are_refused_without_panicking() {
    let pgp = b"-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n-----END PGP SIGNATURE-----\n";
    assert_eq!(verify_commit(pgp, b"x", "b@x.io", &public(1)), Err(CommitProblem::NotSsh));
    for garbage in [
        &b"-----BEGIN SSH SIGNATURE-----\n"[..],
        b"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n",
        b"-----BEGIN SSH SIGNATURE-----\n\xff\xfe\0\n-----END SSH SIGNATURE-----\n",
        b"",
    ] {
        let problem = verify_commit(garbage, b"x", "b@x.io", &public(1)).unwrap_err();
        assert_eq!(problem.code(), "bad-signature", "{problem}");
    }
    // Cut anywhere before its end line, a real signature is refused, never a panic.
    let armored = git_signs(&key(1), GIT_NAMESPACE, b"x");
    let end_line = armored.windows(8).rposition(|w| w == b"-----END").unwrap();
    let keys = public(1);
    for end in 0..end_line {
        assert!(verify_commit(&armored[..end], b"x", "b@x.io", &keys).is_err());
    }
}
