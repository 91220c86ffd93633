//! Audits and vetting, an hour at a time, with the server's rules.
//!
//! The server's audit worker fetches one receipted shard of every online
//! unvetted remote each pass (every 10 s by default) besides a small random
//! sample of all shards. In this model only unvetted remotes can fail an
//! audit (honest remotes keep what they acknowledge, and liars never pass
//! the audits that would vet them), so only those audits are simulated:
//! each hour, every online unvetted remote in good standing that holds a
//! shard the server counts is audited `--audits-per-hour` times on average.
//! As in `db::durability::audit_result`: a pass resets the failures in a
//! row and counts toward vetting (vetted at `--vet-after` passes); a
//! failure marks the audited shard lost, and `--suspect-after` failures in a
//! row make the remote suspect, its shards all lost and rebuilt elsewhere.

use crate::network::{Network, RemoteId};
use crate::rng::Rng;

/// What audits did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditStats {
    pub passed: u64,
    pub failed: u64,
    /// Remotes vetted by their audits.
    pub vetted: u64,
    /// Remotes made suspect (every one a liar: honest remotes never fail).
    pub suspects: u64,
}

#[derive(Debug)]
pub struct Auditor {
    /// Audits per unvetted remote per hour: `whole` each hour, plus one more
    /// with probability `fraction`.
    whole: u64,
    fraction: f64,
    vet_after: u32,
    suspect_after: u32,
    /// One stream for every audit, drawn in remote order: deterministic, and
    /// apart from the churn streams so that audits never change the churn.
    rng: Rng,
    pub stats: AuditStats,
}

/// Seeds the audit stream apart from the remotes' (stream = remote id) and
/// the chunk ids'.
const AUDIT_STREAM: u64 = 1 << 49;

impl Auditor {
    pub fn new(seed: u64, per_hour: f64, vet_after: u32, suspect_after: u32) -> Self {
        Auditor {
            whole: per_hour.trunc() as u64,
            fraction: per_hour.fract(),
            vet_after,
            suspect_after,
            rng: Rng::stream(seed, AUDIT_STREAM),
            stats: AuditStats::default(),
        }
    }

    /// One hour of audits, for the state at its end.
    pub fn run(&mut self, net: &mut Network) {
        for r in 0..net.remote_count() as RemoteId {
            if !Self::audited(net, r) {
                continue;
            }
            let extra = self.fraction > 0.0 && self.rng.unit() < self.fraction;
            for _ in 0..self.whole + u64::from(extra) {
                if !Self::audited(net, r) || !self.audit(net, r) {
                    break;
                }
            }
        }
    }

    /// Whether the server audits `r` every pass: online, unvetted and not
    /// suspect.
    fn audited(net: &Network, r: RemoteId) -> bool {
        net.offline_since(r).is_none() && !net.is_suspect(r) && !net.remote(r).vetted
    }

    /// Audits one shard of `r`, picked at random; false if it holds none
    /// the server counts.
    fn audit(&mut self, net: &mut Network, r: RemoteId) -> bool {
        let Some((c, i)) = net.audit_pick(r, self.rng.unit()) else { return false };
        if net.is_real(c, i) {
            self.stats.passed += 1;
            let remote = net.remote_mut(r);
            remote.audit_failures = 0;
            remote.audits_passed += 1;
            if remote.audits_passed >= self.vet_after {
                remote.vetted = true;
                self.stats.vetted += 1;
            }
        } else {
            self.stats.failed += 1;
            net.mark_shard_lost(c, i);
            let remote = net.remote_mut(r);
            remote.audit_failures += 1;
            if remote.audit_failures >= self.suspect_after {
                net.make_suspect(r);
                self.stats.suspects += 1;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Nature;
    use pyxis_core::placement;

    /// 4+2 over 6 vetted honest remotes plus one unvetted remote of each
    /// kind, which holds a shard of every chunk.
    fn net() -> (Network, RemoteId, RemoteId) {
        let mut n = Network::new("4+2".parse().unwrap(), 100);
        for _ in 0..6 {
            n.add_remote(1_000_000);
        }
        let honest = n.add_remote_as(1_000_000, Nature::default(), false);
        let liar = n.add_remote_as(1_000_000, Nature { liar: true, greedy: false }, false);
        let cands = n.candidates();
        for i in 0..20u8 {
            let key = [i; 32];
            let mut to = placement::choose(&key, &cands[..6], 5).unwrap();
            to.push(i64::from(if i % 2 == 0 { honest } else { liar }));
            n.add_chunk(key, &to.iter().map(|&r| r as RemoteId).collect::<Vec<_>>());
        }
        (n, honest, liar)
    }

    #[test]
    fn honest_newcomers_are_vetted_and_liars_made_suspect() {
        let (mut n, honest, liar) = net();
        let mut a = Auditor::new(1, 2.0, 5, 3);
        a.run(&mut n);
        assert!(!n.remote(honest).vetted && !n.is_suspect(liar), "two audits in the first hour");
        a.run(&mut n);
        assert!(n.is_suspect(liar), "3 failures in a row");
        assert!(!n.remote(honest).vetted);
        a.run(&mut n);
        assert!(n.remote(honest).vetted, "5 passes vet it");
        assert_eq!((a.stats.vetted, a.stats.suspects, a.stats.failed, a.stats.passed), (1, 1, 3, 5));
        // Every shard the liar took is lost; the honest one's count.
        for c in 0..20 {
            assert_eq!(n.assess(c).0.healthy, if c % 2 == 0 { 6 } else { 5 }, "chunk {c}");
        }
        a.run(&mut n);
        assert_eq!((a.stats.failed, a.stats.passed), (3, 5), "neither is audited every pass any more");
    }

    #[test]
    fn each_failed_audit_marks_the_shard_it_read_lost() {
        let (mut n, _, liar) = net();
        let mut a = Auditor::new(1, 2.0, 50, 3);
        a.run(&mut n);
        assert!(!n.is_suspect(liar));
        let lost: Vec<_> = (1..20).step_by(2).filter(|&c| n.assess(c).0.healthy == 5).collect();
        assert_eq!(lost.len(), 2, "two audits, two shards found missing: {lost:?}");
        assert_eq!(n.remote(liar).audit_failures, 2);
        // The chunks it took keep their real shards: five of six.
        assert!((1..20).step_by(2).all(|c| n.assess(c).1 == 5));
    }

    #[test]
    fn no_audits_without_a_rate_or_without_shards() {
        let (mut n, honest, liar) = net();
        let idle = n.add_remote_as(1_000_000, Nature::default(), false);
        let mut a = Auditor::new(1, 0.0, 1, 1);
        a.run(&mut n);
        assert_eq!(a.stats, AuditStats::default());
        let mut a = Auditor::new(1, 1.0, 1, 1);
        a.run(&mut n);
        assert!(n.remote(honest).vetted && n.is_suspect(liar));
        assert!(!n.remote(idle).vetted, "nothing to audit on an empty remote");
    }
}
