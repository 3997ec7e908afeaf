//! A push that records or withdraws an approval (`refs/countersign/approvals/<patch-id>/<login>`,
//! kept by [`crate::git::recorded`]): allowed only for the login the ref names, who is the
//! pusher the server authenticated, and only for the change the patch-id names.

use git2::Repository;

use crate::git::commit::CommitObject;
use crate::git::error::GitError;
use crate::git::patch_id;
use crate::git::recorded::{NAMESPACE, parse, ref_name};
use crate::git::ref_updates::RefUpdate;
use crate::git::selection::peel_to_commit;
use engine::policy::Policy;
use engine::pusher::Pusher;

/// Why the hook refuses an update of the approvals namespace, if it does.
pub fn check_record(
    repo: &Repository,
    policy: &Policy,
    pusher: &Pusher,
    update: &RefUpdate,
    writes: &str,
) -> Result<Option<String>, GitError> {
    if !policy.records_approvals() {
        return Ok(Some("recorded approvals are off: no rule counts them ([approvals] recorded)".into()));
    }
    let Some((patch_id, login)) = parse(writes) else {
        return Ok(Some(format!("an approval is recorded as {NAMESPACE}<patch-id>/<login>")));
    };
    let Some(pusher_login) = pusher.login.as_deref() else {
        return Ok(Some(
            "the server names no pusher, so no approval can be recorded: it must set one of \
             [override] pusher_env after authenticating the pusher (GitLab sets GL_USERNAME, Gitea \
             GITEA_PUSHER_NAME, a web server in front of git http-backend REMOTE_USER)"
                .into(),
        ));
    };
    if update.new.is_zero() {
        let admin = pusher.person.as_ref().is_some_and(|person| policy.approvals.admins.contains(person));
        return Ok((pusher_login != login && !admin).then(|| {
            format!("only {login} (or a person [approvals] admins names) may withdraw {login}'s approval")
        }));
    }
    if !update.old.is_zero() {
        return Ok(Some("a recorded approval is never moved: withdraw it, then record a new one".into()));
    }
    if pusher_login != login {
        return Ok(Some(format!("{pusher} may not record an approval in the name of {login}")));
    }
    if policy.person_by_login(login).is_none() {
        return Ok(Some(format!(
            "login {login} is no [[person]]'s (`logins`), so its approval would count for no one"
        )));
    }
    let Some(commit) = peel_to_commit(repo, update.new)? else {
        return Ok(Some("an approval ref must point at the approved commit".into()));
    };
    let commit = CommitObject::read(repo, commit)?;
    let actual = patch_id::patch_id(repo, &commit)?;
    Ok((actual != patch_id).then(|| {
        format!(
            "{} changes what patch-id {actual} names, not {patch_id}: record it as {}",
            commit.id,
            ref_name(&actual, login)
        )
    }))
}
