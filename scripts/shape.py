#!/usr/bin/env python3
"""Measures the shape of the `shared` crate: the module import graph and its circles, the longest
functions, and lines per module. Used for issue notes before and after a restructure.

    python3 scripts/shape.py [crate_src_dir]   (default shared/src)
"""
import os
import re
import sys
from collections import defaultdict

ROOT = sys.argv[1] if len(sys.argv) > 1 else "shared/src"


def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return parts[0] if parts else "lib"


def strip_tests(text):
    """Drops `#[cfg(test)] mod tests { ... }` blocks: test code may reach anywhere."""
    m = re.search(r"#\[cfg\(test\)\]\s*mod \w+\s*\{", text)
    return text[: m.start()] if m else text


files = []
for d, _, fs in os.walk(ROOT):
    for f in fs:
        if f.endswith(".rs"):
            files.append(os.path.join(d, f))

modules = {module_of(p) for p in files}
edges = defaultdict(set)
lines = defaultdict(int)
functions = []
for p in sorted(files):
    text = open(p).read()
    mod = module_of(p)
    lines[mod] += text.count("\n")
    body = strip_tests(text)
    # `use crate::x`, `crate::x::`, and grouped `use crate::{a, b::c}`
    for m in re.finditer(r"crate::(\w+)", body):
        if m.group(1) in modules and m.group(1) != mod:
            edges[mod].add(m.group(1))
    for m in re.finditer(r"use crate::\{([^;]*)\};", body, re.S):
        for name in re.findall(r"(?:^|[,{\s])(\w+)(?:::|\s*[,}]|$)", m.group(1)):
            if name in modules and name != mod:
                edges[mod].add(name)
    # function lengths: from the `fn` line to the closing brace at the same indent
    src = text.split("\n")
    for i, line in enumerate(src):
        fm = re.match(r"^(\s*)(?:pub(?:\([^)]*\))? )?(?:async )?(?:const )?fn (\w+)", line)
        if not fm:
            continue
        indent = fm.group(1)
        for j in range(i, len(src)):
            if src[j] == indent + "}" or (j == i and line.rstrip().endswith("}")):
                functions.append((j - i + 1, f"{os.path.relpath(p, ROOT)}:{i + 1} {fm.group(2)}"))
                break

# strongly connected components (Tarjan)
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
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
            sccs.append(sorted(comp))


sys.setrecursionlimit(10000)
for v in sorted(modules):
    if v not in index:
        visit(v)

print("## module imports (non-test code)")
for m in sorted(modules):
    print(f"- {m} -> {', '.join(sorted(edges[m])) or '(nothing)'}")
print()
print("## circles")
print("\n".join(f"- {' <-> '.join(c)}" for c in sccs) or "none")
print()
print("## ten longest functions")
for n, name in sorted(functions, reverse=True)[:10]:
    print(f"- {n:4d} {name}")
print(f"\nfunctions over 80 lines: {sum(1 for n, _ in functions if n > 80)}")
print()
print("## lines per module")
for m, n in sorted(lines.items(), key=lambda x: -x[1]):
    print(f"- {m}: {n}")
print(f"- total: {sum(lines.values())}")
