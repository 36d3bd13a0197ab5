"""Conformance case builder. The expected codes are written by hand per line
in cases.py; this module only serialises XML, computes Bedrag/Totalen
arithmetic (exact integers) and derives route/verwerking/totalen from the
hand-written codes by the spec rules (fout rejects; ZiO code -> ZIO)."""
import json, os, shutil
from fractions import Fraction

ZIO = {"H307": "H300", "H308": "H814", "H309": "H834", "H310": "H854", "H311": "H874"}
WARN = {"0504", "0505", "0506", "0507", "0901"}
NS = "urn:zio-gateway:declaratie:1"


def minutes_amount(vol, tarief):
    x = Fraction(vol * tarief, 60)
    # half away from zero (values are non-negative)
    fl = x.numerator // x.denominator
    return fl + 1 if x - fl >= Fraction(1, 2) else fl


def amount(vol, unit, tarief):
    return minutes_amount(vol, tarief) if unit == "01" else vol * tarief


class L:
    def __init__(self, ref, code, begin, end, vol, unit, tarief, bedrag=None, dc="D",
                 vorig=None, ond=None, brin=None, expect=(), fwd=None, orig=None):
        self.ref, self.code, self.begin, self.end = ref, code, begin, end
        self.vol, self.unit, self.tarief = vol, unit, tarief
        self.bedrag = amount(vol, unit, tarief) if bedrag is None else bedrag
        self.dc, self.vorig, self.ond, self.brin = dc, vorig, ond, brin
        self.expect = sorted(expect)
        assert len(set(self.expect)) == len(self.expect)
        self.fwd = fwd or code
        self.orig = orig

    def xml(self, ind):
        p = " " * ind
        out = [f"{p}<Prestatie>", f"{p}  <ReferentieNummer>{self.ref}</ReferentieNummer>"]
        if self.vorig is not None:
            out.append(f"{p}  <VorigReferentieNummer>{self.vorig}</VorigReferentieNummer>")
        out += [f"{p}  <ProductCode>{self.code}</ProductCode>",
                f"{p}  <Begindatum>{self.begin}</Begindatum>",
                f"{p}  <Einddatum>{self.end}</Einddatum>",
                f"{p}  <GeleverdVolume>{self.vol}</GeleverdVolume>",
                f"{p}  <Eenheid>{self.unit}</Eenheid>",
                f"{p}  <ProductTarief>{self.tarief}</ProductTarief>",
                f"{p}  <Bedrag>{self.bedrag}</Bedrag>",
                f"{p}  <DebetCredit>{self.dc}</DebetCredit>"]
        if self.ond is not None:
            out.append(f"{p}  <Onderwijstijd>{self.ond}</Onderwijstijd>")
        if self.brin is not None:
            out.append(f"{p}  <Brin>{self.brin}</Brin>")
        out.append(f"{p}</Prestatie>")
        return out


# Short-hands. zio(): ZiO line in school time with a Brin. reg(): regular line, no Onderwijstijd.
def zio(ref, code, begin, end, vol, unit=None, tarief=None, ond="true", brin="12AB", **kw):
    unit = unit or ("04" if code == "H307" else "16")
    tarief = tarief if tarief is not None else (7650 if unit in ("04", "01") and code in ("H307", "H300") else 6120)
    return L(ref, code, begin, end, vol, unit, tarief, ond=ond, brin=brin, **kw)


def reg(ref, code, begin, end, vol, unit=None, tarief=None, **kw):
    unit = unit or ("04" if code == "H300" else "16")
    tarief = tarief if tarief is not None else (7650 if code in ("H300", "H307") else 6120)
    return L(ref, code, begin, end, vol, unit, tarief, **kw)


class C:
    def __init__(self, bsn, birth, besluit, lines):
        self.bsn, self.birth, self.besluit, self.lines = bsn, birth, besluit, lines


class M:
    def __init__(self, ident, clients, dag="2024-04-02", afz="11110001", ontv="5509",
                 pb="2024-03-01", pe="2024-03-31", aantal=None, debet=None, credit=None):
        self.ident, self.clients, self.dag, self.afz, self.ontv = ident, clients, dag, afz, ontv
        self.pb, self.pe = pb, pe
        lines = [l for c in clients for l in c.lines]
        self.aantal = len(lines) if aantal is None else aantal
        self.debet = sum(l.bedrag for l in lines if l.dc == "D") if debet is None else debet
        self.credit = sum(l.bedrag for l in lines if l.dc == "C") if credit is None else credit

    def lines(self):
        return [(c, l) for c in self.clients for l in c.lines]

    def xml(self):
        o = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<Declaratiebericht xmlns="{NS}">',
             "  <Header>",
             "    <BerichtIdentificatie>",
             f"      <Identificatie>{self.ident}</Identificatie>",
             f"      <Dagtekening>{self.dag}</Dagtekening>",
             "    </BerichtIdentificatie>",
             f"    <Afzender>{self.afz}</Afzender>",
             f"    <Ontvanger>{self.ontv}</Ontvanger>",
             "    <Declaratieperiode>",
             f"      <Begindatum>{self.pb}</Begindatum>",
             f"      <Einddatum>{self.pe}</Einddatum>",
             "    </Declaratieperiode>",
             "  </Header>",
             "  <Clienten>"]
        for c in self.clients:
            o += ["    <Client>", f"      <Bsn>{c.bsn}</Bsn>",
                  f"      <Geboortedatum>{c.birth}</Geboortedatum>",
                  f"      <Besluitnummer>{c.besluit}</Besluitnummer>",
                  "      <Prestaties>"]
            for l in c.lines:
                o += l.xml(8)
            o += ["      </Prestaties>", "    </Client>"]
        o += ["  </Clienten>", "  <Totalen>",
              f"    <AantalPrestaties>{self.aantal}</AantalPrestaties>",
              f"    <TotaalDebet>{self.debet}</TotaalDebet>",
              f"    <TotaalCredit>{self.credit}</TotaalCredit>",
              "  </Totalen>", "</Declaratiebericht>", ""]
        return "\n".join(o)


def expected(msg, msgcodes):
    if msgcodes:
        return {"verwerking": "Afgewezen", "retourcodes": sorted(msgcodes), "prestaties": [],
                "totalen": {"aantal_geaccepteerd": 0, "bedrag_geaccepteerd": 0,
                            "aantal_afgewezen": 0, "bedrag_afgewezen": 0}}
    pres, t = [], {"aantal_geaccepteerd": 0, "bedrag_geaccepteerd": 0,
                   "aantal_afgewezen": 0, "bedrag_afgewezen": 0}
    for c, l in msg.lines():
        fout = [x for x in l.expect if x not in WARN]
        if fout:
            route = "AFGEWEZEN"
            t["aantal_afgewezen"] += 1; t["bedrag_afgewezen"] += l.bedrag
        else:
            route = "ZIO" if l.fwd in ZIO else "REGULIER"
            t["aantal_geaccepteerd"] += 1; t["bedrag_geaccepteerd"] += l.bedrag
        pres.append({"referentie_nummer": l.ref, "bsn": "".join(c.bsn.split()), "route": route,
                     "product_code": l.fwd, "oorspronkelijke_product_code": l.orig,
                     "retourcodes": l.expect})
    if t["aantal_afgewezen"] == 0:
        v = "Geaccepteerd"
    elif t["aantal_geaccepteerd"] == 0:
        v = "Afgewezen"
    else:
        v = "Gedeeltelijk"
    return {"verwerking": v, "retourcodes": [], "prestaties": pres, "totalen": t}


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


CASES = []


def case(slug, desc, today, msg=None, raw=None, msgcodes=(), config=None, boundary=(), mutate=None):
    """msg: an M. raw: bytes (replaces msg). mutate: list of (old, new) replacements on msg.xml(),
    each old string must occur exactly once."""
    CASES.append(dict(slug=slug, desc=desc, today=today, msg=msg, raw=raw, msgcodes=list(msgcodes),
                      config=config, boundary=list(boundary), mutate=mutate or []))


def write_all(root):
    cdir = os.path.join(root, "cases")
    os.makedirs(cdir, exist_ok=True)
    # Only the cases this generator owns (001-199); others (registry cases,
    # 2NN and up) are written by hand and must survive a regeneration.
    for old in os.listdir(cdir):
        if old[:3].isdigit() and int(old[:3]) < 200:
            shutil.rmtree(os.path.join(cdir, old))
    meta = []
    for i, c in enumerate(CASES, 1):
        name = f"{i:03d}-{c['slug']}"
        d = os.path.join(cdir, name)
        os.makedirs(d)
        if c["raw"] is not None:
            data = c["raw"]
        else:
            text = c["msg"].xml()
            for old, new in c["mutate"]:
                assert text.count(old) == 1, (name, old, text.count(old))
                text = text.replace(old, new)
            data = text.encode("utf-8") if isinstance(text, str) else text
        with open(os.path.join(d, "request.xml"), "wb") as f:
            f.write(data)
        with open(os.path.join(d, "case.toml"), "w") as f:
            f.write(f"description = {toml_str(' '.join(c['desc'].split()))}\n")
            f.write(f'today = "{c["today"]}"\n')
            if c["config"]:
                f.write(f'config = "{c["config"]}"\n')
        exp = expected(c["msg"], c["msgcodes"])
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(exp, f, indent=2)
            f.write("\n")
        meta.append((name, c, exp))
    return meta
