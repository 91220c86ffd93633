//! An order-preserving parallel map over scoped threads.
//!
//! Placement ranks every candidate remote for every chunk placed or
//! repaired, and that is nearly all of a run's time; the rankings of one
//! batch are independent, so they are computed on `threads` threads and
//! applied in order. The result is the same for any thread count.

/// Below this many items a batch runs on the calling thread: spawning costs
/// more than it saves.
const MIN_PARALLEL: usize = 32;

pub fn map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if threads <= 1 || items.len() < MIN_PARALLEL {
        return items.iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let parts: Vec<_> =
            items.chunks(per).map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>())).collect();
        parts.into_iter().flat_map(|h| h.join().expect("placement worker panicked")).collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_for_any_thread_count() {
        let items: Vec<u64> = (0..1000).collect();
        let want: Vec<u64> = items.iter().map(|x| x * x).collect();
        for threads in [1, 2, 3, 8] {
            assert_eq!(super::map(&items, threads, |x| x * x), want);
        }
    }
}
