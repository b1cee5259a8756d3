#!/usr/bin/env python3
"""The shape of the `shared` and `functions` crates, file by file (SPEC §9.6): the module import
graph and its circles, function lengths and lines of code per module. Test code is left out
(`#[cfg(test)]` items, the files they declare, files under `tests/`).

    python3 scripts/shape.py              report, for issue notes
    python3 scripts/shape.py --check      fail (exit 1) naming what breaks a rule; run by the suite
    python3 scripts/shape.py --self-test  check the checker on a small fixture

The rules: no circle among modules, each `.rs` file being one; no function over 80 lines (its `fn`
line to its closing brace); no module over 600 lines of code (not blank, not comment).

An edge A -> B is A's non-test code naming B: `use crate::…`, a `crate::a::b::x` path, `super::…`,
`self::…`, a child module by its name, or the other crate (`roster_shared::…`). A path goes to the
deepest file it names (`crate::joining::filing::x` is joining/filing.rs, `crate::joining::x` is
joining/mod.rs), so a parent re-exporting its child (`pub use child::x`) depends on it, while merely
declaring it (`mod child;`) does not.
"""
import os
import re
import sys
import tempfile
from collections import defaultdict

MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600

# name, source directory, the name other crates use for it
CRATES = [("shared", "shared/src", "roster_shared"), ("functions", "functions/src", "roster_functions")]


# ----------------------------------------------------------------------------- lexing

RAW_STRING = re.compile(r'b?r(#*)"')


def sanitize(text):
    """The text with comments blanked and literal contents replaced by `x`, same length and lines,
    so braces, paths and `fn` found in it are code."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a, b, fill):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = fill

    while i < n:
        c = text[i]
        prev = text[i - 1] if i else " "
        if c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j, " ")
            i = j
        elif c == "/" and text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j, " ")
            i = j
        elif c in "rb" and not (prev.isalnum() or prev == "_") and RAW_STRING.match(text, i):
            m = RAW_STRING.match(text, i)
            end = text.find('"' + m.group(1), m.end())
            end = n if end < 0 else end
            blank(m.end(), end, "x")
            i = end + 1 + len(m.group(1))
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, min(j, n), "x")
            i = j + 1
        elif c == "'":
            # a char literal ('a', '\n', '\u{1F600}', b'x'); otherwise a lifetime or label
            if text.startswith("\\", i + 1):
                j = text.find("'", i + 3)
            elif i + 2 < n and text[i + 2] == "'":
                j = i + 2
            else:
                j = -1
            if j > 0:
                blank(i + 1, j, "x")
                i = j + 1
            else:
                i += 1
        else:
            i += 1
    return "".join(out)


def matching(code, open_at):
    """Index of the brace closing the one at `open_at`."""
    depth = 0
    for k in range(open_at, len(code)):
        if code[k] == "{":
            depth += 1
        elif code[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(code) - 1


def item_end(code, start):
    """End (exclusive) of the item starting at `start`: its `;` or its `{ … }` block."""
    depth = 0
    for k in range(start, len(code)):
        ch = code[k]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == ";" and depth == 0:
            return k + 1
        elif ch == "{" and depth == 0:
            return matching(code, k) + 1
    return len(code)


TEST_ATTR = re.compile(r"#\[cfg\((?:test|all\(test\b[^\]]*)\)\]")
ATTR = re.compile(r"\s*#\[[^\]]*\]")
MOD_DECL = re.compile(r"(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;")


def without_tests(code):
    """The code with `#[cfg(test)]` items blanked, and the names of modules declared for tests."""
    out = list(code)
    test_mods = []
    for m in TEST_ATTR.finditer(code):
        start = m.end()
        while ATTR.match(code, start):
            start = ATTR.match(code, start).end()
        end = item_end(code, start)
        decl = MOD_DECL.match(code[start:end].strip())
        if decl:
            test_mods.append(decl.group(1))
        for k in range(m.start(), end):
            if out[k] != "\n":
                out[k] = " "
    return "".join(out), test_mods


# ----------------------------------------------------------------------------- files and modules


class Module:
    def __init__(self, crate, path, mod_path, root):
        self.crate, self.path, self.mod_path, self.root = crate, path, mod_path, root
        text = open(path, encoding="utf-8").read()
        self.code, self.test_mods = without_tests(sanitize(text))
        self.children = [m.group(1) for m in re.finditer(r"(?<![\w:])" + MOD_DECL.pattern, self.code)]
        self.lines = self.code.split("\n")

    @property
    def loc(self):
        return sum(1 for line in self.lines if line.strip())

    def line_of(self, offset):
        return self.code.count("\n", 0, offset) + 1

    def inline_mods(self):
        """(start, end, name) of the inline `mod name { … }` blocks left in non-test code."""
        for m in re.finditer(r"(?<![\w:])(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{", self.code):
            yield m.end() - 1, matching(self.code, m.end() - 1), m.group(1)


def module_files(src, crate, external):
    """The crate's modules by (root, module path); each binary under src/bin is a root of its own."""
    found = {}
    for d, _, fs in os.walk(src):
        for f in sorted(fs):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(d, f)
            parts = os.path.relpath(path, src)[:-3].split(os.sep)
            if "tests" in parts[:-1]:
                continue
            if parts[0] == "bin":
                root, mod_path = f"{crate}/bin/{parts[1]}", tuple(parts[2:])
                if mod_path and mod_path[-1] == "main":
                    mod_path = mod_path[:-1]
            else:
                root, mod_path = crate, tuple(parts)
                if mod_path[-1] in ("mod", "lib"):
                    mod_path = mod_path[:-1]
            found[(root, mod_path)] = Module(crate, path, mod_path, root)
    # files declared only for tests are test code
    for (root, mod_path), module in list(found.items()):
        for name in module.test_mods:
            found.pop((root, mod_path + (name,)), None)
    return found


# ----------------------------------------------------------------------------- paths and edges

USE = re.compile(r"(?<![\w:])use\s+([^;]+);")
PATH_ROOTS = {"crate", "super", "self"}


def use_paths(tree, prefix=()):
    """The full paths of a use tree: `a::{b, c::{d, e as f}, self, *}`."""
    tree = tree.strip()
    brace = tree.find("{")
    if brace < 0:
        path = [s.strip() for s in re.sub(r"\s+as\s+\w+$", "", tree).split("::") if s.strip()]
        path = [s for s in path if s != "*"]
        if path == ["self"] and prefix:
            path = []
        return [prefix + tuple(path)]
    head = [s.strip() for s in tree[:brace].split("::") if s.strip()]
    inner, depth, parts, start = tree[brace + 1 : tree.rfind("}")], 0, [], 0
    for k, ch in enumerate(inner):
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            parts.append(inner[start:k])
            start = k + 1
    parts.append(inner[start:])
    paths = []
    for part in parts:
        if part.strip():
            paths += use_paths(part, prefix + tuple(head))
    return paths


class Graph:
    def __init__(self, crates):
        self.modules = {}
        self.crate_alias = {}  # (root crate, first segment) -> crate it names
        self.externs = {}
        for crate, src, external in crates:
            self.modules.update(module_files(src, crate, external))
            self.externs[external] = crate
        for crate, src, external in crates:
            lib = self.modules.get((crate, ()))
            if lib:
                for m in re.finditer(r"pub\s+use\s+(\w+)\s+as\s+(\w+)\s*;", lib.code):
                    if m.group(1) in self.externs:
                        self.crate_alias[(crate, m.group(2))] = self.externs[m.group(1)]
        self.edges = defaultdict(dict)  # module -> {module: (line, path text)}
        for module in self.modules.values():
            self._collect(module)

    def resolve(self, root, segments):
        """The deepest file `segments` (from the root of `root`) names."""
        segments = list(segments)
        while segments and (root, segments[0]) in self.crate_alias:
            root = self.crate_alias[(root, segments.pop(0))]
        for k in range(len(segments), -1, -1):
            hit = self.modules.get((root, tuple(segments[:k])))
            if hit:
                return hit
        return None

    def target(self, module, at, path):
        """The module the path at offset `at` of `module` names, or None (an external crate, std,
        a local item)."""
        scope = list(module.mod_path)
        for start, end, name in module.inline_mods():
            if start < at < end:
                scope.append(name)
        first, rest = path[0], list(path[1:])
        if first in self.externs:
            return self.resolve(self.externs[first], rest)
        if first == "crate":
            return self.resolve(module.root, rest)
        if first in ("super", "self"):
            segs = list(path)
            while segs and segs[0] in ("super", "self"):
                if segs.pop(0) == "super":
                    scope = scope[:-1]
            return self.resolve(module.root, scope + segs)
        if first in module.children and rest:
            return self.resolve(module.root, scope + list(path))
        return None

    def _collect(self, module):
        code = module.code
        uses = list(USE.finditer(code))
        for m in uses:
            for path in use_paths(m.group(1)):
                self._edge(module, m.start(), path, "use " + "::".join(path))
        masked = list(code)
        for m in uses:
            masked[m.start() : m.end()] = " " * (m.end() - m.start())
        masked = "".join(masked)
        roots = PATH_ROOTS | set(self.externs) | set(module.children)
        for m in re.finditer(r"(?<![\w:$.])(\$?crate|\w+)((?:\s*::\s*\w+)+)", masked):
            first = m.group(1).lstrip("$")
            if first not in roots:
                continue
            path = (first,) + tuple(s.strip() for s in m.group(2).split("::") if s.strip())
            self._edge(module, m.start(), path, "::".join(path))

    def _edge(self, module, at, path, text):
        if not path:
            return
        other = self.target(module, at, path)
        key = module.path
        if other is not None and other.path != key and other.path not in self.edges[key]:
            self.edges[key][other.path] = (module.line_of(at), text)

    def circles(self):
        """Strongly connected components of more than one module (Tarjan, iterative)."""
        index, low, on, stack, sccs, counter = {}, {}, set(), [], [], 0
        nodes = sorted(m.path for m in self.modules.values())
        for v0 in nodes:
            if v0 in index:
                continue
            work = [(v0, iter(sorted(self.edges[v0])))]
            index[v0] = low[v0] = counter
            counter += 1
            stack.append(v0)
            on.add(v0)
            while work:
                v, it = work[-1]
                for w in it:
                    if w not in index:
                        index[w] = low[w] = counter
                        counter += 1
                        stack.append(w)
                        on.add(w)
                        work.append((w, iter(sorted(self.edges[w]))))
                        break
                    if w in on:
                        low[v] = min(low[v], index[w])
                else:
                    work.pop()
                    if work:
                        low[work[-1][0]] = min(low[work[-1][0]], low[v])
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
        return sorted(sccs)

    def cycle_in(self, comp):
        """A shortest way round from the component's first module back to it."""
        start, members = comp[0], set(comp)
        prev, queue = {start: None}, [start]
        for v in queue:
            for w in sorted(self.edges[v]):
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return list(reversed(path)) + [start]
                if w in members and w not in prev:
                    prev[w] = v
                    queue.append(w)
        return comp

    def functions(self):
        """(lines, "file:line name") of every non-test function with a body."""
        found = []
        for module in self.modules.values():
            code = module.code
            for m in re.finditer(r"(?<![\w])fn\s+(\w+)", code):
                k, depth = m.end(), 0
                while k < len(code):
                    ch = code[k]
                    if ch in "([<":
                        depth += 1
                    elif ch in ")]>" and not (ch == ">" and code[k - 1] == "-"):
                        depth -= 1
                    elif ch == ";" and depth <= 0:
                        k = -1
                        break
                    elif ch == "{" and depth <= 0:
                        break
                    k += 1
                if k < 0 or k >= len(code):
                    continue
                first, last = module.line_of(m.start()), module.line_of(matching(code, k))
                found.append((last - first + 1, f"{module.path}:{first} {m.group(1)}"))
        return sorted(found, key=lambda f: (-f[0], f[1]))

    def sizes(self):
        return sorted(((m.loc, m.path) for m in self.modules.values()), key=lambda s: (-s[0], s[1]))


# ----------------------------------------------------------------------------- modes


def describe_circle(graph, comp):
    steps = graph.cycle_in(comp)
    lines = [f"circle of {len(comp)} modules: {', '.join(comp)}", "  for example:"]
    for a, b in zip(steps, steps[1:]):
        line, text = graph.edges[a][b]
        lines.append(f"    {a}:{line} `{text}` -> {b}")
    return "\n".join(lines)


def check(graph):
    problems = [describe_circle(graph, c) for c in graph.circles()]
    problems += [
        f"function over {MAX_FUNCTION_LINES} lines: {where} ({n} lines)"
        for n, where in graph.functions()
        if n > MAX_FUNCTION_LINES
    ]
    problems += [
        f"module over {MAX_MODULE_LINES} lines of code: {path} ({n})"
        for n, path in graph.sizes()
        if n > MAX_MODULE_LINES
    ]
    for p in problems:
        print(p)
    if problems:
        print(f"shape: {len(problems)} rule(s) broken (SPEC §9.6; python3 scripts/shape.py for the report)")
        return 1
    print("shape: no circle, no function over 80 lines, no module over 600 lines of code")
    return 0


def report(graph):
    circles = graph.circles()
    functions, sizes = graph.functions(), graph.sizes()
    print(f"## circles ({len(circles)})")
    print("\n".join(describe_circle(graph, c) for c in circles) or "none")
    print("\n## ten longest functions")
    for n, where in functions[:10]:
        print(f"- {n:4d} {where}")
    print(f"\nfunctions over {MAX_FUNCTION_LINES} lines: {sum(1 for n, _ in functions if n > MAX_FUNCTION_LINES)}")
    print("\n## ten largest modules (lines of code)")
    for n, path in sizes[:10]:
        print(f"- {n:4d} {path}")
    print(f"\nmodules over {MAX_MODULE_LINES} lines of code: {sum(1 for n, _ in sizes if n > MAX_MODULE_LINES)}")
    print(f"modules: {len(sizes)}, edges: {sum(len(e) for e in graph.edges.values())}, lines of code: {sum(n for n, _ in sizes)}")


FIXTURE = {
    "a/src/lib.rs": "pub mod p;\npub mod q;\npub mod leaf;\npub use leaf::X;\n",
    # a parent re-exporting a child that reaches back up: a circle
    "a/src/p/mod.rs": "mod child;\npub use child::run;\npub(crate) fn helper() {}\n",
    "a/src/p/child.rs": "pub fn run() { super::helper() }\n",
    # declaring is no edge; test code (inline or a file of its own) is left out
    "a/src/q/mod.rs": "mod inner;\n#[cfg(test)]\nmod tests;\n#[cfg(test)]\nmod more { use crate::q::inner::y; }\n",
    "a/src/q/inner.rs": (
        "use crate::leaf::{self, X};\n// crate::q::f in a comment\nconst S: &str = \"crate::q\";\n"
        "pub fn y() { let c = '{'; }\nfn long() {\n" + "    let _ = 1;\n" * 80 + "}\n"
    ),
    "a/src/q/tests.rs": "use crate::q::inner::y;\nfn t() {" + "\n" * 100 + "}\n",
    "a/src/leaf.rs": "pub struct X;\n" + "// comment\n\n" * 700 + "fn f<'a>(s: &'a str) -> &'a str { s }\n",
    "b/src/lib.rs": "pub use roster_a as a;\npub fn g() { crate::a::q::inner::y() }\n",
}


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in FIXTURE.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "w") as f:
                f.write(text)
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            g = Graph([("a", "a/src", "roster_a"), ("b", "b/src", "roster_b")])
        finally:
            os.chdir(cwd)
    edges = {a: sorted(b) for a, b in g.edges.items() if b}
    expect = {
        "a/src/lib.rs": ["a/src/leaf.rs"],
        "a/src/p/mod.rs": ["a/src/p/child.rs"],
        "a/src/p/child.rs": ["a/src/p/mod.rs"],
        "a/src/q/inner.rs": ["a/src/leaf.rs"],
        "b/src/lib.rs": ["a/src/lib.rs", "a/src/q/inner.rs"],
    }
    assert edges == expect, edges
    assert g.circles() == [["a/src/p/child.rs", "a/src/p/mod.rs"]], g.circles()
    long = [(n, w) for n, w in g.functions() if n > MAX_FUNCTION_LINES]
    assert long == [(82, "a/src/q/inner.rs:5 long")], long
    sizes = dict((p, n) for n, p in g.sizes())
    assert "a/src/q/tests.rs" not in sizes and sizes["a/src/leaf.rs"] == 2, sizes
    print("shape: self-test passed")
    return 0


def main(args):
    if "--self-test" in args:
        return self_test()
    graph = Graph(CRATES)
    return check(graph) if "--check" in args else report(graph) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
