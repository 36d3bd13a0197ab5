#!/usr/bin/env python3
"""Writes the registry fixture set (conformance/registry/NN-*.xml, real iWlz 2.2
IO31/AW33/AW35/AW39 messages) and the registry conformance cases
(conformance/cases/2NN-*). Usage: python3 conformance/registry/generate.py

The expected retourcodes of every line are written by hand below, from the
facts per client in README.md and the readings in docs/interpretation.md;
this script only serialises XML and does the Bedrag/Totalen arithmetic and
the route/verwerking bookkeeping that follows from the codes. It only ever
deletes case directories numbered 2NN that carry a `registry` key.
"""
import json
import os
import re
import shutil
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.dirname(HERE)
NS_BASIS = "http://www.istandaarden.nl/iwlz/2_2/basisschema/schema"
ZIO = {"H307": "H300", "H308": "H814", "H309": "H834", "H310": "H854", "H311": "H874"}
WARN = {"0504", "0505", "0506", "0507", "0901"}
P1, P2, NP, ZK = "11110001", "11110002", "22220001", "5509"


def elf(b):
    d = [int(c) for c in b]
    return b != "000000000" and (sum((9 - i) * d[i] for i in range(8)) - d[8]) % 11 == 0


# ----------------------------------------------------------------- the world
class K:
    """A registry client: BSN, birth date, indications, allocations, deliveries."""
    def __init__(self, bsn, born, name):
        assert elf(bsn), bsn
        self.bsn, self.born, self.name = bsn, born, name


K01 = K("240300002", "2014-06-12", "Clean")
K02 = K("240300014", "2013-02-02", "Opvolging")
K03 = K("240300026", "2012-09-30", "Middenin")
K04 = K("240300038", "2013-04-04", "Negatief")
K05 = K("240300051", "2011-11-11", "Tweebesluit")
K06 = K("240300063", "2012-01-20", "Zzpmpt")
K07 = K("240300075", "2013-05-05", "Pgb")
K08 = K("240300087", "2013-08-08", "Pgbnaarmpt")
K09 = K("240300099", "2006-03-14", "Achttien")
K10 = K("240300105", "2012-12-12", "Anderaanbieder")
K11 = K("240300117", "2014-01-15", "Ingetrokken")
K12 = K("240300129", "2012-04-04", "Beeindigd")
K13 = K("240300130", "2013-03-03", "Geenaanvang")
K14 = K("240300142", "2013-06-06", "Lateaanvang")
K15 = K("240300154", "2011-07-07", "Aanvangverwijderd")
K16 = K("240300166", "2012-10-10", "Tweetoewijzingen")
K17 = K("240300178", "2013-09-09", "Onbekend")          # in no message
K19 = K("240300191", "2013-01-19", "Afgelopen")
K21 = K("240300221", "2012-02-21", "Anderemutatie")
K22 = K("240300233", "2012-03-22", "Herstart")
K23 = K("240300245", "2012-04-23", "Mutatieverwijderd")
BAD_BSN = "240300001"  # 9 digits, fails the elfproef
assert not elf(BAD_BSN)


def fn(code, start, end=None, klasse="K3"):
    return ("F", code, start, end, klasse)


def zzp(code, start, end=None):
    return ("Z", code, start, end, None)


class Ind:
    def __init__(self, besluit, afgifte, start, end=None, items=()):
        self.besluit, self.afgifte, self.start, self.end, self.items = besluit, afgifte, start, end, list(items)


IND = {
    "K01": Ind(4200101, "2023-12-15", "2024-01-01", None, [fn(81, "2024-01-01"), fn(82, "2024-01-01")]),
    "K02a": Ind(4200201, "2023-03-20", "2023-04-01", "2024-03-15", [fn(81, "2023-04-01", "2024-03-15")]),
    "K02b": Ind(4200202, "2024-03-01", "2024-03-16", None, [fn(81, "2024-03-16")]),
    "K03": Ind(4200301, "2024-03-01", "2024-03-11", None, [fn(81, "2024-03-11")]),
    "K04": Ind(4200401, "2023-12-15", "2024-01-01", None, []),
    "K05a": Ind(4200501, "2023-12-15", "2024-01-01", None, [fn(81, "2024-01-01")]),
    "K05b": Ind(4200502, "2024-03-01", "2024-01-01", None, [fn(82, "2024-03-11")]),
    "K06": Ind(4200601, "2023-12-15", "2024-01-01", None, [zzp(806, "2024-01-01")]),
    "K07": Ind(4200701, "2023-12-15", "2024-01-01", None, [zzp(806, "2024-01-01")]),
    "K08": Ind(4200801, "2023-12-15", "2024-01-01", None, [zzp(806, "2024-01-01")]),
    "K09": Ind(4200901, "2022-12-15", "2023-01-01", None, [fn(81, "2023-01-01"), fn(82, "2023-01-01")]),
    "K10": Ind(4201001, "2023-12-15", "2024-01-01", None, [fn(81, "2024-01-01")]),
    "K11": Ind(4201101, "2023-12-15", "2024-01-01", None, [fn(81, "2024-01-01")]),
    "K12": Ind(4201201, "2023-12-15", "2024-01-01", None, [fn(81, "2024-01-01")]),
    "K13": Ind(4201301, "2023-12-15", "2024-01-01", None, [fn(81, "2024-01-01")]),
    "K14": Ind(4201401, "2023-12-15", "2024-01-01", None, [fn(81, "2024-01-01"), fn(82, "2024-01-01")]),
    "K15": Ind(4201501, "2023-12-15", "2024-01-01", None, [fn(81, "2024-01-01")]),
    "K16": Ind(4201601, "2023-12-15", "2024-01-01", None, [fn(81, "2024-01-01")]),
    "K19": Ind(4201901, "2023-08-20", "2023-09-01", "2024-08-31", [fn(81, "2023-09-01", "2024-08-31")]),
    "K21": Ind(4202101, "2023-12-15", "2024-01-01", None, [fn(81, "2024-01-01")]),
    "K22": Ind(4202201, "2023-12-15", "2024-01-01", None, [fn(81, "2024-01-01")]),
    "K23": Ind(4202301, "2023-12-15", "2024-01-01", None, [fn(81, "2024-01-01")]),
}
CLIENT = {"K01": K01, "K02a": K02, "K02b": K02, "K03": K03, "K04": K04, "K05a": K05, "K05b": K05,
          "K06": K06, "K07": K07, "K08": K08, "K09": K09, "K10": K10, "K11": K11, "K12": K12,
          "K13": K13, "K14": K14, "K15": K15, "K16": K16, "K19": K19, "K21": K21, "K22": K22, "K23": K23}


def tf(code, inst, start, end=None, tdatum="2024-01-02", ttijd="09:00:00", reden=None):
    return ("TF", code, inst, start, end, tdatum, ttijd, reden)


def tz(code, inst, vorm, start, end=None, tdatum="2024-01-02", ttijd="09:00:00"):
    return ("TZ", code, inst, vorm, start, end, tdatum, ttijd)


# ----------------------------------------------------------------- iWlz XML
class W:
    """Writes one iWlz message with a chosen prefix spelling ('' = default namespace)."""
    def __init__(self, soort, mp, bp, inline_basis=False, pretty=True):
        self.soort, self.mp, self.bp, self.inline = soort, mp, bp, inline_basis
        self.ns = f"http://www.istandaarden.nl/iwlz/2_2/{soort}/schema"
        self.out, self.ind, self.pretty = [], 0, pretty

    def m(self, n):
        return f"{self.mp}:{n}" if self.mp else n

    def b(self, n):
        return f"{self.bp}:{n}" if self.bp else n

    def line(self, s):
        self.out.append(("  " * self.ind if self.pretty else "") + s)

    def open(self, n, attrs=""):
        self.line(f"<{self.m(n)}{attrs}>")
        self.ind += 1

    def close(self, n):
        self.ind -= 1
        self.line(f"</{self.m(n)}>")

    def leaf(self, n, v):
        self.line(f"<{self.m(n)}>{v}</{self.m(n)}>")

    def basis_attr(self):
        return f' xmlns:{self.bp}="{NS_BASIS}"' if self.inline else ""

    def composite(self, n, children):
        """A composite element whose children are in the basisschema namespace."""
        self.line(f"<{self.m(n)}{self.basis_attr()}>" + "".join(children) + f"</{self.m(n)}>")

    def bleaf(self, n, v):
        return f"<{self.b(n)}>{v}</{self.b(n)}>"

    def root_open(self):
        mdecl = f'xmlns:{self.mp}="{self.ns}"' if self.mp else f'xmlns="{self.ns}"'
        bdecl = "" if self.inline else f' xmlns:{self.bp}="{NS_BASIS}"'
        self.out.append('<?xml version="1.0" encoding="UTF-8"?>')
        self.line(f"<{self.m('Bericht')} {mdecl}{bdecl}>")
        self.ind += 1

    def header(self, code, afz, ontv, ident, dag):
        self.open("Header")
        self.leaf("BerichtCode", code)
        self.leaf("BerichtVersie", 5)
        self.leaf("BerichtSubversie", 2)
        if afz is not None:
            self.leaf("Afzender", afz)
        self.leaf("Ontvanger", ontv)
        self.composite("BerichtIdentificatie", [self.bleaf("Identificatie", ident), self.bleaf("Dagtekening", dag)])
        self.composite("XsdVersie", [self.bleaf("BasisschemaXsdVersie", "1.0.0"), self.bleaf("BerichtXsdVersie", "1.0.0")])
        self.close("Header")

    def client_head(self, k, full=True):
        self.leaf("Bsn", k.bsn)
        if full:
            self.leaf("GeheimeClient", 2)
        self.composite("Geboortedatum", [self.bleaf("Datum", k.born)])
        self.leaf("Geslacht", 2)
        self.composite("Naam", [self.bleaf("Geslachtsnaam", self.bleaf("Achternaam", k.name)), self.bleaf("Voorletters", "A"),
                                self.bleaf("NaamGebruik", 1)] if full else [self.bleaf("Geslachtsnaam", self.bleaf("Achternaam", k.name))])
        if full:
            self.leaf("Leefeenheid", 1)

    def contact(self):
        self.open("Contactgegevens")
        self.open("Contact")
        self.leaf("Soort", "01")
        self.composite("Adres", [self.bleaf("Huis", self.bleaf("Huisnummer", 12)), self.bleaf("Postcode", "3511AA"),
                                 self.bleaf("Straatnaam", "Schoolstraat"), self.bleaf("Plaatsnaam", "Utrecht"),
                                 self.bleaf("LandCode", "NL")])
        self.close("Contact")
        self.close("Contactgegevens")

    def indicatie(self, ind, allocations=()):
        self.open("Indicatie")
        self.leaf("Besluitnummer", ind.besluit)
        self.leaf("Soort", 1)
        self.composite("Grondslagen", [self.bleaf("Grondslag01", "01")])
        self.leaf("Afgiftedatum", ind.afgifte)
        self.leaf("Ingangsdatum", ind.start)
        if ind.end:
            self.leaf("Einddatum", ind.end)
        fs = [i for i in ind.items if i[0] == "F"]
        zs = [i for i in ind.items if i[0] == "Z"]
        if fs:
            self.open("GeindiceerdeFuncties")
            for _, code, s, e, kl in fs:
                self.open("GeindiceerdeFunctie")
                self.leaf("FunctieCode", code)
                self.leaf("Ingangsdatum", s)
                if e:
                    self.leaf("Einddatum", e)
                self.leaf("Klasse", kl)
                self.close("GeindiceerdeFunctie")
            self.close("GeindiceerdeFuncties")
        if zs:
            self.open("GeindiceerdeZorgzwaartepakketten")
            for _, code, s, e, _kl in zs:
                self.open("GeindiceerdZorgzwaartepakket")
                self.leaf("ZzpCode", code)
                self.leaf("Ingangsdatum", s)
                if e:
                    self.leaf("Einddatum", e)
                self.leaf("Klasse", "KE7")
                self.leaf("VoorkeurClient", 4)
                self.leaf("Financiering", 1)
                self.close("GeindiceerdZorgzwaartepakket")
            self.close("GeindiceerdeZorgzwaartepakketten")
        tfs = [a for a in allocations if a[0] == "TF"]
        tzs = [a for a in allocations if a[0] == "TZ"]
        if tfs:
            self.open("ToegewezenFuncties")
            for _, code, inst, s, e, td, tt, reden in tfs:
                self.open("ToegewezenFunctie")
                self.leaf("FunctieCode", code)
                self.leaf("Instelling", inst)
                self.leaf("Zorgkantoor", ZK)
                self.leaf("Soort", 1)
                self.leaf("Toewijzingsdatum", td)
                self.leaf("Toewijzingstijd", tt)
                self.leaf("Ingangsdatum", s)
                if e:
                    self.leaf("Einddatum", e)
                if reden:
                    self.leaf("RedenIntrekking", reden)
                self.leaf("Klasse", "K3")
                self.close("ToegewezenFunctie")
            self.close("ToegewezenFuncties")
        if tzs:
            self.open("ToegewezenZorgzwaartepakketten")
            for _, code, inst, vorm, s, e, td, tt in tzs:
                self.open("ToegewezenZorgzwaartepakket")
                self.leaf("ZzpCode", code)
                if inst:
                    self.leaf("Instelling", inst)
                self.leaf("Zorgkantoor", ZK)
                self.leaf("Soort", 1)
                self.leaf("Toewijzingsdatum", td)
                self.leaf("Toewijzingstijd", tt)
                self.leaf("ToewijzingPercentage", 10000)
                self.leaf("Ingangsdatum", s)
                if e:
                    self.leaf("Einddatum", e)
                self.leaf("Klasse", "KE7")
                self.leaf("Leveringsvorm", vorm)
                if inst:
                    self.leaf("Dossierhouder", inst)
                self.leaf("Opname", 1)
                self.close("ToegewezenZorgzwaartepakket")
            self.close("ToegewezenZorgzwaartepakketten")
        self.close("Indicatie")

    def text(self):
        return "\n".join(self.out) + "\n"


def io31(fname, ident, dag, keys, mp, bp, **kw):
    w = W("io31", mp, bp, **kw)
    w.root_open()
    w.header(388, None, ZK, ident, dag)
    w.open("Clienten")
    for key in keys:
        w.open("Client")
        w.client_head(CLIENT[key])
        w.contact()
        w.indicatie(IND[key])
        w.close("Client")
    w.close("Clienten")
    w.close("Bericht")
    return fname, w.text()


def aw33(fname, ident, dag, ontv, entries, mp, bp, **kw):
    w = W("aw33", mp, bp, **kw)
    w.root_open()
    w.header(352, ZK, ontv, ident, dag)
    w.open("Clienten")
    for key, allocs in entries:
        w.open("Client")
        w.client_head(CLIENT[key])
        w.leaf("Partneropname", 2)
        w.contact()
        w.indicatie(IND[key], allocs)
        w.close("Client")
    w.close("Clienten")
    w.close("Bericht")
    return fname, w.text()


def aw35(fname, ident, dag, afz, entries, mp, bp, **kw):
    """entries: (key, [(functie, toewijzing_ingang, begindatum, status)])"""
    w = W("aw35", mp, bp, **kw)
    w.root_open()
    w.header(354, afz, ZK, ident, dag)
    w.open("Clienten")
    for key, items in entries:
        w.open("Client")
        w.client_head(CLIENT[key], full=False)
        w.open("GeleverdeFuncties")
        for code, ting, begin, status in items:
            w.open("GeleverdeFunctie")
            w.leaf("Besluitnummer", IND[key].besluit)
            w.leaf("FunctieCode", code)
            w.leaf("ToewijzingIngangsdatum", ting)
            w.leaf("Begindatum", begin)
            w.leaf("Instelling", afz)
            w.leaf("Klasse", "K3")
            w.leaf("StatusAanlevering", status)
            w.close("GeleverdeFunctie")
        w.close("GeleverdeFuncties")
        w.close("Client")
    w.close("Clienten")
    w.close("Bericht")
    return fname, w.text()


def aw39(fname, ident, dag, afz, entries, mp, bp, **kw):
    """entries: (key, [(functie, toewijzing_ingang, mutatiecode, mutatiedatum, status)])"""
    w = W("aw39", mp, bp, **kw)
    w.root_open()
    w.out.append("<!-- mutaties aanbieder " + afz + " -->")
    w.header(358, afz, ZK, ident, dag)
    w.open("Clienten")
    for key, items in entries:
        w.open("Client")
        w.client_head(CLIENT[key], full=False)
        w.open("MutatieFuncties")
        for code, ting, mcode, mdatum, status in items:
            w.open("MutatieFunctie")
            w.leaf("Besluitnummer", IND[key].besluit)
            w.leaf("FunctieCode", code)
            w.leaf("ToewijzingIngangsdatum", ting)
            w.leaf("Instelling", afz)
            w.leaf("Mutatiecode", mcode)
            w.leaf("Mutatiedatum", mdatum)
            w.leaf("StatusAanlevering", status)
            w.close("MutatieFunctie")
        w.close("MutatieFuncties")
        w.close("Client")
    w.close("Clienten")
    w.close("Bericht")
    return fname, w.text()


J = "2024-01-01"
MESSAGES = [
    io31("01-io31-2023-12-20-ciz.xml", "CIZ231220001", "2023-12-20",
         ["K01", "K02a", "K04", "K05a", "K06", "K07", "K08", "K09", "K10", "K11", "K12", "K13", "K14",
          "K15", "K16", "K19", "K21", "K22", "K23"], "io31", "iwlz"),
    io31("02-io31-2024-03-05-ciz.xml", "CIZ240305001", "2024-03-05", ["K02b", "K03", "K05b"], "", "b"),
    aw33("03-aw33-2024-01-02-11110001.xml", "ZK2401020001", "2024-01-02", P1, [
        ("K01", [tf(81, P1, J), tf(82, P1, J)]),
        ("K02a", [tf(81, P1, "2023-04-01", tdatum="2023-03-25")]),
        ("K05a", [tf(81, P1, J)]),
        ("K06", [tf(81, P1, J), tf(82, P1, J), tz(806, P1, 7, J)]),
        ("K07", [tf(81, P1, J), tz(806, None, 2, J)]),
        ("K08", [tf(81, P1, J), tz(806, None, 2, J)]),
        ("K09", [tf(81, P1, "2023-01-01", tdatum="2022-12-20"), tf(82, P1, "2023-01-01", tdatum="2022-12-20")]),
        ("K11", [tf(81, P1, J)]),
        ("K12", [tf(81, P1, J)]),
        ("K13", [tf(81, P1, J)]),
        ("K14", [tf(81, P1, J), tf(82, P1, J)]),
        ("K15", [tf(81, P1, J)]),
        ("K16", [tf(81, P1, J)]),
        ("K19", [tf(81, P1, "2023-09-01", "2024-08-31", tdatum="2023-08-25")]),
        ("K21", [tf(81, P1, J)]),
        ("K22", [tf(81, P1, J)]),
        ("K23", [tf(81, P1, J)]),
    ], "aw33", "iwlz"),
    aw33("04-aw33-2024-01-02-11110002.xml", "ZK2401020002", "2024-01-02", P2, [
        ("K01", [tf(81, P2, J)]),
        ("K10", [tf(81, P2, J)]),
    ], "x", "y", inline_basis=True),
    aw33("05-aw33-2024-03-08-11110001.xml", "ZK2403080001", "2024-03-08", P1, [
        ("K03", [tf(81, P1, "2024-03-11", tdatum="2024-03-08")]),
        ("K05b", [tf(82, P1, J, tdatum="2024-03-08")]),
        # closes the pgb on 2024-03-10 and allocates mpt from 2024-03-11
        ("K08", [tf(81, P1, J), tz(806, None, 2, J, "2024-03-10", tdatum="2024-03-08", ttijd="14:30:00"),
                 tz(806, P1, 7, "2024-03-11", tdatum="2024-03-08", ttijd="14:30:00")]),
        # a later AW33 with the same natural key closes the allocation on 2024-03-20
        ("K11", [tf(81, P1, J, "2024-03-20", tdatum="2024-03-08", ttijd="11:15:00", reden="02")]),
        # the allocation is closed on 2024-03-15 and a new one starts on 2024-03-16
        ("K16", [tf(81, P1, J, "2024-03-15", tdatum="2024-03-08"), tf(81, P1, "2024-03-16", tdatum="2024-03-08")]),
    ], "", "iwlz"),
    aw35("06-aw35-2024-01-10-11110001.xml", "MAZ240110P1", "2024-01-10", P1, [
        ("K01", [(81, J, "2024-01-08", 1), (82, J, "2024-01-08", 1)]),
        ("K02a", [(81, "2023-04-01", "2023-04-03", 1)]),
        ("K05a", [(81, J, "2024-01-08", 1)]),
        ("K06", [(81, J, "2024-01-08", 1), (82, J, "2024-01-08", 1)]),
        ("K07", [(81, J, "2024-01-08", 1)]),
        ("K08", [(81, J, "2024-01-08", 1)]),
        ("K09", [(81, "2023-01-01", "2023-01-09", 1), (82, "2023-01-01", "2023-01-09", 1)]),
        ("K11", [(81, J, "2024-01-08", 1)]),
        ("K12", [(81, J, "2024-01-08", 1)]),
        ("K14", [(82, J, "2024-01-08", 1)]),
        ("K15", [(81, J, "2024-01-08", 1)]),
        ("K16", [(81, J, "2024-01-08", 1)]),
        ("K19", [(81, "2023-09-01", "2023-09-04", 1)]),
        ("K21", [(81, J, "2024-01-08", 1)]),
        ("K22", [(81, J, "2024-01-08", 1)]),
        ("K23", [(81, J, "2024-01-08", 1)]),
    ], "aw35", "iwlz", pretty=False),
    aw35("07-aw35-2024-01-10-11110002.xml", "MAZ240110P2", "2024-01-10", P2, [
        ("K01", [(81, J, "2024-01-08", 1)]),
        ("K10", [(81, J, "2024-01-08", 1)]),
    ], "ns1", "ns2"),
    aw35("08-aw35-2024-03-12-11110001.xml", "MAZ240312P1", "2024-03-12", P1, [
        ("K03", [(81, "2024-03-11", "2024-03-11", 1)]),
        ("K05b", [(82, J, "2024-01-08", 1)]),
        ("K14", [(81, J, "2024-03-06", 1)]),
        ("K15", [(81, J, "2024-01-08", 3)]),      # withdraws the start reported on 2024-01-10
        ("K16", [(81, "2024-03-16", "2024-03-18", 1)]),
        ("K22", [(81, J, "2024-03-11", 1)]),      # delivery restarts after the AW39 end of 2024-02-29
    ], "", "basis"),
    aw39("09-aw39-2024-03-15-11110001.xml", "MUT240315P1", "2024-03-15", P1, [
        ("K12", [(81, J, 17, "2024-03-13", 1)]),
        ("K21", [(81, J, 18, "2024-03-13", 1)]),   # not an ending mutation
        ("K22", [(81, J, 20, "2024-02-29", 1)]),
        ("K23", [(81, J, 19, "2024-03-13", 1)]),
    ], "aw39", "iwlz", inline_basis=True),
    aw39("10-aw39-2024-03-20-11110001.xml", "MUT240320P1", "2024-03-20", P1, [
        ("K23", [(81, J, 19, "2024-03-13", 3)]),   # withdraws the ending of 2024-03-13
    ], "m", "b"),
]


# ----------------------------------------------------------------- declarations
def minutes_amount(vol, tarief):
    x = Fraction(vol * tarief, 60)
    fl = x.numerator // x.denominator
    return fl + 1 if x - fl >= Fraction(1, 2) else fl


class L:
    def __init__(self, ref, code, begin, end, vol=None, unit=None, tarief=None, bedrag=None, dc="D",
                 vorig=None, ond=None, brin=None, expect=(), fwd=None, orig=None):
        hourly = code in ("H300", "H307")
        self.ref, self.code, self.begin, self.end = ref, code, begin, end
        self.unit = unit or ("04" if hourly else "16")
        self.vol = vol if vol is not None else 2
        self.tarief = tarief if tarief is not None else (7650 if hourly else 6120)
        self.bedrag = bedrag if bedrag is not None else (
            minutes_amount(self.vol, self.tarief) if self.unit == "01" else self.vol * self.tarief)
        self.dc, self.vorig, self.ond, self.brin = dc, vorig, ond, brin
        self.expect = sorted(expect)
        assert len(set(self.expect)) == len(self.expect)
        self.fwd, self.orig = fwd or code, orig

    def xml(self):
        o = ["        <Prestatie>", f"          <ReferentieNummer>{self.ref}</ReferentieNummer>"]
        if self.vorig:
            o.append(f"          <VorigReferentieNummer>{self.vorig}</VorigReferentieNummer>")
        o += [f"          <ProductCode>{self.code}</ProductCode>",
              f"          <Begindatum>{self.begin}</Begindatum>",
              f"          <Einddatum>{self.end}</Einddatum>",
              f"          <GeleverdVolume>{self.vol}</GeleverdVolume>",
              f"          <Eenheid>{self.unit}</Eenheid>",
              f"          <ProductTarief>{self.tarief}</ProductTarief>",
              f"          <Bedrag>{self.bedrag}</Bedrag>",
              f"          <DebetCredit>{self.dc}</DebetCredit>"]
        if self.ond is not None:
            o.append(f"          <Onderwijstijd>{self.ond}</Onderwijstijd>")
        if self.brin is not None:
            o.append(f"          <Brin>{self.brin}</Brin>")
        o.append("        </Prestatie>")
        return o


def zl(ref, code, begin, end, **kw):
    """A ZiO line in school time with a Brin."""
    kw.setdefault("ond", "true")
    kw.setdefault("brin", "12AB")
    return L(ref, code, begin, end, **kw)


class C:
    def __init__(self, bsn, born, besluit, lines):
        self.bsn, self.born, self.besluit, self.lines = bsn, born, besluit, lines


def client(key, lines, born=None, besluit=None):
    k = CLIENT[key] if key in CLIENT else K17
    return C(k.bsn, born or k.born, besluit or IND[key].besluit, lines)


class M:
    def __init__(self, ident, clients, afz=P1, dag="2024-04-02", pb="2024-03-01", pe="2024-03-31"):
        self.ident, self.clients, self.afz, self.dag, self.pb, self.pe = ident, clients, afz, dag, pb, pe

    def lines(self):
        return [(c, l) for c in self.clients for l in c.lines]

    def xml(self):
        ls = [l for _, l in self.lines()]
        o = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<Declaratiebericht xmlns="urn:zio-gateway:declaratie:1">',
             "  <Header>", "    <BerichtIdentificatie>",
             f"      <Identificatie>{self.ident}</Identificatie>",
             f"      <Dagtekening>{self.dag}</Dagtekening>", "    </BerichtIdentificatie>",
             f"    <Afzender>{self.afz}</Afzender>", f"    <Ontvanger>{ZK}</Ontvanger>",
             "    <Declaratieperiode>", f"      <Begindatum>{self.pb}</Begindatum>",
             f"      <Einddatum>{self.pe}</Einddatum>", "    </Declaratieperiode>", "  </Header>",
             "  <Clienten>"]
        for c in self.clients:
            o += ["    <Client>", f"      <Bsn>{c.bsn}</Bsn>", f"      <Geboortedatum>{c.born}</Geboortedatum>",
                  f"      <Besluitnummer>{c.besluit}</Besluitnummer>", "      <Prestaties>"]
            for l in c.lines:
                o += l.xml()
            o += ["      </Prestaties>", "    </Client>"]
        o += ["  </Clienten>", "  <Totalen>",
              f"    <AantalPrestaties>{len(ls)}</AantalPrestaties>",
              f"    <TotaalDebet>{sum(l.bedrag for l in ls if l.dc == 'D')}</TotaalDebet>",
              f"    <TotaalCredit>{sum(l.bedrag for l in ls if l.dc == 'C')}</TotaalCredit>",
              "  </Totalen>", "</Declaratiebericht>", ""]
        return "\n".join(o)

    def expected(self):
        pres, t = [], dict(aantal_geaccepteerd=0, bedrag_geaccepteerd=0, aantal_afgewezen=0, bedrag_afgewezen=0)
        for c, l in self.lines():
            if any(x not in WARN for x in l.expect):
                route = "AFGEWEZEN"
                t["aantal_afgewezen"] += 1
                t["bedrag_afgewezen"] += l.bedrag
            else:
                route = "ZIO" if l.fwd in ZIO else "REGULIER"
                t["aantal_geaccepteerd"] += 1
                t["bedrag_geaccepteerd"] += l.bedrag
            pres.append(dict(referentie_nummer=l.ref, bsn=c.bsn, route=route, product_code=l.fwd,
                             oorspronkelijke_product_code=l.orig, retourcodes=l.expect))
        v = ("Geaccepteerd" if t["aantal_afgewezen"] == 0 else
             "Afgewezen" if t["aantal_geaccepteerd"] == 0 else "Gedeeltelijk")
        return dict(verwerking=v, retourcodes=[], prestaties=pres, totalen=t)


CASES = []
TODAY = "2024-04-10"


def case(slug, desc, msg, today=TODAY, config=None):
    CASES.append((slug, " ".join(desc.split()), msg, today, config))


def ident(n):
    return f"REG-{n:03d}"


N = [200]


def nid():
    N[0] += 1
    return ident(N[0])


# Each case below: the facts it relies on are in README.md (per client K01..K23).
case("registry-clean-basic",
     """K01 has an open-ended indication (81 and 82), allocations of 81 and 82 to 11110001 from
     2024-01-01 and delivery started 2024-01-08 (AW35). Regular H300 and H814 lines in March 2024 by
     11110001: no 04xx code, Geaccepteerd.""",
     M(nid(), [client("K01", [L("R1", "H300", "2024-03-04", "2024-03-08"), L("R2", "H814", "2024-03-11", "2024-03-15")])]))
case("0401-indication-last-day",
     """K02's indication 4200201 runs 2023-04-01 to 2024-03-15 (the allocation of 81 to 11110001 is
     open-ended, delivery since 2023-04-03). A line ending on 2024-03-15 (the indication's last day) is
     fine; a line from 03-15 to 03-18 and one from 03-18 to 03-22 are not covered on every day: 0401.""",
     M(nid(), [client("K02a", [L("R1", "H300", "2024-03-11", "2024-03-15"),
                               L("R2", "H300", "2024-03-15", "2024-03-18", expect=["0401"]),
                               L("R3", "H300", "2024-03-18", "2024-03-22", expect=["0401"]),
                               L("R4", "H300", "2024-03-15", "2024-03-15")])]))
case("0401-successor-indication-first-day",
     """K02's successor indication 4200202 (a later IO31 with a new Besluitnummer) is valid from
     2024-03-16, open-ended, 81 from 2024-03-16. Declared with 4200202: a line on 03-16 (first day) and
     one from 03-18 are fine; a line from 03-15 to 03-16 starts a day early: 0401. The allocation (open
     since 2023-04-01, delivery since 2023-04-03) came with the earlier indication and still counts.""",
     M(nid(), [client("K02b", [L("R1", "H300", "2024-03-16", "2024-03-16"),
                               L("R2", "H300", "2024-03-15", "2024-03-16", expect=["0401"]),
                               L("R3", "H300", "2024-03-18", "2024-03-22")])]))
case("0401-0403-first-day-of-indication-and-allocation",
     """K03's indication 4200301 and the allocation of 81 to 11110001 both start 2024-03-11; delivery
     started 2024-03-11. A line from 03-11 is fine (first day of all three); lines that start before
     03-11 get 0401 and 0403 (0406 is then not checked).""",
     M(nid(), [client("K03", [L("R1", "H300", "2024-03-11", "2024-03-15"),
                              L("R2", "H300", "2024-03-08", "2024-03-12", expect=["0401", "0403"]),
                              L("R3", "H300", "2024-03-10", "2024-03-10", expect=["0401", "0403"])])]))
case("0401-negative-decision",
     """K04's IO31 Indicatie 4200401 has no indicated function and no indicated ZZP: a negative
     decision, nothing can be declared on it (0401). No allocation either (0403).""",
     M(nid(), [client("K04", [L("R1", "H300", "2024-03-04", "2024-03-08", expect=["0401", "0403"])])]))
case("0402-function-of-another-indication",
     """K05 has two indications: 4200501 (81 only) and 4200502 (82 only). Allocations of 81 and 82 to
     11110001 exist (82 came with 4200502) with delivery since 2024-01-08. Declared with 4200501: H300 is
     fine, H814 (function 82) is not in that indication: 0402 alone (the allocation is looked up whatever
     indication it came with).""",
     M(nid(), [client("K05a", [L("R1", "H300", "2024-03-04", "2024-03-08"),
                               L("R2", "H814", "2024-03-11", "2024-03-15", expect=["0402"])])]))
case("0402-indicated-function-starts-mid-month",
     """K05's indication 4200502 is valid from 2024-01-01 but its indicated function 82 starts
     2024-03-11. Declared with 4200502: H814 from 03-11 is fine; H814 from 03-08 to 03-11 is not
     covered by the indicated function: 0402; H300 (81, not indicated in 4200502): 0402.""",
     M(nid(), [client("K05b", [L("R1", "H814", "2024-03-11", "2024-03-15"),
                               L("R2", "H814", "2024-03-08", "2024-03-11", expect=["0402"]),
                               L("R3", "H300", "2024-03-04", "2024-03-08", expect=["0402"])])]))
case("0402-indicated-zzp-covers-every-function",
     """K06's indication has only an indicated ZZP (806), which covers begeleiding and dagbesteding
     alike; 81 and 82 are allocated to 11110001 with a ZZP allocation as mpt (Leveringsvorm 7, care in
     kind). H300 and H814: no codes.""",
     M(nid(), [client("K06", [L("R1", "H300", "2024-03-04", "2024-03-08"), L("R2", "H814", "2024-03-04", "2024-03-08")])]))
case("0404-pgb",
     """K07's ZZP 806 is allocated as a pgb (Leveringsvorm 2, no Instelling) from 2024-01-01,
     open-ended. Although 81 is allocated to 11110001 and delivery started, care in kind cannot be
     declared: 0404.""",
     M(nid(), [client("K07", [L("R1", "H300", "2024-03-04", "2024-03-08", expect=["0404"])])]))
case("0404-pgb-closed-by-later-aw33",
     """K08's pgb allocation (from 2024-01-01) was closed by a later AW33 on 2024-03-10 and mpt
     (Leveringsvorm 7) allocated from 2024-03-11. A line with any day up to 03-10 gets 0404 (the last
     pgb day, and a line crossing it); a line from 03-11 is fine.""",
     M(nid(), [client("K08", [L("R1", "H300", "2024-03-04", "2024-03-08", expect=["0404"]),
                              L("R2", "H300", "2024-03-10", "2024-03-10", expect=["0404"]),
                              L("R3", "H300", "2024-03-10", "2024-03-11", expect=["0404"]),
                              L("R4", "H300", "2024-03-11", "2024-03-15")])]))
case("0405-eighteenth-birthday",
     """K09 is born 2006-03-14 and turns 18 on 2024-03-14. H814 (a child product) from 03-11 to 03-13
     is fine (17 on the Begindatum); H814 from 03-14 gets 0405; H300 (not a child product) from 03-14 is
     fine. Indication, allocations and delivery (since 2023) cover everything.""",
     M(nid(), [client("K09", [L("R1", "H814", "2024-03-11", "2024-03-13"),
                              L("R2", "H814", "2024-03-14", "2024-03-15", expect=["0405"]),
                              L("R3", "H300", "2024-03-14", "2024-03-15")])]))
case("0405-zio-child-code",
     """K09 (18 from 2024-03-14) with the ZiO code H308 (child dagbesteding) in school time by the
     participant 11110001: on 03-13 ZIO without codes, on 03-14 0405.""",
     M(nid(), [client("K09", [zl("R1", "H308", "2024-03-13", "2024-03-13"),
                              zl("R2", "H308", "2024-03-14", "2024-03-14", expect=["0405"])])]))
case("0403-allocated-to-another-provider",
     """K10's 81 is allocated to 11110002 only. 11110001 declares H300: 0403 (the allocation must be to
     the declaring provider).""",
     M(nid(), [client("K10", [L("R1", "H300", "2024-03-04", "2024-03-08", expect=["0403"])])]))
case("registry-allocated-provider-declares",
     """K10's 81 is allocated to 11110002, which started delivery on 2024-01-08. 11110002 (participant
     2023-09-01 to 2024-12-31, agreement 2024 with H307) declares H300 and H307 in school time: REGULIER
     and ZIO, no codes.""",
     M(nid(), [client("K10", [L("R1", "H300", "2024-03-04", "2024-03-08"), zl("R2", "H307", "2024-03-11", "2024-03-15")])], afz=P2))
case("0403-allocation-closed-by-later-aw33",
     """K11's allocation of 81 to 11110001 (AW33 of 2024-01-02, open-ended) was closed on 2024-03-20 by
     an AW33 of 2024-03-08 with the same natural key (FunctieCode, Ingangsdatum, Instelling). A line ending
     03-20 is fine; one crossing the end (03-18 to 03-22) and one after it (03-21) get 0403.""",
     M(nid(), [client("K11", [L("R1", "H300", "2024-03-18", "2024-03-20"),
                              L("R2", "H300", "2024-03-18", "2024-03-22", expect=["0403"]),
                              L("R3", "H300", "2024-03-21", "2024-03-21", expect=["0403"])])]))
case("0406-aw39-ending-mid-month",
     """K12's delivery on the 81 allocation started 2024-01-08 and an AW39 (Mutatiecode 17) ended it on
     2024-03-13, the last day of care. Lines up to 03-13 are fine (03-01, and 03-11 to 03-13); a line to
     03-14 and one from 03-18 get 0406.""",
     M(nid(), [client("K12", [L("R1", "H300", "2024-03-01", "2024-03-01"),
                              L("R2", "H300", "2024-03-11", "2024-03-13"),
                              L("R3", "H300", "2024-03-11", "2024-03-14", expect=["0406"]),
                              L("R4", "H300", "2024-03-18", "2024-03-22", expect=["0406"])])]))
case("0406-no-start-of-delivery",
     """K13 has a valid indication and an allocation of 81 to 11110001, but no AW35 start of delivery
     was ever received: 0406 (require_start_of_delivery is on by default).""",
     M(nid(), [client("K13", [L("R1", "H300", "2024-03-04", "2024-03-08", expect=["0406"])])]))
case("0406-start-of-delivery-boundary",
     """K14's delivery of 81 started 2024-03-06 (AW35 of 2024-03-12); of 82 on 2024-01-08. H300 from
     03-04 and on 03-05 get 0406; H300 from 03-06 (the start day) is fine; H814 from 03-04 is fine.""",
     M(nid(), [client("K14", [L("R1", "H300", "2024-03-04", "2024-03-08", expect=["0406"]),
                              L("R2", "H300", "2024-03-06", "2024-03-08"),
                              L("R3", "H300", "2024-03-05", "2024-03-05", expect=["0406"]),
                              L("R4", "H814", "2024-03-04", "2024-03-08")])]))
case("0406-start-withdrawn",
     """K15's start of delivery (AW35 of 2024-01-10, Begindatum 2024-01-08) was withdrawn by an AW35
     of 2024-03-12 with StatusAanlevering 3 for the same allocation and Begindatum: no start, 0406.""",
     M(nid(), [client("K15", [L("R1", "H300", "2024-03-04", "2024-03-08", expect=["0406"])])]))
case("0403-0406-consecutive-allocations",
     """K16's allocation of 81 to 11110001 was closed on 2024-03-15 and a new one starts 2024-03-16
     (both in the AW33 of 2024-03-08); delivery on the first since 2024-01-08, on the second since
     2024-03-18. Lines inside either allocation with delivery are fine; a line from 03-14 to 03-18 lies in
     no single allocation: 0403; a line on 03-16/03-17 has an allocation but no delivery yet: 0406.""",
     M(nid(), [client("K16", [L("R1", "H300", "2024-03-11", "2024-03-15"),
                              L("R2", "H300", "2024-03-18", "2024-03-22"),
                              L("R3", "H300", "2024-03-14", "2024-03-18", expect=["0403"]),
                              L("R4", "H300", "2024-03-16", "2024-03-17", expect=["0406"])])]))
case("0401-0403-client-unknown-to-registry",
     """K17 (BSN 240300178, elfproef valid) appears in no iWlz message while the registry holds others:
     no indication (0401), no allocation (0403).""",
     M(nid(), [client("K17", [L("R1", "H300", "2024-03-04", "2024-03-08", expect=["0401", "0403"])], besluit=4201701)]))
case("0201-no-04xx",
     """BSN 240300001 fails the elfproef: the line gets 0201 and no 04xx code (the identity cannot be
     looked up), although the registry is loaded.""",
     M(nid(), [C(BAD_BSN, "2013-01-01", 4209901, [L("R1", "H300", "2024-03-04", "2024-03-08", expect=["0201"])])]))
case("0301-no-04xx",
     """K17 is unknown to the registry. A line with the unknown product H999 gets 0301 and nothing else
     (no 04xx for an unknown product); the H300 line gets 0401 and 0403.""",
     M(nid(), [client("K17", [L("R1", "H999", "2024-03-04", "2024-03-08", unit="04", tarief=7650, expect=["0301"]),
                              L("R2", "H300", "2024-03-04", "2024-03-08", expect=["0401", "0403"])], besluit=4201701)]))
case("registry-last-day-of-indication-and-allocation",
     """K19's indication (4201901) and allocation of 81 to 11110001 both end 2024-08-31 (delivery since
     2023-09-04). Declaratieperiode August 2024: lines ending on 08-31 are fine.""",
     M(nid(), [client("K19", [L("R1", "H300", "2024-08-26", "2024-08-31"), L("R2", "H300", "2024-08-31", "2024-08-31")])],
       dag="2024-09-02", pb="2024-08-01", pe="2024-08-31"), today="2024-09-10")
case("0401-0403-day-after-indication-and-allocation",
     """K19's indication and allocation end 2024-08-31. Declaratieperiode September 2024: lines from
     09-01 (the day after) get 0401 and 0403.""",
     M(nid(), [client("K19", [L("R1", "H300", "2024-09-01", "2024-09-01", expect=["0401", "0403"]),
                              L("R2", "H300", "2024-09-02", "2024-09-06", expect=["0401", "0403"])])],
       dag="2024-10-02", pb="2024-09-01", pe="2024-09-30"), today="2024-10-10")
case("registry-open-ended-2025",
     """K01's indication, allocations and delivery are open-ended (no Einddatum): in June 2025 H300 and
     H814 by 11110001 are still fine (no tariffs configured for 2025).""",
     M(nid(), [client("K01", [L("R1", "H300", "2025-06-02", "2025-06-06"), L("R2", "H814", "2025-06-02", "2025-06-06")])],
       dag="2025-07-02", pb="2025-06-01", pe="2025-06-30"), today="2025-07-10")
case("0406-other-mutation-does-not-end",
     """K21 has an AW39 with Mutatiecode 18 on 2024-03-13: only 17, 19, 20 and 21 end the delivery, so
     a line after it is fine.""",
     M(nid(), [client("K21", [L("R1", "H300", "2024-03-18", "2024-03-22")])]))
case("0406-restart-after-end",
     """K22's delivery started 2024-01-08, ended (AW39 Mutatiecode 20) on 2024-02-29 and restarted
     (AW35) on 2024-03-11 on the same allocation. A line from 03-11 is fine (the end lies before the new
     start); a line 03-04 to 03-08 falls in the gap: 0406.""",
     M(nid(), [client("K22", [L("R1", "H300", "2024-03-11", "2024-03-15"),
                              L("R2", "H300", "2024-03-04", "2024-03-08", expect=["0406"])])]))
case("0406-ending-withdrawn",
     """K23's AW39 ending of 2024-03-13 (Mutatiecode 19) was withdrawn by a later AW39 with
     StatusAanlevering 3: a line after 03-13 is fine.""",
     M(nid(), [client("K23", [L("R1", "H300", "2024-03-18", "2024-03-22")])]))
case("registry-zio-lines",
     """K01 with ZiO codes H307 and H308 in school time with a Brin by the participant 11110001
     (agreement 2024 with volumes for both, tariffs within the maximum): checked as functions 81 and 82,
     route ZIO, no codes.""",
     M(nid(), [client("K01", [zl("R1", "H307", "2024-03-04", "2024-03-08"), zl("R2", "H308", "2024-03-11", "2024-03-15")])]))
case("0305-0401-0403",
     """K03's indication and allocation start 2024-03-11. A line in February (outside the
     Declaratieperiode, March) gets 0305 and also 0401 and 0403; the March line is fine.""",
     M(nid(), [client("K03", [L("R1", "H300", "2024-02-26", "2024-02-29", expect=["0305", "0401", "0403"]),
                              L("R2", "H300", "2024-03-18", "2024-03-22")])]))
case("0304-0305-0403-crossing-allocation-end",
     """K11's allocation ends 2024-03-20. A line from 03-28 to 04-02 crosses a month (0304), lies partly
     outside the Declaratieperiode (0305) and outside the allocation (0403). Its Einddatum equals the
     Dagtekening (no 0310).""",
     M(nid(), [client("K11", [L("R1", "H300", "2024-03-28", "2024-04-02", expect=["0304", "0305", "0403"])])]))
case("0303-with-registry",
     """K01: a line with Einddatum (03-11) before Begindatum (03-15) gets 0303 only; every day
     between the two dates is inside K01's open-ended indication, allocation and delivery.""",
     M(nid(), [client("K01", [L("R1", "H300", "2024-03-15", "2024-03-11", expect=["0303"])])]))
case("0306-0404",
     """K07 (pgb): a line with Bedrag 15000 instead of 2 x 7650 = 15300 gets 0306 and 0404.""",
     M(nid(), [client("K07", [L("R1", "H300", "2024-03-04", "2024-03-08", bedrag=15000, expect=["0306", "0404"])])]))
case("0307-0405",
     """K09 (18 from 2024-03-14): H814 from 03-14 with ProductTarief 7000 (maximum 6500 in 2024) gets
     0307 and 0405.""",
     M(nid(), [client("K09", [L("R1", "H814", "2024-03-14", "2024-03-15", tarief=7000, expect=["0307", "0405"])])]))
case("0308-0403",
     """K10 (81 allocated to 11110002 only), declared by 11110001 twice with ReferentieNummer R1: the
     first gets 0403, the second 0308 and 0403.""",
     M(nid(), [client("K10", [L("R1", "H300", "2024-03-04", "2024-03-08", expect=["0403"]),
                              L("R1", "H300", "2024-03-11", "2024-03-15", expect=["0308", "0403"])])]))
case("0309-credit-lines-get-no-04xx",
     """K12 (delivery ended 2024-03-13). R1 (03-11 to 03-13) is fine and R2 credits it: accepted. R3
     (03-18 to 03-22) gets 0406; R4 credits the rejected R3: 0309 only, because a credit line takes back a
     line and is not checked against the registry (interpretation.md).""",
     M(nid(), [client("K12", [L("R1", "H300", "2024-03-11", "2024-03-13"),
                              L("R2", "H300", "2024-03-11", "2024-03-13", dc="C", vorig="R1"),
                              L("R3", "H300", "2024-03-18", "2024-03-22", expect=["0406"]),
                              L("R4", "H300", "2024-03-18", "2024-03-22", dc="C", vorig="R3", expect=["0309"])])]))
case("0311-0406",
     """K13 (no start of delivery): 30 hours on one day gets 0311 and 0406.""",
     M(nid(), [client("K13", [L("R1", "H300", "2024-03-04", "2024-03-04", vol=30, expect=["0311", "0406"])])]))
case("0202-with-04xx",
     """K12 declared with Geboortedatum 2024-05-01 (after the Dagtekening): every line gets 0202; 04xx
     is still checked (only 0201 stops it), so the line after the AW39 end also gets 0406.""",
     M(nid(), [client("K12", [L("R1", "H300", "2024-03-11", "2024-03-13", expect=["0202"]),
                              L("R2", "H300", "2024-03-18", "2024-03-22", expect=["0202", "0406"])], born="2024-05-01")]))
case("0201-0301",
     """BSN 240300001 fails the elfproef and the product H999 is unknown: 0201 and 0301, no 04xx.""",
     M(nid(), [C(BAD_BSN, "2013-01-01", 4209901, [L("R1", "H999", "2024-03-04", "2024-03-08", unit="04", tarief=7650, expect=["0201", "0301"])])]))
case("0501-0405-after-window",
     """September 2025, after the regime's window (policy reject): H308 keeps its ZiO code and gets
     0501; for K09 (aged 19) also 0405 (H308 is a child product). K01 gets 0501 alone.""",
     M(nid(), [client("K09", [zl("R1", "H308", "2025-09-01", "2025-09-05", expect=["0405", "0501"])]),
               client("K01", [zl("R2", "H308", "2025-09-01", "2025-09-05", expect=["0501"])])],
       dag="2025-10-02", pb="2025-09-01", pe="2025-09-30"), today="2025-10-10")
case("0504-remap-then-04xx",
     """September 2025 with policy remap: H308 becomes H814 (0504) and is checked as H814 (function 82,
     child product). K09 (aged 19): 0405, rejected. K01: 0504 only, REGULIER.""",
     M(nid(), [client("K09", [zl("R1", "H308", "2025-09-01", "2025-09-05", expect=["0405", "0504"], fwd="H814", orig="H308")]),
               client("K01", [zl("R2", "H308", "2025-09-01", "2025-09-05", expect=["0504"], fwd="H814", orig="H308")])],
       dag="2025-10-02", pb="2025-09-01", pe="2025-09-30"), today="2025-10-10", config="config-remap")
case("0504-remap-0406",
     """September 2025 with policy remap: H307 for K13 becomes H300 (0504), function 81; K13's
     allocation has no start of delivery: 0406.""",
     M(nid(), [client("K13", [zl("R1", "H307", "2025-09-01", "2025-09-05", expect=["0406", "0504"], fwd="H300", orig="H307")])],
       dag="2025-10-02", pb="2025-09-01", pe="2025-09-30"), today="2025-10-10", config="config-remap")
case("0502-0403-non-participant",
     """22220001 (not a participant, no allocation for K01) declares H307 in school time (0502, 0403)
     and H300 (0403).""",
     M(nid(), [client("K01", [zl("R1", "H307", "2024-03-04", "2024-03-08", expect=["0403", "0502"]),
                              L("R2", "H300", "2024-03-11", "2024-03-15", expect=["0403"])])], afz=NP))
case("0503-0406",
     """K13 (no start of delivery): H307 without a Brin gets 0503 and 0406; H307 with a Brin gets
     0406.""",
     M(nid(), [client("K13", [zl("R1", "H307", "2024-03-04", "2024-03-08", brin=None, expect=["0406", "0503"]),
                              zl("R2", "H307", "2024-03-11", "2024-03-15", expect=["0406"])])]))
case("0505-with-registry",
     """K01 (everything in place): the participant 11110001 declares the regular H300 with
     Onderwijstijd true inside the window: 0505 (a warning), REGULIER, accepted.""",
     M(nid(), [client("K01", [L("R1", "H300", "2024-03-04", "2024-03-08", ond="true", expect=["0505"])])]))
case("0507-0403",
     """11110002 (agreement 2024 has a volume for H307 only) declares H308 for K01, whose 82 is
     allocated to 11110001 only: 0403 and 0507. H300 for K01 (81 allocated to 11110002, delivery since
     2024-01-08) is fine.""",
     M(nid(), [client("K01", [zl("R1", "H308", "2024-03-04", "2024-03-08", expect=["0403", "0507"]),
                              L("R2", "H300", "2024-03-11", "2024-03-15")])], afz=P2))
case("0401-0403-0404-0405-together",
     """K07 (pgb; 81 allocated, 82 not) declared with Geboortedatum 2005-01-01 (aged 19) and an unknown
     Besluitnummer: H814 gets 0401 (no such indication), 0403 (82 not allocated), 0404 (pgb) and 0405
     (child product, 18 or older): every code that applies.""",
     M(nid(), [client("K07", [L("R1", "H814", "2024-03-04", "2024-03-08", expect=["0401", "0403", "0404", "0405"])],
                      born="2005-01-01", besluit=4209999)]))
case("registry-mixed-clients-gedeeltelijk",
     """Three clients in one message: K01 fine, K12 with one line after its AW39 end (0406), K17
     unknown to the registry (0401, 0403): Gedeeltelijk.""",
     M(nid(), [client("K01", [L("R1", "H300", "2024-03-04", "2024-03-08")]),
               client("K12", [L("R2", "H300", "2024-03-04", "2024-03-08"), L("R3", "H300", "2024-03-25", "2024-03-29", expect=["0406"])]),
               client("K17", [L("R4", "H814", "2024-03-04", "2024-03-08", expect=["0401", "0403"])], besluit=4201701)]))
case("0402-0403-checked-independently",
     """K13's indication 4201301 indicates 81 only and only 81 is allocated. H814 (function 82) gets
     0402 (not indicated) and 0403 (not allocated); 0406 is not checked without an allocation.""",
     M(nid(), [client("K13", [L("R1", "H814", "2024-03-04", "2024-03-08", expect=["0402", "0403"])])]))

def write():
    for f in os.listdir(HERE):
        if f.endswith(".xml"):
            os.remove(os.path.join(HERE, f))
    for fname, text in MESSAGES:
        with open(os.path.join(HERE, fname), "w") as f:
            f.write(text)
    cdir = os.path.join(CONF, "cases")
    for d in os.listdir(cdir):
        if re.match(r"^2\d\d-", d) and os.path.exists(os.path.join(cdir, d, "case.toml")):
            if 'registry = "registry"' in open(os.path.join(cdir, d, "case.toml")).read():
                shutil.rmtree(os.path.join(cdir, d))
    for i, (slug, desc, msg, today, config) in enumerate(CASES, 201):
        d = os.path.join(cdir, f"{i:03d}-{slug}")
        os.makedirs(d)
        with open(os.path.join(d, "request.xml"), "w") as f:
            f.write(msg.xml())
        with open(os.path.join(d, "case.toml"), "w") as f:
            esc = desc.replace("\\", "\\\\").replace('"', '\\"')
            f.write(f'description = "{esc}"\ntoday = "{today}"\n')
            if config:
                f.write(f'config = "{config}"\n')
            f.write('registry = "registry"\n')
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(msg.expected(), f, indent=2)
            f.write("\n")
    print(len(MESSAGES), "registry messages,", len(CASES), "cases")


if __name__ == "__main__":
    write()
