//! The kinds of resource gwctl manages. Each kind's file in `provider`
//! names its own (`pub const KIND: Kind = Kind::named("…")`); the registry
//! there is the list of them, so adding a kind touches no list here.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A kind of resource, by the name the state, plans and addresses use
/// (`iam_role`, `route`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind(&'static str);

impl Kind {
    pub const fn named(name: &'static str) -> Kind {
        Kind(name)
    }

    /// The kind a file names: the same value as the kind's own constant when
    /// gwctl knows it (the caller checks that against the registry).
    pub fn parse(name: &str) -> Kind {
        static SEEN: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
        let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(known) = seen.get(name) {
            return Kind(known);
        }
        let name: &'static str = Box::leak(name.to_string().into_boxed_str());
        seen.insert(name);
        Kind(name)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Kind::parse(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_kind_equals_the_named_one_and_round_trips() {
        const ROUTE: Kind = Kind::named("route");
        let parsed: Kind = serde_json::from_str("\"route\"").unwrap();
        assert_eq!(parsed, ROUTE);
        assert_eq!(serde_json::to_string(&ROUTE).unwrap(), "\"route\"");
        assert_eq!(Kind::parse("route").as_str().as_ptr(), Kind::parse("route").as_str().as_ptr());
    }
}
