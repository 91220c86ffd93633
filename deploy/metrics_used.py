#!/usr/bin/env python3
"""Metric names used by the Prometheus rules and the Grafana dashboard.

    metrics_used.py [--rules FILE] [--dashboard FILE] --list
        Print every metric name the rules' `expr` and the dashboard's
        target `expr` (and its label_values() variables) use, one a line.

    metrics_used.py [--rules FILE] [--dashboard FILE] SCRAPE...
        Check each of those names against Prometheus text scrapes (the body
        of /metrics; several files, or several scrapes concatenated in one,
        e.g. the server's and a remote's). Exits 1 listing the names no
        scrape has.

Histogram series (NAME_bucket, NAME_sum, NAME_count) count as NAME. `up`
and the other series Prometheus makes itself are not looked for.

Standard library only (no PyYAML needed: the `expr:` values are read from
the rule file by a small reader that handles plain, quoted and block
scalars).
"""

import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Series Prometheus adds to every target itself.
SYNTHETIC = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
}

KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "atan2", "inf", "nan",
}

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

IDENT = r"[a-zA-Z_:][a-zA-Z0-9_:]*"


def metric_names(expr):
    """The metric names in one PromQL expression."""
    s = expr
    # String literals: label values, regexes ("5..", "$service").
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', s)
    s = re.sub(r"'(?:[^'\\]|\\.)*'", "''", s)
    s = re.sub(r"`[^`]*`", "``", s)
    # Grafana variables: ${VAR}, $VAR, [[VAR]].
    s = re.sub(r"\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\]", " ", s)
    # Label matchers, ranges and subqueries, comments.
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"#[^\n]*", " ", s)
    # Label lists of aggregations and vector matching.
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(IDENT, s):
        word = m.group(0)
        # Part of a number (1e300, 0x1F, 5m), not a name.
        if m.start() > 0 and (s[m.start() - 1].isdigit() or s[m.start() - 1] == "."):
            continue
        # A function or aggregation: followed by "(".
        if re.match(r"\s*\(", s[m.end():]):
            continue
        if word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def rule_exprs(path):
    """The `expr:` values of a Prometheus rule file."""
    try:
        import yaml  # noqa: F401  (optional: used when present)
    except ImportError:
        yaml = None
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if yaml is not None:
        doc = yaml.safe_load(text) or {}
        return [r["expr"] for g in doc.get("groups", []) for r in g.get("rules", []) if "expr" in r]
    return _rule_exprs_plain(text)


def _rule_exprs_plain(text):
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(?:-\s+)?expr:\s*(.*?)\s*$", lines[i])
        i += 1
        if not m:
            continue
        indent, value = len(m.group(1)), m.group(2)
        if value[:1] in (">", "|"):
            block = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i].strip())
                i += 1
            out.append(" ".join(block))
        elif value[:1] in ('"', "'"):
            q = value[0]
            inner = value[1:-1] if value.endswith(q) and len(value) > 1 else value[1:]
            out.append(inner.replace("''", "'") if q == "'" else bytes(inner, "utf-8").decode("unicode_escape"))
        else:
            # Plain scalar, possibly continued on more-indented lines.
            parts = [re.sub(r"\s+#.*$", "", value)]
            while i < len(lines) and lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) > indent \
                    and not re.match(r"^\s*[\w-]+:(\s|$)", lines[i]):
                parts.append(lines[i].strip())
                i += 1
            out.append(" ".join(parts))
    return out


def dashboard_exprs(path):
    """The `expr` of every target of a Grafana dashboard, and the metric of
    every label_values() / query_result() template variable."""
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    out = []

    def walk_panels(panels):
        for p in panels or []:
            for t in p.get("targets") or []:
                if t.get("expr"):
                    out.append(t["expr"])
            walk_panels(p.get("panels"))

    walk_panels(dash.get("panels"))
    for v in (dash.get("templating") or {}).get("list") or []:
        if v.get("type") != "query":
            continue
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if not isinstance(q, str):
            continue
        m = re.match(r"^\s*label_values\((.*)\)\s*$", q, re.S)
        if m:
            # label_values(EXPR, LABEL) names a metric; label_values(LABEL) none.
            head, sep, tail = m.group(1).rpartition(",")
            if sep and re.fullmatch(r"\s*\w+\s*", tail):
                out.append(head)
            continue
        m = re.match(r"^\s*query_result\((.*)\)\s*$", q, re.S)
        if m:
            out.append(m.group(1))
    return out


def used_names(rules, dashboard):
    names = set()
    for e in rule_exprs(rules) + dashboard_exprs(dashboard):
        names |= metric_names(e)
    return sorted({strip_histogram(n) for n in names} - SYNTHETIC)


def strip_histogram(name):
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def scraped_names(paths):
    """Names in Prometheus text scrapes: samples, and # TYPE / # HELP names."""
    names = set()
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                if line.startswith("#"):
                    m = re.match(r"^#\s+(?:TYPE|HELP)\s+(" + IDENT + r")", line)
                    if m:
                        names.add(m.group(1))
                    continue
                m = re.match(IDENT, line)
                if m:
                    names.add(m.group(0))
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", default=os.path.join(HERE, "prometheus", "alerts.yml"))
    ap.add_argument("--dashboard", default=os.path.join(HERE, "grafana", "pyxis.json"))
    ap.add_argument("--list", action="store_true", help="print the names used and exit")
    ap.add_argument("scrapes", nargs="*", help="files holding Prometheus text scrapes")
    a = ap.parse_args()

    used = used_names(a.rules, a.dashboard)
    if a.list or not a.scrapes:
        print("\n".join(used))
        return 0
    present = scraped_names(a.scrapes)
    present_bases = present | {strip_histogram(n) for n in present}
    missing = [n for n in used if n not in present_bases]
    if missing:
        print(f"{len(missing)} of {len(used)} metric names used by the rules and the dashboard "
              f"are in no scrape ({', '.join(a.scrapes)}):", file=sys.stderr)
        for n in missing:
            print(f"  {n}", file=sys.stderr)
        return 1
    print(f"all {len(used)} metric names used by the rules and the dashboard are in the scrape(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
