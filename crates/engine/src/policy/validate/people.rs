//! `[[person]]`: names, emails, logins, roles and signing keys, each person once; and the
//! lists elsewhere that name people (`[approvals] admins`, `[override] people`).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use toml::Spanned;

use super::Validator;
use crate::identity::normalize_email;
use crate::policy::Person;
use crate::policy::raw;
use crate::signature;
use ssh_key::PublicKey;

impl Validator {
    pub(super) fn people(
        &mut self,
        raw: Vec<raw::RawPerson>,
    ) -> (Vec<Person>, BTreeMap<String, usize>, BTreeMap<String, usize>) {
        let mut people = Vec::with_capacity(raw.len());
        let mut by_email: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_login: BTreeMap<String, usize> = BTreeMap::new();
        let mut names = BTreeSet::new();
        let mut key_owners: BTreeMap<ssh_key::public::KeyData, String> = BTreeMap::new();
        for person in raw {
            let index = people.len();
            let name = person.name.get_ref().trim().to_string();
            if name.is_empty() {
                self.error("empty-name", "a person needs a name", person.name.span());
            } else if !names.insert(name.clone()) {
                self.error(
                    "duplicate-person",
                    format!("person `{name}` is listed twice"),
                    person.name.span(),
                );
            }
            if person.emails.get_ref().is_empty() {
                self.error("person-without-email", format!("`{name}` has no emails"), person.emails.span());
            }
            let mut emails = Vec::new();
            for email in person.emails.into_inner() {
                let normalized = normalize_email(email.get_ref());
                if !is_plausible_email(&normalized) {
                    self.error(
                        "bad-email",
                        format!("`{}` is not an email address", email.get_ref()),
                        email.span(),
                    );
                    continue;
                }
                match by_email.get(&normalized) {
                    Some(&other) if other != index => self.error(
                        "duplicate-email",
                        format!(
                            "{normalized} is claimed by both `{}` and `{name}`",
                            people_name(&people, other)
                        ),
                        email.span(),
                    ),
                    Some(_) => {}
                    None => {
                        by_email.insert(normalized.clone(), index);
                        emails.push(normalized);
                    }
                }
            }
            let mut roles = Vec::new();
            for role in person.roles {
                if role.get_ref().trim().is_empty() {
                    self.error("empty-role", "a role cannot be empty", role.span());
                } else if !roles.iter().any(|r| r == role.get_ref().trim()) {
                    // Listed twice is held once: role holders are counted per person.
                    roles.push(role.into_inner().trim().to_string());
                }
            }
            let keys = self.keys(person.keys, &name, &mut key_owners);
            let mut logins = Vec::new();
            for login in person.logins {
                let text = login.get_ref().trim();
                if text.is_empty() || text.chars().any(char::is_whitespace) {
                    self.error(
                        "bad-login",
                        format!("`{}` is not a server login", login.get_ref()),
                        login.span(),
                    );
                    continue;
                }
                match by_login.get(text) {
                    // Whoever pushes as this login would be either person: refuse the ambiguity.
                    Some(&other) if other != index => self.error(
                        "duplicate-login",
                        format!(
                            "login `{text}` is listed for both `{}` and `{name}`",
                            people_name(&people, other)
                        ),
                        login.span(),
                    ),
                    Some(_) => {}
                    None => {
                        by_login.insert(text.to_string(), index);
                        logins.push(text.to_string());
                    }
                }
            }
            people.push(Person { name, emails, roles, keys, logins });
        }
        (people, by_email, by_login)
    }

    /// A person's keys. A key listed for two people is refused: its signature would approve as
    /// either.
    pub(super) fn keys(
        &mut self,
        raw: Vec<Spanned<String>>,
        name: &str,
        owners: &mut BTreeMap<ssh_key::public::KeyData, String>,
    ) -> Vec<PublicKey> {
        let mut keys: Vec<PublicKey> = Vec::with_capacity(raw.len());
        for text in raw {
            let key = match PublicKey::from_openssh(text.get_ref().trim()) {
                Ok(key) => key,
                Err(e) => {
                    self.error(
                        "bad-key",
                        format!("not an OpenSSH public key (`ssh-ed25519 AAAA... comment`): {e}"),
                        text.span(),
                    );
                    continue;
                }
            };
            if let Err(why) = signature::check_key(&key) {
                self.error("bad-key", why, text.span());
                continue;
            }
            match owners.get(key.key_data()) {
                Some(owner) if owner != name => self.error(
                    "duplicate-key",
                    format!("this key is listed for both `{owner}` and `{name}`"),
                    text.span(),
                ),
                Some(_) => {}
                None => {
                    owners.insert(key.key_data().clone(), name.to_string());
                    keys.push(key);
                }
            }
        }
        keys
    }

    /// Names that must each be a `[[person]]`'s (a typo would quietly name nobody).
    pub(super) fn people_named(&mut self, names: Vec<Spanned<String>>, people: &[Person]) -> Vec<String> {
        let mut named = Vec::new();
        for name in names {
            if people.iter().any(|p| &p.name == name.get_ref()) {
                named.push(name.into_inner());
            } else {
                self.error(
                    "unknown-person",
                    format!("no `[[person]]` is named `{}`", name.get_ref()),
                    name.span(),
                );
            }
        }
        named
    }
}

fn people_name(people: &[Person], index: usize) -> &str {
    people.get(index).map_or("?", |p| p.name.as_str())
}

fn is_plausible_email(email: &str) -> bool {
    matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
}
