#!/usr/bin/env python3
"""Layer checker for the domain core's module graph (the top-level modules of shared/src).

The rule: flatten LAYERS below, bottom first; a module may refer only to modules that come
EARLIER in that order. Within a layer a module may use the ones listed before it (`clients`
may use `contacts`), never one listed after it nor one in a higher layer. Tests count too: a
`#[cfg(test)]` reference that reaches up is a violation all the same (printed with "(test)").

A reference is any path naming another top-level module, once comments and string and char
literals are blanked out: `use crate::x::…` (also `pub use`, `pub(crate) use` and nested groups
`use crate::{x::{a, b}, y}`, each leaf on its own), inline `crate::x::f()` anywhere in code,
`$crate::x` in macro bodies, `crm_shared::x` and `::crm_shared::x`, `super::…` resolved from
the file's module path (an inline `mod m { … }` adds a level), names lib.rs brings to the crate
root (`crate::Caller` is `access`, `crate::pagination` is `store`; read from lib.rs's `use`
items), and `#[macro_export]` macros (`m!`, `crate::m!`, `$crate::m!`), which are references to
the module defining them. `self::` is local; lib.rs is the crate root, not a layer. Not
modelled: `#[path]`, `#[macro_use]` textual macro scope, glob re-exports in lib.rs (a
`crate::Name` that cannot be resolved is printed as a note).

Placing a new top-level module (an unplaced module is an error, as is an entry naming no
module): put it in the lowest layer above every module it uses, after the modules of its own
layer that it uses. If a module below it needs it, there is a cycle to break, not a row to add.
Layer numbers in the output are indexes into LAYERS (0 is the bottom).

usage: python3 infra/layers.py [--src shared/src]   exit 1: upward reference, cycle, unplaced
       python3 infra/layers.py --self-test          plants upward references in a copy
"""
import argparse, bisect, os, re, shutil, sys, tempfile

LAYERS = [
    ["values", "telemetry", "sdk_client"],
    ["errors"],
    ["access", "store"],
    ["directory", "custom_fields", "idempotency", "jobs", "quotas"],
    ["audit", "settings", "lead_sources"],
    ["records"],
    ["contacts", "clients", "deals", "activities", "outreach"],
    ["catalog"],
    ["leads", "links", "imports", "exports", "email", "inbox", "workflows", "privacy"],
    ["config", "aws_policy", "deps"],
]
ORDER = [m for layer in LAYERS for m in layer]
RANK = {m: i for i, m in enumerate(ORDER)}
LAYER_OF = {m: n for n, layer in enumerate(LAYERS) for m in layer}
DEFAULT_SRC = os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared", "src"))
ROOTS = ("crate", "$crate", "crm_shared")
LEX = re.compile(r"""//|/\*|'|(?<!\w)(?:[bc]?r(#*)|[bc])?"|\"""")  # starts of comments and literals
TOKEN = re.compile(r"\$crate|r#[A-Za-z_]\w*|[A-Za-z_]\w*|\d\w*|::|\S")


def strip_code(text):
    """Comments and string/char literals blanked; newlines kept, so offsets and lines hold."""
    out, n, i = list(text), len(text), 0
    while m := LEX.search(text, i):
        i, tok = m.start(), m.group()
        if tok == "//":
            j = n if text.find("\n", i) < 0 else text.find("\n", i)
        elif tok == "/*":  # block comments nest
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j): depth += 1; j += 2
                elif text.startswith("*/", j): depth -= 1; j += 2
                else: j += 1
        elif tok == "'":  # a char literal ('x', '\'', '\u{41}'), or a lifetime/label left alone
            if text.startswith("\\", i + 1): j = text.find("'", i + 3) + 1 or n
            elif i + 2 < n and text[i + 2] == "'" and text[i + 1] != "\n": j = i + 3
            else: i += 1; continue
        elif m.group(1) is not None:  # raw string r#"…"#: ends at a quote and as many #
            end = text.find('"' + m.group(1), m.end())
            j = n if end < 0 else end + 1 + len(m.group(1))
        else:
            j = m.end()
            while j < n and text[j] != '"': j += 2 if text[j] == "\\" else 1
            j += 1
        out[i:j] = [c if c == "\n" else " " for c in text[i:j]]
        i = j
    return "".join(out)


class File:
    """One .rs file: its module path, its tokens (code only), inline mods and test spans."""

    def __init__(self, src, rel, text):
        self.rel, self.path, self.text = rel, os.path.join(src, rel), text
        parts = rel[:-3].split(os.sep)
        self.mod = [] if parts in (["lib"], ["main"]) else parts[:-1] if parts[-1] == "mod" else parts
        self.nl = [m.start() for m in re.finditer("\n", text)]
        self.toks = [(m.group().removeprefix("r#"), m.start()) for m in TOKEN.finditer(strip_code(text))]
        self.match, stack = {}, []  # index of "{" -> index of its "}"
        for k, (t, _) in enumerate(self.toks):
            if t == "{": stack.append(k)
            elif t == "}" and stack: self.match[stack.pop()] = k
        self.scopes, self.test_spans, self.test_mods = [], [], []  # scopes: inline `mod name {…}`
        for k, (t, _) in enumerate(self.toks):
            if t == "mod" and self.tok(k + 2) == "{":
                self.scopes.append((k + 2, self.match.get(k + 2, len(self.toks)), self.tok(k + 1)))
            if t == "#" and self.cfg_test_at(k):
                self.mark_test(k, inner=self.tok(k + 1) == "!")

    def cfg_test_at(self, k):  # `#[cfg(test)]`, `#![cfg(test)]` or `#[cfg(all(test, …))]`
        j = k + 1 + (self.tok(k + 1) == "!")
        words = [self.tok(x) for x in range(j, j + 6)]
        return words[:5] == ["[", "cfg", "(", "test", ")"] or words == ["[", "cfg", "(", "all", "(", "test"]

    def tok(self, k):
        return self.toks[k][0] if 0 <= k < len(self.toks) else ""

    def mark_test(self, k, inner):
        if inner:  # #![cfg(test)]: the enclosing inline mod, or the whole file
            spans = [s[:2] for s in self.scopes if s[0] < k < s[1]] or [(0, len(self.toks))]
            self.test_spans.append(spans[-1]); return
        j, depth = k, 0
        while j < len(self.toks):  # the item after the attributes: up to its `;` or `{ … }`
            t = self.toks[j][0]
            depth += (t in "([") - (t in ")]")
            if depth == 0 and t == ";":
                if self.tok(j - 2) == "mod": self.test_mods.append(self.path_at(j) + [self.tok(j - 1)])
                break
            if depth == 0 and t == "{": j = self.match.get(j, len(self.toks)); break
            j += 1
        self.test_spans.append((k, j))

    def attrs_before(self, k):
        """Tokens of the outer attributes right before token k (`#[a] #[b(c)] item`)."""
        j, words = k - 1, []
        while self.tok(j) == "]":
            i, depth = j, 0
            while i > 0 and (depth := depth + (self.tok(i) == "]") - (self.tok(i) == "[")): i -= 1
            words += [t for t, _ in self.toks[i:j]]; j = i - 2
        return words

    def path_at(self, k):
        return self.mod + [name for a, b, name in self.scopes if a < k < b]

    def line_of(self, k):
        return bisect.bisect_left(self.nl, self.toks[k][1]) + 1

    def use_tree(self, k, prefix=()):
        """The leaves of the path or use tree at token k, [(segment, token index)…] each."""
        segs, leaves = list(prefix), []
        while k < len(self.toks):
            t = self.toks[k][0]
            if t == "{":
                end, k = self.match.get(k, len(self.toks)), k + 1
                while k < end:
                    sub, nxt = self.use_tree(k, segs)
                    leaves += sub
                    k = max(nxt, k + 1); k += self.tok(k) == ","
                return leaves, end + 1
            if t == "*": segs.append((t, k)); k += 1; break
            if not (t[:1].isalpha() or t[:1] == "_" or t == "$crate"): break
            segs.append((t, k)); k += 1
            if self.tok(k) == "as": k += 2  # `x as y`: the path is still x's
            if self.tok(k) != "::": break
            k += 1
        return leaves + ([segs] if len(segs) > len(prefix) else []), k


PARSED = {}  # (path, text) -> File: the self-test re-reads mostly unchanged files


def load(src):
    files = []
    for dp, dns, fns in os.walk(src):
        dns.sort()
        for path in (os.path.join(dp, f) for f in sorted(fns) if f.endswith(".rs")):
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            if (path, text) not in PARSED:
                PARSED[path, text] = File(src, os.path.relpath(path, src), text)
            files.append(PARSED[path, text])
    return files


def resolve(f, segs, modules, aliases):
    """(top-level module a path names, token index to report); (None, None) when local."""
    base, i = ([], 1) if segs[0][0] in ROOTS else (f.path_at(segs[0][1]), 0)
    while i < len(segs) and segs[i][0] in ("self", "super") and (base or segs[i][0] == "self"):
        base = base[:-1] if segs[i][0] == "super" else base; i += 1
    if base: return base[0], segs[min(i, len(segs) - 1)][1]
    if i >= len(segs) or segs[i][0] in ("self", "super"): return None, None
    name, at = segs[i]
    return (name if name in modules else aliases.get(name)), at  # None: noted, not checked


def sccs(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, out = {}, {}, [], []

    def visit(v):
        index[v] = low[v] = len(index); stack.append(v)
        for w in sorted(edges[v]):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in stack: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = stack[stack.index(v):]; del stack[stack.index(v):]
            if len(comp) > 1: out.append(comp)

    for v in sorted(edges):
        if v not in index: visit(v)
    return out


def check(src):
    """(report lines, failed) for the crate at src."""
    files = load(src)
    lib = next((f for f in files if f.rel == "lib.rs"), None)
    modules, aliases, macros = {f.mod[0] for f in files if f.mod}, {}, {}
    for k, (t, _) in enumerate(lib.toks if lib else []):  # lib.rs: `mod x;` and its `use` items
        if t == "mod" and lib.tok(k + 2) == ";" and not any(a <= k <= b for a, b in lib.test_spans):
            modules.add(lib.tok(k + 1))
        if t == "use" and lib.tok(k - 1) != "::":
            for segs in lib.use_tree(k + 1)[0]:
                names = [s for s, _ in segs if s not in ("crate", "self", "::")]
                after = segs[-1][1] + 1
                alias = lib.tok(after + 1) if lib.tok(after) == "as" else segs[-1][0]
                if names and alias not in ("*", "self"): aliases[alias] = names[0]
    for f in files:
        for k, (t, _) in enumerate(f.toks):
            if t == "macro_rules" and f.tok(k + 1) == "!" and f.mod and "macro_export" in f.attrs_before(k):
                macros[f.tok(k + 2)] = f.mod[0]
    for _ in range(3):  # an alias of an alias
        aliases = {a: m if m in modules else aliases.get(m, m) for a, m in aliases.items()}
    aliases = {**macros, **{a: m for a, m in aliases.items() if m in modules}}
    test_mods = [p for f in files for p in f.test_mods]

    refs, notes = [], []  # refs: (file, token index, target module, path text)
    for f in (f for f in files if f.mod):
        k = 0
        while k < len(f.toks):
            t, start = f.tok(k), None
            if t == "::" and f.tok(k + 1) == "crm_shared" and f.tok(k + 2) == "::": start = k + 1
            elif t in ROOTS + ("super", "self") and f.tok(k + 1) == "::" and f.tok(k - 1) != "::": start = k
            elif t in macros and f.tok(k + 1) == "!" and f.tok(k + 2) in "([{" and f.tok(k - 1) not in ("::", "!"):
                refs.append((f, k, macros[t], t + "!"))
            if start is None: k += 1; continue
            leaves, nxt = f.use_tree(start)
            for segs in leaves:
                target, at = resolve(f, segs, modules, aliases)
                text = "::".join(s for s, _ in segs)
                if target: refs.append((f, at, target, text))
                elif at is not None:
                    notes.append(f"note: {os.path.relpath(f.path)}:{f.line_of(at)}: {text} names no module nor "
                                 "lib.rs re-export (not checked)")
            k = max(nxt, k + 1)

    out, seen, edges = [], set(), {m: set() for m in modules}
    unplaced, stale = sorted(modules - set(ORDER)), sorted(set(ORDER) - modules)
    out += [f"error: module `{m}` is not in LAYERS (infra/layers.py): place it in a layer" for m in unplaced]
    out += [f"error: LAYERS names `{m}`, which is not a module of {src}" for m in stale]
    for f, at, target, text in refs:
        me, line_no = f.mod[0], f.line_of(at)
        if target == me: continue
        edges[me].add(target)
        if me not in RANK or target not in RANK or RANK[target] < RANK[me] or (f.path, line_no, target) in seen:
            continue
        seen.add((f.path, line_no, target))  # one report per line and target
        test = any(a <= at <= b for a, b in f.test_spans) or any(f.mod[:len(p)] == p for p in test_mods)
        line = f.text.split("\n")[line_no - 1].strip()
        shown = line if text in line or re.search(rf"\b{target}\b", line) else f"{line}  [{text}]"
        out.append(f"{os.path.relpath(f.path)}:{line_no}: {me} (layer {LAYER_OF[me]}) uses {target} "
                   f"(layer {LAYER_OF[target]}): {shown}" + ("  (test)" if test else ""))
    cycles = sccs(edges)
    out += ["error: cycle among modules: " + " ↔ ".join(sorted(c, key=lambda m: RANK.get(m, 99))) for c in cycles]
    failed = bool(seen or cycles or unplaced or stale)
    chain = " → ".join(", ".join(layer) for layer in LAYERS)
    return out + notes + [f"layers: FAILED: {len(seen)} upward reference(s), {len(cycles)} cycle(s), "
                          f"{len(unplaced)} unplaced module(s)" if failed else
                          f"layers: {len(modules)} modules, 0 upward references ({chain})"], failed


# ---- self-test: (what, file it goes in, code, module it must be reported as using, helpers) ----
UPPER_MACRO = ("privacy.rs", "#[macro_export]\nmacro_rules! planted_upper {\n    () => {};\n}")
CASES = [
    ("use crate::records", "values/mod.rs", "use crate::records::Records;", "records", []),
    ("grouped use crate::{values, store::{…}}", "errors.rs",
     "use crate::{values::Timestamp, store::{cursor::Cursor, Item}};", "store", []),
    ("inline crate::audit path in an expression", "errors.rs",
     "fn planted() -> usize {\n    1 + crate::audit::planted_count()\n}", "audit", []),
    ("use super::access from a top-level module file", "errors.rs", "use super::access::Caller;", "access", []),
    ("pub(crate) use super::{…} from a top-level module file", "errors.rs",
     "pub(crate) use super::{values::Timestamp, settings::Settings};", "settings", []),
    ("super::super::super::workflows from a nested inline mod", "values/text.rs",
     "mod planted {\n    fn f() {\n        super::super::super::workflows::run();\n    }\n}", "workflows", []),
    ("use super::super::idempotency in an inline mod", "errors.rs",
     "mod planted {\n    use super::super::idempotency::Key;\n}", "idempotency", []),
    ("lib.rs alias crate::Caller", "values/mod.rs", "fn planted(_: &crate::Caller) {}", "access", []),
    ("lib.rs alias crate::pagination", "values/mod.rs",
     "fn planted() -> crate::pagination::Page<u8> {\n    todo!()\n}", "store", []),
    ("pub use re-export", "errors.rs", "pub use crate::directory::Directory as PlantedDirectory;", "directory", []),
    ("$crate path in a macro_rules body", "errors.rs",
     "#[macro_export]\nmacro_rules! planted_macro {\n    () => { $crate::catalog::Catalog::default() };\n}", "catalog", []),
    ("bare call of a #[macro_export] macro of privacy", "values/mod.rs",
     "fn planted() {\n    planted_upper!();\n}", "privacy", [UPPER_MACRO]),
    ("crate:: call of a #[macro_export] macro of privacy", "errors.rs",
     "fn planted() {\n    crate::planted_upper!();\n}", "privacy", [UPPER_MACRO]),
    ("::crm_shared::imports path", "values/mod.rs", "fn planted() {\n    ::crm_shared::imports::planted();\n}", "imports", []),
    ("#[cfg(test)] use crate::contacts", "values/money.rs",
     "#[cfg(test)]\nmod planted_tests {\n    use crate::contacts::Contact;\n}", "contacts", []),
    ("crate::links after lifetimes and char literals", "values/mod.rs",
     "fn planted<'a>(x: &'a u8) -> u8 {\n    let (_q, _d, _s) = ('\\'', '\"', r#\"\"#);\n    crate::links::planted(x)\n}",
     "links", []),
]
VIOLATION = re.compile(r"^(.*):(\d+): (\w+) \(layer \d+\) uses (\w+) \(layer \d+\): (.*)$")


def disguises(code):
    """The same code where it must NOT count: comments, a doc comment, string literals."""
    esc, lines = code.replace("\\", "\\\\").replace('"', '\\"'), code.split("\n")
    return {"// comment": "\n".join("// " + l for l in lines),
            "/// doc comment": "\n".join("/// " + l for l in lines) + "\nfn planted_doc() {}",
            "/* nested /* block */ comment */": "/* outer /* nested */\n" + code + "\n*/",
            '"string"': f'const _PLANTED: &str = "{esc}";',
            'r##"raw string"##': f'const _PLANTED: &str = r##"{code}"##;'}


def self_test(src):
    bad = 0

    def say(ok, msg):
        nonlocal bad
        bad += not ok
        print(("ok  " if ok else "BAD ") + msg)

    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "src")
        shutil.copytree(src, copy)
        baseline, failed = check(copy)  # the cases count only what they add to it
        say(not failed, "unmodified copy of shared/src → passes" + ("" if not failed else ":\n    " + "\n    ".join(baseline)))
        baseline = set(baseline)

        def planted(plants):
            saved = {}
            for rel, code in plants:
                path = os.path.join(copy, rel)
                before = open(path).read() if os.path.exists(path) else None
                saved.setdefault(path, before)
                with open(path, "w") as fh:
                    fh.write((before or "").rstrip("\n") + "\n\n" + code + "\n")
            try:
                lines, _ = check(copy)
                return [l for l in lines if l not in baseline and not l.startswith(("layers:", "note:"))]
            finally:
                for path, text in saved.items():
                    if text is None: os.remove(path)
                    else: open(path, "w").write(text)

        for what, rel, code, target, helpers in CASES:
            first = open(os.path.join(copy, rel)).read().rstrip("\n").count("\n") + 3
            lines = planted(helpers + [(rel, code)])
            hits = [m for m in map(VIOLATION.match, lines) if m and m.group(1).endswith(os.sep + rel) and
                    first <= int(m.group(2)) <= first + code.count("\n") and m.group(4) == target and
                    m.group(5).endswith("(test)") == ("cfg(test)" in what)]
            say(bool(hits), f"planted {what} in {rel} → " + ("refused: " + hits[0].group(0).split(copy + os.sep)[-1]
                                                             if hits else "NOT refused:\n    " + "\n    ".join(lines)))
            if what == "use crate::records":
                say(any("cycle" in l and "values" in l and "records" in l for l in lines), "values ↔ records reported as a cycle")
            wrong = [f"{how}:\n    " + "\n    ".join(lines) for how, text in disguises(code).items()
                     if (lines := planted(helpers + [(rel, text)]))]
            say(not wrong, "the same in comments and string literals → accepted" + "".join("; NOT in " + w for w in wrong))
        lines = planted([("planted_new.rs", "pub fn planted() {}")])
        say(any("`planted_new` is not in LAYERS" in l for l in lines), "unplaced module planted_new.rs → refused")
    print(f"layers self-test: {f'FAILED, {bad} case(s) misbehaved' if bad else 'every case behaved'}")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description="Check the layer order of shared/src (see the docstring).")
    ap.add_argument("--src", default=DEFAULT_SRC, help="the crate's src directory (default: shared/src)")
    ap.add_argument("--self-test", action="store_true", help="plant upward references in a copy: they must fail")
    args = ap.parse_args()
    if args.self_test: sys.exit(self_test(args.src))
    lines, failed = check(args.src)
    print("\n".join(lines))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
