#!/usr/bin/env python3
"""Register fixtures from iWlz 2.2 messages: what the Indicatieregister and the
Bemiddelingsregister would hold (their CURRENT state) for the facts carried by
the IO31 and AW33 messages in a directory. AW35/AW39 are skipped: no register
holds them.

    python3 tests/netwerkmodel/fixtures_from_messages.py conformance/registry \
        [--only indicaties|toewijzingen] [--zorgkantoor 5509] > fixtures.json

Messages are read in file-name order; a later message with the same natural key
replaces the earlier one. The output is deterministic (sorted keys, lists sorted
by ID). The gateway reads the registers with exactly this correspondence; see
README.md next to this file. Standard library only.
"""
import argparse
import glob
import json
import os
import re
import sys
import uuid
import xml.etree.ElementTree as ET

NS = uuid.UUID("6f1c1b2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b")
KIND_BY_CODE = {"388": "io31", "352": "aw33", "354": "aw35", "358": "aw39"}
_KIND_RE = re.compile(r"/iwlz/\d+_\d+/(\w+)/schema$")


def uid(text):
    return str(uuid.uuid5(NS, text))


def txt(el, path):
    """Text of the first element at `path` (local names, any namespace), stripped,
    or None if absent or empty."""
    if el is None:
        return None
    v = el.findtext(path)
    if v is None:
        return None
    v = v.strip()
    return v or None


def kind_of(root):
    m = re.match(r"^\{([^}]*)\}", root.tag)
    if m:
        k = _KIND_RE.search(m.group(1))
        if k:
            return k.group(1).lower()
    return KIND_BY_CODE.get(txt(root, "{*}Header/{*}BerichtCode") or "")


def moment(datum, tijd):
    """"{date}T{HH:MM:SS}Z" from Toewijzingsdatum/Toewijzingstijd."""
    hms = "00:00:00"
    if tijd:
        m = re.match(r"^(\d{2}):(\d{2})(?::(\d{2}))?", tijd)
        if not m:
            raise ValueError(f"unreadable Toewijzingstijd {tijd!r}")
        hms = f"{m.group(1)}:{m.group(2)}:{m.group(3) or '00'}"
    return f"{datum}T{hms}Z"


def indicatie_client(bsn, born):
    return {
        "clientID": uid(f"client/{bsn}"),
        "bsn": bsn,
        "geheimeClient": "N",
        "geboorteDatum": born,
        "geboortedatumGebruik": None,
        "geslacht": "0",
        "burgerlijkeStaat": None,
        "geslachtsnaam": "Test",
        "voorvoegselGeslachtsnaam": None,
        "partnernaam": None,
        "voorvoegselPartnernaam": None,
        "voornamen": None,
        "roepnaam": None,
        "voorletters": None,
        "naamGebruik": "1",
        "leefeenheid": None,
        "agbcodeHuisarts": None,
        "communicatieVorm": None,
        "taal": None,
        "commentaar": None,
        "contactPersoon": [],
        "contactGegevens": [],
    }


def gzzp(id_text, code, start, end):
    return {
        "geindiceerdZorgzwaartepakketID": uid(id_text),
        "zzpCode": code,
        "ingangsdatum": start,
        "einddatum": end,
        "voorkeurClient": None,
        "instellingVoorkeur": None,
        "financiering": "1",
        "commentaar": None,
    }


def wlz_indicatie(bsn, born, ind, dagtekening, zorgkantoor):
    besluit = txt(ind, "{*}Besluitnummer")
    start = txt(ind, "{*}Ingangsdatum")
    pakketten = []
    for z in ind.findall("{*}GeindiceerdeZorgzwaartepakketten/{*}GeindiceerdZorgzwaartepakket"):
        code, s = txt(z, "{*}ZzpCode"), txt(z, "{*}Ingangsdatum")
        pakketten.append(gzzp(f"gzzp/{bsn}/{besluit}/{code}/{s}", code, s, txt(z, "{*}Einddatum")))
    # Indicatieregister 2 has no indicated functions: fixture placeholder zzpCode = FunctieCode in three digits ("081")
    for f in ind.findall("{*}GeindiceerdeFuncties/{*}GeindiceerdeFunctie"):
        code, s = txt(f, "{*}FunctieCode"), txt(f, "{*}Ingangsdatum")
        pakketten.append(gzzp(f"gfunctie/{bsn}/{besluit}/{code}/{s}", f"{int(code):03d}", s, txt(f, "{*}Einddatum")))
    pakketten.sort(key=lambda p: p["geindiceerdZorgzwaartepakketID"])
    return {
        "wlzindicatieID": uid(f"indicatie/{bsn}/{besluit}"),
        "bsn": bsn,
        "besluitnummer": int(besluit),
        "soortWlzindicatie": "1",
        "afgiftedatum": txt(ind, "{*}Afgiftedatum") or dagtekening,
        "ingangsdatum": start,
        "einddatum": txt(ind, "{*}Einddatum"),
        "meerzorg": None,
        "initieelVerantwoordelijkZorgkantoor": zorgkantoor,
        "vervaldatum": None,
        "commentaar": None,
        "grondslag": [],
        "geindiceerdZorgzwaartepakket": pakketten,
        "beperking": [],
        "stoornis": [],
        "stoornisScore": [],
        "wzd": None,
        "client": indicatie_client(bsn, born),
    }


def specificatie(id_text, *, bsn, besluit, ind_start, el, zzp_code, leveringsvorm, instelling, dagtekening):
    zk = txt(el, "{*}Zorgkantoor")
    datum = txt(el, "{*}Toewijzingsdatum")
    vastgesteld = moment(datum, txt(el, "{*}Toewijzingstijd")) if datum else moment(dagtekening, None)
    return {
        "bemiddelingspecificatieID": uid(id_text),
        "leveringsvorm": leveringsvorm,
        "zzpCode": zzp_code,
        "toewijzingIngangsdatum": txt(el, "{*}Ingangsdatum"),
        "toewijzingEinddatum": txt(el, "{*}Einddatum"),
        "instelling": instelling,
        "uitvoerendZorgkantoor": zk,
        "vaststellingMoment": vastgesteld,
        "percentage": None,
        "pgbPercentage": None,
        "opname": None,
        "redenIntrekking": txt(el, "{*}RedenIntrekking"),
        "etmalen": None,
        "instellingBestemming": None,
        "soortToewijzing": "1",
        "overdrachtspecificatie": None,
        "bemiddeling": {
            "bemiddelingID": uid(f"bemiddeling/{bsn}/{besluit}"),
            "wlzIndicatieID": uid(f"indicatie/{bsn}/{besluit}"),
            "verantwoordelijkZorgkantoor": zk,
            "verantwoordelijkheidIngangsdatum": ind_start,
            "verantwoordelijkheidEinddatum": None,
            "overdracht": None,
            "client": {
                "clientID": uid(f"client/{bsn}"),
                "bsn": bsn,
                "leefeenheid": None,
                "huisarts": None,
                "communicatievorm": None,
                "taal": None,
            },
        },
    }


def toewijzingen(bsn, ind, dagtekening):
    besluit = txt(ind, "{*}Besluitnummer")
    common = dict(bsn=bsn, besluit=besluit, ind_start=txt(ind, "{*}Ingangsdatum"), dagtekening=dagtekening)
    for z in ind.findall("{*}ToegewezenZorgzwaartepakketten/{*}ToegewezenZorgzwaartepakket"):
        code, start = txt(z, "{*}ZzpCode"), txt(z, "{*}Ingangsdatum")
        inst, vorm = txt(z, "{*}Instelling"), txt(z, "{*}Leveringsvorm")
        yield specificatie(f"bzzp/{bsn}/{code}/{start}/{inst or ''}/{vorm}", el=z, zzp_code=code,
                           leveringsvorm=vorm, instelling=inst, **common)
    for f in ind.findall("{*}ToegewezenFuncties/{*}ToegewezenFunctie"):
        code, start, inst = txt(f, "{*}FunctieCode"), txt(f, "{*}Ingangsdatum"), txt(f, "{*}Instelling")
        yield specificatie(f"bfunctie/{bsn}/{code}/{start}/{inst}", el=f, zzp_code=f"{int(code):03d}",
                           leveringsvorm="7", instelling=inst, **common)


def build(directory, only=None, zorgkantoor="5509"):
    indicaties, specs = {}, {}
    for path in sorted(glob.glob(os.path.join(directory, "*.xml"))):
        root = ET.parse(path).getroot()
        kind = kind_of(root)
        if kind not in ("io31", "aw33"):
            continue
        dag = txt(root, "{*}Header/{*}BerichtIdentificatie/{*}Dagtekening")
        for client in root.findall("{*}Clienten/{*}Client"):
            bsn = txt(client, "{*}Bsn")
            born = txt(client, "{*}Geboortedatum/{*}Datum") or txt(client, "{*}Geboortedatum")
            for ind in client.findall("{*}Indicatie"):
                w = wlz_indicatie(bsn, born, ind, dag, zorgkantoor)
                indicaties[w["wlzindicatieID"]] = w
                if kind == "aw33":
                    for s in toewijzingen(bsn, ind, dag):
                        specs[s["bemiddelingspecificatieID"]] = s
    return {
        "wlzIndicatie": [] if only == "toewijzingen" else [indicaties[k] for k in sorted(indicaties)],
        "bemiddelingspecificatie": [] if only == "indicaties" else [specs[k] for k in sorted(specs)],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("directory", help="directory with iWlz *.xml messages (e.g. conformance/registry)")
    ap.add_argument("--only", choices=["indicaties", "toewijzingen"])
    ap.add_argument("--zorgkantoor", default="5509", help="initieelVerantwoordelijkZorgkantoor of every indication")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.directory):
        ap.error(f"not a directory: {args.directory}")
    out = build(args.directory, args.only, args.zorgkantoor)
    json.dump(out, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
