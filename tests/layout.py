#!/usr/bin/env python3
"""The shape of the tree, checked: `make lint` and `make test` run it.

1. The cores are independent: a file under src/headers/, src/relay/ or src/window/ names no
   other core (crate::relay, crate::window, ...). Only src/engine/ joins two of them, and
   src/ffi/ (the C ABI) reaches all.
2. No import loops: among the files of src/, no two files reach each other through `use`
   statements or `crate::`/`super::` paths (directly or around a loop). A `mod.rs` (or
   `lib.rs`) is a module's facade: its `mod` lines and `pub use` re-exports are not imports,
   and a child that uses an item the facade re-exports imports the file that defines it.
3. No file over 800 lines, outside tests (`*_test.go`, `tests.rs`, `*_tests.rs`, tests/),
   the generated header and fuzz corpora.

Prints what breaks a rule and exits 1; prints a one-line summary and exits 0 otherwise.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORES = ("headers", "relay", "window")
MAX_LINES = 800

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments(text):
    """Drop // and /* */ comments and the contents of string literals (keeps line count)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == '"' and not re.match(r"b?r#*\"", text[max(0, i - 3):i + 1]):
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            j = text.find("'", i + 1 + (text[i + 1] == "\\"))
            out.append("' '")
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Module:
    """A Rust module backed by a file: its path segments and what its facade re-exports."""

    def __init__(self, segs, path):
        self.segs = segs
        self.path = path
        self.children = {}  # name -> Module
        self.reexports = {}  # name -> (child module name, original name)


def load_modules():
    mods = {}

    def load(segs, path):
        m = Module(segs, path)
        mods[tuple(segs)] = m
        text = strip_comments(open(path, encoding="utf-8").read())
        base = os.path.dirname(path)
        is_facade = os.path.basename(path) in ("mod.rs", "lib.rs")
        for name in re.findall(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+(" + IDENT + r")\s*;", text, re.M):
            if is_facade:
                cand = [os.path.join(base, name + ".rs"), os.path.join(base, name, "mod.rs")]
            else:
                stem = os.path.splitext(path)[0]
                cand = [os.path.join(stem, name + ".rs"), os.path.join(stem, name, "mod.rs")]
            # #[path] attributes are not used in this crate.
            for c in cand:
                if os.path.exists(c):
                    m.children[name] = load(segs + [name], c)
                    break
        for body in re.findall(r"pub(?:\([a-z]+\))?\s+use\s+([^;]+);", text):
            for child, orig, alias in expand_use(body.strip()):
                parts = child.split("::")
                if parts[0] in ("self",):
                    parts = parts[1:]
                if parts and parts[0] not in ("crate", "super", "std", "core", "alloc"):
                    m.reexports[alias] = (parts, orig)
        return m

    load(["crate"], os.path.join(ROOT, "src", "lib.rs"))
    return mods


def expand_use(body):
    """`a::{b, c::{d as e}}` -> [("a", "b", "b"), ("a::c", "d", "e")] (prefix, name, alias)."""
    body = re.sub(r"\s+", "", body)
    out = []

    def walk(prefix, s):
        if s.endswith("}") and "{" in s:
            head, inner = s.split("{", 1)
            inner = inner[:-1]
            head = head.rstrip(":")
            pre = (prefix + "::" + head) if prefix and head else (prefix or head)
            depth, start = 0, 0
            for i, ch in enumerate(inner + ","):
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                elif ch == "," and depth == 0:
                    part = inner[start:i]
                    if part:
                        walk(pre, part)
                    start = i + 1
            return
        name, alias = (s.split("as", 1) if re.match(r".*[A-Za-z0-9_]as[A-Za-z_]", s) and "as" in s else (s, None))
        if alias is not None and not re.fullmatch(IDENT, alias):
            name, alias = s, None
        path = (prefix + "::" + name) if prefix else name
        parts = path.split("::")
        out.append(("::".join(parts[:-1]), parts[-1], alias or parts[-1]))

    walk("", body)
    return out


def resolve(mods, from_segs, path):
    """The file a path (`super::parse::Kind`, `crate::headers::Config`) lands in, or None."""
    parts = path.split("::")
    if parts[0] == "crate":
        segs, parts = ["crate"], parts[1:]
    elif parts[0] in ("super", "self"):
        segs = list(from_segs)
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                segs = segs[:-1]
            parts = parts[1:]
    else:
        return None
    m = mods.get(tuple(segs))
    if m is None:
        return None
    for i, p in enumerate(parts):
        if p in m.children:
            m = m.children[p]
            continue
        if p in m.reexports:
            child, orig = m.reexports[p]
            target = resolve(mods, m.segs, "::".join(["self"] + child + [orig]))
            return target or m.path
        return m.path
    return m.path


def file_modules(mods):
    return {m.path: m for m in mods.values()}


def imports_of(mods, m):
    """Files a file imports: its `use` paths and its inline `crate::`/`super::` paths."""
    text = strip_comments(open(m.path, encoding="utf-8").read())
    # Drop #[cfg(test)] modules: test code may reach anywhere in its own file's module.
    text = re.sub(r"#\[cfg\(test\)\]\s*(pub(\([a-z]+\))?\s+)?mod\s+" + IDENT + r"\s*;", "", text)
    out = set()
    is_facade = os.path.basename(m.path) in ("mod.rs", "lib.rs")
    # Walk inline `mod x { ... }` blocks so `super::` inside them resolves correctly.
    stack = [(list(m.segs), 0)]  # (module segs, brace depth where it closes)
    depth = 0
    i = 0
    token = re.compile(
        r"(#\[cfg\(test\)\]\s*)?(?:pub(?:\([a-z]+\))?\s+)?mod\s+(" + IDENT + r")\s*\{"
        r"|(pub(?:\([a-z]+\))?\s+)?use\s+([^;]+);"
        r"|\b((?:crate|super)(?:::" + IDENT + r")+)"
        r"|\{|\}"
    )
    skip_until = None
    for t in token.finditer(text):
        s = t.group(0)
        if skip_until is not None:
            if s.endswith("{"):
                depth += 1
            elif s == "}":
                depth -= 1
                if depth == skip_until:
                    skip_until = None
            continue
        if t.group(2):  # inline mod
            depth += 1
            if t.group(1):
                skip_until = depth - 1
                continue
            stack.append((stack[-1][0] + [t.group(2)], depth - 1))
        elif s.endswith("{") and not t.group(4):
            depth += 1
        elif s == "}":
            depth -= 1
            if len(stack) > 1 and depth == stack[-1][1]:
                stack.pop()
        elif t.group(4) is not None:
            if is_facade and t.group(3):
                continue  # a facade's re-export
            segs = stack[-1][0]
            for prefix, name, _ in expand_use(t.group(4).strip()):
                p = prefix + "::" + name if prefix else name
                if not p.startswith(("crate", "super", "self")):
                    continue
                if p.startswith("self::") and len(stack) == 1:
                    p = p[len("self::"):]
                    if not p.startswith(("crate", "super")):
                        first = p.split("::")[0]
                        if first in m.children:
                            p = "self::" + p
                        else:
                            continue
                f = resolve_inline(mods, segs, p, len(stack) - 1)
                if f:
                    out.add(f)
        elif t.group(5):
            f = resolve_inline(mods, stack[-1][0], t.group(5), len(stack) - 1)
            if f:
                out.add(f)
    out.discard(m.path)
    return out


def resolve_inline(mods, segs, path, inline_depth):
    # Inside inline modules, `super` first climbs out of them (back into the same file).
    parts = path.split("::")
    while inline_depth and parts and parts[0] == "super":
        parts = parts[1:]
        segs = segs[:-1]
        inline_depth -= 1
    if inline_depth:
        segs = segs[: len(segs) - inline_depth]
        if parts and parts[0] not in ("crate", "super", "self"):
            return None
    if not parts:
        return None
    if parts[0] not in ("crate", "super", "self"):
        parts = ["self"] + parts
    return resolve(mods, segs, "::".join(parts))


def rel(p):
    return os.path.relpath(p, ROOT)


def check_rust(problems):
    mods = load_modules()
    files = file_modules(mods)
    graph = {}
    for path, m in files.items():
        graph[path] = imports_of(mods, m)

    # 1. Cores are independent.
    for path, targets in graph.items():
        r = rel(path).split(os.sep)
        if len(r) >= 2 and r[0] == "src" and r[1] in CORES:
            for t in targets:
                tr = rel(t).split(os.sep)
                if len(tr) >= 2 and tr[1] != r[1] and tr[1] not in ("lib.rs", "heap.rs", "sys"):
                    problems.append(f"core {r[1]} imports another part of the crate: {rel(path)} -> {rel(t)}")

    # 2. No loops (facades' own imports are not edges).
    edges = {p: {t for t in ts if os.path.basename(t) not in ("lib.rs",)}
             for p, ts in graph.items() if os.path.basename(p) not in ("mod.rs", "lib.rs")}
    index, low, on, st, sccs, counter = {}, {}, set(), [], [], [0]

    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        st.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = st.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    for comp in sccs:
        problems.append("import loop: " + " <-> ".join(rel(c) for c in comp))
    return len(files), sum(len(v) for v in graph.values())


def check_sizes(problems):
    n = 0
    for top in ("src", "go", "examples", "benches", "fuzz/bodies", "fuzz/fuzz_targets"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = [d for d in dirnames if d not in ("target", "testdata", "corpus", "seeds")]
            for f in filenames:
                if not f.endswith((".rs", ".go", ".c", ".h", ".py")):
                    continue
                if f.endswith("_test.go") or f in ("tests.rs",) or f.endswith("_tests.rs"):
                    continue
                p = os.path.join(dirpath, f)
                with open(p, encoding="utf-8", errors="replace") as fh:
                    lines = sum(1 for _ in fh)
                n += 1
                if lines > MAX_LINES:
                    problems.append(f"file over {MAX_LINES} lines: {rel(p)} ({lines})")
    return n


def main():
    problems = []
    nfiles, nedges = check_rust(problems)
    nsized = check_sizes(problems)
    if problems:
        for p in problems:
            print("layout:", p)
        sys.exit(1)
    print(f"layout: {nfiles} Rust files, {nedges} imports, no loops, cores independent; "
          f"{nsized} source files, none over {MAX_LINES} lines")


if __name__ == "__main__":
    main()
