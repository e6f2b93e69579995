#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The `use crate::...` graph of the kernel module (rust/), file by file, and its cycles.

Nodes are files (rust/foo.rs is `foo`, rust/foo/mod.rs is `foo`, rust/foo/bar.rs is
`foo::bar`; rust/rsvm.rs is the crate root, `crate`). An edge A -> B means A names an item of
B: through `use crate::...`, `use super::...`, `use child::...` (a child module of A), or a
`crate::`/`super::`/`child::` path in code (comments and strings are skipped). `mod x;` declarations are not edges.

A parent module and a direct child of it that name each other (Rust's usual "the child uses
its parent's types, the parent uses the child's") are treated as one node: such a pair alone
is not a cycle, but a cycle that leaves the pair and comes back is (`vm -> vcpu` and
`vcpu::state -> vm` make one while `vcpu` and `vcpu::state` name each other). The crate
root is left out of that rule: every top-level module is its child, and the root only wires
them up, so edges to and from the root are listed but not used for cycles.

Usage: scripts/modgraph.py [rust-dir]   (prints the graph, then the cycles; exit 1 if any)
"""
import os
import re
import sys


def module_of(root, path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel == ["rsvm"]:
        return "crate"
    if rel[-1] == "mod":
        rel = rel[:-1]
    return "::".join(rel)


def strip(src):
    # Comments (line and block) and string/char literals out, keeping line structure.
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    src = re.sub(r"//[^\n]*", "", src)
    src = re.sub(r'b?"(?:\\.|[^"\\])*"', '""', src, flags=re.S)
    src = re.sub(r"'(?:\\.|[^'\\])'", "' '", src)
    return src


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def rec(prefix, s):
        i = s.find("{")
        if i < 0:
            for part in split_top(s):
                out.append(prefix + part)
            return
        head = s[:i]
        body = s[i + 1 : s.rfind("}")]
        for part in split_top(body):
            rec(prefix + head, part)

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            parts.append(cur)
        return parts

    # Split the top level first (`use a::{x}, b;` is rare but legal).
    depth, cur, tops = 0, "", []
    for ch in tree:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        cur += ch
    tops.append(cur)
    for t in tops:
        rec("", t)
    return [re.sub(r"as\w+$", "", p) for p in out]


def resolve(mod, path, modules):
    """The module (file) a `crate::`/`super::`/`self::` path lands in, or None."""
    segs = [s for s in path.split("::") if s]
    if not segs:
        return None
    if segs[0] == "crate":
        base = []
        segs = segs[1:]
    elif segs[0] in ("super", "self"):
        base = [] if mod == "crate" else mod.split("::")
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    else:
        return None
    # Longest prefix that is a module file.
    cand = base + segs
    for n in range(len(cand), len(base) - 1, -1):
        name = "::".join(cand[:n]) or "crate"
        if name in modules:
            return name
    return "::".join(base) or "crate"


def graph(root):
    files = []
    for d, _, fs in os.walk(root):
        files += [os.path.join(d, f) for f in fs if f.endswith(".rs")]
    modules = {module_of(root, f): f for f in files}
    edges = {m: set() for m in modules}
    children = {}
    for m in modules:
        if m != "crate":
            children.setdefault(parent(m), set()).add(m.rsplit("::", 1)[-1])
    for m, f in modules.items():
        src = strip(open(f, encoding="utf-8").read())
        paths = []
        kids = children.get(m, set())
        for u in re.finditer(r"\buse\s+([^;]*);", src):
            for p in expand_use(u.group(1)):
                first = p.split("::")[0]
                if first in ("crate", "super", "self"):
                    paths.append(p)
                elif first in kids:
                    paths.append("self::" + p)
        body = re.sub(r"\buse\s+[^;]*;", "", src)
        paths += re.findall(r"\b(?:crate|super)(?:::\w+)+", body)
        for k in kids:
            paths += ["self::" + p for p in re.findall(rf"(?<![\w:]){k}(?:::\w+)+", body)]
        for p in paths:
            t = resolve(m, p, modules)
            if t and t != m and t in modules:
                edges[m].add(t)
    return modules, edges


def parent(m):
    return "crate" if "::" not in m else m.rsplit("::", 1)[0]


def cycles(edges):
    # Union parent/child pairs that import each other (not the root), then Tarjan's SCCs on
    # the quotient.
    rep = {m: m for m in edges}

    def find(x):
        while rep[x] != x:
            rep[x] = rep[rep[x]]
            x = rep[x]
        return x

    for a, bs in edges.items():
        for b in bs:
            if "crate" in (a, b):
                continue
            if (parent(b) == a or parent(a) == b) and a in edges[b]:
                rep[find(a)] = find(b)
    q = {}
    for a, bs in edges.items():
        if a == "crate":
            continue
        for b in bs:
            if b != "crate" and find(a) != find(b):
                q.setdefault(find(a), set()).add(find(b))
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in q.get(v, ()):
            if w not in index:
                strong(w)
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

    for v in sorted({find(m) for m in edges if m != "crate"}):
        if v not in index:
            strong(v)
    groups = {}
    for m in edges:
        groups.setdefault(find(m), []).append(m)
    return [sorted(m for c in comp for m in groups[c]) for comp in out], groups


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "rust")
    _, edges = graph(root)
    for m in sorted(edges):
        if edges[m]:
            print(f"{m} -> {', '.join(sorted(edges[m]))}")
    cyc, groups = cycles(edges)
    merged = [sorted(g) for g in groups.values() if len(g) > 1]
    for g in sorted(merged):
        print(f"one node (parent/child pairs): {', '.join(g)}")
    if not cyc:
        print("cycles: none")
        return 0
    across = 0
    for c in cyc:
        # A cycle whose modules all sit under one directory module is that module's own
        # business (its mod.rs types used by its children); one across modules is layering.
        common = os.path.commonprefix([m.split("::") for m in c])
        if common and c[0] != "crate":
            print(f"cycle inside {'::'.join(common)}: {', '.join(c)}")
        else:
            print(f"cycle: {', '.join(c)}")
            across += 1
    if not across:
        print("cycles across modules: none")
    return 1 if across else 0


if __name__ == "__main__":
    sys.exit(main())
