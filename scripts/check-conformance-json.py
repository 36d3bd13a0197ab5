#!/usr/bin/env python3
"""Static check of the conformance suite (no gateway needed).

Usage: scripts/check-conformance-json.py [conformance-dir]   (default: conformance/ next to scripts/)

Checks that every case directory NNN-slug has request.xml, case.toml (description, today, optional
config naming an existing config dir) and an expected.json of the documented shape, that the shape is
internally consistent (message-level code => Afgewezen, no prestaties, zero totalen; line codes sorted;
routes agree with the codes and verwerking; counts agree with the routes), and prints how often each
retourcode is expected. Exit status 1 on any problem.
"""
import datetime
import json
import os
import re
import sys
import tomllib

WARN = {"0504", "0505", "0506", "0507", "0901"}
MESSAGE = re.compile(r"^01\d\d$")
CODE = re.compile(r"^\d{4}$")
TOP = {"verwerking", "retourcodes", "prestaties", "totalen"}
LINE = {"referentie_nummer", "bsn", "route", "product_code", "oorspronkelijke_product_code", "retourcodes"}
TOTALEN = {"aantal_geaccepteerd", "bedrag_geaccepteerd", "aantal_afgewezen", "bedrag_afgewezen"}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "conformance")
    cases_dir = os.path.join(root, "cases")
    problems = []
    counts_cases, counts_lines = {}, {}
    names = sorted(n for n in os.listdir(cases_dir) if os.path.isdir(os.path.join(cases_dir, n)))

    def bad(name, msg):
        problems.append(f"{name}: {msg}")

    for i, name in enumerate(names, 1):
        d = os.path.join(cases_dir, name)
        if not re.fullmatch(r"\d{3}-[a-z0-9][a-z0-9-]*", name):
            bad(name, "directory name is not NNN-short-slug")
        elif sum(1 for n in names if n[:3] == name[:3]) > 1:
            bad(name, "case number used twice")
        for f in ("request.xml", "case.toml", "expected.json"):
            if not os.path.isfile(os.path.join(d, f)):
                bad(name, f"missing {f}")
        try:
            ct = tomllib.load(open(os.path.join(d, "case.toml"), "rb"))
            if not isinstance(ct.get("description"), str) or not ct["description"].strip():
                bad(name, "case.toml: description missing")
            datetime.date.fromisoformat(ct.get("today", ""))
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", ct["today"]):
                bad(name, "case.toml: today is not YYYY-MM-DD")
            cfg = ct.get("config", "config")
            if not os.path.isfile(os.path.join(root, cfg, "gateway.toml")):
                bad(name, f"case.toml: config {cfg!r} has no gateway.toml")
            reg = ct.get("registry")
            if reg is not None and not os.path.isdir(os.path.join(root, reg)):
                bad(name, f"case.toml: registry {reg!r} is not a directory under conformance/")
            extra = set(ct) - {"description", "today", "config", "registry"}
            if extra:
                bad(name, f"case.toml: unknown keys {sorted(extra)}")
        except Exception as e:  # noqa: BLE001
            bad(name, f"case.toml: {e}")
        try:
            exp = json.load(open(os.path.join(d, "expected.json")))
        except Exception as e:  # noqa: BLE001
            bad(name, f"expected.json does not parse: {e}")
            continue
        if not isinstance(exp, dict) or set(exp) != TOP:
            bad(name, f"expected.json keys {sorted(exp) if isinstance(exp, dict) else type(exp)} != {sorted(TOP)}")
            continue
        v, mc, pres, tot = exp["verwerking"], exp["retourcodes"], exp["prestaties"], exp["totalen"]
        if v not in ("Geaccepteerd", "Gedeeltelijk", "Afgewezen"):
            bad(name, f"verwerking {v!r}")
        if not isinstance(tot, dict) or set(tot) != TOTALEN or not all(isinstance(x, int) and x >= 0 for x in tot.values()):
            bad(name, "totalen must have the four non-negative integer keys")
            continue
        if not isinstance(mc, list) or not all(isinstance(c, str) and MESSAGE.match(c) for c in mc):
            bad(name, "message retourcodes must be a list of 01xx code strings")
            continue
        seen = set()
        for c in mc:
            seen.add(c)
        if mc:
            if v != "Afgewezen" or pres != [] or any(tot.values()):
                bad(name, "message-level code: verwerking must be Afgewezen, prestaties [], totalen all 0")
        if not isinstance(pres, list):
            bad(name, "prestaties must be a list")
            continue
        acc = rej = 0
        for j, p in enumerate(pres):
            where = f"prestaties[{j}]"
            if not isinstance(p, dict) or set(p) != LINE:
                bad(name, f"{where}: keys {sorted(p) if isinstance(p, dict) else p} != {sorted(LINE)}")
                continue
            codes = p["retourcodes"]
            if not isinstance(codes, list) or not all(isinstance(c, str) and CODE.match(c) and not MESSAGE.match(c) for c in codes):
                bad(name, f"{where}: retourcodes must be a list of non-01xx 4-digit strings")
                continue
            if codes != sorted(set(codes)):
                bad(name, f"{where}: line codes must be sorted ascending without duplicates")
            if not re.fullmatch(r"\d{9}", str(p["bsn"])):
                bad(name, f"{where}: bsn must be 9 digits")
            if not re.fullmatch(r"[A-Z]\d{3}", str(p["product_code"])):
                bad(name, f"{where}: product_code")
            o = p["oorspronkelijke_product_code"]
            if o is not None and not re.fullmatch(r"[A-Z]\d{3}", str(o)):
                bad(name, f"{where}: oorspronkelijke_product_code must be null or a product code")
            if not isinstance(p["referentie_nummer"], str) or not re.fullmatch(r"[A-Za-z0-9-]{1,20}", p["referentie_nummer"]):
                bad(name, f"{where}: referentie_nummer")
            fout = [c for c in codes if c not in WARN]
            if p["route"] not in ("ZIO", "REGULIER", "AFGEWEZEN"):
                bad(name, f"{where}: route {p['route']!r}")
            elif (p["route"] == "AFGEWEZEN") != bool(fout):
                bad(name, f"{where}: route {p['route']} disagrees with codes {codes}")
            if p["route"] == "AFGEWEZEN":
                rej += 1
            else:
                acc += 1
            for c in codes:
                counts_lines[c] = counts_lines.get(c, 0) + 1
                seen.add(c)
        if not mc:
            if not pres:
                bad(name, "no message-level code but no prestaties either")
            want = "Geaccepteerd" if rej == 0 else ("Afgewezen" if acc == 0 else "Gedeeltelijk")
            if v != want:
                bad(name, f"verwerking {v} but lines say {want}")
            if tot["aantal_geaccepteerd"] != acc or tot["aantal_afgewezen"] != rej:
                bad(name, "totalen counts disagree with the routes")
        for c in seen:
            counts_cases[c] = counts_cases.get(c, 0) + 1
        for c in mc:
            counts_lines.setdefault(c, 0)

    print(f"{len(names)} cases in {os.path.normpath(cases_dir)}")
    print(f"{'code':<6}{'cases':>7}{'lines':>7}")
    for c in sorted(counts_cases):
        lines = "-" if MESSAGE.match(c) else str(counts_lines.get(c, 0))
        print(f"{c:<6}{counts_cases[c]:>7}{lines:>7}")
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for p in problems:
            print("  " + p)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
