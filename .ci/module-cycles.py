#!/usr/bin/env python3
"""Fails if a module of any crate imports a module that imports it back.

The graph is drawn between a crate's files (each file one module): an edge
a -> b wherever a's code names an item of b, through `use` or a path
(`crate::b::X`, `super::X`, `b::X` for a child module b). A name the crate
root re-exports (`pub use a::X;` in lib.rs) counts as a use of a, where it is
defined, not of the root (the same holds for every module's re-exports,
below). Inline `mod tests` blocks (they see their file's
items through `super::*`) and a file's own child modules declared with `mod`
are not uses. A re-export (`pub use child::X;`) is a door, not a use: a
path through it counts as a use of the module that defines X, and the
re-exporting module gains no edge from it. Every strongly connected set of more than one module is a
loop, and printed.

    .ci/module-cycles.py [crates/]      # exit 1 when a loop is found

A small script rather than `cargo modules` (which builds rust-analyzer, a
quarter of an hour on 2 cores); it reads paths, not types, so a use through
a glob or a macro it cannot see is missed, never invented.
"""

import re
import sys
from pathlib import Path


def strip(src: str) -> str:
    """Code without comments, strings or char literals (paths in them are not uses)."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if src.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif src.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', src[i:i + 10]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', src[i:]).group(1)
            end = src.find('"' + hashes, i + 2 + len(hashes))
            i = n if end < 0 else end + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and src[i] != '"':
                i += 2 if src[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", src[i:i + 12]):
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", src[i:])
            i += len(m.group(0)) if m else 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def drop_inline_test_modules(code: str) -> str:
    """Removes `mod NAME { ... }` bodies written inside the file (tests, mostly)."""
    out, i = [], 0
    for m in re.finditer(r"\bmod\s+\w+\s*\{", code):
        if m.start() < i:
            continue
        out.append(code[i:m.start()])
        depth, j = 0, m.end() - 1
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        i = j + 1
    out.append(code[i:])
    return "".join(out)


def expand_use(tree: str):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    m = re.match(r"^(.*?)\{(.*)\}$", tree)
    if not m:
        return [tree]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    return [p for part in parts if part for p in expand_use(prefix + part)]


class Crate:
    def __init__(self, src: Path):
        self.src = src
        self.files = {}  # module path (tuple) -> Path
        root = src / "lib.rs"
        if not root.exists():
            root = src / "main.rs"
        self.root = root
        self.walk((), root)
        self.codes = {m: drop_inline_test_modules(strip(p.read_text())) for m, p in self.files.items()}
        self.reexports = self.all_reexports()

    def walk(self, module, path: Path):
        self.files[module] = path
        code = drop_inline_test_modules(strip(path.read_text()))
        base = path.parent if path.name in ("lib.rs", "main.rs", "mod.rs") else path.parent / path.stem
        for m in re.finditer(r'(#\[path\s*=\s*""\]\s*)?\b(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;', code):
            name = m.group(2)
            for child in (base / f"{name}.rs", base / name / "mod.rs"):
                if child.exists():
                    self.walk(module + (name,), child)
                    break

    def children(self, module):
        return {m[-1] for m in self.files if len(m) == len(module) + 1 and m[: len(module)] == module}

    def all_reexports(self):
        """Per module, the names it re-exports: name -> absolute path of where they come from."""
        out = {}
        for module, code in self.codes.items():
            names = {}
            for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", code):
                for p in expand_use(m.group(1)):
                    alias = p.split(" as ")[-1] if " as " in p else None
                    segs = [s for s in p.split(" as ")[0].split("::") if s]
                    if not segs or segs[-1] in ("*", "self"):
                        continue
                    absolute = self.absolute(module, segs)
                    if absolute:
                        names[alias or segs[-1]] = absolute
            out[module] = names
        return out

    def absolute(self, module, segs):
        """A path as seen from `module`, made absolute within the crate, or None (another crate)."""
        head = segs[0]
        if head == "crate":
            return tuple(segs[1:])
        if head == "self":
            return module + tuple(segs[1:])
        if head == "super":
            up = module
            while segs and segs[0] == "super":
                up, segs = up[:-1], segs[1:]
            return up + tuple(segs)
        if head in self.children(module):
            return module + tuple(segs)
        return None

    def target(self, absolute):
        """The file module a path lands in: its longest prefix that is a file,
        followed through re-exports to the module that defines the item."""
        for _ in range(16):
            cut = max(c for c in range(len(absolute) + 1) if absolute[:c] in self.files)
            module, rest = absolute[:cut], absolute[cut:]
            if rest and rest[0] in self.reexports.get(module, {}):
                absolute = self.reexports[module][rest[0]] + rest[1:]
                continue
            return module
        return module

    def edges(self):
        graph = {m: set() for m in self.files}
        for module, code in self.codes.items():
            paths = []
            for m in re.finditer(r"(\bpub(?:\([^)]*\))?\s+)?\buse\s+([^;]+);", code):
                if not m.group(1):
                    paths += expand_use(m.group(2))
            without_uses = re.sub(r"\buse\s+[^;]+;", "", code)
            paths += re.findall(r"\b((?:crate|super|self|[a-z_][a-z0-9_]*)(?:::[A-Za-z_][A-Za-z0-9_]*)+)", without_uses)
            for p in paths:
                segs = [s.split(" as ")[0] for s in p.replace(" as", " as").split("::") if s and s != "*"]
                if not segs:
                    continue
                absolute = self.absolute(module, segs)
                if absolute is None:
                    continue
                t = self.target(absolute)
                if t != module and not (t == module[: len(t)] and t == ()):
                    graph[module].add(t)
        return graph


def loops(graph):
    """Tarjan's strongly connected components of more than one node."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def name(crate, module):
    return str(crate.files[module].relative_to(crate.src.parent.parent))


def main():
    top = Path(sys.argv[1] if len(sys.argv) > 1 else "crates")
    found = 0
    for src in sorted(top.glob("*/src")):
        crate = Crate(src)
        graph = crate.edges()
        for comp in loops(graph):
            found += 1
            members = set(comp)
            print(f"{src.parent.name}: a loop among {len(comp)} modules:")
            for m in sorted(comp):
                back = sorted(name(crate, t) for t in graph[m] if t in members)
                print(f"  {name(crate, m)} -> {', '.join(back)}")
    if found:
        print(f"{found} import loop(s): move what both sides need into a module of its own")
        return 1
    print("no module imports a module that imports it back")
    return 0


if __name__ == "__main__":
    sys.exit(main())
