#!/usr/bin/env python3
"""Pyxis half of bench/sync.sh: two `pyxis sync` daemons (devices A and B) on a
fresh `pyxis up` (HTTPS, 6 remotes), all on 127.0.0.1, measured the way
bench/peers/70-syncthing.py measures Syncthing, on the same data.

  run OUT                 the phases below; one JSON object per line in OUT/pyxis.jsonl
  compare PYXIS SYNCTHING the side-by-side table (markdown) from both results files

Phases:
  small    10,000 files of 1-8 KiB in 100 folders (70-syncthing.py's generator and seed, so the
           bytes are Syncthing's) already in A when both daemons start; time until B holds every
           file, byte for byte. Then each daemon's VmRSS / VmHWM.
  latency  EDITS rewrites of a random file in A (1-8 KiB of new bytes, a random gap before each);
           time until B's copy has the new bytes (read every 5 ms).
  idle     CPU seconds of both daemons over IDLE_S seconds of nothing.
  big      a 1 GiB random file (RAND) into A, time until B has it; then BIG_EDITS 1 MiB overwrites
           at offset 512 MiB and BIG_EDITS 100-byte inserts at offset 512 MiB (everything after it
           shifts): time until B has the new bytes, and the shard bytes A sent and B received for
           each (`pyxis status --json`: parity included). B's file is polled for being missing or
           short while it is replaced.
"""
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time

PYXIS = os.path.realpath(os.environ.get("NEW", "target/release/pyxis"))


def record(out, obj):
    with open(os.path.join(out, "pyxis.jsonl"), "a") as f:
        f.write(json.dumps(obj) + "\n")
    print(json.dumps(obj)[:400], file=sys.stderr)


def mkfiles(d, n, ndirs, seed):
    """Syncthing's harness makes the files, so the bytes are the same by construction."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers", "70-syncthing.py")
    out = subprocess.run([sys.executable, script, "mkfiles", d, str(n), str(ndirs), str(seed)],
                         check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1])


def tree(root):
    out = {}
    for dp, dn, fn in os.walk(root):
        dn[:] = [d for d in dn if not (dp == root and d == ".pyxis")]
        for f in fn:
            p = os.path.join(dp, f)
            out[os.path.relpath(p, root)] = p
    return out


def same(a, b):
    try:
        with open(a, "rb") as x, open(b, "rb") as y:
            return x.read() == y.read()
    except OSError:
        return False


def proc_stat(pid):
    with open(f"/proc/{pid}/status") as f:
        st = dict(line.split(":", 1) for line in f if ":" in line)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return {
        "VmRSS_KiB": int(st["VmRSS"].split()[0]),
        "VmHWM_KiB": int(st["VmHWM"].split()[0]),
        "RssAnon_KiB": int(st["RssAnon"].split()[0]),  # the heap and stacks; the rest is mapped code
        "RssFile_KiB": int(st["RssFile"].split()[0]),
        "cpu_s": (int(fields[11]) + int(fields[12])) / tick,
    }


class Net:
    def __init__(self, work):
        self.work = work
        self.port = int(os.environ.get("PORT", "7490"))
        log = open(os.path.join(work, "up.log"), "w")
        self.up = subprocess.Popen(
            [PYXIS, "up", "--remotes", "6", "--dir", os.path.join(work, "data"), "--listen", f"127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT)
        ca = os.path.join(work, "data", "tls", "ca.pem")
        deadline = time.time() + 60
        while time.time() < deadline:
            if os.path.exists(ca) and "registered remote_id=6" in open(os.path.join(work, "up.log")).read():
                break
            time.sleep(0.2)
        time.sleep(1)
        self.env = dict(os.environ, PYXIS_SERVER=f"https://127.0.0.1:{self.port}", PYXIS_CA=ca,
                        PYXIS_PASSWORD="bench-not-secret")
        self.env.pop("RUST_LOG", None)
        self.daemons = {}

    def pyxis(self, dev, *args):
        env = dict(self.env, PYXIS_CONFIG=os.path.join(self.work, f"cfg-{dev}"))
        return subprocess.run([PYXIS, *args], env=env, check=True, capture_output=True, text=True).stdout

    def start(self, dev, root):
        env = dict(self.env, PYXIS_CONFIG=os.path.join(self.work, f"cfg-{dev}"))
        log = open(os.path.join(self.work, f"sync-{dev}.log"), "a")
        self.daemons[dev] = subprocess.Popen(
            [PYXIS, "sync", root, "--remote-path", "/bench", "--device", dev], env=env, stdout=log,
            stderr=subprocess.STDOUT)

    def status(self, dev):
        return json.loads(self.pyxis(dev, "--json", "status"))[0]

    def stop(self):
        for p in self.daemons.values():
            p.terminate()
        for p in self.daemons.values():
            p.wait()
        self.up.send_signal(2)
        self.up.wait()


def wait(what, cond, limit=600, every=0.005):
    t0 = time.time()
    while not cond():
        if time.time() - t0 > limit:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)
    return time.time() - t0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def run(out):
    work = os.path.join(out, "pyxis")
    os.makedirs(work, exist_ok=True)
    a_root, b_root = os.path.join(work, "A"), os.path.join(work, "B")
    nfiles, edits = int(os.environ.get("NFILES", "10000")), int(os.environ.get("EDITS", "30"))
    big_edits = int(os.environ.get("BIG_EDITS", "10"))
    net = Net(work)
    try:
        net.pyxis("A", "signup", "alice")
        net.pyxis("B", "login", "alice")
        # small: the files are in A before its daemon starts, as in Syncthing's run.
        nbytes = mkfiles(a_root, nfiles, 100, 4242)
        subprocess.run(["sync"])
        src = tree(a_root)
        t0 = time.time()
        net.start("A", a_root)
        net.start("B", b_root)

        dirs = sorted({os.path.dirname(p) for p in src.values()})

        def b_done():
            # Names only (a walk building paths cost 0.12 CPU-s a poll, half
            # a core at this rate; Syncthing's harness polls its REST status).
            # A file under its real name is complete: downloads are renamed in.
            n = 0
            for d in dirs:
                try:
                    n += len(os.listdir(os.path.join(b_root, os.path.relpath(d, a_root))))
                except FileNotFoundError:
                    pass
            return n >= nfiles
        wait("B to hold every file", b_done, every=0.1)
        t = time.time() - t0
        bad = [r for r, p in src.items() if not same(p, os.path.join(b_root, r))]
        mem = {d: proc_stat(p.pid) for d, p in net.daemons.items()}
        mem["up"] = proc_stat(net.up.pid)  # the server and six remotes: where the CPU went
        record(out, {"kind": "small", "files": nfiles, "bytes": nbytes, "t_total_s": round(t, 3),
                     "files_per_s": round(nfiles / t, 1), "mismatch": len(bad), "mem": mem})
        if os.environ.get("ONLY") == "small":
            return  # profiling the initial sync alone
        time.sleep(2)

        # latency
        rng = random.Random(1001)
        names = sorted(src)
        lat, missing = [], 0
        for k in range(edits):
            time.sleep(rng.uniform(0.2, 1.0))
            rel = rng.choice(names)
            data = rng.randbytes(rng.randint(1024, 8192))
            with open(os.path.join(a_root, rel), "wb") as f:
                f.write(data)
            t0 = time.time()
            pb = os.path.join(b_root, rel)

            def arrived():
                nonlocal missing
                try:
                    with open(pb, "rb") as f:
                        return f.read() == data
                except FileNotFoundError:
                    missing += 1
                    return False
            lat.append(round(wait(f"edit {k} on B", arrived, limit=60), 4))
        record(out, {"kind": "latency", "edits": edits, "latencies_s": lat,
                     "median_s": statistics.median(lat), "p90_s": pct(lat, 90), "polls_B_file_absent": missing})

        # idle CPU
        idle_s = float(os.environ.get("IDLE_S", "30"))
        time.sleep(3)
        c0 = {d: proc_stat(p.pid)["cpu_s"] for d, p in net.daemons.items()}
        time.sleep(idle_s)
        c1 = {d: proc_stat(p.pid) for d, p in net.daemons.items()}
        record(out, {"kind": "idle", "seconds": idle_s,
                     "cpu_s": {d: round(c1[d]["cpu_s"] - c0[d], 3) for d in c0},
                     "mem": c1})

        # big
        rand = os.environ.get("RAND", "/tmp/pyxis-bench/data/rand1g")
        pa, pb = os.path.join(a_root, "big.bin"), os.path.join(b_root, "big.bin")
        with open(rand, "rb") as f:
            want_hash = hashlib.sha256(f.read()).hexdigest()
        big = os.path.getsize(rand)
        t0 = time.time()
        subprocess.run(["cp", rand, pa], check=True)

        def big_there():
            return os.path.exists(pb) and os.path.getsize(pb) == big
        wait("1 GiB on B", big_there, every=0.05)
        wait("B's copy to settle", lambda: net.status("B")["state"] == "idle", every=0.2)
        with open(pb, "rb") as f:
            ok = hashlib.sha256(f.read()).hexdigest() == want_hash
        t = time.time() - t0
        record(out, {"kind": "big", "bytes": big, "t_total_s": round(t, 3), "MB_per_s": round(big / t / 1e6, 1),
                     "identical": ok})
        time.sleep(3)
        rng = random.Random(707)
        for mode in ("overwrite", "insert"):
            for k in range(big_edits):
                s0a, s0b = net.status("A"), net.status("B")
                patch = rng.randbytes(1 << 20 if mode == "overwrite" else 100)
                t0 = time.time()
                if mode == "overwrite":
                    with open(pa, "r+b") as f:
                        f.seek(big // 2)
                        f.write(patch)
                else:
                    # An insert shifts everything after it: the file is written anew (temp + rename).
                    tmp = pa + ".tmp-edit"
                    with open(pa, "rb") as src_f, open(tmp, "wb") as dst_f:
                        dst_f.write(src_f.read(big // 2))
                        dst_f.write(patch)
                        while True:
                            b = src_f.read(64 << 20)
                            if not b:
                                break
                            dst_f.write(b)
                    os.rename(tmp, pa)
                size = os.path.getsize(pa)
                absent = 0

                def has_edit():
                    nonlocal absent
                    try:
                        with open(pb, "rb") as f:
                            if os.fstat(f.fileno()).st_size != size:
                                return False
                            f.seek(big // 2)
                            return f.read(len(patch)) == patch
                    except FileNotFoundError:
                        absent += 1
                        return False
                t = wait(f"{mode} {k} on B", has_edit, limit=300, every=0.02)
                wait("both idle", lambda: net.status("A")["state"] == "idle" and net.status("B")["state"] == "idle",
                     every=0.2)
                time.sleep(1)
                s1a, s1b = net.status("A"), net.status("B")
                ok = same(pa, pb)
                record(out, {"kind": "bigedit", "mode": mode, "edit": k + 1, "t_B_has_it_s": round(t, 3),
                             "sent_A": s1a["bytes_sent"] - s0a["bytes_sent"],
                             "received_B": s1b["bytes_received"] - s0b["bytes_received"],
                             "polls_B_file_absent": absent, "identical_after": ok})
        mem = {d: proc_stat(p.pid) for d, p in net.daemons.items()}
        record(out, {"kind": "mem_end", "mem": mem})
    finally:
        net.stop()


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def compare(pyxis_path, st_path):
    p, s = load(pyxis_path), load(st_path)
    first = lambda rows, kind: [r for r in rows if r["kind"] == kind]
    ps, ss = first(p, "small")[0], first(s, "small")
    st_t = statistics.median([r["t_total_s"] for r in ss])
    st_fps = 10000 / st_t
    if not first(p, "latency") or not first(s, "latency"):  # ONLY=small
        print("| measure | Pyxis | Syncthing | ratio |\n|---|---|---|---|")
        print(f"| initial sync, 10,000 files of 1-8 KiB (files/s) | {ps['files_per_s']:.0f} | {st_fps:.0f} | "
              f"{ps['files_per_s'] / st_fps:.2f}x |")
        return
    pl = first(p, "latency")[0]
    sl = {r["fsWatcherDelayS"]: r for r in first(s, "latency")}
    st_lat = {d: (statistics.median(r["latencies_s"]), pct(r["latencies_s"], 90)) for d, r in sl.items()}
    pe = [r for r in first(p, "bigedit") if r["mode"] == "overwrite"]
    pi = [r for r in first(p, "bigedit") if r["mode"] == "insert"]
    se = [r for r in first(s, "bigedit") if r["mode"] == "watcher"]
    st_edit_t = statistics.median([r["t_B_has_it_s"] for r in se if r["t_B_has_it_s"]]) if se else None

    def st_bytes(r, side, key):
        d = r["during"]
        return d.get(side, {}).get(key)
    rows = [
        ("initial sync, 10,000 files of 1-8 KiB (files/s)", f"{ps['files_per_s']:.0f}", f"{st_fps:.0f}",
         f"{ps['files_per_s'] / st_fps:.2f}x"),
        ("change-to-visible latency, median / p90 (s)", f"{pl['median_s']:.3f} / {pl['p90_s']:.3f}",
         " ; ".join(f"delay {d}: {m:.2f} / {q:.2f}" for d, (m, q) in sorted(st_lat.items())), ""),
        ("1 MiB overwrite in 1 GiB: edit to visible on B, median (s)",
         f"{statistics.median([r['t_B_has_it_s'] for r in pe]):.2f}", f"{st_edit_t:.2f}" if st_edit_t else "-",
         f"{st_edit_t / statistics.median([r['t_B_has_it_s'] for r in pe]):.2f}x" if st_edit_t else ""),
        ("1 MiB overwrite: bytes A sent / B received, median",
         f"{statistics.median([r['sent_A'] for r in pe]):,.0f} / {statistics.median([r['received_B'] for r in pe]):,.0f}",
         f"{statistics.median([r['during']['bep_A_out'] for r in se]):,.0f} (BEP A->B)" if se else "-",
         (f"{statistics.median([r['sent_A'] for r in pe]) / statistics.median([r['during']['bep_A_out'] for r in se]):.2f}x / "
          f"{statistics.median([r['received_B'] for r in pe]) / statistics.median([r['during']['bep_A_out'] for r in se]):.2f}x")
         if se else ""),
        ("100-byte insert in 1 GiB: bytes A sent / B received, median",
         f"{statistics.median([r['sent_A'] for r in pi]):,.0f} / {statistics.median([r['received_B'] for r in pi]):,.0f}",
         "not measured by 70-syncthing", ""),
        ("B's file missing while replaced (polls)", f"{sum(r['polls_B_file_absent'] for r in pe + pi)}",
         f"{sum(r.get('polls_B_file_absent', 0) for r in se)}", ""),
    ]
    pb, sb = first(p, "big"), first(s, "big")
    if pb and sb:
        st_big = statistics.median([r["t_total_s"] for r in sb])
        rows.insert(2, ("initial sync of a 1 GiB file (s)", f"{pb[0]['t_total_s']:.2f}", f"{st_big:.2f}",
                        f"{st_big / pb[0]['t_total_s']:.2f}x"))
    print("| measure | Pyxis | Syncthing | ratio |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    idle = first(p, "idle")[0]
    print(f"\nPyxis idle CPU over {idle['seconds']} s: {idle['cpu_s']}; RSS after the 10k sync: "
          + ", ".join(f"{d} {m['VmRSS_KiB'] // 1024} MiB" for d, m in ps["mem"].items()))
    sm = [r for r in first(s, "mem") if "small" in r["tag"]]
    if sm:
        m = sm[0]
        print("Syncthing RSS after the 10k sync (worker + monitor): "
              + ", ".join(f"{d} {(m[d]['VmRSS_KiB'] + m[d]['monitor_VmHWM_KiB']) // 1024} MiB" for d in ("A", "B")))


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2])
    elif sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
