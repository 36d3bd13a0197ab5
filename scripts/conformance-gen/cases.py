import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *

# valid BSNs (elfproef checked by script): 111222333 123456782 202403014 314159265
# 271828183 555012347 808080805 161803398 999990019; invalid: 123456789 111222334
P1, P2, NP = "11110001", "11110002", "22220001"
TODAY = "2024-04-10"   # default: Declaratieperiode 2024-03, Dagtekening 2024-04-02


def base(ident):
    """The basic valid message: participant 11110001, one client, a ZiO line and a regular minutes line."""
    return M(ident, [C("111222333", "2014-06-12", "4100001", [
        zio("R1", "H307", "2024-03-04", "2024-03-08", 10),                 # 10 h x 7650 = 76500
        reg("R2", "H300", "2024-03-11", "2024-03-15", 90, unit="01"),      # 90 min x 7650/60 = 11475
    ])])


def base_expect(ident):
    m = base(ident)
    return m


# ---------------------------------------------------------------- happy path
case("valid-basic",
     """Basic valid declaration from participant 11110001 in March 2024: an H307 line in school time with
     Brin (agreement 2024 has H307 volume, tariff 7650 <= 8000) -> ZIO, and an H300 line of 90 minutes
     (90 x 7650 / 60 = 11475) without Onderwijstijd -> REGULIER. No codes; Geaccepteerd.""",
     TODAY, base("CONF-001"), boundary=["0105", "0108", "0110", "0201", "0306"])

# ---------------------------------------------------------------- 0101
b = base("CONF-002").xml()
cut = b.index("<GeleverdVolume>90") + len("<GeleverdVol")
case("0101-truncated", "The valid message cut off in the middle of a tag (inside the second Prestatie): not well-formed XML -> 0101.",
     TODAY, raw=b[:cut].encode(), msgcodes=["0101"])
case("0101-binary-garbage", "Binary bytes (a PNG signature followed by pseudo-random bytes), not XML at all -> 0101.",
     TODAY, raw=b"\x89PNG\r\n\x1a\n" + bytes((i * 37 + 11) % 256 for i in range(200)), msgcodes=["0101"])
case("0101-unclosed-tag", "<Besluitnummer> is opened but never closed, so </Client> does not match the open element -> 0101.",
     TODAY, base("CONF-004"), msgcodes=["0101"],
     mutate=[("<Besluitnummer>4100001</Besluitnummer>", "<Besluitnummer>4100001")])
case("0101-mismatched-tags", "<Bsn> closed by </BSN> (XML names are case-sensitive): mismatched end tag -> 0101.",
     TODAY, base("CONF-005"), msgcodes=["0101"],
     mutate=[("<Bsn>111222333</Bsn>", "<Bsn>111222333</BSN>")])
case("0101-empty-file", "An empty file (0 bytes): no root element -> 0101.", TODAY, raw=b"", msgcodes=["0101"])
case("0101-unescaped-ampersand", "A bare '&' in the Identificatie text is not a valid entity or character reference -> 0101.",
     TODAY, base("CONF-007"), msgcodes=["0101"],
     mutate=[("<Identificatie>CONF-007</Identificatie>", "<Identificatie>CONF&007</Identificatie>")])
case("0101-content-after-root", "A second element after the closing root element (two document elements) -> 0101.",
     TODAY, base("CONF-008"), msgcodes=["0101"],
     mutate=[("</Declaratiebericht>\n", "</Declaratiebericht>\n<Declaratiebericht xmlns=\"urn:zio-gateway:declaratie:1\"/>\n")])
b = base("CONF-009").xml().encode().replace(b"<Identificatie>CONF-009</Identificatie>", b"<Identificatie>CONF-\xff009</Identificatie>")
case("0101-invalid-utf8", """Byte 0xFF (never valid in UTF-8) inside the Identificatie text of a document declared
     UTF-8: an encoding error is a fatal well-formedness error in XML 1.0 -> 0101.""", TODAY, raw=b, msgcodes=["0101"])

# ---------------------------------------------------------------- 0102
def c0102(slug, desc, mut, ident):
    case(slug, desc + " The document is well-formed, so 0102 (schema), not 0101.", TODAY, base(ident), msgcodes=["0102"], mutate=mut)

c0102("0102-unknown-element", "An element <Opmerking> that the schema does not know, at the end of a Prestatie.",
      [("<DebetCredit>D</DebetCredit>\n        </Prestatie>\n      </Prestaties>",
        "<DebetCredit>D</DebetCredit>\n          <Opmerking>x</Opmerking>\n        </Prestatie>\n      </Prestaties>")], "CONF-010")
c0102("0102-wrong-order", "Ontvanger before Afzender in the Header: the order is fixed by messages.md.",
      [("    <Afzender>11110001</Afzender>\n    <Ontvanger>5509</Ontvanger>\n",
        "    <Ontvanger>5509</Ontvanger>\n    <Afzender>11110001</Afzender>\n")], "CONF-011")
c0102("0102-missing-element", "The required Besluitnummer of the Client is missing.",
      [("      <Besluitnummer>4100001</Besluitnummer>\n", "")], "CONF-012")
c0102("0102-wrong-namespace", "The root is in namespace urn:zio-gateway:declaratie:2 instead of urn:zio-gateway:declaratie:1.",
      [('xmlns="urn:zio-gateway:declaratie:1"', 'xmlns="urn:zio-gateway:declaratie:2"')], "CONF-013")
c0102("0102-no-namespace", "The root element has no namespace at all (no xmlns): every element must be in urn:zio-gateway:declaratie:1.",
      [(' xmlns="urn:zio-gateway:declaratie:1"', "")], "CONF-014")
c0102("0102-bsn-8-digits", "Bsn 11122233 has 8 digits: a value that is not 9 digits is 0102, not 0201.",
      [("<Bsn>111222333</Bsn>", "<Bsn>11122233</Bsn>")], "CONF-015")
c0102("0102-date-feb-30", "Begindatum 2024-02-30 is not a real calendar date (Datum must be a valid date).",
      [("<Begindatum>2024-03-04</Begindatum>", "<Begindatum>2024-02-30</Begindatum>")], "CONF-016")
c0102("0102-date-with-timezone", "Einddatum 2024-03-15+01:00 carries a time zone; Datum is YYYY-MM-DD without zone.",
      [("<Einddatum>2024-03-15</Einddatum>", "<Einddatum>2024-03-15+01:00</Einddatum>")], "CONF-017")
c0102("0102-date-with-z", "Dagtekening 2024-04-02Z carries the UTC zone designator; Datum has no zone.",
      [("<Dagtekening>2024-04-02</Dagtekening>", "<Dagtekening>2024-04-02Z</Dagtekening>")], "CONF-018")
c0102("0102-volume-0", "GeleverdVolume 0 (Volume is 1 to 99999); Bedrag 0 and TotaalDebet adjusted so only the type is wrong.",
      [("<GeleverdVolume>10</GeleverdVolume>", "<GeleverdVolume>0</GeleverdVolume>"),
       ("<Bedrag>76500</Bedrag>", "<Bedrag>0</Bedrag>"),
       ("<TotaalDebet>87975</TotaalDebet>", "<TotaalDebet>11475</TotaalDebet>")], "CONF-019")
c0102("0102-volume-too-large", "GeleverdVolume 100000 has 6 digits (Volume is 1 to 99999).",
      [("<GeleverdVolume>90</GeleverdVolume>", "<GeleverdVolume>100000</GeleverdVolume>")], "CONF-020")
c0102("0102-eenheid-02", "Eenheid '02' is not one of 01, 04, 16 (an enumeration error, not 0302).",
      [("<Eenheid>01</Eenheid>", "<Eenheid>02</Eenheid>")], "CONF-021")
c0102("0102-debetcredit-x", "DebetCredit 'X' is neither D nor C.",
      [("<DebetCredit>D</DebetCredit>\n        </Prestatie>\n      </Prestaties>",
        "<DebetCredit>X</DebetCredit>\n        </Prestatie>\n      </Prestaties>")], "CONF-022")
c0102("0102-unknown-attribute", "An attribute status=\"nieuw\" on Prestatie: attributes other than xmlns* and xsi:* are 0102 (interpretation.md).",
      [("<Prestatie>\n          <ReferentieNummer>R1<", "<Prestatie status=\"nieuw\">\n          <ReferentieNummer>R1<")], "CONF-023")
c0102("0102-referentie-too-long", "ReferentieNummer of 21 characters (Referentie is 1 to 20 of [A-Za-z0-9-]).",
      [("<ReferentieNummer>R1</ReferentieNummer>", "<ReferentieNummer>R12345678901234567890</ReferentieNummer>")], "CONF-024")
c0102("0102-brin-pattern", "Brin '1234' does not match two digits and two capital letters.",
      [("<Brin>12AB</Brin>", "<Brin>1234</Brin>")], "CONF-025")
c0102("0102-productcode-lowercase", "ProductCode 'h307' does not match one capital letter and three digits (schema, not 0301).",
      [("<ProductCode>H307</ProductCode>", "<ProductCode>h307</ProductCode>")], "CONF-026")
c0102("0102-no-client", "Clienten without any Client (Client+ requires at least one); Totalen 0/0/0.",
      [(base("X").xml()[base("X").xml().index("    <Client>"):base("X").xml().index("  </Clienten>")], ""),
       ("<AantalPrestaties>2</AantalPrestaties>", "<AantalPrestaties>0</AantalPrestaties>"),
       ("<TotaalDebet>87975</TotaalDebet>", "<TotaalDebet>0</TotaalDebet>")], "CONF-027")
c0102("0102-onderwijstijd-ja", "Onderwijstijd 'ja' is not an xs:boolean (true, false, 1, 0).",
      [("<Onderwijstijd>true</Onderwijstijd>", "<Onderwijstijd>ja</Onderwijstijd>")], "CONF-028")

# ---------------------------------------------------------------- 0103
case("0103-doctype", "A plain <!DOCTYPE Declaratiebericht> without internal subset: any DOCTYPE is 0103.",
     TODAY, base("CONF-029"), msgcodes=["0103"],
     mutate=[('<?xml version="1.0" encoding="UTF-8"?>\n', '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Declaratiebericht>\n')])
case("0103-entity-declaration", "An internal entity declaration <!ENTITY zk \"5509\"> used in Ontvanger: entity declarations are not allowed -> 0103 (not expanded, not 0101).",
     TODAY, base("CONF-030"), msgcodes=["0103"],
     mutate=[('<?xml version="1.0" encoding="UTF-8"?>\n',
              '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Declaratiebericht [\n  <!ENTITY zk "5509">\n]>\n'),
             ("<Ontvanger>5509</Ontvanger>", "<Ontvanger>&zk;</Ontvanger>")])
case("0103-external-entity", "An external entity (XXE) to file:///etc/passwd referenced in Identificatie: never resolved, 0103.",
     TODAY, base("CONF-031"), msgcodes=["0103"],
     mutate=[('<?xml version="1.0" encoding="UTF-8"?>\n',
              '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Declaratiebericht [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'),
             ("<Identificatie>CONF-031</Identificatie>", "<Identificatie>&xxe;</Identificatie>")])
case("0103-billion-laughs", "Nested entity expansion (billion laughs) declared and used: 0103 before any expansion.",
     TODAY, base("CONF-032"), msgcodes=["0103"],
     mutate=[('<?xml version="1.0" encoding="UTF-8"?>\n',
              '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Declaratiebericht [\n'
              '  <!ENTITY a "aaaaaaaaaa">\n  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n'
              '  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">\n  <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">\n]>\n'),
             ("<Identificatie>CONF-032</Identificatie>", "<Identificatie>&d;</Identificatie>")])

# ---------------------------------------------------------------- 0105
def credit_msg(ident, aantal=None, debet=None, credit=None):
    # R1 D 3 h H300 = 22950, R2 C of R1 = 22950, R3 D H307 1 h = 7650
    return M(ident, [C("123456782", "2013-02-02", "4100002", [
        reg("R1", "H300", "2024-03-04", "2024-03-04", 3),
        reg("R2", "H300", "2024-03-04", "2024-03-04", 3, dc="C", vorig="R1"),
        zio("R3", "H307", "2024-03-05", "2024-03-05", 1),
    ])], aantal=aantal, debet=debet, credit=credit)

case("0105-count-mismatch", "AantalPrestaties says 3 but the message has 2 Prestaties -> 0105.",
     TODAY, M("CONF-033", base("x").clients, aantal=3), msgcodes=["0105"])
case("0105-debet-sum-mismatch", "TotaalDebet 87976 but the debet lines add up to 76500 + 11475 = 87975 -> 0105.",
     TODAY, M("CONF-034", base("x").clients, debet=87976), msgcodes=["0105"])
case("0105-credit-sum-mismatch", """Lines: R1 D 22950, R2 C 22950, R3 D 7650. TotaalDebet 30600 is right, TotaalCredit
     22900 should be 22950 -> 0105.""", TODAY, credit_msg("CONF-035", credit=22900), msgcodes=["0105"])
case("0105-credit-as-debet", """TotaalDebet given as the net amount 7650 (debet minus credit) and TotaalCredit 0: the sums are
     per DebetCredit (30600 and 22950) -> 0105.""", TODAY, credit_msg("CONF-036", debet=7650, credit=0), msgcodes=["0105"])
m = credit_msg("CONF-037")
case("0105-totals-with-credit-ok", """Totalen right with a credit line: 3 lines, TotaalDebet 22950 + 7650 = 30600, TotaalCredit
     22950 -> no 0105. R2 credits R1, accepted earlier in the same message -> no 0309. All accepted; answer Bedrag
     totals add the unsigned Bedrag of every line (53550).""", TODAY, m, boundary=["0105", "0309"])

# ---------------------------------------------------------------- 0108 0109 0110
case("0108-unknown-zorgkantoor", "Ontvanger 5510 is not in [gateway] zorgkantoren = [\"5509\"] -> 0108.",
     TODAY, M("CONF-038", base("x").clients, ontv="5510"), msgcodes=["0108"])
case("0109-period-reversed", "Declaratieperiode 2024-03-31 to 2024-03-01: Einddatum before Begindatum -> 0109.",
     TODAY, M("CONF-039", base("x").clients, pb="2024-03-31", pe="2024-03-01"), msgcodes=["0109"])
case("0109-single-day-period-ok", """Declaratieperiode 2024-03-15 to 2024-03-15 (Einddatum = Begindatum, not before) -> no 0109;
     the line on that one day is inside it (no 0305).""", TODAY,
     M("CONF-040", [C("202403014", "2012-09-30", "4100003", [reg("R1", "H300", "2024-03-15", "2024-03-15", 2)])],
       pb="2024-03-15", pe="2024-03-15"), boundary=["0109", "0305"])
case("0110-dagtekening-today-ok", "Dagtekening 2024-04-02 and --today 2024-04-02: not after the day of receipt -> no 0110.",
     "2024-04-02", base("CONF-041"), boundary=["0110"])
case("0110-dagtekening-tomorrow", "Dagtekening 2024-04-02 with --today 2024-04-01: the Dagtekening lies after the day of receipt -> 0110.",
     "2024-04-01", base("CONF-042"), msgcodes=["0110"])
case("0108-and-0110", """Ontvanger 5510 (0108) and Dagtekening 2024-04-02 after --today 2024-04-01 (0110): all message-level
     codes found are reported (interpretation.md).""", "2024-04-01",
     M("CONF-043", base("x").clients, ontv="5510"), msgcodes=["0108", "0110"])
case("0109-and-0110", "Declaratieperiode reversed (0109) and Dagtekening after --today (0110): both reported.",
     "2024-04-01", M("CONF-044", base("x").clients, pb="2024-03-31", pe="2024-03-01"), msgcodes=["0109", "0110"])

# ---------------------------------------------------------------- syntax variants that are valid
case("valid-comments-pi", """Valid variants of the same content: elements qualified by a prefix (d:) instead of a default
     namespace, comments (before the root and inside it) and a processing instruction (ignored, interpretation.md).
     Same answer as the basic case.""", TODAY, base("CONF-045"), boundary=["0101", "0102", "0103"],
     mutate=[('<Declaratiebericht xmlns="urn:zio-gateway:declaratie:1">',
              '<!-- declaratie voor maart -->\n<?zio-note anything?>\n<Declaratiebericht xmlns="urn:zio-gateway:declaratie:1">\n  <!-- header volgt -->\n')])
# prefix variant: rewrite every tag to d:
_t = base("CONF-046").xml()
import re
_t = re.sub(r"<(/?)([A-Z][A-Za-z]*)", r"<\1d:\2", _t).replace('xmlns="urn:zio-gateway:declaratie:1"', 'xmlns:d="urn:zio-gateway:declaratie:1"')
case("valid-namespace-prefix", """Every element written with the prefix d: bound to urn:zio-gateway:declaratie:1: namespace plus
     local name is what counts. Same answer as the basic case.""", TODAY, base("CONF-046"), boundary=["0102"],
     mutate=[(base("CONF-046").xml(), _t)])
case("valid-whitespace-boolean-xsi", """Whitespace around simple values is collapsed (xs:token, interpretation.md): '<Bsn> 111222333 </Bsn>'
     is BSN 111222333 and a GeleverdVolume of '10' surrounded by newlines and spaces is 10; Onderwijstijd '1' is
     true (xs:boolean); an xsi:schemaLocation attribute on the root is allowed. Same answer as the basic case (bsn reported as 111222333).""", TODAY, base("CONF-047"), boundary=["0102"],
     mutate=[("<Bsn>111222333</Bsn>", "<Bsn> 111222333 </Bsn>"),
             ("<Onderwijstijd>true</Onderwijstijd>", "<Onderwijstijd>1</Onderwijstijd>"),
             ('<Declaratiebericht xmlns="urn:zio-gateway:declaratie:1">',
              '<Declaratiebericht xmlns="urn:zio-gateway:declaratie:1" '
              'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
              'xsi:schemaLocation="urn:zio-gateway:declaratie:1 declaratie.xsd">'),
             ("<GeleverdVolume>10</GeleverdVolume>", "<GeleverdVolume>\n            10\n          </GeleverdVolume>")])

# ---------------------------------------------------------------- 0201
case("0201-elfproef", """BSN 123456789 fails the elfproef (9+16+21+24+25+24+21+16-9 = 147, not divisible by 11) -> 0201 on the
     client's only line, which is otherwise valid (H300, no Onderwijstijd). Afgewezen.""", TODAY,
     M("CONF-048", [C("123456789", "2012-01-01", "4100004", [reg("R1", "H300", "2024-03-04", "2024-03-05", 4, expect=["0201"])])]))
case("0201-all-zero", "BSN 000000000 passes the weighted sum but is excluded explicitly -> 0201.", TODAY,
     M("CONF-049", [C("000000000", "2012-01-01", "4100005", [reg("R1", "H300", "2024-03-04", "2024-03-05", 4, expect=["0201"])])]))
case("0201-client-several-lines", """Client 111222334 (elfproef fails) with five lines: every line gets 0201, and the 03xx/05xx checks
     still run (retourcodes.md dependencies): R1 H307 without Brin -> 0201+0503; R2 H300 Bedrag 22951 for 3 h x 7650
     -> 0201+0306; R3 H309 of participant 11110001 (2024 agreement has no H309 volume) -> 0201+0507; R4 H300
     Onderwijstijd=true of a participant inside the window -> 0201+0505; R5 H814 otherwise valid -> 0201. A second,
     valid client (202403014) with a valid H307 line -> ZIO. Gedeeltelijk.""", TODAY,
     M("CONF-050", [
         C("111222334", "2011-05-05", "4100006", [
             zio("R1", "H307", "2024-03-04", "2024-03-04", 2, brin=None, expect=["0201", "0503"]),
             reg("R2", "H300", "2024-03-05", "2024-03-05", 3, bedrag=22951, expect=["0201", "0306"]),
             zio("R3", "H309", "2024-03-06", "2024-03-06", 2, expect=["0201", "0507"]),
             reg("R4", "H300", "2024-03-07", "2024-03-07", 2, ond="true", expect=["0201", "0505"]),
             reg("R5", "H814", "2024-03-08", "2024-03-08", 2, expect=["0201"])]),
         C("202403014", "2012-09-30", "4100003", [zio("R6", "H307", "2024-03-11", "2024-03-11", 2)])]),
     boundary=["0201"])

# ---------------------------------------------------------------- 0202
case("0202-birth-after-dagtekening", """Geboortedatum 2024-04-05 is after the Dagtekening 2024-04-02 (and after the lines' Begindatum)
     -> 0202 on both lines of the client. Afgewezen.""", TODAY,
     M("CONF-051", [C("314159265", "2024-04-05", "4100007", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2, expect=["0202"]),
         zio("R2", "H307", "2024-03-05", "2024-03-05", 2, expect=["0202"])])]))
case("0202-birth-after-dagtekening-before-line", """Geboortedatum 2024-04-03 is after the Dagtekening 2024-04-02 but before the line's
     Begindatum 2024-04-05 -> 0202 for the Dagtekening rule alone. The line (2024-04-05..06) also ends after the
     Dagtekening -> 0310. Declaratieperiode April 2024.""", TODAY,
     M("CONF-052", [C("314159265", "2024-04-03", "4100007", [
         reg("R1", "H300", "2024-04-05", "2024-04-06", 2, expect=["0202", "0310"])])],
       pb="2024-04-01", pe="2024-04-30"))
case("0202-birth-after-one-line", """Geboortedatum 2024-03-10 is after the Begindatum of R1 (2024-03-01) but before R2 (2024-03-20):
     0202 is a client code, every line of that client gets it (interpretation.md), so R1 and R2 both 0202. A second
     client is fine -> Gedeeltelijk.""", TODAY,
     M("CONF-053", [
         C("271828183", "2024-03-10", "4100008", [
             reg("R1", "H300", "2024-03-01", "2024-03-05", 2, expect=["0202"]),
             reg("R2", "H300", "2024-03-20", "2024-03-25", 2, expect=["0202"])]),
         C("555012347", "2013-03-03", "4100009", [reg("R3", "H300", "2024-03-20", "2024-03-25", 2)])]))
case("0202-birth-equal-begindatum-ok", """Geboortedatum 2024-03-01 equals the Begindatum of R1 (not after it) and is before the
     Dagtekening -> no 0202. Accepted.""", TODAY,
     M("CONF-054", [C("271828183", "2024-03-01", "4100008", [
         reg("R1", "H300", "2024-03-01", "2024-03-01", 1),
         reg("R2", "H300", "2024-03-02", "2024-03-31", 3)])]), boundary=["0202"])

# ---------------------------------------------------------------- 0301
case("0301-unknown-product", """R1 declares H999 (schema-valid, not in [products]) with every other defect a line can have: period
     2024-03-30..2024-04-02 (crosses a month, outside the Declaratieperiode), 200 hours in 4 days, Bedrag 1, a credit
     without VorigReferentieNummer, Onderwijstijd=true. 0301 suppresses all other 03xx/05xx checks -> only 0301,
     product_code the declared H999. R2 H301 (close to H300/H307 but unknown) -> 0301. Afgewezen.""",
     "2024-04-10",
     M("CONF-055", [C("808080805", "2012-12-12", "4100010", [
         L("R1", "H999", "2024-03-30", "2024-04-02", 200, "04", 7650, bedrag=1, dc="C", ond="true", expect=["0301"]),
         reg("R2", "H301", "2024-03-04", "2024-03-04", 2, expect=["0301"])])]))
case("all-products-known-ok", """Every configured product once (H300, H307, H814, H834, H854, H874, H308, H309, H310, H311) by participant
     11110001 in March 2024: no 0301. ZiO lines with Onderwijstijd and Brin; H307/H308 have agreement volumes (no
     code), H309/H310/H311 have none -> 0507 warning, still accepted (ZIO). Regular lines without Onderwijstijd.
     Geaccepteerd.""", TODAY,
     M("CONF-056", [C("161803398", "2015-07-07", "4100011", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2),
         zio("R2", "H307", "2024-03-05", "2024-03-05", 2),
         reg("R3", "H814", "2024-03-06", "2024-03-06", 2),
         reg("R4", "H834", "2024-03-07", "2024-03-07", 2),
         reg("R5", "H854", "2024-03-08", "2024-03-08", 2),
         reg("R6", "H874", "2024-03-11", "2024-03-11", 2),
         zio("R7", "H308", "2024-03-12", "2024-03-12", 2),
         zio("R8", "H309", "2024-03-13", "2024-03-13", 2, expect=["0507"]),
         zio("R9", "H310", "2024-03-14", "2024-03-14", 2, expect=["0507"]),
         zio("R10", "H311", "2024-03-15", "2024-03-15", 2, expect=["0507"])])]), boundary=["0301", "0302"])

# ---------------------------------------------------------------- 0302
case("0302-unit-not-allowed", """R1 H300 in 16 (dagdeel) with Bedrag 999 (wrong under any reading) -> 0302 only (0306 not checked);
     R2 H814 in 04 (hours), 500 in one day and Bedrag 1 -> 0302 only (0306 and 0311 not checked); R3 H308 in 01
     (minutes) -> 0302; R4 H307 in 16 -> 0302. Afgewezen.""", TODAY,
     M("CONF-057", [C("999990019", "2013-10-10", "4100012", [
         L("R1", "H300", "2024-03-04", "2024-03-04", 2, "16", 7650, bedrag=999, expect=["0302"]),
         L("R2", "H814", "2024-03-05", "2024-03-05", 500, "04", 6120, bedrag=1, expect=["0302"]),
         L("R3", "H308", "2024-03-06", "2024-03-06", 90, "01", 6120, bedrag=9180, ond="true", brin="12AB", expect=["0302"]),
         L("R4", "H307", "2024-03-07", "2024-03-07", 2, "16", 7650, bedrag=15300, ond="true", brin="12AB", expect=["0302"])])]))
case("0302-units-allowed-ok", """Allowed units: H300 in 01 and in 04, H307 in 01 and in 04, H814 and H308 in 16 -> no 0302. Minutes
     amounts: 120 min x 7650 / 60 = 15300. Geaccepteerd.""", TODAY,
     M("CONF-058", [C("999990019", "2013-10-10", "4100012", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 120, unit="01"),
         reg("R2", "H300", "2024-03-05", "2024-03-05", 2, unit="04"),
         zio("R3", "H307", "2024-03-06", "2024-03-06", 120, unit="01"),
         zio("R4", "H307", "2024-03-07", "2024-03-07", 2, unit="04"),
         reg("R5", "H814", "2024-03-08", "2024-03-08", 2),
         zio("R6", "H308", "2024-03-11", "2024-03-11", 2)])]), boundary=["0302"])

# ---------------------------------------------------------------- 0303
case("0303-end-before-begin", """Declaratieperiode 2024-03-01..2024-04-30, Dagtekening 2024-05-02. R1 H300 2024-03-20..2024-03-10 with 500
     hours -> 0303 only (0311 not checked); R2 H300 2024-04-02..2024-03-30 (dates in different months) -> 0303 only
     (0304 not checked). All dates inside the Declaratieperiode and before the Dagtekening. Afgewezen.""",
     "2024-05-10",
     M("CONF-059", [C("111222333", "2014-06-12", "4100001", [
         reg("R1", "H300", "2024-03-20", "2024-03-10", 500, expect=["0303"]),
         reg("R2", "H300", "2024-04-02", "2024-03-30", 2, expect=["0303"])])],
       dag="2024-05-02", pb="2024-03-01", pe="2024-04-30"))
case("0303-single-day-ok", "Begindatum = Einddatum (2024-03-13), 24 hours: not before -> no 0303 (and exactly 24 h/day, no 0311).",
     TODAY, M("CONF-060", [C("111222333", "2014-06-12", "4100001", [reg("R1", "H300", "2024-03-13", "2024-03-13", 24)])]),
     boundary=["0303", "0311"])

# ---------------------------------------------------------------- 0304
case("0304-crosses-month", """Declaratieperiode 2024-03-01..2024-04-30, Dagtekening 2024-05-02. R1 2024-03-25..2024-04-05 -> 0304; R2
     2024-03-31..2024-04-01 (two days) -> 0304; R3 H307 2024-04-01..2024-04-30 (one whole month) -> ZIO.
     Gedeeltelijk.""", "2024-05-10",
     M("CONF-061", [C("123456782", "2013-02-02", "4100002", [
         reg("R1", "H300", "2024-03-25", "2024-04-05", 10, expect=["0304"]),
         reg("R2", "H300", "2024-03-31", "2024-04-01", 4, expect=["0304"]),
         zio("R3", "H307", "2024-04-01", "2024-04-30", 20)])],
       dag="2024-05-02", pb="2024-03-01", pe="2024-04-30"))
case("0304-whole-month-ok", """2024-02-01..2024-02-29 (first to last day of February of a leap year) -> no 0304; Declaratieperiode is
     exactly February, so no 0305 either. Accepted.""", "2024-03-05",
     M("CONF-062", [C("123456782", "2013-02-02", "4100002", [
         reg("R1", "H300", "2024-02-01", "2024-02-29", 30),
         zio("R2", "H307", "2024-02-01", "2024-02-29", 30)])],
       dag="2024-03-01", pb="2024-02-01", pe="2024-02-29"), boundary=["0304", "0305"])
case("0304-crosses-year", """Non-participant 22220001, H300 2023-12-28..2024-01-03: not within one calendar month -> 0304. Declaratieperiode
     2023-12-01..2024-01-31 covers it. (Year of the line = 2023, no 2023 tariff.) Afgewezen.""", "2024-02-10",
     M("CONF-063", [C("555012347", "2013-03-03", "4100009", [reg("R1", "H300", "2023-12-28", "2024-01-03", 6, expect=["0304"])])],
       afz=NP, dag="2024-02-01", pb="2023-12-01", pe="2024-01-31"))

# ---------------------------------------------------------------- 0305
case("0305-outside-declaratieperiode", """Declaratieperiode 2024-03-01..2024-03-15. R1 2024-02-20..2024-02-28 (before) -> 0305; R2
     2024-03-10..2024-03-20 (runs past the end) -> 0305; R3 2024-03-01..2024-03-15 (exactly the period) -> accepted.
     Gedeeltelijk.""", TODAY,
     M("CONF-064", [C("314159265", "2012-04-04", "4100013", [
         reg("R1", "H300", "2024-02-20", "2024-02-28", 3, expect=["0305"]),
         reg("R2", "H300", "2024-03-10", "2024-03-20", 3, expect=["0305"]),
         reg("R3", "H300", "2024-03-01", "2024-03-15", 3)])], pe="2024-03-15"), boundary=["0305"])
case("0305-exactly-period-ok", """Two lines (H300 and H307) covering exactly the Declaratieperiode 2024-03-01..2024-03-31 -> no 0305.
     Geaccepteerd.""", TODAY,
     M("CONF-065", [C("314159265", "2012-04-04", "4100013", [
         reg("R1", "H300", "2024-03-01", "2024-03-31", 40),
         zio("R2", "H307", "2024-03-01", "2024-03-31", 40)])]), boundary=["0305", "0304"])

# ---------------------------------------------------------------- 0306
case("0306-minutes-rounding", """Minutes: Bedrag = GeleverdVolume x ProductTarief / 60 rounded half away from zero. R1 45 min x 7650 =
     5737.5 -> 5738 OK; R2 same with 5737 (truncated) -> 0306; R3 3 min x 7650 = 382.5 -> 383 OK (bankers' rounding
     would give 382); R4 same with 382 -> 0306; R5 1 min x 7590 = 126.5 -> 127 OK; R6 10 min x 7651 = 1275.17 -> 1275
     OK; R7 same with 1276 -> 0306; R8 H307 45 min x 7650 -> 5738 OK (ZIO). Gedeeltelijk.""", TODAY,
     M("CONF-066", [C("271828183", "2011-11-11", "4100014", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 45, unit="01"),
         reg("R2", "H300", "2024-03-05", "2024-03-05", 45, unit="01", bedrag=5737, expect=["0306"]),
         reg("R3", "H300", "2024-03-06", "2024-03-06", 3, unit="01"),
         reg("R4", "H300", "2024-03-07", "2024-03-07", 3, unit="01", bedrag=382, expect=["0306"]),
         reg("R5", "H300", "2024-03-08", "2024-03-08", 1, unit="01", tarief=7590),
         reg("R6", "H300", "2024-03-11", "2024-03-11", 10, unit="01", tarief=7651),
         reg("R7", "H300", "2024-03-12", "2024-03-12", 10, unit="01", tarief=7651, bedrag=1276, expect=["0306"]),
         zio("R8", "H307", "2024-03-13", "2024-03-13", 45, unit="01")])]), boundary=["0306"])
case("0306-hours-dagdelen", """Hours and dagdelen: Bedrag = volume x tarief. R1 H300 3 h x 7650 = 22950 OK; R2 22951 -> 0306; R3 H814
     4 dagdelen x 6120 = 24480 OK; R4 24479 -> 0306; R5 H308 2 x 6120 = 12240 OK; R6 H308 Bedrag 0 -> 0306.
     Gedeeltelijk.""", TODAY,
     M("CONF-067", [C("271828183", "2011-11-11", "4100014", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 3),
         reg("R2", "H300", "2024-03-05", "2024-03-05", 3, bedrag=22951, expect=["0306"]),
         reg("R3", "H814", "2024-03-06", "2024-03-06", 4),
         reg("R4", "H814", "2024-03-07", "2024-03-07", 4, bedrag=24479, expect=["0306"]),
         zio("R5", "H308", "2024-03-08", "2024-03-08", 2),
         zio("R6", "H308", "2024-03-11", "2024-03-11", 2, bedrag=0, expect=["0306"])])]), boundary=["0306"])

# ---------------------------------------------------------------- 0307
case("0307-above-max", """Tariffs one cent above the 2024 maxima: R1 H307 8001 (max 8000) -> 0307; R2 H308 6501 (max 6500) -> 0307;
     R3 H300 8001 -> 0307; R4 H814 6501 -> 0307; R5 H300 in minutes, tarief 8001 per hour (30 min -> 4000.5 ->
     4001) -> 0307; R6 H307 8001 with a wrong Bedrag -> 0306 and 0307 (both reported). Afgewezen.""", TODAY,
     M("CONF-068", [C("555012347", "2013-03-03", "4100009", [
         zio("R1", "H307", "2024-03-04", "2024-03-04", 2, tarief=8001, expect=["0307"]),
         zio("R2", "H308", "2024-03-05", "2024-03-05", 1, tarief=6501, expect=["0307"]),
         reg("R3", "H300", "2024-03-06", "2024-03-06", 2, tarief=8001, expect=["0307"]),
         reg("R4", "H814", "2024-03-07", "2024-03-07", 1, tarief=6501, expect=["0307"]),
         reg("R5", "H300", "2024-03-08", "2024-03-08", 30, unit="01", tarief=8001, expect=["0307"]),
         zio("R6", "H307", "2024-03-11", "2024-03-11", 2, tarief=8001, bedrag=16000, expect=["0306", "0307"])])]))
case("0307-at-max-ok", """Tariffs equal to the 2024 maxima are not above them: H307 8000, H308 6500, H300 8000, H814 6500 -> no 0307.
     H309 at 9000 and H834 at 9000 have no configured maximum -> not tariff-checked (H309 gets 0507: no agreed
     volume). Geaccepteerd.""", TODAY,
     M("CONF-069", [C("555012347", "2013-03-03", "4100009", [
         zio("R1", "H307", "2024-03-04", "2024-03-04", 2, tarief=8000),
         zio("R2", "H308", "2024-03-05", "2024-03-05", 1, tarief=6500),
         reg("R3", "H300", "2024-03-06", "2024-03-06", 2, tarief=8000),
         reg("R4", "H814", "2024-03-07", "2024-03-07", 1, tarief=6500),
         zio("R5", "H309", "2024-03-08", "2024-03-08", 1, tarief=9000, expect=["0507"]),
         reg("R6", "H834", "2024-03-11", "2024-03-11", 1, tarief=9000)])]), boundary=["0307"])
case("0307-2023-not-checked", """Lines in March 2023 (year of Begindatum = 2023) with tariffs above the 2024 maxima: H307 9000, H300 9000,
     H308 9000. No [[tariffs]] for 2023 -> not tariff-checked. Participant 11110001 (from 2023-01-01) has a 2023
     agreement with H307 and H308 volumes -> no 0507. Geaccepteerd.""", "2023-04-10",
     M("CONF-070", [C("555012347", "2013-03-03", "4100009", [
         zio("R1", "H307", "2023-03-06", "2023-03-06", 2, tarief=9000),
         reg("R2", "H300", "2023-03-07", "2023-03-07", 2, tarief=9000),
         zio("R3", "H308", "2023-03-08", "2023-03-08", 1, tarief=9000)])],
       dag="2023-04-03", pb="2023-03-01", pe="2023-03-31"), boundary=["0307"])

# ---------------------------------------------------------------- 0308
case("0308-duplicate-in-message", """ReferentieNummer R1 three times: the first occurrence (H307) is checked normally and accepted, the
     second and third (otherwise valid) get 0308. R2 is unique -> accepted. Gedeeltelijk.""", TODAY,
     M("CONF-071", [C("808080805", "2012-12-12", "4100010", [
         zio("R1", "H307", "2024-03-04", "2024-03-04", 2),
         reg("R1", "H300", "2024-03-05", "2024-03-05", 2, expect=["0308"]),
         reg("R2", "H300", "2024-03-06", "2024-03-06", 2),
         reg("R1", "H300", "2024-03-07", "2024-03-07", 2, expect=["0308"])])]), boundary=["0308"])
case("0308-duplicate-after-rejected-first", """R1 first occurrence has a wrong Bedrag -> 0306 (rejected); the second R1 (otherwise valid) still gets
     0308: retourcodes.md says every later occurrence within the message gets 0308 (the 'accepted' qualifier is
     for lines of earlier messages). Afgewezen.""", TODAY,
     M("CONF-072", [C("808080805", "2012-12-12", "4100010", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2, bedrag=15301, expect=["0306"]),
         reg("R1", "H300", "2024-03-05", "2024-03-05", 2, expect=["0308"])])]))
case("0308-duplicate-across-clients", """R1 used by a line of client A and again by a line of client B: ReferentieNummer is unique per provider,
     not per client -> the later one gets 0308. Gedeeltelijk.""", TODAY,
     M("CONF-073", [
         C("808080805", "2012-12-12", "4100010", [reg("R1", "H300", "2024-03-04", "2024-03-04", 2)]),
         C("161803398", "2015-07-07", "4100011", [reg("R1", "H300", "2024-03-04", "2024-03-04", 2, expect=["0308"])])]), boundary=["0308"])

# ---------------------------------------------------------------- 0309
case("0309-credit-of-accepted-line-ok", """R1 H300 debet, accepted; R2 credits it (VorigReferentieNummer R1, same content, DebetCredit C) later in the
     same message -> no 0309; both REGULIER. R3 H307 debet and R4 its credit -> both ZIO. Geaccepteerd.""", TODAY,
     M("CONF-074", [C("161803398", "2015-07-07", "4100011", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2),
         reg("R2", "H300", "2024-03-04", "2024-03-04", 2, dc="C", vorig="R1"),
         zio("R3", "H307", "2024-03-05", "2024-03-05", 2),
         zio("R4", "H307", "2024-03-05", "2024-03-05", 2, dc="C", vorig="R3")])]), boundary=["0309", "0312"])
case("0309-credit-of-unknown", """R1 is a credit of R9, which is not in this message and (no ledger) unknown -> 0309. R2 a normal debet ->
     accepted. Gedeeltelijk.""", TODAY,
     M("CONF-075", [C("161803398", "2015-07-07", "4100011", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2, dc="C", vorig="R9", expect=["0309"]),
         reg("R2", "H300", "2024-03-05", "2024-03-05", 2)])]))
case("0309-credit-of-rejected-line", """R1 debet with a wrong Bedrag -> 0306 (rejected); R2 credits R1 (its own Bedrag right) -> 0309: the line
     it refers to was not accepted. Afgewezen.""", TODAY,
     M("CONF-076", [C("161803398", "2015-07-07", "4100011", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2, bedrag=15299, expect=["0306"]),
         L("R2", "H300", "2024-03-04", "2024-03-04", 2, "04", 7650, dc="C", vorig="R1", expect=["0309"])])]))
case("0309-second-credit", """R1 debet accepted; R2 credits R1 -> accepted; R3 credits R1 again -> 0309 (already credited).
     Gedeeltelijk.""", TODAY,
     M("CONF-077", [C("161803398", "2015-07-07", "4100011", [
         zio("R1", "H307", "2024-03-04", "2024-03-04", 2),
         zio("R2", "H307", "2024-03-04", "2024-03-04", 2, dc="C", vorig="R1"),
         zio("R3", "H307", "2024-03-04", "2024-03-04", 2, dc="C", vorig="R1", expect=["0309"])])]), boundary=["0309"])
case("0309-credit-before-debet", """Input order counts (interpretation.md): R1 credits R2, but R2 comes later in the message, so at R1
     the line is not (yet) known -> 0309; R2 itself is a valid debet -> accepted. Gedeeltelijk.""", TODAY,
     M("CONF-078", [C("161803398", "2015-07-07", "4100011", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2, dc="C", vorig="R2", expect=["0309"]),
         reg("R2", "H300", "2024-03-04", "2024-03-04", 2)])]), boundary=["0309"])

# ---------------------------------------------------------------- 0310
case("0310-end-after-dagtekening", """Dagtekening 2024-03-20 (Declaratieperiode March 2024, --today 2024-03-25). R1 ends 2024-03-20, on the
     Dagtekening -> no 0310; R2 2024-03-15..2024-03-21 ends the day after -> 0310; R3 2024-03-25..2024-03-31 -> 0310.
     Gedeeltelijk.""", "2024-03-25",
     M("CONF-079", [C("202403014", "2012-09-30", "4100003", [
         reg("R1", "H300", "2024-03-01", "2024-03-20", 5),
         reg("R2", "H300", "2024-03-15", "2024-03-21", 5, expect=["0310"]),
         zio("R3", "H307", "2024-03-25", "2024-03-31", 5, expect=["0310"])])], dag="2024-03-20"), boundary=["0310"])

# ---------------------------------------------------------------- 0311
case("0311-hours-per-day", """Hours (04): at most 24 x days. R1 H300 24 h in 1 day OK; R2 25 h in 1 day -> 0311; R3 H307 48 h in 2 days
     OK; R4 H307 49 h in 2 days -> 0311. Gedeeltelijk.""", TODAY,
     M("CONF-080", [C("999990019", "2013-10-10", "4100012", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 24),
         reg("R2", "H300", "2024-03-05", "2024-03-05", 25, expect=["0311"]),
         zio("R3", "H307", "2024-03-06", "2024-03-07", 48),
         zio("R4", "H307", "2024-03-11", "2024-03-12", 49, expect=["0311"])])]), boundary=["0311"])
case("0311-minutes-per-day", """Minutes (01): at most 1440 x days. R1 H300 1440 min in 1 day OK (183600); R2 1441 min -> 0311 (Bedrag
     1441 x 7650 / 60 = 183727.5 -> 183728, correct); R3 H300 2880 min in 2 days OK; R4 2881 in 2 days -> 0311.
     Gedeeltelijk.""", TODAY,
     M("CONF-081", [C("999990019", "2013-10-10", "4100012", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 1440, unit="01"),
         reg("R2", "H300", "2024-03-05", "2024-03-05", 1441, unit="01", expect=["0311"]),
         reg("R3", "H300", "2024-03-06", "2024-03-07", 2880, unit="01"),
         reg("R4", "H300", "2024-03-11", "2024-03-12", 2881, unit="01", expect=["0311"])])]), boundary=["0311"])
case("0311-dagdelen-per-day", """Dagdelen (16): at most 6 x days. R1 H814 6 in 1 day OK; R2 H814 7 in 1 day -> 0311; R3 H308 6 in 1 day
     OK; R4 H308 7 in 1 day -> 0311; R5 H814 12 in 2 days OK. Gedeeltelijk.""", TODAY,
     M("CONF-082", [C("999990019", "2013-10-10", "4100012", [
         reg("R1", "H814", "2024-03-04", "2024-03-04", 6),
         reg("R2", "H814", "2024-03-05", "2024-03-05", 7, expect=["0311"]),
         zio("R3", "H308", "2024-03-06", "2024-03-06", 6),
         zio("R4", "H308", "2024-03-07", "2024-03-07", 7, expect=["0311"]),
         reg("R5", "H814", "2024-03-11", "2024-03-12", 12)])]), boundary=["0311"])
case("0311-whole-month", """A 31-day period (March 2024): H300 744 h = 24 x 31 OK, 745 h -> 0311; H814 186 dagdelen = 6 x 31 OK, 187
     -> 0311. Days = Einddatum - Begindatum + 1. Gedeeltelijk.""", TODAY,
     M("CONF-083", [
         C("999990019", "2013-10-10", "4100012", [
             reg("R1", "H300", "2024-03-01", "2024-03-31", 744),
             reg("R2", "H814", "2024-03-01", "2024-03-31", 186)]),
         C("111222333", "2014-06-12", "4100001", [
             reg("R3", "H300", "2024-03-01", "2024-03-31", 745, expect=["0311"]),
             reg("R4", "H814", "2024-03-01", "2024-03-31", 187, expect=["0311"])])]), boundary=["0311"])

# ---------------------------------------------------------------- 0312
case("0312-vorig-missing-or-unexpected", """R1 debet accepted. R2 credit without VorigReferentieNummer -> 0312 (0309 not checked). R3 debet with
     VorigReferentieNummer R1 -> 0312. R4 debet with VorigReferentieNummer R99 (unknown) -> 0312 only (0309 is for
     credits, and not checked after 0312). Gedeeltelijk.""", TODAY,
     M("CONF-084", [C("202403014", "2012-09-30", "4100003", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2),
         reg("R2", "H300", "2024-03-04", "2024-03-04", 2, dc="C", expect=["0312"]),
         reg("R3", "H300", "2024-03-05", "2024-03-05", 2, vorig="R1", expect=["0312"]),
         reg("R4", "H300", "2024-03-06", "2024-03-06", 2, vorig="R99", expect=["0312"])])]))

# ---------------------------------------------------------------- 0501
case("0501-after-window", """Care in September 2025, after window_to 2025-08-31, policy reject. R1 H307 2025-09-01..2025-09-30 -> 0501
     (0502 not checked although 11110001's participation ended 2025-08-31; product_code stays H307, no
     oorspronkelijke); R2 H308 on 2025-09-01 without Brin and Onderwijstijd -> 0501 only (0503 not checked); R3
     H300 -> REGULIER, accepted. Gedeeltelijk.""", "2025-10-10",
     M("CONF-085", [C("314159265", "2012-04-04", "4100013", [
         zio("R1", "H307", "2025-09-01", "2025-09-30", 20, expect=["0501"]),
         zio("R2", "H308", "2025-09-01", "2025-09-01", 2, ond=None, brin=None, expect=["0501"]),
         reg("R3", "H300", "2025-09-01", "2025-09-05", 4)])],
       dag="2025-10-01", pb="2025-09-01", pe="2025-09-30"))
case("0501-first-day-of-window", """H307 on 2022-07-25..2022-07-31, from the first day of the window -> no 0501. Nobody is a participant
     in 2022 (11110001 starts 2023-01-01), so 0502 fires instead. Afgewezen.""", "2022-08-05",
     M("CONF-086", [C("314159265", "2012-04-04", "4100013", [
         zio("R1", "H307", "2022-07-25", "2022-07-31", 5, expect=["0502"])])],
       dag="2022-08-01", pb="2022-07-01", pe="2022-07-31"), boundary=["0501"])
case("0501-last-day-of-window", """H307 2025-08-01..2025-08-31 and on 2025-08-31 alone, up to the last day of the window and of 11110001's
     participation -> no 0501, no 0502. No agreement for 2025 -> 0507 (warning), accepted ZIO. Geaccepteerd.""",
     "2025-09-05",
     M("CONF-087", [C("314159265", "2012-04-04", "4100013", [
         zio("R1", "H307", "2025-08-01", "2025-08-31", 20, expect=["0507"]),
         zio("R2", "H307", "2025-08-31", "2025-08-31", 2, expect=["0507"])])],
       dag="2025-09-01", pb="2025-08-01", pe="2025-08-31"), boundary=["0501", "0502"])
case("0501-partly-before-window", """H307 2022-07-20..2022-07-31 has days before window_from 2022-07-25 -> outside the window (any day
     outside) -> 0501 only (0502 not checked). R2 on 2022-07-24, the day before the window -> 0501. Afgewezen.""",
     "2022-08-05",
     M("CONF-088", [C("314159265", "2012-04-04", "4100013", [
         zio("R1", "H307", "2022-07-20", "2022-07-31", 5, expect=["0501"]),
         zio("R2", "H307", "2022-07-24", "2022-07-24", 2, expect=["0501"])])],
       dag="2022-08-01", pb="2022-07-01", pe="2022-07-31"))

# ---------------------------------------------------------------- 0502
case("0502-non-participant", """Provider 22220001 is not a participant. R1 H307 -> 0502 (no 0507: that is only for participants); R2 H308
     -> 0502; R3 H307 without Brin -> 0502 and 0503 (0503 is checked whether or not the pair participates); R4 H300
     -> REGULIER, accepted. Gedeeltelijk.""", TODAY,
     M("CONF-089", [C("555012347", "2013-03-03", "4100009", [
         zio("R1", "H307", "2024-03-04", "2024-03-04", 2, expect=["0502"]),
         zio("R2", "H308", "2024-03-05", "2024-03-05", 2, expect=["0502"]),
         zio("R3", "H307", "2024-03-06", "2024-03-06", 2, brin=None, expect=["0502", "0503"]),
         reg("R4", "H300", "2024-03-07", "2024-03-07", 2)])], afz=NP))
case("0502-before-participation", """Participant 11110002 from 2023-09-01. Declaratieperiode 2023-08-01..2023-09-30. R1 H307 on 2023-08-31 (day
     before) -> 0502; R2 H307 2023-09-01..2023-09-30 (from the first day) -> no 0502, but no 2023 agreement for
     11110002 -> 0507, accepted ZIO; R3 H307 2023-08-01..2023-08-31 -> 0502. Gedeeltelijk.""", "2023-10-10",
     M("CONF-090", [C("808080805", "2012-12-12", "4100010", [
         zio("R1", "H307", "2023-08-31", "2023-08-31", 2, expect=["0502"]),
         zio("R2", "H307", "2023-09-01", "2023-09-30", 20, expect=["0507"]),
         zio("R3", "H307", "2023-08-01", "2023-08-31", 10, expect=["0502"])])],
       afz=P2, dag="2023-10-02", pb="2023-08-01", pe="2023-09-30"), boundary=["0502"])
case("0502-after-participation", """Participant 11110002 until 2024-12-31. Declaratieperiode 2024-12-01..2025-01-31. R1 H307 on 2024-12-31 (last
     day) -> accepted, 2024 agreement has H307; R2 H307 2025-01-01..2025-01-31 -> 0502 (and therefore not 0507); R3
     H307 2024-12-01..2024-12-31 -> accepted. Gedeeltelijk.""", "2025-02-10",
     M("CONF-091", [C("808080805", "2012-12-12", "4100010", [
         zio("R1", "H307", "2024-12-31", "2024-12-31", 2),
         zio("R2", "H307", "2025-01-01", "2025-01-31", 10, expect=["0502"]),
         zio("R3", "H307", "2024-12-01", "2024-12-31", 10)])],
       afz=P2, dag="2025-02-03", pb="2024-12-01", pe="2025-01-31"), boundary=["0502", "0507"])

# ---------------------------------------------------------------- 0503
case("0503-no-brin", "Participant 11110001, H307 and H308 with Onderwijstijd=true but no Brin -> 0503 on both. Afgewezen.", TODAY,
     M("CONF-092", [C("161803398", "2015-07-07", "4100011", [
         zio("R1", "H307", "2024-03-04", "2024-03-04", 2, brin=None, expect=["0503"]),
         zio("R2", "H308", "2024-03-05", "2024-03-05", 2, brin=None, expect=["0503"])])]))
case("0503-onderwijstijd-false", "H307 with Brin and Onderwijstijd 'false', H308 with Brin and Onderwijstijd '0' -> 0503 on both. Afgewezen.",
     TODAY,
     M("CONF-093", [C("161803398", "2015-07-07", "4100011", [
         zio("R1", "H307", "2024-03-04", "2024-03-04", 2, ond="false", expect=["0503"]),
         zio("R2", "H308", "2024-03-05", "2024-03-05", 2, ond="0", expect=["0503"])])]))
case("0503-onderwijstijd-absent", "H307 with Brin but no Onderwijstijd element -> 0503. Afgewezen.", TODAY,
     M("CONF-094", [C("161803398", "2015-07-07", "4100011", [
         zio("R1", "H307", "2024-03-04", "2024-03-04", 2, ond=None, expect=["0503"])])]))
case("0503-complete-ok", """H307 with Onderwijstijd 'true' and Brin 12AB, H308 with Onderwijstijd '1' and Brin 99ZZ -> no 0503.
     Geaccepteerd.""", TODAY,
     M("CONF-095", [C("161803398", "2015-07-07", "4100011", [
         zio("R1", "H307", "2024-03-04", "2024-03-04", 2),
         zio("R2", "H308", "2024-03-05", "2024-03-05", 2, ond="1", brin="99ZZ")])]), boundary=["0503"])

# ---------------------------------------------------------------- 0504 (remap)
case("0504-remap-after-window", """config-remap (out_of_window = remap). September 2025 is after the window: R1 H307 -> 0504, forwarded as
     H300 (REGULIER, oorspronkelijke H307); R2 H308 -> 0504, H814 (oorspronkelijke H308); R3 H309 without Brin or
     Onderwijstijd -> 0504 only (0503 is not checked outside the window), H834. A warning: all accepted.
     Geaccepteerd.""", "2025-10-10",
     M("CONF-096", [C("314159265", "2012-04-04", "4100013", [
         zio("R1", "H307", "2025-09-01", "2025-09-30", 20, expect=["0504"], fwd="H300", orig="H307"),
         zio("R2", "H308", "2025-09-02", "2025-09-02", 2, expect=["0504"], fwd="H814", orig="H308"),
         zio("R3", "H309", "2025-09-03", "2025-09-03", 2, ond=None, brin=None, expect=["0504"], fwd="H834", orig="H309")])],
       dag="2025-10-01", pb="2025-09-01", pe="2025-09-30"), config="config-remap")
case("0504-remap-uses-regular-tariff", """config-remap, July 2022 (before the window). The config has a 2022 maximum for H300 (7000) and none for
     H307, so this shows 0307 is checked against the code as forwarded. R1 H307 2022-07-01..2022-07-24 at 7000 ->
     0504, REGULIER H300/H307; R2 H307 at 7001 -> 0307 + 0504, AFGEWEZEN, product_code H300 and oorspronkelijke H307
     (also when rejected); R3 a plain H300 at 7001 -> 0307; R4 H307 2022-07-20..2022-07-31 (partly before the window)
     at 7000 -> 0504, H300. Gedeeltelijk.""", "2022-08-05",
     M("CONF-097", [C("314159265", "2012-04-04", "4100013", [
         zio("R1", "H307", "2022-07-01", "2022-07-24", 10, tarief=7000, expect=["0504"], fwd="H300", orig="H307"),
         zio("R2", "H307", "2022-07-04", "2022-07-04", 2, tarief=7001, expect=["0307", "0504"], fwd="H300", orig="H307"),
         reg("R3", "H300", "2022-07-05", "2022-07-05", 2, tarief=7001, expect=["0307"]),
         zio("R4", "H307", "2022-07-20", "2022-07-31", 10, tarief=7000, expect=["0504"], fwd="H300", orig="H307")])],
       dag="2022-08-01", pb="2022-07-01", pe="2022-07-31"), config="config-remap", boundary=["0307"])
case("0504-remap-inside-window-unchanged", """config-remap, March 2024 (inside the window): remap does not apply. R1 H307 -> ZIO, no codes; R2 H307
     without Brin -> 0503 (still a fout inside the window), product_code H307. Gedeeltelijk.""", TODAY,
     M("CONF-098", [C("314159265", "2012-04-04", "4100013", [
         zio("R1", "H307", "2024-03-04", "2024-03-04", 2),
         zio("R2", "H307", "2024-03-05", "2024-03-05", 2, brin=None, expect=["0503"])])]),
     config="config-remap", boundary=["0504"])

# ---------------------------------------------------------------- 0505
case("0505-regular-code-in-school-time", """Participant 11110001, March 2024 (inside the window, participating): regular codes with
     Onderwijstijd=true: R1 H300 -> 0505; R2 H814 with Brin -> 0505; R3 H854 -> 0505. Warnings: all accepted
     REGULIER. Geaccepteerd.""", TODAY,
     M("CONF-099", [C("202403014", "2012-09-30", "4100003", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2, ond="true", expect=["0505"]),
         reg("R2", "H814", "2024-03-05", "2024-03-05", 2, ond="true", brin="12AB", expect=["0505"]),
         reg("R3", "H854", "2024-03-06", "2024-03-06", 2, ond="true", expect=["0505"])])]))
case("0505-participant-not-in-school-time", """Participant 11110001 with regular codes: H300 Onderwijstijd=false, H300 without Onderwijstijd, H814
     Onderwijstijd '0' -> no 0505. Geaccepteerd.""", TODAY,
     M("CONF-100", [C("202403014", "2012-09-30", "4100003", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2, ond="false"),
         reg("R2", "H300", "2024-03-05", "2024-03-05", 2),
         reg("R3", "H814", "2024-03-06", "2024-03-06", 2, ond="0")])]), boundary=["0505"])
case("0505-non-participant", """Non-participant 22220001 declares H300 and H814 with Onderwijstijd=true: 0505 applies only to
     participants -> no code. Geaccepteerd.""", TODAY,
     M("CONF-101", [C("202403014", "2012-09-30", "4100003", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2, ond="true"),
         reg("R2", "H814", "2024-03-05", "2024-03-05", 2, ond="true", brin="12AB")])], afz=NP), boundary=["0505"])
case("0505-outside-window", """Participant 11110001 declares H300 with Onderwijstijd=true in September 2025, after the window (and
     after its participation) -> no 0505. Geaccepteerd.""", "2025-10-10",
     M("CONF-102", [C("202403014", "2012-09-30", "4100003", [
         reg("R1", "H300", "2025-09-01", "2025-09-05", 4, ond="true", brin="12AB")])],
       dag="2025-10-01", pb="2025-09-01", pe="2025-09-30"), boundary=["0505"])
case("0505-before-participation", """11110001 declares H300 with Onderwijstijd=true in December 2022: inside the window but before its
     participation (from 2023-01-01) -> no 0505. Tarief 7000 = the configured 2022 maximum for H300 (no 0307).
     Geaccepteerd.""", "2023-01-10",
     M("CONF-103", [C("202403014", "2012-09-30", "4100003", [
         reg("R1", "H300", "2022-12-05", "2022-12-09", 4, tarief=7000, ond="true")])],
       dag="2023-01-02", pb="2022-12-01", pe="2022-12-31"), boundary=["0505"])

# ---------------------------------------------------------------- 0507
case("0507-no-volume-for-code", """Participant 11110001, 2024 agreement has volumes for H307 and H308 only. R1 H309 -> 0507; R2 H310 ->
     0507; R3 H307 -> none; R4 H308 -> none. Warnings: all accepted ZIO. Geaccepteerd.""", TODAY,
     M("CONF-104", [C("123456782", "2013-02-02", "4100002", [
         zio("R1", "H309", "2024-03-04", "2024-03-04", 2, expect=["0507"]),
         zio("R2", "H310", "2024-03-05", "2024-03-05", 2, expect=["0507"]),
         zio("R3", "H307", "2024-03-06", "2024-03-06", 2),
         zio("R4", "H308", "2024-03-07", "2024-03-07", 2)])]), boundary=["0507"])
case("0507-second-participant", """Participant 11110002, its 2024 agreement has only H307. R1 H307 -> none; R2 H308 (tarief 6120 <= 6500) ->
     0507. Geaccepteerd.""", TODAY,
     M("CONF-105", [C("123456782", "2013-02-02", "4100002", [
         zio("R1", "H307", "2024-03-04", "2024-03-04", 2),
         zio("R2", "H308", "2024-03-05", "2024-03-05", 2, expect=["0507"])])], afz=P2), boundary=["0507"])
case("0507-not-after-participation-ended", """11110002 declares H307 in January 2025: its participation ended 2024-12-31, so the pair is not a
     participant -> 0502, not 0507 (never together). Its H300 with Onderwijstijd=true is not 0505 either (not a
     participant). Gedeeltelijk.""", "2025-02-10",
     M("CONF-106", [C("123456782", "2013-02-02", "4100002", [
         zio("R1", "H307", "2025-01-06", "2025-01-10", 8, expect=["0502"]),
         reg("R2", "H300", "2025-01-13", "2025-01-17", 8, ond="true")])],
       afz=P2, dag="2025-02-03", pb="2025-01-01", pe="2025-01-31"), boundary=["0507", "0505"])

# ---------------------------------------------------------------- mixed batches
case("mixed-gedeeltelijk", """Three clients. A (314159265): A1 H307 -> ZIO; A2 H300 45 min = 5738 -> REGULIER; A3 H308 Bedrag 12241
     (should be 12240) -> 0306. B (271828183): B1 H814 -> REGULIER; B2 H309 -> 0507, ZIO; B3 H307 without Brin ->
     0503. C (123456789, elfproef fails): C1 H300 -> 0201. Totalen of the declaration include the rejected lines.
     Gedeeltelijk.""", TODAY,
     M("CONF-107", [
         C("314159265", "2012-04-04", "4100013", [
             zio("A1", "H307", "2024-03-04", "2024-03-08", 10),
             reg("A2", "H300", "2024-03-11", "2024-03-11", 45, unit="01"),
             zio("A3", "H308", "2024-03-12", "2024-03-12", 2, bedrag=12241, expect=["0306"])]),
         C("271828183", "2011-11-11", "4100014", [
             reg("B1", "H814", "2024-03-04", "2024-03-04", 3),
             zio("B2", "H309", "2024-03-05", "2024-03-05", 3, expect=["0507"]),
             zio("B3", "H307", "2024-03-06", "2024-03-06", 3, brin=None, expect=["0503"])]),
         C("123456789", "2012-01-01", "4100004", [reg("C1", "H300", "2024-03-07", "2024-03-07", 2, expect=["0201"])])]),
     boundary=["0105"])
case("mixed-all-rejected", """Every line rejected -> Afgewezen (not a message-level code: lines are listed). A (555012347): A1 H307 at
     8001 -> 0307; A2 H300 in 16 -> 0302. B (111222334, elfproef fails, born 2024-05-01 after the Dagtekening):
     B1 -> 0201 and 0202. C (808080805, born 2024-03-06): C1 begins 2024-03-04 -> 0202; C2 H307 without Brin
     begins 2024-03-11 -> 0202 and 0503.""", TODAY,
     M("CONF-108", [
         C("555012347", "2013-03-03", "4100009", [
             zio("A1", "H307", "2024-03-04", "2024-03-04", 2, tarief=8001, expect=["0307"]),
             L("A2", "H300", "2024-03-05", "2024-03-05", 2, "16", 7650, bedrag=15300, expect=["0302"])]),
         C("111222334", "2024-05-01", "4100006", [reg("B1", "H300", "2024-03-06", "2024-03-06", 2, expect=["0201", "0202"])]),
         C("808080805", "2024-03-06", "4100010", [
             reg("C1", "H300", "2024-03-04", "2024-03-04", 2, expect=["0202"]),
             zio("C2", "H307", "2024-03-11", "2024-03-11", 2, brin=None, expect=["0202", "0503"])])]))
case("mixed-all-accepted", """Two clients, ZiO and regular lines, a credit, warnings: A (999990019): A1 H307 -> ZIO; A2 H300 -> REGULIER;
     A3 credit of A1 -> ZIO. B (161803398): B1 H814 Onderwijstijd=true -> 0505 (warning) REGULIER; B2 H311 -> 0507
     (warning) ZIO; B3 H308 -> ZIO. Warnings do not reject -> Geaccepteerd.""", TODAY,
     M("CONF-109", [
         C("999990019", "2013-10-10", "4100012", [
             zio("A1", "H307", "2024-03-04", "2024-03-08", 10),
             reg("A2", "H300", "2024-03-11", "2024-03-15", 6),
             zio("A3", "H307", "2024-03-04", "2024-03-08", 10, dc="C", vorig="A1")]),
         C("161803398", "2015-07-07", "4100011", [
             reg("B1", "H814", "2024-03-04", "2024-03-04", 2, ond="true", brin="12AB", expect=["0505"]),
             zio("B2", "H311", "2024-03-05", "2024-03-05", 2, expect=["0507"]),
             zio("B3", "H308", "2024-03-06", "2024-03-06", 2)])]))

case("0105-ends-processing", """AantalPrestaties 3 for 2 lines (0105) while the lines also have line-level problems (an elfproef-failing BSN,
     a wrong Bedrag): a message-level code ends processing, so only 0105, no Prestaties, all Totalen 0.""", TODAY,
     M("CONF-110", [C("123456789", "2012-01-01", "4100004", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2, bedrag=1),
         reg("R2", "H300", "2024-03-05", "2024-03-05", 2)])], aantal=3), msgcodes=["0105"])
case("0505-second-participant", """Participant 11110002 (2023-09-01..2024-12-31) declares regular codes with Onderwijstijd=true in March 2024:
     H300 -> 0505, H874 with Brin -> 0505. Warnings: accepted REGULIER. Geaccepteerd.""", TODAY,
     M("CONF-111", [C("555012347", "2013-03-03", "4100009", [
         reg("R1", "H300", "2024-03-04", "2024-03-04", 2, ond="true", expect=["0505"]),
         reg("R2", "H874", "2024-03-05", "2024-03-05", 2, ond="true", brin="34CD", expect=["0505"])])], afz=P2))
