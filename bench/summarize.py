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
