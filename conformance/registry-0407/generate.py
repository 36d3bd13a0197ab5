#!/usr/bin/env python3
"""Writes the 0407 registry fixture set (conformance/registry-0407/NN-*.xml)
and its conformance cases (conformance/cases/251-...), with the serialiser of
../registry/generate.py. Usage: python3 conformance/registry-0407/generate.py

The expected retourcodes are written by hand below, from the facts in
README.md and docs/contract/iwlz.md ("0407"). It only ever deletes case
directories numbered 2NN that carry `registry = "registry-0407"`.
"""
import importlib.util
import json
import os
import re
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.dirname(HERE)
spec = importlib.util.spec_from_file_location("gen", os.path.join(CONF, "registry", "generate.py"))
g = importlib.util.module_from_spec(spec)
spec.loader.exec_module(g)

J = "2024-01-01"
P1 = g.P1
NEW = {
    "V00": (g.K("240300403", "2013-01-10", "Geenzzp"), []),
    "V02": (g.K("240300415", "2013-02-10", "Pgbzzp"), [g.tz(806, None, 2, J)]),
    "V04": (g.K("240300427", "2013-03-10", "Verblijf"), [g.tz(806, P1, 4, J)]),
    "V05": (g.K("240300439", "2013-04-10", "Vpt"), [g.tz(806, P1, 5, J)]),
    "V08": (g.K("240300440", "2013-05-10", "Dtv"), [g.tz(806, P1, 8, J)]),
    "V09": (g.K("240300452", "2013-06-10", "Vkbdanmpt"),
            [g.tz(806, P1, 9, J, "2024-03-10"), g.tz(806, P1, 7, "2024-03-11")]),
}
for i, (key, (k, _)) in enumerate(sorted(NEW.items())):
    g.CLIENT[key] = k
    items = [g.fn(81, J), g.fn(82, J)] if key == "V00" else [g.zzp(806, J)]
    g.IND[key] = g.Ind(4207000 + i, "2023-12-15", J, None, items)

MESSAGES = [
    g.io31("01-io31-2023-12-20-ciz.xml", "CIZ231220407", "2023-12-20", sorted(NEW), "io31", "iwlz"),
    g.aw33("02-aw33-2024-01-02-11110001.xml", "ZK2401020407", "2024-01-02", P1,
           [(key, [g.tf(81, P1, J), g.tf(82, P1, J)] + zzps) for key, (_, zzps) in sorted(NEW.items())],
           "aw33", "iwlz"),
    g.aw35("03-aw35-2024-01-10-11110001.xml", "MAZ240110407", "2024-01-10", P1,
           [(key, [(81, J, "2024-01-08", 1), (82, J, "2024-01-08", 1)]) for key in sorted(NEW)],
           "aw35", "iwlz"),
]

L, zl, M, client = g.L, g.zl, g.M, g.client
CASES = []


def case(slug, desc, msg, today=g.TODAY, config=None):
    CASES.append((slug, " ".join(desc.split()), msg, today, config))


case("0407-zio-on-verblijf-vpt-dtv-vkb",
     """V04, V05, V08 and V09 have a ZZP 806 allocated to 11110001 as verblijf (Leveringsvorm 4), vpt
     (5), dtv (8) and vkb (9, until 2024-03-10); 81 and 82 are allocated too and delivery started
     2024-01-08. A ZiO line (H307, in school time with a Brin, participant 11110001) in the first week
     of March: 0407 for each, the experiment covers mpt only.""",
     M("REG-251", [client("V04", [zl("R1", "H307", "2024-03-04", "2024-03-08", expect=["0407"])]),
                   client("V05", [zl("R2", "H307", "2024-03-04", "2024-03-08", expect=["0407"])]),
                   client("V08", [zl("R3", "H308", "2024-03-04", "2024-03-08", expect=["0407"])]),
                   client("V09", [zl("R4", "H307", "2024-03-04", "2024-03-08", expect=["0407"])])]))
case("0407-vkb-last-day-then-mpt",
     """V09's vkb allocation (Leveringsvorm 9) ends 2024-03-10 and an mpt allocation (7) starts
     2024-03-11. A ZiO line on 03-10 (last day of vkb) gets 0407; one from 03-11 (mpt) does not.""",
     M("REG-252", [client("V09", [zl("R1", "H307", "2024-03-10", "2024-03-10", expect=["0407"]),
                                  zl("R2", "H307", "2024-03-11", "2024-03-15")])]))
case("0407-not-for-regular-codes",
     """V04 (verblijf) declared with regular codes H300 and H814: 0407 applies to ZiO codes only, so
     both lines are accepted (no 0505: not in school time).""",
     M("REG-253", [client("V04", [L("R1", "H300", "2024-03-04", "2024-03-08"),
                                  L("R2", "H814", "2024-03-11", "2024-03-15")])]))
case("0407-not-with-0404",
     """V02's ZZP 806 is a pgb (Leveringsvorm 2): a ZiO line gets 0404 only, never 0407 with it.""",
     M("REG-254", [client("V02", [zl("R1", "H307", "2024-03-04", "2024-03-08", expect=["0404"])])]))
case("0407-no-zzp-allocation",
     """V00 has functions 81 and 82 allocated to 11110001 but no ZZP allocation at all: a ZiO line
     gets no 0407.""",
     M("REG-255", [client("V00", [zl("R1", "H307", "2024-03-04", "2024-03-08")])]))
case("0407-not-after-remap",
     """config-remap. V04 (verblijf) with H307 in September 2025, after the window: 0504, forwarded
     as H300. The line no longer carries a ZiO code, so no 0407; accepted.""",
     M("REG-256", [client("V04", [zl("R1", "H307", "2025-09-01", "2025-09-05", expect=["0504"],
                                     fwd="H300", orig="H307")])],
       dag="2025-10-01", pb="2025-09-01", pe="2025-09-30"),
     today="2025-10-10", config="config-remap")
case("0407-not-after-0501",
     """V04 (verblijf) with H307 in September 2025, after the window, policy reject: 0501 only (0407
     is not checked once the line is rejected for being outside the window).""",
     M("REG-257", [client("V04", [zl("R1", "H307", "2025-09-01", "2025-09-05", expect=["0501"])])],
       dag="2025-10-01", pb="2025-09-01", pe="2025-09-30"),
     today="2025-10-10")


def write():
    for f in os.listdir(HERE):
        if f.endswith(".xml"):
            os.remove(os.path.join(HERE, f))
    for fname, text in MESSAGES:
        with open(os.path.join(HERE, fname), "w") as f:
            f.write(text)
    cdir = os.path.join(CONF, "cases")
    for d in os.listdir(cdir):
        p = os.path.join(cdir, d, "case.toml")
        if re.match(r"^2\d\d-", d) and os.path.exists(p) and 'registry = "registry-0407"' in open(p).read():
            shutil.rmtree(os.path.join(cdir, d))
    for i, (slug, desc, msg, today, config) in enumerate(CASES, 251):
        d = os.path.join(cdir, f"{i:03d}-{slug}")
        os.makedirs(d)
        with open(os.path.join(d, "request.xml"), "w") as f:
            f.write(msg.xml())
        with open(os.path.join(d, "case.toml"), "w") as f:
            esc = desc.replace("\\", "\\\\").replace('"', '\\"')
            f.write(f'description = "{esc}"\ntoday = "{today}"\n')
            if config:
                f.write(f'config = "{config}"\n')
            f.write('registry = "registry-0407"\n')
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(msg.expected(), f, indent=2)
            f.write("\n")
    print(len(MESSAGES), "registry messages,", len(CASES), "cases")


if __name__ == "__main__":
    write()
