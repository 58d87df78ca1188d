//! JSON member surgery: an object's members read as their exact text, so the proxy changes the
//! members it must (`ext`, `_source`, `_score`, `hits`) and writes every other byte as
//! OpenSearch or the client wrote it.

use std::fmt;

use plugin_config::REQUEST_EXT;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A JSON object's members in document order, each value as its exact text.
#[derive(Debug)]
pub(super) struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Members<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Members<'a> {
    pub(super) fn parse(text: &'a [u8]) -> Option<Members<'a>> {
        serde_json::from_slice(text).ok()
    }

    /// The value of the last member named `key` (the one a JSON parser keeps).
    pub(super) fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The members but those named `key`.
    pub(super) fn without(&self, key: &str) -> Members<'a> {
        Members(self.0.iter().filter(|(k, _)| k != key).cloned().collect())
    }

    /// Writes the object with the members named in `set` given new text (added at the end when
    /// absent).
    pub(super) fn write(&self, out: &mut Vec<u8>, set: &[(&str, &[u8])]) {
        out.push(b'{');
        let mut first = true;
        let mut member = |out: &mut Vec<u8>, key: &str, value: &[u8]| {
            if !first {
                out.push(b',');
            }
            first = false;
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, key);
            out.push(b':');
            out.extend_from_slice(value);
        };
        for (k, v) in &self.0 {
            match set.iter().find(|(s, _)| s == k) {
                Some((_, new)) => member(out, k, new),
                None => member(out, k, v.get().as_bytes()),
            }
        }
        for (k, new) in set {
            if self.get(k).is_none() {
                member(out, k, new);
            }
        }
        out.push(b'}');
    }
}

/// A search body without `ext.personalize_request_parameters`, and that member's value. `None`
/// when the body has none or is not a JSON object with an object `ext` (it is then forwarded as
/// it is, and OpenSearch judges it).
pub(super) fn strip_ext(body: &[u8]) -> Option<(Vec<u8>, &RawValue)> {
    let top = Members::parse(body)?;
    let ext = Members::parse(top.get("ext")?.get().as_bytes())?;
    let params = ext.get(REQUEST_EXT)?;
    let rest = Members(
        ext.0
            .into_iter()
            .filter(|(k, _)| k != REQUEST_EXT)
            .collect(),
    );
    let mut out = Vec::with_capacity(body.len());
    if rest.0.is_empty() {
        Members(top.0.into_iter().filter(|(k, _)| k != "ext").collect()).write(&mut out, &[]);
    } else {
        let mut ext_text = Vec::new();
        rest.write(&mut ext_text, &[]);
        top.write(&mut out, &[("ext", &ext_text)]);
    }
    Some((out, params))
}
