#!/usr/bin/env python3
"""raw.tsv + facts.tsv from compare.sh -> a markdown table with ratios."""
import collections, statistics, sys

raw, facts = sys.argv[1], sys.argv[2]
rows = collections.defaultdict(list)
for line in open(raw).read().splitlines()[1:]:
    label, nbytes, wall, user, sysm, rss, rc = line.split("\t")
    if rc != "0":
        continue
    name = label.rsplit(".r", 1)[0]
    rows[name].append((float(wall), int(nbytes), float(user) + float(sysm), int(rss or 0)))
fact = collections.defaultdict(list)
for line in open(facts).read().splitlines() if facts else []:
    k, v = line.split("\t")
    parts = k.split(".")
    fact[(parts[0], ".".join(parts[2:]))].append(float(v))

def mbps(name, agg=min):
    r = rows.get(name)
    if not r:
        return None
    wall = agg([w for w, *_ in r])
    return r[0][1] / 1e6 / wall

def cell(v, fmt="{:.0f}"):
    return "—" if v is None else fmt.format(v)

print("| what | Pyxis best / median MB/s | restic best / median | Tahoe best / median | Pyxis ÷ restic (best) | Pyxis ÷ Tahoe (best) | Pyxis peak RSS (client) |")
print("|---|---|---|---|---|---|---|")
for op, data in [("put", "rand1g"), ("get", "rand1g"), ("put", "corpus"), ("get", "corpus")]:
    p, r, t = (f"{tool}_{op}_{data}" for tool in ("pyxis", "restic", "tahoe"))
    pb, pm, rb, rm, tb, tm = mbps(p), mbps(p, statistics.median), mbps(r), mbps(r, statistics.median), mbps(t), mbps(t, statistics.median)
    rss = max((x[3] for x in rows.get(p, [])), default=0) / 1024
    print(f"| {op} {data} | {cell(pb)} / {cell(pm)} | {cell(rb)} / {cell(rm)} | {cell(tb)} / {cell(tm)} | "
          f"{cell(pb / rb if pb and rb else None, '{:.2f}×')} | {cell(pb / tb if pb and tb else None, '{:.2f}×')} | {rss:.0f} MiB |")
print()
print("| edit of the 1 GiB file | Pyxis new chunk bytes | Pyxis bytes sent (with parity) | restic data added | Pyxis sent ÷ restic added |")
print("|---|---|---|---|---|")
for e, what in [("ow1m", "1 MiB overwrite"), ("ins100", "100 B insert")]:
    new, wire, added = fact.get(("pyxis", f"{e}.new_bytes"), []), fact.get(("pyxis", f"{e}.wire_bytes"), []), fact.get(("restic", f"{e}.data_added"), [])
    show = lambda v: " / ".join(f"{x / 1e6:.2f} MB" for x in v) or "—"
    ratio = (statistics.median(wire) / statistics.median(added)) if wire and added else None
    print(f"| {what} | {show(new)} | {show(wire)} | {show(added)} | {cell(ratio, '{:.2f}×')} |")
vm = fact.get(("pyxis", "network_vmhwm_kib"), [])
if vm:
    print(f"\nPyxis network process (server + 6 remotes in `pyxis up`) peak RSS: {max(vm) / 1024:.0f} MiB.")

# Issue 13's targets, each with its ratio: medians over the runs.
def med(name, i=0):
    r = rows.get(name)
    return statistics.median(x[i] for x in r) if r else None

def rate(name):
    w = med(name)
    return rows[name][0][1] / w if w else None

def fmed(key):
    v = fact.get(("pyxis", key), [])
    return statistics.median(v) if v else None

def row(what, pyx, base, ratio, target, ok):
    mark = "—" if ok is None else ("✓" if ok else "✗")
    print(f"| {what} | {pyx} | {base} | {ratio} | {target} | {mark} |")

n = len(rows.get("pyxis_put_rand1g", []))
print(f"\n### Targets (issue 13), medians of {n} run(s)\n")
print("| workload | Pyxis | baseline in the same run | ratio | target | met |")
print("|---|---|---|---|---|---|")
disk_w = rate("disk_write_1536m")  # bytes/s written with fsync
disk_r = rate("disk_read_volumes")
for op, data, what in [("put", "rand1g", "1 GiB random"), ("get", "rand1g", "1 GiB random"),
                       ("put", "corpus", "toolchain tree"), ("get", "corpus", "toolchain tree"),
                       ("put", "small", "40k small files"), ("get", "small", "40k small files")]:
    p, r = rate(f"pyxis_{op}_{data}"), rate(f"restic_{op}_{data}")
    ratio = p / r if p and r else None
    target, ok = "≥ 2× restic", (ratio >= 2 if ratio else None)
    base = f"restic {cell(r and r / 1e6)} MB/s"
    if data == "rand1g":
        # A put writes 1.5× its input (4+2) with fsync; a get reads k of n shards (its input).
        limit = (disk_w / 1.5) if op == "put" and disk_w else disk_r if op == "get" else None
        share = p / limit if p and limit else None
        base += f"; disk limit {cell(limit and limit / 1e6)} MB/s"
        target = "≥ 2× restic, or ≥ 60 % of the disk limit if lower"
        # The lower of the two bars: 2× restic, or 60 % of what the disk allows.
        ok = None if not (p and r) else p >= min(2 * r, 0.6 * limit if limit else 2 * r)
        ratio = f"{cell(ratio, '{:.2f}×')}; {cell(share and share * 100, '{:.0f} %')} of the disk"
    else:
        ratio = cell(ratio, "{:.2f}×")
    row(f"{op} {what}", f"{cell(p and p / 1e6)} MB/s", base, ratio, target, ok)
pr, rr = med("pyxis_reput_corpus"), med("restic_reput_corpus")
row("unchanged re-put of the toolchain tree", cell(pr, "{:.2f} s"), f"restic (parent snapshot) {cell(rr, '{:.2f} s')}",
    cell(rr / pr if pr and rr else None, "{:.1f}× faster"), "≥ 3× faster", (rr / pr >= 3) if pr and rr else None)
ls, who = med("pyxis_ls_flat"), med("pyxis_whoami")
row(f"`pyxis ls` of {cell(fmed('ls_flat_entries'))} entries", cell(ls and ls * 1000, "{:.0f} ms"), f"`pyxis whoami` {cell(who and who * 1000, '{:.0f} ms')}",
    cell(ls / who if ls and who else None, "{:.2f}×"), "≤ 2× whoami", (ls / who <= 2) if ls and who else None)
sm = fmed("ls_flat_server_ms")
row("… the server's answer alone (curl)", cell(sm, "{:.1f} ms"), "", "", "≤ 20 ms", (sm <= 20) if sm else None)
la, n_all = med("pyxis_ls_all"), fmed("ls_all_entries")
per = la / n_all * 100_000 if la and n_all else None
row(f"`pyxis ls -R /` ({cell(n_all)} entries)", cell(la, "{:.2f} s"), "", cell(per, "{:.2f} s per 100,000"), "≤ 1 s per 100,000", (per <= 1) if per else None)
k1, rk1, cp = med("pyxis_get_k1"), med("restic_get_k1"), med("disk_cp_k1")
row("get of a directory of 1,000 small files", cell(k1 and 1000 / k1, "{:.0f} files/s"),
    f"restic {cell(rk1 and 1000 / rk1, '{:.0f} files/s')}; `cp -r` of the same files {cell(cp and 1000 / cp, '{:.0f} files/s')}",
    f"{cell(rk1 / k1 if k1 and rk1 else None, '{:.2f}× restic')}; {cell(cp / k1 if k1 and cp else None, '{:.2f}× cp')}",
    "≥ 5,000 files/s", (1000 / k1 >= 5000) if k1 else None)
rss = max((x[3] for x in rows.get("pyxis_get_corpus", [])), default=0) / 1024
row("client peak memory, toolchain tree get", f"{rss:.0f} MiB", "", "", "≤ 230 MiB", rss <= 230 if rss else None)
vm = max(fact.get(("pyxis", "network_vmhwm_kib"), [0])) / 1024
row("network peak memory (`pyxis up`, 6 remotes, TLS)", f"{vm:.0f} MiB", "", "", "≤ 160 MiB", vm <= 160 if vm else None)
