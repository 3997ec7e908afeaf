//! Who is pushing, as the git server says: the first of the policy's `pusher_env` variables
//! that is set (GitLab's `GL_USERNAME`, Gitea's `GITEA_PUSHER_NAME`, ...), and the person whose
//! `logins` list it.
//!
//! These variables are trusted because the server sets them after authenticating the pusher;
//! git itself passes nothing from the client into the hook's environment. A server that lets
//! clients set environment variables (sshd `AcceptEnv`/`PermitUserEnvironment`) breaks that.

use alloc::string::String;
use alloc::vec::Vec;

use serde::Serialize;

use crate::policy::Policy;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pusher {
    /// The login as the server gave it; `None` if no variable was set.
    pub login: Option<String>,
    /// The variable it came from ("how it was known").
    pub via: Option<String>,
    /// The `[[person]]` whose `logins` hold it.
    pub person: Option<String>,
}

impl Pusher {
    /// `env` reads one variable's bytes (from the hook's environment).
    pub fn identify(policy: &Policy, env: impl Fn(&str) -> Option<Vec<u8>>) -> Pusher {
        for name in &policy.pusher_env {
            let Some(value) = env(name).filter(|v| !v.is_empty()) else { continue };
            // A login that is not UTF-8 names nobody, and the search stops: falling through to
            // a later variable would let a less trusted source decide.
            let login =
                String::from_utf8(value).map_err(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let person = login.as_ref().ok().and_then(|l| policy.person_by_login(l)).map(|p| p.name.clone());
            return Pusher {
                login: Some(login.unwrap_or_else(|lossy| lossy)),
                via: Some(name.clone()),
                person,
            };
        }
        Pusher::default()
    }
}

impl core::fmt::Display for Pusher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (&self.person, &self.login, &self.via) {
            (Some(person), Some(login), Some(via)) => write!(f, "{person} (login {login} via {via})"),
            (None, Some(login), Some(via)) => write!(f, "login {login} (via {via}, not a listed person)"),
            _ => f.write_str("an unidentified pusher (none of [override] pusher_env is set)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicySource;

    fn policy() -> Policy {
        let text = r#"
version = 1
[[person]]
name = "Dana Director"
emails = ["dana@example.com"]
logins = ["dana", "dd"]
"#;
        Policy::parse(PolicySource::new("p.toml", text), jiff::civil::Date::new(2026, 6, 1).unwrap()).unwrap()
    }

    fn env<'a>(vars: &'a [(&'a str, &'a [u8])]) -> impl Fn(&str) -> Option<Vec<u8>> + 'a {
        move |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_vec())
    }

    #[test]
    fn first_set_variable_in_policy_order_wins() {
        let pusher = Pusher::identify(&policy(), env(&[("REMOTE_USER", b"x"), ("GITEA_PUSHER_NAME", b"dd")]));
        assert_eq!(pusher.person.as_deref(), Some("Dana Director"));
        assert_eq!(pusher.via.as_deref(), Some("GITEA_PUSHER_NAME"));
    }

    #[test]
    fn empty_variables_are_skipped_and_unlisted_logins_name_nobody() {
        let pusher = Pusher::identify(&policy(), env(&[("GL_USERNAME", b""), ("GL_USER", b"Dana")]));
        assert_eq!((pusher.login.as_deref(), pusher.person), (Some("Dana"), None), "logins are exact");
    }

    #[test]
    fn a_non_utf8_login_names_nobody_and_stops_the_search() {
        let pusher =
            Pusher::identify(&policy(), env(&[("GL_USERNAME", b"d\xffna"), ("REMOTE_USER", b"dana")]));
        assert_eq!((pusher.via.as_deref(), pusher.person), (Some("GL_USERNAME"), None));
    }

    #[test]
    fn no_variable_means_unidentified() {
        assert_eq!(Pusher::identify(&policy(), env(&[])), Pusher::default());
    }
}
