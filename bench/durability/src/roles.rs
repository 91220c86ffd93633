//! Who lies and who claims too much: each remote's [`Nature`] and the
//! capacity admission lets it claim.
//!
//! Every remote draws its role from a stream of its own, apart from its
//! churn stream: its capacity, lifetime and outages are the same whatever
//! `--liars` or `--greedy-joiners` say, so a run with liars faces exactly
//! the churn of the same seed without them. The draws are compared with the
//! fractions, so the liars at 5 % are among those at 10 %.

use crate::network::Nature;
use crate::params::{Config, TB};
use crate::rng::Rng;

/// Seeds the role streams apart from the churn streams (stream = remote id),
/// the chunk ids and the audits.
const ROLE_STREAM: u64 = 1 << 50;

/// The cap admission puts on what a greedy joiner may claim.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cap {
    /// `--no-cap`: placement believes the claim (the server before admission
    /// caps).
    None,
    /// `--capacity-cap-tb`: the same cap, full-scale bytes, for every joiner.
    Fixed(f64),
    /// The default: what an ordinary remote would be admitted for, a
    /// capacity drawn like the honest ones'.
    Drawn,
}

#[derive(Clone, Debug)]
pub struct Roles {
    seed: u64,
    /// Remotes of the starting network (ids below it); later ids joined.
    initial: usize,
    liars: f64,
    greedy: f64,
    greedy_liars: bool,
    /// What a greedy joiner claims, full-scale bytes.
    claim: f64,
    cap: Cap,
    capacity_tb: (f64, f64),
}

impl Roles {
    pub fn new(cfg: &Config) -> Self {
        let p = &cfg.params;
        let cap = match (p.no_cap, p.capacity_cap_tb) {
            (true, _) => Cap::None,
            (false, Some(tb)) => Cap::Fixed(tb * TB),
            (false, None) => Cap::Drawn,
        };
        Roles {
            seed: p.seed,
            initial: p.remotes,
            liars: p.liars,
            greedy: p.greedy_joiners,
            greedy_liars: p.greedy_liars,
            claim: p.claim_tb * TB,
            cap,
            capacity_tb: (p.min_capacity_tb, p.max_capacity_tb),
        }
    }

    /// Remote `r`'s nature and the full-scale bytes placement may count for
    /// it, given the capacity it really has. An honest remote is admitted
    /// for what it has; a greedy joiner claims `--claim-tb` (and has it: a
    /// big honest one is a risk of concentration, a big liar of loss),
    /// bounded by the cap.
    pub fn of(&self, r: u32, capacity: f64) -> (Nature, f64) {
        let mut rng = Rng::stream(self.seed, ROLE_STREAM + u64::from(r));
        let (lie, greed, cap) = (rng.unit(), rng.unit(), rng.log_uniform(self.capacity_tb.0, self.capacity_tb.1));
        let greedy = r as usize >= self.initial && greed < self.greedy;
        let nature = Nature { liar: lie < self.liars || (greedy && self.greedy_liars), greedy };
        let admitted = match (greedy, self.cap) {
            (false, _) => capacity,
            (true, Cap::None) => self.claim,
            (true, Cap::Fixed(c)) => self.claim.min(c),
            (true, Cap::Drawn) => self.claim.min(cap * TB),
        };
        (nature, admitted)
    }

    /// Remotes of the starting network are vetted unless they lie (liars
    /// never pass the audits that would vet them); every joiner starts
    /// unvetted.
    pub fn vetted_at_start(&self, r: u32, nature: Nature) -> bool {
        (r as usize) < self.initial && !nature.liar
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;

    fn roles(p: Params) -> Roles {
        Roles::new(&Config::new(p).unwrap())
    }

    #[test]
    fn fractions_are_nested_and_greed_is_for_joiners_only() {
        let p = |liars, greedy| Params { liars, greedy_joiners: greedy, claim_tb: 1000.0, ..Params::default() };
        let (few, many) = (roles(p(0.05, 0.1)), roles(p(0.10, 0.1)));
        let liars = |r: &Roles| (0..5000).filter(|&i| r.of(i, TB).0.liar).collect::<Vec<_>>();
        let (a, b) = (liars(&few), liars(&many));
        assert!(a.iter().all(|i| b.contains(i)), "the liars at 5 % lie at 10 % too");
        assert!((400..600).contains(&b.len()), "{} of 5000", b.len());
        assert!((0..1000).all(|i| !many.of(i, TB).0.greedy), "the starting remotes are not greedy");
        let greedy = (1000..6000).filter(|&i| many.of(i, TB).0.greedy).count();
        assert!((400..600).contains(&greedy), "{greedy} of 5000 joiners");
    }

    #[test]
    fn admission_bounds_what_a_greedy_joiner_claims() {
        let p = Params { greedy_joiners: 1.0, claim_tb: 1000.0, ..Params::default() };
        let (capped, fixed, open) = (
            roles(p.clone()),
            roles(Params { capacity_cap_tb: Some(8.0), ..p.clone() }),
            roles(Params { no_cap: true, ..p }),
        );
        for r in 1000..1100 {
            let (nature, weight) = capped.of(r, 2.0 * TB);
            assert!(nature.greedy && !nature.liar);
            assert!((TB..=16.0 * TB).contains(&weight), "drawn like an honest remote's: {weight}");
            assert_eq!(fixed.of(r, 2.0 * TB).1, 8.0 * TB);
            assert_eq!(open.of(r, 2.0 * TB).1, 1000.0 * TB, "believed without a cap");
        }
        assert_eq!(capped.of(5, 3.0 * TB).1, 3.0 * TB, "honest remotes are admitted for what they have");
        assert!(!capped.vetted_at_start(1000, Nature::default()));
        assert!(capped.vetted_at_start(5, Nature::default()));
        assert!(!capped.vetted_at_start(5, Nature { liar: true, greedy: false }));
    }
}
