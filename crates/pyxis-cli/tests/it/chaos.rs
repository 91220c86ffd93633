//! Seeded chaos with real processes: while puts run, remotes are SIGKILLed
//! (at most m = 2 down at once) and the server is SIGKILLed and restarted,
//! at random moments. Every put must succeed with at most one retry of the
//! command, and every acknowledged byte must read back.
//!
//! `PYXIS_CHAOS_SEED=N` replays a run; `PYXIS_CHAOS_PUTS=N` makes it longer.

use std::process::Child;
use std::time::{Duration, Instant};

use crate::procs::{Net, random_file};

/// xorshift64*: enough randomness for picking moments and victims.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `put` to the end while one to three faults happen at random moments
/// of its first seconds; returns whether it succeeded.
fn put_under_fire(net: &mut Net, rng: &mut Rng, down: &mut Vec<usize>, src: &str, dst: &str) -> bool {
    let mut put: Child = net.command(&["put", src, dst]).spawn().unwrap();
    let started = Instant::now();
    let mut faults = 1 + rng.below(3);
    loop {
        std::thread::sleep(Duration::from_millis(20 + rng.below(150)));
        if let Some(status) = put.try_wait().unwrap() {
            eprintln!("chaos: put {dst} ended after {:.1} s: {status}", started.elapsed().as_secs_f64());
            return status.success();
        }
        assert!(started.elapsed() < Duration::from_secs(180), "a put hung for 3 minutes");
        if faults == 0 {
            continue;
        }
        faults -= 1;
        match rng.below(7) {
            // Kill a remote, if fewer than m = 2 are down.
            0..=3 if down.len() < 2 => {
                let alive: Vec<usize> = (0..net.remotes.len()).filter(|i| !down.contains(i)).collect();
                let victim = alive[rng.below(alive.len() as u64) as usize];
                eprintln!("chaos: SIGKILL remote {victim}");
                net.remotes[victim].kill();
                down.push(victim);
            }
            // Bring one back.
            4..=5 if !down.is_empty() => {
                let back = down.remove(rng.below(down.len() as u64) as usize);
                eprintln!("chaos: restart remote {back}");
                let url = net.url();
                net.restart_remote(back, &url);
            }
            // Kill the server and start it again a moment later.
            _ => {
                eprintln!("chaos: SIGKILL the server");
                net.server.as_mut().unwrap().kill();
                std::thread::sleep(Duration::from_millis(100 + rng.below(700)));
                net.start_server();
            }
        }
    }
}

#[test]
fn puts_survive_remotes_and_the_server_dying_at_random() {
    let seed = env_or("PYXIS_CHAOS_SEED", 20261130);
    let puts = env_or("PYXIS_CHAOS_PUTS", 8);
    eprintln!("chaos seed {seed} ({puts} puts); replay with PYXIS_CHAOS_SEED={seed}");
    let mut rng = Rng(seed | 1);
    let mut net = Net::start(6);
    net.ok(&["signup", "alice"]);
    let mut down = Vec::new();
    let mut written = Vec::new();
    let mut retries = 0;
    for i in 0..puts {
        let f = net.dir.path().join(format!("f{i}"));
        random_file(&f, seed ^ i, (4 << 20) + rng.below(12 << 20) as usize);
        let dst = format!("/chaos/f{i}");
        if !put_under_fire(&mut net, &mut rng, &mut down, f.to_str().unwrap(), &dst) {
            retries += 1;
            eprintln!("chaos: put {i} failed; retrying the command once");
            assert!(
                put_under_fire(&mut net, &mut rng, &mut down, f.to_str().unwrap(), &dst),
                "put {i} failed twice (seed {seed}); logs in {}",
                net.dir.path().display()
            );
        }
        written.push((f, dst));
    }
    // Everything back up; every acknowledged file reads back.
    let url = net.url();
    for i in std::mem::take(&mut down) {
        net.restart_remote(i, &url);
    }
    net.wait_online(6);
    for (f, dst) in &written {
        let out = net.dir.path().join("out");
        let _ = std::fs::remove_file(&out);
        net.ok(&["get", dst, out.to_str().unwrap()]);
        assert!(std::fs::read(&out).unwrap() == std::fs::read(f).unwrap(), "{dst} read back wrong (seed {seed})");
    }
    eprintln!("chaos: {puts} puts, {retries} retried, all read back");
}
