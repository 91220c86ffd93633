#!/usr/bin/env python3
"""The small-file tree of bench/data.sh, the same bytes on every machine.

    smalltree.py DIR

40,000 files, median size under 4 KB (log-normal around 1.5 KB, capped at
256 KB), one in twenty empty, in three parts:
  flat/   10,000 files in one directory (`pyxis ls` of 10,000 entries)
  k1/     1,000 files in one directory (get of a directory of 1,000 small files)
  deep/   29,000 files in directories up to 12 levels deep
Contents are pseudo-random text-like bytes (compressible about 2:1), so
neither dedup nor compression makes them free.
"""
import os, random, shutil, statistics, sys

root = sys.argv[1]
rng = random.Random(20261201)
WORDS = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(4096)]


def body(n):
    out = bytearray()
    while len(out) < n:
        out += rng.choice(WORDS) + (b"\n" if rng.random() < 0.1 else b" ")
        if rng.random() < 0.05:
            out += rng.randbytes(8).hex().encode()
    return bytes(out[:n])


def size():
    if rng.random() < 0.05:
        return 0
    return min(int(rng.lognormvariate(7.3, 1.2)), 256 << 10)


sizes = []


def write(path):
    n = size()
    sizes.append(n)
    with open(path, "wb") as f:
        f.write(body(n))


tmp = root + ".partial"
shutil.rmtree(tmp, ignore_errors=True)  # an interrupted run's
os.makedirs(tmp + "/flat")
os.makedirs(tmp + "/k1")
for i in range(10_000):
    write(f"{tmp}/flat/f{i:05}.txt")
for i in range(1_000):
    write(f"{tmp}/k1/s{i:04}.dat")
dirs = [tmp + "/deep"]
os.makedirs(dirs[0])
for i in range(29_000):
    if i % 15 == 0:
        parent = rng.choice(dirs)
        if parent.count("/") - tmp.count("/") >= 12:
            parent = dirs[0]
        d = f"{parent}/d{len(dirs):04}"
        os.makedirs(d)
        dirs.append(d)
    write(f"{rng.choice(dirs[-40:])}/n{i:05}")
os.rename(tmp, root)
print(f"{root}: {len(sizes)} files, {len(dirs)} deep directories, median {statistics.median(sizes):.0f} B, "
      f"{sum(s == 0 for s in sizes)} empty, {sum(sizes)} bytes")
