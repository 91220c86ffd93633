//! Repair planning: how healthy a chunk is, whether it needs repair, which
//! first, and where its rebuilt shards go. Pure decisions shared by the
//! server's repair worker and the durability simulation (`bench/durability`),
//! so the simulation measures the code that runs.

use std::cmp::Ordering;

use pyxis_proto::Scheme;

use crate::placement::{self, Candidate};

/// What a shard's remote is worth right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardStatus {
    /// On an online remote in good standing: it counts.
    Healthy,
    /// On a remote offline for less than the grace period: not readable now,
    /// but not given up on (rebuilding it at once would churn on every blip).
    Unavailable,
    /// Gone: its remote is offline past the grace period, suspect, draining
    /// or drained, or an audit or scrub found it missing or corrupt.
    Lost,
}

/// The default repair threshold: `k + 2`, the lowest that `bench/durability`
/// shows losing nothing for the default schemes under churn (`k + 1` lost a
/// chunk in 10^5 at 6+4), but at most `n - 1`: a threshold of `n` would
/// repair a chunk whenever any one of its remotes reboots, before the grace
/// period could spare it (unavailable shards count as present only up to
/// the threshold). Never below `k`.
pub fn default_threshold(scheme: Scheme) -> usize {
    (scheme.data() + 2).min(scheme.total().saturating_sub(1)).max(scheme.data())
}

/// A chunk's health, for deciding and ordering repairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Health {
    pub scheme: Scheme,
    pub healthy: usize,
    pub unavailable: usize,
}

impl Health {
    pub fn of(scheme: Scheme, shards: impl IntoIterator<Item = ShardStatus>) -> Self {
        let (mut healthy, mut unavailable) = (0, 0);
        for s in shards {
            match s {
                ShardStatus::Healthy => healthy += 1,
                ShardStatus::Unavailable => unavailable += 1,
                ShardStatus::Lost => {}
            }
        }
        Health { scheme, healthy, unavailable }
    }

    /// Only a chunk missing shards needs repair. Shards that may yet come back
    /// are counted as present, so a remote
    /// rebooting does not trigger a repair; but when the healthy ones alone
    /// are down to `k`, repair at once: one more loss would lose data.
    pub fn needs_repair(&self, threshold: usize) -> bool {
        let k = self.scheme.data();
        let missing = self.healthy < self.scheme.total();
        missing && (self.healthy + self.unavailable <= threshold.max(k) || self.healthy <= k)
    }

    /// Whether the chunk can be rebuilt from what is readable now.
    pub fn recoverable(&self) -> bool {
        self.healthy >= self.scheme.data()
    }

    /// Healthy shards beyond the `k` needed: 0 means the next loss is fatal.
    pub fn margin(&self) -> isize {
        self.healthy as isize - self.scheme.data() as isize
    }
}

/// Repair order: the chunks closest to loss first (smallest margin), then
/// those with the most shards missing.
pub fn priority(a: &Health, b: &Health) -> Ordering {
    a.margin().cmp(&b.margin()).then_with(|| (b.scheme.total() - b.healthy).cmp(&(a.scheme.total() - a.healthy)))
}

/// Remotes for `count` rebuilt shards of a chunk: the rendezvous order of the
/// chunk over remotes that can take a shard, skipping those that already hold
/// one of its shards (two shards of a chunk never share a remote).
pub fn targets(key: &[u8; 32], candidates: &[Candidate], holding: &[i64], count: usize) -> crate::Result<Vec<i64>> {
    targets_within(key, candidates, holding, count, &Limit::NONE)
}

/// A cap on how many rebuilt shards may go to limited remotes (those not yet
/// vetted: a chunk keeps at most `ceil(m/2)` shards on them).
#[derive(Clone, Copy)]
pub struct Limit<'a> {
    pub limited: &'a (dyn Fn(i64) -> bool + Sync),
    pub max: usize,
}

impl std::fmt::Debug for Limit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Limit(max {})", self.max)
    }
}

impl Limit<'_> {
    pub const NONE: Limit<'static> = Limit { limited: &|_| false, max: 0 };
}

/// [`targets`] with at most `limit.max` of them limited.
pub fn targets_within(
    key: &[u8; 32],
    candidates: &[Candidate],
    holding: &[i64],
    count: usize,
    limit: &Limit<'_>,
) -> crate::Result<Vec<i64>> {
    let free: Vec<Candidate> = candidates.iter().copied().filter(|c| !holding.contains(&c.id)).collect();
    placement::choose_limited(key, &free, count, limit.limited, limit.max)
}

/// Where the remote that lost a shard stands, for deciding where the rebuilt
/// shard goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostOn {
    /// Online, no audit failed since its last pass (a shard rotted): the
    /// rebuilt shard goes back there.
    GoodStanding(i64),
    /// Online but failing audits: elsewhere when any remote has room (put
    /// back, it would pass the next audit and wash out the failures that
    /// should make the remote suspect), back there when none has.
    Failing(i64),
    /// Offline, suspect, draining or gone: elsewhere.
    Away,
}

/// A remote for each rebuilt shard, in the order of `lost`. Shards that move
/// go by [`targets`]; when there is no room for the failing remotes' shards
/// as well, those go back home and only the others move.
pub fn destinations(
    key: &[u8; 32],
    lost: &[LostOn],
    candidates: &[Candidate],
    holding: &[i64],
    limit: &Limit<'_>,
) -> crate::Result<Vec<i64>> {
    let moving = |failing_too: bool| {
        lost.iter().filter(|l| matches!(l, LostOn::Away) || (failing_too && matches!(l, LostOn::Failing(_)))).count()
    };
    let (elsewhere, failing_move) = match targets_within(key, candidates, holding, moving(true), limit) {
        Ok(t) => (t, true),
        Err(_) => (targets_within(key, candidates, holding, moving(false), limit)?, false),
    };
    let mut elsewhere = elsewhere.into_iter();
    Ok(lost
        .iter()
        .map(|l| match *l {
            LostOn::GoodStanding(home) => home,
            LostOn::Failing(home) if !failing_move => home,
            _ => elsewhere.next().expect("targets gave one remote per moving shard"),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ShardStatus::*;

    fn s(x: &str) -> Scheme {
        x.parse().unwrap()
    }

    #[test]
    fn thresholds_and_grace() {
        let k4 = s("4+2");
        assert_eq!(default_threshold(k4), 5, "k+2 capped at n-1");
        assert_eq!(default_threshold(s("6+4")), 8, "k+2");
        assert_eq!(default_threshold(s("2+2")), 3);
        assert_eq!(default_threshold(s("1+0")), 1);
        // The grace still holds at the new threshold: one remote of a 6+4
        // chunk rebooting, or even two, triggers nothing...
        let t = default_threshold(s("6+4"));
        let rebooting =
            |n: usize| Health::of(s("6+4"), (0..10).map(|i| if i < n { Unavailable } else { Healthy })).needs_repair(t);
        assert!(!rebooting(1) && !rebooting(2));
        // ...while two lost shards (k+2 left) do.
        assert!(Health::of(s("6+4"), (0..10).map(|i| if i < 2 { Lost } else { Healthy })).needs_repair(t));
        let full = Health::of(k4, [Healthy; 6]);
        assert!(!full.needs_repair(5));
        let one_lost = Health::of(k4, [Healthy, Healthy, Healthy, Healthy, Healthy, Lost]);
        assert!(one_lost.needs_repair(5), "k+1 healthy reaches the threshold");
        // A remote rebooting (unavailable) does not trigger repair at k+2...
        let blip = Health::of(k4, [Healthy, Healthy, Healthy, Healthy, Healthy, Unavailable]);
        assert!(!blip.needs_repair(5));
        // ...but when only k are readable, repair now.
        let tight = Health::of(k4, [Healthy, Healthy, Healthy, Healthy, Unavailable, Unavailable]);
        assert!(tight.needs_repair(5));
        assert!(tight.recoverable());
        assert!(!Health::of(k4, [Healthy, Healthy, Healthy, Lost, Lost, Lost]).recoverable());
        // 1+0 has nothing to repair from; it never "needs" a repair it cannot do.
        assert!(!Health::of(s("1+0"), [Healthy]).needs_repair(default_threshold(s("1+0"))));
    }

    #[test]
    fn closest_to_loss_first() {
        let k4 = s("4+2");
        let mut v = [
            Health { scheme: k4, healthy: 5, unavailable: 0 },
            Health { scheme: k4, healthy: 4, unavailable: 0 },
            Health { scheme: s("6+4"), healthy: 7, unavailable: 0 },
        ];
        v.sort_by(priority);
        // Margin 0 first; at equal margin, the chunk missing more shards.
        assert_eq!(v.iter().map(|h| h.healthy).collect::<Vec<_>>(), [4, 7, 5]);
    }

    #[test]
    fn targets_avoid_remotes_holding_the_chunk() {
        let cands: Vec<Candidate> = (1..=8).map(|id| Candidate { id, weight: 100 }).collect();
        let t = targets(&[7; 32], &cands, &[1, 2, 3, 4], 2).unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|id| *id > 4));
        assert!(targets(&[7; 32], &cands, &[1, 2, 3, 4, 5, 6, 7], 2).is_err());
    }

    #[test]
    fn failing_remotes_lose_their_shards_to_others_only_when_there_is_room() {
        use LostOn::*;
        let cands: Vec<Candidate> = (1..=7).map(|id| Candidate { id, weight: 1 }).collect();
        let lost = [GoodStanding(1), Failing(2), Away];
        // Remote 7 alone holds nothing of the chunk: room for one shard.
        let d = destinations(&[7; 32], &lost, &cands, &[1, 2, 3, 4, 5, 6], &Limit::NONE).unwrap();
        assert_eq!(d, [1, 2, 7], "no room for both: the failing remote keeps its shard");
        // Remotes 7 and 8 free: the failing remote's shard moves too.
        let cands: Vec<Candidate> = (1..=8).map(|id| Candidate { id, weight: 1 }).collect();
        let d = destinations(&[7; 32], &lost, &cands, &[1, 2, 3, 4, 5, 6], &Limit::NONE).unwrap();
        assert_eq!(d[0], 1);
        let mut moved = d[1..].to_vec();
        moved.sort_unstable();
        assert_eq!(moved, [7, 8]);
        // A shard whose remote is gone needs room elsewhere, or nothing goes.
        assert!(destinations(&[7; 32], &[Away], &cands, &[1, 2, 3, 4, 5, 6, 7, 8], &Limit::NONE).is_err());
        assert_eq!(
            destinations(&[7; 32], &[Failing(3)], &cands, &[1, 2, 3, 4, 5, 6, 7, 8], &Limit::NONE).unwrap(),
            [3]
        );
        // With remotes 7 and 8 limited and no room left for limited ones, a
        // shard that must move has nowhere to go.
        let cands: Vec<Candidate> = (1..=8).map(|id| Candidate { id, weight: 1 }).collect();
        let none_left = Limit { limited: &|id| id > 6, max: 0 };
        assert!(destinations(&[7; 32], &[Away], &cands, &[1, 2, 3, 4, 5, 6], &none_left).is_err());
        let one_left = Limit { limited: &|id| id > 6, max: 1 };
        let d = destinations(&[7; 32], &[Away, Away], &cands, &[1, 2, 3, 4], &one_left).unwrap();
        assert!(d.iter().filter(|&&id| id > 6).count() <= 1, "{d:?}");
    }
}
