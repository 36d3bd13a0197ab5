import os, sys, json, datetime
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases
from lib import CASES, write_all, ZIO
meta = write_all(sys.argv[1])
print(len(meta), "cases")
# sanity: in-message ZiO volume per (agb, year, code) far below the agreed volumes (so 0506 can never fire)
VOL = {("11110001", 2023): {"H307": 1200, "H308": 400}, ("11110001", 2024): {"H307": 1200, "H308": 400},
       ("11110002", 2024): {"H307": 600}}
for name, c, exp in meta:
    m = c["msg"]
    if m is None: continue
    tot = {}
    for cl, l in m.lines():
        k = (m.afz, int(l.begin[:4]), l.code)
        v = l.vol / 60 if l.unit == "01" else l.vol
        tot[k] = tot.get(k, 0) + v
        # age check for 0405: younger than 18 on Begindatum
        b = datetime.date.fromisoformat(cl.birth) if len(cl.birth) == 10 else None
        bd = datetime.date.fromisoformat(l.begin)
        assert b is None or (bd.year - b.year - ((bd.month, bd.day) < (b.month, b.day))) < 18, name
    for (a, y, code), v in tot.items():
        lim = VOL.get((a, y), {}).get(code)
        if lim is not None:
            assert v <= lim / 2, (name, a, y, code, v)

# ---- coverage table (README.md, between the coverage markers)
ALL = ["0101", "0102", "0103", "0104", "0105", "0106", "0107", "0108", "0109", "0110", "0201", "0202",
       "0301", "0302", "0303", "0304", "0305", "0306", "0307", "0308", "0309", "0310", "0311", "0312",
       "0401", "0402", "0403", "0404", "0405", "0406", "0501", "0502", "0503", "0504", "0505", "0506", "0507", "0901"]
fires, bound = {}, {}
for name, c, exp in meta:
    n = name[:3]
    got = set(exp["retourcodes"]) | {x for p in exp["prestaties"] for x in p["retourcodes"]}
    for x in got:
        fires.setdefault(x, []).append(n)
    for x in c["boundary"]:
        pass  # a case may show a code both firing (one line) and not firing (another line)
        bound.setdefault(x, []).append(n)
OUT_OF_SCOPE = {"0104": "size limit is not a contract key", "0106": "needs a ledger", "0107": "HTTP only",
                "0401": "needs a registry", "0402": "needs a registry", "0403": "needs a registry",
                "0404": "needs a registry", "0405": "registry family; every client is under 18",
                "0406": "needs a registry", "0506": "needs a ledger; volumes never approached", "0901": "HTTP only"}
rows = ["| code | fires in | checked at its boundary, not firing | note |", "|---|---|---|---|"]
for x in ALL:
    rows.append(f"| {x} | {', '.join(fires.get(x, [])) or '-'} | {', '.join(bound.get(x, [])) or '-'} | {OUT_OF_SCOPE.get(x, '')} |")
table = "\n".join(rows)
readme = os.path.join(sys.argv[1], "README.md")
if os.path.exists(readme):
    s = open(readme).read()
    a, b = "<!-- coverage:start -->", "<!-- coverage:end -->"
    if a in s and b in s:
        s = s[:s.index(a) + len(a)] + "\n" + table + "\n" + s[s.index(b):]
        open(readme, "w").write(s)
        print("README coverage table updated")
else:
    print(table)
