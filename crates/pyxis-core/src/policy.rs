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

    /// The scheme for new chunks with `vetted` vetted and `unvetted` unvetted
    /// remotes reachable: the widest the policy allows that placement can
    /// fill while unvetted remotes hold at most [`max_unvetted`] shards of a
    /// chunk. Equal to [`choose`](Self::choose) when every remote is vetted.
    pub fn choose_for(&self, vetted: usize, unvetted: usize) -> Result<Choice> {
        let fits = |s: Scheme| s.total() <= vetted + unvetted.min(max_unvetted(s));
        let scheme = match self {
            RedundancyPolicy::Adaptive(steps) => steps
                .iter()
                .filter(|st| st.min_remotes <= vetted + unvetted && fits(st.scheme))
                .max_by_key(|st| st.min_remotes)
                .map(|st| st.scheme)
                .ok_or_else(|| {
                    Error::Policy(format!(
                        "{vetted} vetted and {unvetted} unvetted remotes reachable: too few to place any scheme"
                    ))
                })?,
            RedundancyPolicy::Fixed(scheme) => {
                if !fits(*scheme) {
                    return Err(Error::Policy(format!(
                        "scheme {scheme} needs {} remotes, at most {} of them unvetted; {vetted} vetted and {unvetted} unvetted are reachable",
                        scheme.total(),
                        max_unvetted(*scheme)
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

/// Shards of a chunk that must be durably stored, with receipts, on distinct
/// remotes before the chunk counts as stored: `k + ceil(m/2)` (Tahoe's
/// "servers of happiness", Storj's success threshold). A write succeeds with
/// up to `floor(m/2)` remotes failing; repair places the rest.
pub fn success_threshold(scheme: Scheme) -> usize {
    scheme.data() + scheme.parity().div_ceil(2)
}

/// The most shards of one chunk that remotes not yet vetted may hold:
/// `ceil(m/2)`. With the success threshold above, a chunk stored at the
/// threshold keeps `k` shards on vetted remotes even if every unvetted
/// remote that took one lied about it.
pub fn max_unvetted(scheme: Scheme) -> usize {
    scheme.parity().div_ceil(2)
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
    fn thresholds_leave_k_real_shards_whatever_unvetted_remotes_do() {
        for (scheme, threshold, unvetted) in [("1+0", 1, 0), ("1+1", 2, 1), ("2+2", 3, 1), ("4+2", 5, 1), ("6+4", 8, 2)]
        {
            let s: Scheme = scheme.parse().unwrap();
            assert_eq!(success_threshold(s), threshold, "{scheme}");
            assert_eq!(max_unvetted(s), unvetted, "{scheme}");
            assert!(success_threshold(s) - max_unvetted(s) >= s.data(), "{scheme}");
        }
    }

    #[test]
    fn unvetted_remotes_narrow_the_scheme_until_placement_fits() {
        let p = RedundancyPolicy::default();
        // All vetted: the plain table.
        assert_eq!(p.choose_for(6, 0).unwrap().scheme.to_string(), "4+2");
        assert_eq!(p.choose_for(10, 0).unwrap().scheme.to_string(), "6+4");
        // 6+4 needs 8 vetted when only 2 of its shards may go to unvetted remotes.
        assert_eq!(p.choose_for(7, 3).unwrap().scheme.to_string(), "4+2");
        assert_eq!(p.choose_for(8, 2).unwrap().scheme.to_string(), "6+4");
        // Two vetted remotes and many unvetted: 2+1 (2 vetted + 1 unvetted).
        assert_eq!(p.choose_for(2, 20).unwrap().scheme.to_string(), "2+1");
        assert!(p.choose_for(0, 5).is_err(), "unvetted remotes alone hold nothing");
        let fixed = RedundancyPolicy::Fixed("4+2".parse().unwrap());
        assert!(fixed.choose_for(4, 5).is_err());
        assert_eq!(fixed.choose_for(5, 1).unwrap().scheme.to_string(), "4+2");
    }

    #[test]
    fn override_is_checked_against_the_network() {
        let p = RedundancyPolicy::Fixed("10+5".parse().unwrap());
        assert_eq!(p.choose(20).unwrap().scheme.to_string(), "10+5");
        let err = p.choose(14).unwrap_err().to_string();
        assert!(err.contains("needs 15 remotes"), "{err}");
    }
}
