//! Hyperparameters: Personalize passes them as a string -> string map
//! (`solutionConfig.algorithmHyperParameters`); each recipe declares its keys with defaults and
//! ranges, and anything else is an error naming the key.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{invalid, Result};

/// Reads typed values out of the map, tracking which keys were used.
#[derive(Debug)]
pub struct Hyperparameters<'a> {
    map: &'a BTreeMap<String, String>,
    used: BTreeSet<&'static str>,
    resolved: BTreeMap<String, String>,
}

impl<'a> Hyperparameters<'a> {
    /// Wraps a solution's map.
    pub fn new(map: &'a BTreeMap<String, String>) -> Self {
        Hyperparameters {
            map,
            used: BTreeSet::new(),
            resolved: BTreeMap::new(),
        }
    }

    fn raw(&mut self, key: &'static str, aliases: &[&'static str]) -> Option<(&'a str, &'a str)> {
        self.used.insert(key);
        for a in aliases {
            self.used.insert(a);
        }
        std::iter::once(key)
            .chain(aliases.iter().copied())
            .find_map(|k| self.map.get_key_value(k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A float in `[min, max]`.
    pub fn float(
        &mut self,
        key: &'static str,
        aliases: &[&'static str],
        default: f32,
        min: f32,
        max: f32,
    ) -> Result<f32> {
        let v = match self.raw(key, aliases) {
            None => default,
            Some((k, s)) => {
                let v: f32 = s
                    .trim()
                    .parse()
                    .map_err(|_| invalid!("hyperparameter {k}: {s:?} is not a number"))?;
                if !(min..=max).contains(&v) {
                    return Err(invalid!(
                        "hyperparameter {k}: {v} is outside the range [{min}, {max}]"
                    ));
                }
                v
            }
        };
        self.resolved.insert(key.into(), v.to_string());
        Ok(v)
    }

    /// An integer in `[min, max]`.
    pub fn int(
        &mut self,
        key: &'static str,
        aliases: &[&'static str],
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64> {
        let v = match self.raw(key, aliases) {
            None => default,
            Some((k, s)) => {
                let v: u64 = s
                    .trim()
                    .parse()
                    .map_err(|_| invalid!("hyperparameter {k}: {s:?} is not a whole number"))?;
                if !(min..=max).contains(&v) {
                    return Err(invalid!(
                        "hyperparameter {k}: {v} is outside the range [{min}, {max}]"
                    ));
                }
                v
            }
        };
        self.resolved.insert(key.into(), v.to_string());
        Ok(v)
    }

    /// A boolean (`true`/`false`, any case).
    pub fn boolean(
        &mut self,
        key: &'static str,
        aliases: &[&'static str],
        default: bool,
    ) -> Result<bool> {
        let v = match self.raw(key, aliases) {
            None => default,
            Some((k, s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(invalid!("hyperparameter {k}: {s:?} is not true or false")),
            },
        };
        self.resolved.insert(key.into(), v.to_string());
        Ok(v)
    }

    /// One of a fixed set of words.
    pub fn choice(
        &mut self,
        key: &'static str,
        default: &'static str,
        allowed: &[&'static str],
    ) -> Result<String> {
        let v = match self.raw(key, &[]) {
            None => default.to_owned(),
            Some((k, s)) => {
                let s = s.trim().to_ascii_lowercase();
                if !allowed.contains(&s.as_str()) {
                    return Err(invalid!(
                        "hyperparameter {k}: {s:?} is not one of {}",
                        allowed.join(", ")
                    ));
                }
                s
            }
        };
        self.resolved.insert(key.into(), v.clone());
        Ok(v)
    }

    /// `type:weight,type:weight` event-type weights.
    pub fn weights(&mut self, key: &'static str) -> Result<BTreeMap<String, f32>> {
        let mut out = BTreeMap::new();
        if let Some((k, s)) = self.raw(key, &[]) {
            for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (t, w) = part
                    .rsplit_once(':')
                    .ok_or_else(|| invalid!("hyperparameter {k}: {part:?} is not TYPE:WEIGHT"))?;
                let w: f32 = w.trim().parse().map_err(|_| {
                    invalid!("hyperparameter {k}: weight {w:?} of {t:?} is not a number")
                })?;
                if !(0.0..=1000.0).contains(&w) {
                    return Err(invalid!(
                        "hyperparameter {k}: weight {w} of {t:?} is outside [0, 1000]"
                    ));
                }
                out.insert(t.trim().to_owned(), w);
            }
            self.resolved.insert(key.into(), s.to_owned());
        }
        Ok(out)
    }

    /// Fails on any key the recipe did not read; returns the resolved values (defaults
    /// included) for the model header.
    pub fn finish(self, recipe: &str) -> Result<BTreeMap<String, String>> {
        if let Some(k) = self.map.keys().find(|k| !self.used.contains(k.as_str())) {
            return Err(invalid!(
                "hyperparameter {k} is not known to recipe {recipe}; it takes: {}",
                self.used.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(self.resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_defaults_values_and_rejects_bad_or_unknown_keys() {
        let map: BTreeMap<String, String> = [("factors", "32"), ("alpha", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut hp = Hyperparameters::new(&map);
        assert_eq!(
            hp.int("factors", &["hidden_dimension"], 64, 8, 512)
                .unwrap(),
            32
        );
        assert_eq!(hp.int("iterations", &[], 15, 1, 100).unwrap(), 15);
        let err = hp.float("alpha", &[], 1.0, 0.0, 100.0).unwrap_err();
        assert!(err.to_string().contains("hyperparameter alpha"), "{err}");

        let map: BTreeMap<String, String> = [("factors", "1000"), ("bogus", "1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut hp = Hyperparameters::new(&map);
        assert!(hp
            .int("factors", &[], 64, 8, 512)
            .unwrap_err()
            .to_string()
            .contains("[8, 512]"));
        let err = hp.finish("r").unwrap_err().to_string();
        assert!(err.contains("bogus") && err.contains("factors"), "{err}");
    }
}
