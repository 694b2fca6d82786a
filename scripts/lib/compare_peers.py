#!/usr/bin/env python3
"""Side-by-side measurement of pgdiplomat, squawk and eugene on migration directories.

Driven by scripts/compare-peers (which installs the tools and builds pgdiplomat). Subcommands:

  run OUT NAME=DIR[:LAYOUT]...   lint every directory with every tool, write OUT/*.tsv, OUT/summary.json
  sample OUT N [SEED]            write OUT/sample.tsv: N statement×category disagreements to judge
  report OUT [JUDGED_TSV]        write OUT/report.md (tables, precision/recall on the judged rows)

Units. A *statement* is what PostgreSQL's parser (pgdiplomat explain) finds in a file. Each
finding of each tool is placed on the statement whose start is the last one at or before the
finding's position, and its rule id is mapped to a common *category* (CATEGORIES below). A
*verdict key* is (project, file, sha1 of the whitespace-collapsed statement text, category), so
judgements survive reruns, line shifts and changes of what the tools report.
"""
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict

TOOLS = ["pgd-dir", "pgd-file", "squawk", "eugene"]
COMPARED = ["pgd-file", "squawk", "eugene"]  # the three per-file views that disagreements compare

CATEGORIES = [
    "index-not-concurrent",
    "validating-constraint",
    "add-column-rewrite",
    "type-change",
    "not-null",
    "rename",
    "drop",
    "unique-pk-index",
    "lock-timeout",
    "transaction",
    "other",
    "style/info",
    "parse-failure",
]
# Categories a disagreement sample is drawn from (style is not about locks; parse failures are
# counted separately).
HAZARD_CATEGORIES = [c for c in CATEGORIES if c not in ("style/info", "parse-failure")]

# rule id -> category. Unknown ids fall to "other" and are listed in the report so this map can
# be completed.
RULE_CATEGORY = {
    # pgdiplomat
    "require-concurrent-index-creation": "index-not-concurrent",
    "require-concurrent-index-deletion": "index-not-concurrent",
    "require-concurrent-reindex": "index-not-concurrent",
    "foreign-key-without-not-valid": "validating-constraint",
    "check-without-not-valid": "validating-constraint",
    "validate-in-same-transaction": "validating-constraint",
    "add-column-volatile-default": "add-column-rewrite",
    "add-column-rewrites-table": "add-column-rewrite",
    "add-column-not-null-without-default": "not-null",
    "alter-column-type-rewrites-table": "type-change",
    "rewrites-table": "type-change",
    "set-not-null-scans-table": "not-null",
    "breaking-rename": "rename",
    "breaking-drop": "drop",
    "unique-constraint-builds-index": "unique-pk-index",
    "missing-lock-timeout": "lock-timeout",
    "concurrently-in-transaction": "transaction",
    "slow-work-while-holding-lock": "transaction",
    "statement-timeout-before-concurrently": "transaction",
    "concurrent-index-if-not-exists": "other",
    "whole-table-update": "other",
    "cascade-reach-unknown": "drop",
    "statement-will-fail": "other",
    "unsupported-on-version": "other",
    "unmodelled-statement": "style/info",
    "psql-meta-command": "style/info",
    "unknown-placeholder": "style/info",
    "invalid-directive": "style/info",
    "syntax-error": "parse-failure",
    # squawk
    "require-concurrent-index-creation": "index-not-concurrent",
    "require-concurrent-index-deletion": "index-not-concurrent",
    "adding-foreign-key-constraint": "validating-constraint",
    "constraint-missing-not-valid": "validating-constraint",
    "ban-alter-domain-with-add-constraint": "validating-constraint",
    "ban-create-domain-with-constraint": "validating-constraint",
    "adding-field-with-default": "add-column-rewrite",
    "adding-serial-primary-key-field": "unique-pk-index",
    "adding-not-nullable-field": "not-null",
    "adding-required-field": "not-null",
    "changing-column-type": "type-change",
    "renaming-column": "rename",
    "renaming-table": "rename",
    "ban-drop-column": "drop",
    "ban-drop-table": "drop",
    "ban-drop-database": "drop",
    "ban-drop-not-null": "other",
    "ban-drop-constraint": "drop",
    "ban-drop-view": "drop",
    "ban-drop-function": "drop",
    "ban-drop-default": "other",
    "ban-drop-type": "drop",
    "ban-drop-extension": "drop",
    "ban-drop-sequence": "drop",
    "ban-drop-schema": "drop",
    "renaming-object": "rename",
    "identifier-too-long": "style/info",
    "ban-truncate-cascade": "drop",
    "disallowed-unique-constraint": "unique-pk-index",
    "adding-primary-key-constraint": "unique-pk-index",
    "require-lock-timeout": "lock-timeout",
    "require-statement-timeout": "lock-timeout",
    "require-timeout-settings": "lock-timeout",
    "ban-concurrent-index-creation-in-transaction": "transaction",
    "transaction-nesting": "transaction",
    "ban-uncommitted-transaction": "transaction",
    "prefer-robust-stmts": "style/info",
    "prefer-big-int": "style/info",
    "prefer-bigint-over-int": "style/info",
    "prefer-bigint-over-smallint": "style/info",
    "prefer-identity": "style/info",
    "prefer-text-field": "style/info",
    "prefer-timestamptz": "style/info",
    "prefer-timestamp-tz": "style/info",
    "ban-char-field": "style/info",
    "require-table-schema": "style/info",
    "ban-alter-enum-add-value": "other",
    "require-enum-value-ordering": "style/info",
    # eugene (ids E1..E11, W12..W14; its JSON also carries a name)
    "E1": "validating-constraint",   # validating constraint added (no NOT VALID)
    "E2": "not-null",                # SET NOT NULL validates the table
    "E3": "other",                   # json column (no equality operator)
    "E4": "transaction",             # more statements after taking ACCESS EXCLUSIVE
    "E5": "type-change",             # column type change that rewrites
    "E6": "index-not-concurrent",    # CREATE INDEX without CONCURRENTLY
    "E7": "unique-pk-index",         # UNIQUE/PRIMARY KEY constraint builds index
    "E8": "other",                   # exclusion constraint
    "E9": "lock-timeout",            # lock taken without lock_timeout
    "E10": "add-column-rewrite",     # rewrite while holding ACCESS EXCLUSIVE
    "E11": "add-column-rewrite",     # ADD COLUMN with SERIAL / stored GENERATED
    "W12": "transaction",            # several ALTER TABLE on one table
    "W13": "style/info",                  # enum created
    "W14": "unique-pk-index",        # ADD PRIMARY KEY USING INDEX (NOT NULL check)
}


LAYOUTS = ["plain", "flyway", "golang-migrate", "sqlx", "dbmate", "diesel", "prisma", "alembic", "goose"]


def category(rule):
    return RULE_CATEGORY.get(rule, "other")


def norm_sql(sql):
    """Whitespace collapsed, -- comments dropped (a '--' inside a string literal is rare in DDL)."""
    return re.sub(r"\s+", " ", re.sub(r"--[^\n]*", "", sql)).strip()


def sha(sql):
    return hashlib.sha1(norm_sql(sql).encode()).hexdigest()[:12]


def excerpt(sql, n=240):
    s = norm_sql(sql)
    return s if len(s) <= n else s[: n - 1] + "…"


def tsv_cell(s):
    return str(s).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def write_tsv(path, header, rows):
    with open(path, "w") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(tsv_cell(c) for c in r) + "\n")


def read_tsv(path):
    with open(path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]
    header = lines[0].split("\t")
    return [dict(zip(header, l.split("\t"))) for l in lines[1:]]


# --------------------------------------------------------------------------------------------
# What each migration tool runs


def detect_layout(d):
    names = []
    for root, _, files in os.walk(d):
        names += [os.path.join(root, f) for f in files]
    base = [os.path.basename(n) for n in names]
    if any(b == "up.sql" for b in base):
        return "diesel"
    if any(b == "migration.sql" for b in base):
        return "prisma"
    if any(re.match(r"^[VR]\d*.*__.*\.sql$", b) for b in base):
        return "flyway"
    sqls = [n for n in names if n.endswith(".sql")]
    if sqls and any("+goose Up" in open(n, errors="replace").read(4000) for n in sqls[:50]):
        return "goose"
    if sqls and any("migrate:up" in open(n, errors="replace").read(4000) for n in sqls[:50]):
        return "dbmate"
    if any(b.endswith(".up.sql") for b in base):
        return "golang-migrate"
    return "plain"


def blank(text):
    """Same length, same line breaks, nothing to lint."""
    return re.sub(r"[^\n]", " ", text)


def view_of(layout, text):
    """The text the migration tool sends for the *up* direction, same length and lines where
    possible, and whether the tool wraps it in a transaction. None = the file as it is."""
    if layout == "goose":
        m = re.search(r"^--\s*\+goose\s+Down\b.*$", text, re.M | re.I)
        up = text if not m else text[: m.start()] + blank(text[m.start():])
        if re.search(r"^--\s*\+goose\s+NO\s+TRANSACTION", text, re.M | re.I):
            return up, False
        # goose runs the Up section between BEGIN and COMMIT: say so in the text, so that every
        # tool (none of them knows goose) sees the transaction. "-- +goose Up" is 12 characters.
        u = re.search(r"^--\s*\+goose\s+Up\b", up, re.M | re.I)
        if u:
            marker = up[u.start(): u.end()]
            up = up[: u.start()] + "BEGIN;".ljust(len(marker)) + up[u.end():]
        else:
            up = "BEGIN; " + up
        # A ";" first: goose sends a StatementBegin/End block as it is, a last statement without
        # its semicolon included.
        return up.rstrip() + "\n;COMMIT;\n", False
    if layout == "dbmate":
        m = re.search(r"^--\s*migrate:down\b.*$", text, re.M)
        up = text if not m else text[: m.start()] + blank(text[m.start():])
        notx = re.search(r"^--\s*migrate:up\b.*transaction:false", text, re.M)
        return up, not notx
    return None, None


def in_transaction(layout, path, text):
    """Whether the migration tool runs the file inside one transaction (implicit or not)."""
    if layout == "diesel":
        meta = os.path.join(os.path.dirname(path), "metadata.toml")
        if os.path.exists(meta) and re.search(r"run_in_transaction\s*=\s*false", open(meta).read()):
            return False
        return True
    if layout == "sqlx":
        return not text.lstrip().startswith("-- no-transaction")
    if layout == "flyway":
        conf = path + ".conf"
        if os.path.exists(conf) and re.search(r"executeInTransaction\s*=\s*false", open(conf).read()):
            return False
        return True
    if layout in ("prisma", "golang-migrate"):
        # One multi-statement query: PostgreSQL runs it as one implicit transaction.
        return True
    return False


# --------------------------------------------------------------------------------------------
# Running the tools


def timed(argv, **kw):
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    return p, time.perf_counter() - t


def run_project(out, name, d, layout, bins):
    d = os.path.abspath(d)
    layout = layout or detect_layout(d)
    pgd, squawk, eugene = bins["pgdiplomat"], bins["squawk"], bins["eugene"]
    pgd_layout = {"goose": "plain"}.get(layout, layout)
    res = {"project": name, "dir": d, "layout": layout, "tools": {}}

    # 1. The files the migration tool runs, in its order: what pgdiplomat's directory mode lints.
    #    Goose is not a pgdiplomat layout: every tool gets a view of each file without its Down
    #    section and with goose's BEGIN/COMMIT. dbmate: pgdiplomat reads the sections itself, the
    #    peers get the up section only.
    work = os.path.join(out, "work", name)
    lint_dir = d
    if layout == "goose":
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(d, work)
        for root, _, files in os.walk(work):
            for f in files:
                if f.endswith(".sql"):
                    p = os.path.join(root, f)
                    v, _ = view_of(layout, open(p, errors="replace").read())
                    open(p, "w").write(v)
        lint_dir = work
    argv = [pgd, "lint", "--no-config", "--format", "json", "--fail-on", "never", "--color", "never",
            "--layout", pgd_layout, lint_dir]
    p, t_dir = timed(argv)
    if p.returncode not in (0, 1):
        print(f"  pgdiplomat (directory) exit {p.returncode}: {p.stderr[:400]}", file=sys.stderr)
        return None
    dir_doc = json.loads(p.stdout)
    files = []  # (rel, path linted by pgdiplomat, path the peers lint, in_txn)
    for f in dir_doc["files"]:
        path = f["path"] if os.path.isabs(f["path"]) else os.path.abspath(f["path"])
        rel = os.path.relpath(path, lint_dir)
        orig = os.path.join(d, rel)
        text = open(orig, errors="replace").read()
        v, tx = view_of(layout, text)
        peer_path = path
        if layout == "dbmate" and v is not None:
            peer_path = os.path.join(work, rel)
            os.makedirs(os.path.dirname(peer_path), exist_ok=True)
            open(peer_path, "w").write(v)
        if tx is None:
            tx = in_transaction(layout, orig, text)
        files.append((rel, path, peer_path, tx))
    by_path = {fp: rel for rel, fp, _, _ in files}
    by_peer = {pp: rel for rel, _, pp, _ in files}

    # 2. Statements of every file (PostgreSQL's parser, through pgdiplomat explain).
    stmts = {}
    for rel, path, _, _ in files:
        p, _ = timed([pgd, "explain", "--no-config", "--format", "json", path])
        try:
            doc = json.loads(p.stdout)
            stmts[rel] = [(s["line"], s["column"], s["sql"]) for s in doc.get("statements", [])]
        except (json.JSONDecodeError, KeyError):
            stmts[rel] = []  # a syntax error: no statements

    def place(rel, line, col):
        """Index of the statement holding (line, col), 1-based line and column."""
        ss = stmts.get(rel) or []
        idx = 0
        for i, (l, c, _) in enumerate(ss):
            if (l, c) <= (line, col):
                idx = i
            else:
                break
        return idx

    findings = []  # (tool, rel, stmt_idx, rule, line, message)

    def add(tool, rel, line, col, rule, msg):
        findings.append((tool, rel, place(rel, line, col), rule, line, msg))

    parse_fail = defaultdict(set)
    for f in dir_doc["files"]:
        path = f["path"] if os.path.isabs(f["path"]) else os.path.abspath(f["path"])
        rel = by_path.get(path, os.path.relpath(path, lint_dir))
        for x in f["findings"]:
            add("pgd-dir", rel, x["line"], x["column"], x["rule"], x["message"])
            if x["rule"] == "syntax-error":
                parse_fail["pgd-dir"].add(rel)
    res["tools"]["pgd-dir"] = {"seconds": t_dir}

    # 3. pgdiplomat, each file alone (what the peers see: no knowledge of earlier files).
    t_file = 0.0
    for rel, path, _, _ in files:
        p, t = timed([pgd, "lint", "--no-config", "--format", "json", "--fail-on", "never",
                      "--color", "never", "--layout", pgd_layout, path])
        t_file += t
        if p.returncode not in (0, 1):
            print(f"  pgdiplomat {rel}: exit {p.returncode}: {p.stderr[:200]}", file=sys.stderr)
            parse_fail["pgd-file"].add(rel)
            continue
        for f in json.loads(p.stdout)["files"]:
            for x in f["findings"]:
                add("pgd-file", rel, x["line"], x["column"], x["rule"], x["message"])
                if x["rule"] == "syntax-error":
                    parse_fail["pgd-file"].add(rel)
    res["tools"]["pgd-file"] = {"seconds": t_file}

    # 4. squawk, on the files the tool runs; --assume-in-transaction for those it wraps.
    t_sq = 0.0
    for tx in (True, False):
        batch = [pp for _, _, pp, t in files if t == tx]
        for k in range(0, len(batch), 400):
            argv = [squawk, "--reporter", "json", "--pg-version", "17"]
            if tx:
                argv.append("--assume-in-transaction")
            p, t = timed(argv + batch[k: k + 400])
            t_sq += t
            try:
                doc = json.loads(p.stdout or "[]")
            except json.JSONDecodeError:
                print(f"  squawk: unreadable output (exit {p.returncode}): {p.stderr[:300]}", file=sys.stderr)
                continue
            for x in doc:
                fp = x["file"] if os.path.isabs(x["file"]) else os.path.abspath(x["file"])
                rel = by_peer.get(fp)
                if rel is None:
                    continue
                add("squawk", rel, x["line"] + 1, x["column"] + 1, x["rule_name"], x["message"])
                if x["rule_name"] == "syntax-error":
                    parse_fail["squawk"].add(rel)
    res["tools"]["squawk"] = {"seconds": t_sq}

    # 5. eugene lint, file by file (it reads transactions from the text; a file the tool wraps in
    #    a transaction is passed as such with --assume-in-transaction where eugene has it).
    t_eu = 0.0
    eu_stmts = 0
    for rel, _, pp, tx in files:
        argv = [eugene, "lint", "--accept-failures", "--format", "json"]
        p, t = timed(argv + [pp])
        t_eu += t
        try:
            doc = json.loads(p.stdout)
        except json.JSONDecodeError:
            parse_fail["eugene"].add(rel)
            continue
        ours = [norm_sql(x[2]).rstrip(";").strip() for x in stmts.get(rel) or []]
        nxt = 0
        for s in doc.get("statements", []):
            eu_stmts += 1
            # Place by statement text (eugene's line_number is the line of the statement's
            # first token; two statements can share a line), else by its line.
            text = norm_sql(s.get("sql", "")).rstrip(";").strip()
            idx = next((i for i in range(nxt, len(ours)) if ours[i] == text), None)
            for h in s.get("triggered_rules", []):
                if idx is not None:
                    findings.append(("eugene", rel, idx, h.get("id", "?"), s.get("line_number") or 1, h.get("name", "")))
                else:
                    add("eugene", rel, s.get("line_number") or 1, 1, h.get("id", "?"), h.get("name", ""))
            if idx is not None:
                nxt = idx + 1
    res["tools"]["eugene"] = {"seconds": t_eu, "statements_reported": eu_stmts}

    # Totals per tool.
    n_stmts = {rel: len(ss) for rel, ss in stmts.items()}
    for tool in TOOLS:
        ok = [rel for rel, *_ in files if rel not in parse_fail[tool]]
        cats = Counter(category(r) for tl, _, _, r, _, _ in findings if tl == tool)
        rules = Counter(r for tl, _, _, r, _, _ in findings if tl == tool)
        res["tools"][tool].update({
            "files": len(files),
            "statements": sum(n_stmts.get(r, 0) for r in ok),
            "parse_failures": len(parse_fail[tool]),
            "parse_failed_files": sorted(parse_fail[tool]),
            "categories": dict(cats),
            "rules": dict(rules),
        })
    res["statements"] = sum(n_stmts.values())

    stmt_rows = []
    for rel, ss in stmts.items():
        for i, (l, c, sql) in enumerate(ss):
            stmt_rows.append((name, rel, i, l, sha(sql), excerpt(sql, 400)))
    find_rows = []
    for tool, rel, i, rule, line, msg in findings:
        ss = stmts.get(rel) or []
        h = sha(ss[i][2]) if i < len(ss) else ""
        find_rows.append((name, rel, i, h, tool, rule, category(rule), line, msg[:200]))
    return res, stmt_rows, find_rows


def cmd_run(out, specs, bins):
    os.makedirs(out, exist_ok=True)
    results, all_stmts, all_finds = [], [], []
    for spec in specs:
        name, _, rest = spec.partition("=")
        d, layout = rest, ""
        head, _, tail = rest.rpartition(":")
        if head and tail in LAYOUTS:
            d, layout = head, tail
        if not os.path.isdir(d):
            print(f"compare-peers: {name}: {d} is not here, skipped", file=sys.stderr)
            continue
        print(f"compare-peers: {name} ({d})", file=sys.stderr)
        r = run_project(out, name, d, layout or None, bins)
        if r is None:
            continue
        res, s, f = r
        results.append(res)
        all_stmts += s
        all_finds += f
        t = res["tools"]
        print("  layout %s, %d files, %d statements; findings: %s" % (
            res["layout"], t["pgd-dir"]["files"], res["statements"],
            ", ".join(f"{k} {sum(t[k]['categories'].values())}" for k in TOOLS)), file=sys.stderr)
    write_tsv(os.path.join(out, "statements.tsv"), ["project", "file", "stmt", "line", "sha", "sql"], all_stmts)
    write_tsv(os.path.join(out, "findings.tsv"),
              ["project", "file", "stmt", "sha", "tool", "rule", "category", "line", "message"], all_finds)
    versions = {}
    for k, b in bins.items():
        try:
            versions[k] = subprocess.run([b, "--version"], capture_output=True, text=True).stdout.strip()
        except OSError:
            versions[k] = "?"
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"versions": versions, "projects": results}, f, indent=1)


# --------------------------------------------------------------------------------------------
# Disagreements, sample, report


def load(out):
    summary = json.load(open(os.path.join(out, "summary.json")))
    stmts = {(r["project"], r["file"], int(r["stmt"])): r for r in read_tsv(os.path.join(out, "statements.tsv"))}
    units_all = defaultdict(lambda: {"tools": set(), "rules": defaultdict(set)})
    for r in read_tsv(os.path.join(out, "findings.tsv")):
        u = units_all[(r["project"], r["file"], int(r["stmt"]), r["category"])]
        u["tools"].add(r["tool"])
        u["rules"][r["tool"]].add(r["rule"])
    # squawk's require-lock-timeout is said once per file, at the first statement that needs it
    # (setting lock_timeout at the top of the file answers it for the whole file): it counts as
    # agreeing with every later lock-timeout finding of another tool in that file.
    first = {}
    for (project, file, i, cat), u in units_all.items():
        if cat == "lock-timeout" and "squawk" in u["tools"]:
            first[(project, file)] = min(i, first.get((project, file), i))
    for (project, file, i, cat), u in units_all.items():
        if cat == "lock-timeout" and "squawk" not in u["tools"] and i > first.get((project, file), 1 << 30):
            u["tools"].add("squawk")
            u["rules"]["squawk"].add("require-lock-timeout(file)")
    units = {k: u for k, u in units_all.items() if k[3] in HAZARD_CATEGORIES}
    failed = {(p["project"], t): set(p["tools"][t]["parse_failed_files"]) for p in summary["projects"] for t in TOOLS}
    return summary, stmts, units, failed, units_all


def unit_key(stmts, k):
    project, file, i, cat = k
    s = stmts.get((project, file, i))
    return (project, file, s["sha"] if s else "", cat)


def disagreements(stmts, units, failed):
    out = []
    for k, u in units.items():
        project, file = k[0], k[1]
        parsed = [t for t in COMPARED if file not in failed.get((project, t), set())]
        flagged = [t for t in parsed if t in u["tools"]]
        if 0 < len(flagged) < len(parsed):
            out.append(k)
    return sorted(out)


def cmd_sample(out, n, seed):
    summary, stmts, units, failed, units_all = load(out)
    dis = disagreements(stmts, units, failed)
    rnd = random.Random(seed)
    # Round-robin over (category, which tools flagged) so every kind of disagreement is seen,
    # and over projects within each kind.
    groups = defaultdict(list)
    for k in dis:
        groups[(k[3], tuple(sorted(t for t in COMPARED if t in units[k]["tools"])))].append(k)
    for g in groups.values():
        rnd.shuffle(g)
    picked, order = [], sorted(groups)
    while len(picked) < n and any(groups.values()):
        for g in order:
            if groups[g] and len(picked) < n:
                picked.append(groups[g].pop())
    rows = []
    for k in picked:
        project, file, i, cat = k
        s = stmts.get((project, file, i), {})
        u = units[k]
        rows.append([project, file, s.get("sha", ""), cat, s.get("line", ""), *("1" if t in u["tools"] else "0" for t in TOOLS),
                     "; ".join(f"{t}:{','.join(sorted(u['rules'][t]))}" for t in TOOLS if u["rules"][t]),
                     "", "", s.get("sql", "")])
    path = os.path.join(out, "sample.tsv")
    write_tsv(path, ["project", "file", "sha", "category", "line", *TOOLS, "rules", "verdict", "reason", "sql"], rows)
    print(f"{len(dis)} disagreements; {len(rows)} sampled into {path}", file=sys.stderr)


def md_table(header, rows):
    s = "| " + " | ".join(header) + " |\n|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|\n"
    for r in rows:
        s += "| " + " | ".join(str(c) for c in r) + " |\n"
    return s


def cmd_report(out, judged_path):
    summary, stmts, units, failed, units_all = load(out)
    projects = summary["projects"]
    md = []
    md.append("Versions: " + "; ".join(f"{v}" for v in summary["versions"].values()) + "\n")
    # Per project and tool.
    rows = []
    for p in projects:
        for t in TOOLS:
            x = p["tools"][t]
            rows.append([p["project"], p["layout"], t, x["files"], x["statements"], sum(
                v for c, v in x["categories"].items() if c in HAZARD_CATEGORIES), x["categories"].get("style/info", 0),
                x["parse_failures"], f"{x['seconds']:.2f}"])
    per_project = ("### Per project\n\n" + md_table(
        ["project", "layout", "tool", "files", "statements", "lock findings (raw)", "style/info (raw)", "parse failures", "seconds"], rows))
    # Totals per tool and category.
    tot = {t: Counter() for t in TOOLS}
    meta = {t: Counter() for t in TOOLS}
    for (project, file, i, cat), u in units_all.items():
        for t in u["tools"]:
            if any(not r.endswith("(file)") for r in u["rules"][t]):  # what the tool itself said
                tot[t][cat] += 1
    for p in projects:
        for t in TOOLS:
            x = p["tools"][t]
            meta[t].update({"files": x["files"], "statements": x["statements"], "parse failures": x["parse_failures"]})
            meta[t]["seconds"] += x["seconds"]
    rows = []
    for label in ["files", "statements"]:
        rows.append([label] + [meta[t][label] for t in TOOLS])
    for c in CATEGORIES:
        if c == "parse-failure":
            continue
        rows.append([c] + [tot[t].get(c, 0) for t in TOOLS])
    rows.append(["**all lock categories**"] + [sum(tot[t].get(c, 0) for c in HAZARD_CATEGORIES) for t in TOOLS])
    rows.append(["parse failures (files)"] + [meta[t]["parse failures"] for t in TOOLS])
    rows.append(["wall time (s)"] + [f"{meta[t]['seconds']:.1f}" for t in TOOLS])
    md.append(f"### All {len(projects)} projects: statements flagged per category\n\n"
              "A statement counts once per category however many rule ids of the tool fire on it "
              "(squawk's require-lock-timeout and require-statement-timeout are one lock-timeout; squawk says it "
              "once per file, at the first statement that needs it, and is counted there only).\n\n" + md_table(["", *TOOLS], rows))
    # Rule ids per category (to check the mapping).
    rules = defaultdict(Counter)
    for p in projects:
        for t in TOOLS:
            for r, v in p["tools"][t]["rules"].items():
                rules[(t, category(r))][r] += v
    rows = [[t, c, ", ".join(f"{r} {v}" for r, v in rules[(t, c)].most_common())] for t in TOOLS for c in CATEGORIES if rules[(t, c)]]
    rule_ids = "### Rule ids behind each category\n\n" + md_table(["tool", "category", "rule ids (count)"], rows)
    # Agreement.
    dis = disagreements(stmts, units, failed)
    agree = sum(1 for k, u in units.items() if all(t in u["tools"] for t in COMPARED))
    md.append(f"Statement×category units flagged by at least one of {', '.join(COMPARED)}: {len(units)}; "
              f"by all three: {agree}; disagreements: {len(dis)}.\n")
    # Judged sample.
    if judged_path and os.path.exists(judged_path):
        judged = read_tsv(judged_path)
        current = {unit_key(stmts, k): u for k, u in units.items()}
        stats = {t: Counter() for t in TOOLS}
        wstats = {t: Counter() for t in TOOLS}
        bycat = defaultdict(Counter)
        # The sample is drawn round-robin over groups (category, which of the compared tools
        # flagged): a judged unit stands for size(group) / judged(group) disagreements.
        gsize = Counter()
        for k in dis:
            gsize[(k[3], tuple(t for t in COMPARED if t in units[k]["tools"]))] += 1
        entries = []
        for j in judged:
            v = j["verdict"].strip().lower()
            if v not in ("hazard", "no-hazard"):
                continue
            key = (j["project"], j["file"], j["sha"], j["category"])
            u = current.get(key)
            flagged = u["tools"] if u else {t for t in TOOLS if j.get(t) == "1"}
            g = (j["category"], tuple(t for t in COMPARED if t in flagged))
            entries.append((key, v == "hazard", flagged, g, bool(u)))
        gjudged = Counter(e[3] for e in entries)
        n = len(entries)
        matched = sum(e[4] for e in entries)
        true = sum(e[1] for e in entries)
        for key, hz, flagged, g, _ in entries:
            w = gsize.get(g, 0) / gjudged[g]
            for t in TOOLS:
                f = t in flagged
                for st, inc in ((stats[t], 1), (wstats[t], w)):
                    st["tp"] += inc * (f and hz)
                    st["fp"] += inc * (f and not hz)
                    st["fn"] += inc * ((not f) and hz)
                if f:
                    bycat[(t, key[3])]["tp" if hz else "fp"] += 1
        rows = []
        for t in TOOLS:
            s = stats[t]
            prec = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else float("nan")
            rec = s["tp"] / (s["tp"] + s["fn"]) if s["tp"] + s["fn"] else float("nan")
            rows.append([t, s["tp"] + s["fp"], s["tp"], s["fp"], s["fn"], f"{prec:.2f}", f"{rec:.2f}"])
        md.append(f"### Precision and recall on the judged sample\n\n{n} judged units ({true} true hazards; "
                  f"{matched} found in this run, the others use the flags recorded when judged).\n\n" +
                  md_table(["tool", "flagged", "true positives", "false positives", "missed", "precision", "recall"], rows))
        rows = []
        for t in TOOLS:
            s_ = wstats[t]
            prec = s_["tp"] / (s_["tp"] + s_["fp"]) if s_["tp"] + s_["fp"] else float("nan")
            rec = s_["tp"] / (s_["tp"] + s_["fn"]) if s_["tp"] + s_["fn"] else float("nan")
            rows.append([t, f"{s_['tp'] + s_['fp']:.0f}", f"{s_['tp']:.0f}", f"{s_['fp']:.0f}", f"{s_['fn']:.0f}", f"{prec:.2f}", f"{rec:.2f}"])
        md.append(f"Weighted to all {len(dis)} disagreements (each judged unit stands for its group "
                  "(category, which tools flagged) in proportion; a group with no judged unit counts for nothing):\n\n" +
                  md_table(["tool", "flagged", "true positives", "false positives", "missed", "precision", "recall"], rows))
        rows = []
        for c in HAZARD_CATEGORIES:
            cells = []
            for t in COMPARED:
                b = bycat[(t, c)]
                cells.append(f"{b['tp']}/{b['tp'] + b['fp']}" if b["tp"] + b["fp"] else "—")
            if any(x != "—" for x in cells):
                rows.append([c] + cells)
        md.append("True positives / flagged, per category (judged sample):\n\n" + md_table(["category", *COMPARED], rows))
    md += [per_project, rule_ids]
    path = os.path.join(out, "report.md")
    open(path, "w").write("\n".join(md))
    print(path)


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "run":
        bins = json.loads(os.environ["COMPARE_PEERS_BINS"])
        cmd_run(a[1], a[2:], bins)
    elif a[0] == "sample":
        cmd_sample(a[1], int(a[2]), int(a[3]) if len(a) > 3 else 11)
    elif a[0] == "report":
        cmd_report(a[1], a[2] if len(a) > 2 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
