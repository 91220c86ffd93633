//! Redundancy that grows with the network: the erasure scheme for new chunks as
//! a function of how many remotes are online, or an explicit override.

use pyxis_proto::Scheme;

use crate::error::{Error, Result};

/// From `min_remotes` online remotes on, use `scheme` (until the next step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub min_remotes: usize,
    pub scheme: Scheme,
}

/// How to pick the scheme for new chunks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedundancyPolicy {
    /// Steps sorted by `min_remotes`; the last step that fits wins.
    Adaptive(Vec<Step>),
    /// Always this scheme (it needs `total()` online remotes).
    Fixed(Scheme),
}

/// The scheme chosen, and whether it is weaker than a user would want.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub scheme: Scheme,
    /// Fewer than two parity shards: one more lost remote than the parity
    /// count loses data, so `put` warns.
    pub reduced: bool,
}

fn s(k: usize, m: usize) -> Scheme {
    Scheme::new(k, m).expect("table schemes are valid")
}

impl Default for RedundancyPolicy {
    /// The design brief's table: 1+0 (R=1), 1+1 (2), 2+1 (3), 2+2 (4), 3+2 (5),
    /// 4+2 (6..9), 6+4 (10 and more).
    fn default() -> Self {
        let step = |min_remotes, k, m| Step { min_remotes, scheme: s(k, m) };
        RedundancyPolicy::Adaptive(vec![
            step(1, 1, 0),
            step(2, 1, 1),
            step(3, 2, 1),
            step(4, 2, 2),
            step(5, 3, 2),
            step(6, 4, 2),
            step(10, 6, 4),
        ])
    }
}

impl RedundancyPolicy {
    /// The scheme for new chunks with `online` remotes available.
    pub fn choose(&self, online: usize) -> Result<Choice> {
        let scheme = match self {
            RedundancyPolicy::Adaptive(steps) => steps
                .iter()
                .filter(|st| st.min_remotes <= online && st.scheme.total() <= online)
                .max_by_key(|st| st.min_remotes)
                .map(|st| st.scheme)
                .ok_or_else(|| Error::Policy(format!("{online} remotes online; at least one is needed")))?,
            RedundancyPolicy::Fixed(scheme) => {
                if scheme.total() > online {
                    return Err(Error::Policy(format!(
                        "scheme {scheme} needs {} remotes online, only {online} are",
                        scheme.total()
                    )));
                }
                *scheme
            }
        };
        Ok(Choice { scheme, reduced: scheme.parity() < 2 })
    }

    /// The widest scheme this policy would ever pick with `online` remotes
    /// (adaptive re-encoding targets it).
    pub fn target(&self, online: usize) -> Option<Scheme> {
        self.choose(online).ok().map(|c| c.scheme)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_brief() {
        let p = RedundancyPolicy::default();
        let want = [
            (1, "1+0"),
            (2, "1+1"),
            (3, "2+1"),
            (4, "2+2"),
            (5, "3+2"),
            (6, "4+2"),
            (9, "4+2"),
            (10, "6+4"),
            (1000, "6+4"),
        ];
        for (online, scheme) in want {
            assert_eq!(p.choose(online).unwrap().scheme.to_string(), scheme, "R={online}");
        }
        assert!(p.choose(1).unwrap().reduced);
        assert!(p.choose(3).unwrap().reduced);
        assert!(!p.choose(4).unwrap().reduced);
        assert!(p.choose(0).unwrap_err().to_string().contains("0 remotes"));
    }

    #[test]
    fn override_is_checked_against_the_network() {
        let p = RedundancyPolicy::Fixed("10+5".parse().unwrap());
        assert_eq!(p.choose(20).unwrap().scheme.to_string(), "10+5");
        let err = p.choose(14).unwrap_err().to_string();
        assert!(err.contains("needs 15 remotes"), "{err}");
    }
}
