#!/usr/bin/env python3
"""Self-test of the local netwerkmodel register (register.py) and of the fixture
generator (fixtures_from_messages.py).

    python3 tests/netwerkmodel/test_register.py [-v]

Needs Python 3.11 with graphql-core 3.2 and the `openssl` command. Set
REGISTER_TEST_LOG=1 to see the register's stderr log after the run.
"""
import base64
import http.client
import json
import os
import queue
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCHEMAS = os.path.join(REPO, "schemas", "netwerkmodel")
MESSAGES = os.path.join(REPO, "conformance", "registry")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import register  # noqa: E402

NS = uuid.UUID("6f1c1b2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b")
ZK = "5509"


def uid(text):
    return str(uuid.uuid5(NS, text))


def read_query(name):
    with open(os.path.join(SCHEMAS, name), encoding="utf-8") as f:
        return f.read()


def run_fixtures(*args):
    proc = subprocess.run([sys.executable, os.path.join(HERE, "fixtures_from_messages.py"), MESSAGES, *args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return proc.stdout


class Server:
    """register.py as a subprocess."""

    def __init__(self, d, fixtures, *extra):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.log = open(os.path.join(d, f"register-{time.time_ns()}.log"), "wb")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "register.py"), "--dir", d, "--fixtures", fixtures,
             "--schemas", SCHEMAS, *extra],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        lines = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=60).decode()
        except queue.Empty:
            self.stop()
            raise AssertionError("register did not print its listening line within 60 s")
        if not line.startswith("listening 127.0.0.1:"):
            self.stop()
            raise AssertionError(f"unexpected first stdout line {line!r}; log:\n{self.log_text()}")
        self.port = int(line.strip().rsplit(":", 1)[1])

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode


class Client:
    def __init__(self, server, cert="client", host="localhost"):
        self.server, self.host = server, host
        d = server.dir
        self.ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
        if cert:
            self.ctx.load_cert_chain(os.path.join(d, f"{cert}.pem"), os.path.join(d, f"{cert}.key"))

    def request(self, method, path, body=None, headers=None, timeout=15):
        conn = http.client.HTTPSConnection(self.host, self.server.port, context=self.ctx, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read()
            ctype = resp.getheader("Content-Type", "")
            data = json.loads(raw) if ctype.startswith("application/json") and raw else raw
            return resp.status, resp, data
        finally:
            conn.close()

    def token_response(self, client_id="gateway", secret="s3cret-for-tests", basic=True, form=None):
        fields = {"grant_type": "client_credentials", **(form or {})}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if basic:
            pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            fields.update(client_id=client_id, client_secret=secret)
        return self.request("POST", "/oauth2/token", urllib.parse.urlencode(fields).encode(), headers)

    def token(self):
        status, _, body = self.token_response()
        assert status == 200, (status, body)
        return body["access_token"]

    def gql(self, reg, query, variables=None, token=None, operation_name=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        payload = {"query": query, "variables": variables}
        if operation_name:
            payload["operationName"] = operation_name
        return self.request("POST", f"/{reg}/graphql", payload, headers)

    def ok(self, reg, query, variables=None, token=None):
        status, _, body = self.gql(reg, query, variables, token or self.token())
        assert status == 200, (status, body)
        assert "errors" not in body, body["errors"]
        return body["data"]


class FilterEvaluatorTest(unittest.TestCase):
    """The generic `where` evaluator on plain dicts."""

    obj = {"s": "abc", "d": "2024-03-08", "t": "2024-03-08T14:30:00Z", "n": 5, "z": None,
           "o": {"k": "v", "l": [{"x": 1}, {"x": 2}]}, "l": [{"x": 1}, {"x": 3}], "e": [], "u": "6F1C1B2E-3C4D-4E5F-8A9B-0C1D2E3F4A5B"}

    def m(self, flt):
        return register.matches(self.obj, flt)

    def test_operations(self):
        yes = [{"s": {"eq": "abc"}}, {"s": {"neq": "abd"}}, {"s": {"in": ["x", "abc"]}}, {"s": {"nin": ["x"]}},
               {"s": {"contains": "b"}}, {"s": {"ncontains": "q"}}, {"s": {"startsWith": "ab"}},
               {"s": {"nstartsWith": "b"}}, {"s": {"endsWith": "bc"}}, {"s": {"nendsWith": "ab"}},
               {"d": {"gte": "2024-03-08", "lt": "2024-03-09"}}, {"d": {"gt": "2024-02-29"}},
               {"d": {"ngt": "2024-03-08"}}, {"d": {"nlt": "2024-03-08"}}, {"d": {"lte": "2024-03-08"}},
               {"n": {"gt": 4, "lt": 6}}, {"n": {"in": [5]}}, {"n": {"ngte": 6}}, {"n": {"nlte": 4}},
               {"t": {"gt": "2024-03-08T15:00:00+01:00"}},
               {"t": {"eq": "2024-03-08T15:30:00+01:00"}}, {"t": {"lt": "2024-03-08T14:30:01Z"}},
               {"u": {"eq": "6f1c1b2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"}},
               {"z": {"eq": None}}, {"z": {"neq": "x"}}, {"s": {"or": [{"eq": "x"}, {"eq": "abc"}]}}]
        no = [{"s": {"eq": "abd"}}, {"s": {"neq": "abc"}}, {"s": {"in": ["x"]}}, {"s": {"nin": ["abc"]}},
              {"s": {"contains": "q"}}, {"s": {"startsWith": "b"}}, {"s": {"endsWith": "ab"}},
              {"d": {"gt": "2024-03-08"}}, {"d": {"lt": "2024-03-08"}}, {"d": {"ngte": "2024-03-08"}},
              {"n": {"gt": 5}}, {"n": {"eq": "5"}}, {"t": {"gt": "2024-03-08T15:30:00+01:00"}},
              {"s": {"and": [{"eq": "abc"}, {"eq": "x"}]}}]
        for f in yes:
            self.assertTrue(self.m(f), f)
        for f in no:
            self.assertFalse(self.m(f), f)

    def test_null_never_matches_a_comparison(self):
        for op in ("gt", "gte", "lt", "lte", "ngt", "ngte", "nlt", "nlte", "contains", "ncontains",
                   "startsWith", "nstartsWith", "endsWith", "nendsWith"):
            self.assertFalse(self.m({"z": {op: "2024-01-01"}}), op)
            self.assertFalse(self.m({"missing": {op: "2024-01-01"}}), op)
        self.assertFalse(self.m({"z": {"eq": "x"}}))

    def test_and_or_nested_and_lists(self):
        self.assertTrue(self.m({"and": [{"s": {"eq": "abc"}}, {"n": {"eq": 5}}]}))
        self.assertFalse(self.m({"and": [{"s": {"eq": "abc"}}, {"n": {"eq": 6}}]}))
        self.assertTrue(self.m({"or": [{"s": {"eq": "x"}}, {"n": {"eq": 5}}]}))
        self.assertFalse(self.m({"or": [{"s": {"eq": "x"}}, {"n": {"eq": 6}}]}))
        self.assertTrue(self.m({"o": {"k": {"eq": "v"}}}))
        self.assertFalse(self.m({"o": {"k": {"eq": "w"}}}))
        self.assertFalse(self.m({"z": {"k": {"eq": "v"}}}))  # object filter on a null object
        self.assertTrue(self.m({"o": {"l": {"all": {"x": {"lte": 2}}}}}))
        self.assertFalse(self.m({"l": {"all": {"x": {"lte": 2}}}}))
        self.assertTrue(self.m({"l": {"some": {"x": {"eq": 3}}}}))
        self.assertFalse(self.m({"l": {"some": {"x": {"eq": 2}}}}))
        self.assertTrue(self.m({"l": {"none": {"x": {"eq": 2}}}}))
        self.assertFalse(self.m({"l": {"none": {"x": {"eq": 3}}}}))
        self.assertTrue(self.m({"l": {"any": True}, "e": {"any": False}}))
        self.assertFalse(self.m({"e": {"any": True}}))
        self.assertTrue(self.m({}))
        self.assertTrue(register.matches(self.obj, None))

    def test_order(self):
        items = [{"a": 2, "b": {"c": "x"}}, {"a": 1, "b": {"c": "y"}}, {"a": None, "b": {"c": "x"}}]
        self.assertEqual([i["a"] for i in register.apply_order(items, [{"a": "ASC"}])], [None, 1, 2])
        self.assertEqual([i["a"] for i in register.apply_order(items, [{"a": "DESC"}])], [2, 1, None])
        self.assertEqual([i["a"] for i in register.apply_order(items, [{"b": {"c": "DESC"}}, {"a": "ASC"}])],
                         [1, None, 2])


class FixturesTest(unittest.TestCase):
    """fixtures_from_messages.py against the facts in conformance/registry/README.md."""

    @classmethod
    def setUpClass(cls):
        cls.raw = run_fixtures()
        cls.fx = json.loads(cls.raw)
        cls.ind = {(w["bsn"], w["besluitnummer"]): w for w in cls.fx["wlzIndicatie"]}
        cls.specs = cls.fx["bemiddelingspecificatie"]

    def test_deterministic_and_sorted(self):
        self.assertEqual(run_fixtures(), self.raw)
        ids = [w["wlzindicatieID"] for w in self.fx["wlzIndicatie"]]
        self.assertEqual(ids, sorted(ids))
        ids = [s["bemiddelingspecificatieID"] for s in self.specs]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(self.raw, (json.dumps(self.fx, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())

    def test_indications(self):
        self.assertEqual(len(self.fx["wlzIndicatie"]), 22)  # 21 clients in messages, K02 and K05 twice, K17 none
        k01 = self.ind[("240300002", 4200101)]
        self.assertEqual(k01["wlzindicatieID"], uid("indicatie/240300002/4200101"))
        self.assertEqual(k01["initieelVerantwoordelijkZorgkantoor"], ZK)
        self.assertEqual(k01["client"]["clientID"], uid("client/240300002"))
        self.assertEqual(k01["client"]["geboorteDatum"], "2014-06-12")
        self.assertEqual(sorted((p["zzpCode"], p["geindiceerdZorgzwaartepakketID"])
                                for p in k01["geindiceerdZorgzwaartepakket"]),
                         [("081", uid("gfunctie/240300002/4200101/81/2024-01-01")),
                          ("082", uid("gfunctie/240300002/4200101/82/2024-01-01"))])
        self.assertEqual(self.ind[("240300038", 4200401)]["geindiceerdZorgzwaartepakket"], [])  # K04 negative
        k02a = self.ind[("240300014", 4200201)]
        self.assertEqual((k02a["afgiftedatum"], k02a["ingangsdatum"], k02a["einddatum"]),
                         ("2023-03-20", "2023-04-01", "2024-03-15"))
        self.assertIn(("240300014", 4200202), self.ind)
        k06 = self.ind[("240300063", 4200601)]["geindiceerdZorgzwaartepakket"]
        self.assertEqual([(p["zzpCode"], p["geindiceerdZorgzwaartepakketID"], p["financiering"]) for p in k06],
                         [("806", uid("gzzp/240300063/4200601/806/2024-01-01"), "1")])
        k05b = self.ind[("240300051", 4200502)]["geindiceerdZorgzwaartepakket"]
        self.assertEqual([(p["zzpCode"], p["ingangsdatum"]) for p in k05b], [("082", "2024-03-11")])
        self.assertNotIn("240300178", {w["bsn"] for w in self.fx["wlzIndicatie"]})  # K17

    def test_allocations(self):
        self.assertEqual(len(self.specs), 30)
        by_id = {s["bemiddelingspecificatieID"]: s for s in self.specs}
        # K08's pgb, closed by the later AW33 (same natural key, replaced)
        pgb = by_id[uid("bzzp/240300087/806/2024-01-01//2")]
        self.assertEqual((pgb["leveringsvorm"], pgb["instelling"], pgb["toewijzingEinddatum"], pgb["vaststellingMoment"]),
                         ("2", None, "2024-03-10", "2024-03-08T14:30:00Z"))
        mpt = by_id[uid("bzzp/240300087/806/2024-03-11/11110001/7")]
        self.assertEqual((mpt["zzpCode"], mpt["toewijzingEinddatum"]), ("806", None))
        b = mpt["bemiddeling"]
        self.assertEqual((b["bemiddelingID"], b["wlzIndicatieID"], b["verantwoordelijkZorgkantoor"],
                          b["verantwoordelijkheidIngangsdatum"], b["client"]["clientID"], b["client"]["bsn"]),
                         (uid("bemiddeling/240300087/4200801"), uid("indicatie/240300087/4200801"), ZK,
                          "2024-01-01", uid("client/240300087"), "240300087"))
        k11 = by_id[uid("bfunctie/240300117/81/2024-01-01/11110001")]
        self.assertEqual((k11["zzpCode"], k11["leveringsvorm"], k11["toewijzingEinddatum"], k11["redenIntrekking"],
                          k11["vaststellingMoment"]), ("081", "7", "2024-03-20", "02", "2024-03-08T11:15:00Z"))
        k16 = sorted((s["toewijzingIngangsdatum"], s["toewijzingEinddatum"]) for s in self.specs
                     if s["bemiddeling"]["client"]["bsn"] == "240300166")
        self.assertEqual(k16, [("2024-01-01", "2024-03-15"), ("2024-03-16", None)])
        k05 = {s["zzpCode"]: s["bemiddeling"]["wlzIndicatieID"] for s in self.specs
               if s["bemiddeling"]["client"]["bsn"] == "240300051"}
        self.assertEqual(k05, {"081": uid("indicatie/240300051/4200501"), "082": uid("indicatie/240300051/4200502")})
        k01 = sorted(s["instelling"] for s in self.specs
                     if s["bemiddeling"]["client"]["bsn"] == "240300002" and s["zzpCode"] == "081")
        self.assertEqual(k01, ["11110001", "11110002"])
        self.assertFalse({"240300038", "240300178"} & {s["bemiddeling"]["client"]["bsn"] for s in self.specs})

    def test_only(self):
        ind = json.loads(run_fixtures("--only", "indicaties"))
        toe = json.loads(run_fixtures("--only", "toewijzingen"))
        self.assertEqual((len(ind["wlzIndicatie"]), ind["bemiddelingspecificatie"]), (22, []))
        self.assertEqual((toe["wlzIndicatie"], len(toe["bemiddelingspecificatie"])), ([], 30))
        other = json.loads(run_fixtures("--only", "indicaties", "--zorgkantoor", "5599"))
        self.assertEqual({w["initieelVerantwoordelijkZorgkantoor"] for w in other["wlzIndicatie"]}, {"5599"})


class RegisterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="netwerkmodel-")
        cls.dir = os.path.join(cls.tmp.name, "register")
        cls.fixtures_path = os.path.join(cls.tmp.name, "fixtures.json")
        cls.raw = run_fixtures()
        with open(cls.fixtures_path, "wb") as f:
            f.write(cls.raw)
        cls.fx = json.loads(cls.raw)
        cls.server = Server(cls.dir, cls.fixtures_path)
        cls.c = Client(cls.server)

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        if os.environ.get("REGISTER_TEST_LOG"):
            sys.stderr.write(cls.server.log_text())
        cls.tmp.cleanup()
        assert rc == 0, f"register exited with {rc}"

    def stats(self):
        status, _, body = self.c.request("GET", "/_control/stats")
        self.assertEqual(status, 200)
        return body

    # ---- files and certificates
    def test_files_and_certificates(self):
        for n in ("ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key",
                  "rogue-ca.pem", "rogue-client.pem", "rogue-client.key", "secret", "port"):
            self.assertTrue(os.path.exists(os.path.join(self.dir, n)), n)
        with open(os.path.join(self.dir, "port")) as f:
            self.assertEqual(int(f.read()), self.server.port)
        with open(os.path.join(self.dir, "secret")) as f:
            self.assertEqual(f.read(), "s3cret-for-tests")
        with open(os.path.join(self.dir, "client.key")) as f:
            self.assertTrue(f.read().startswith("-----BEGIN PRIVATE KEY-----"))  # PKCS#8

        def text(name):
            return subprocess.run(["openssl", "x509", "-noout", "-text", "-in", os.path.join(self.dir, name)],
                                  stdout=subprocess.PIPE, check=True, text=True).stdout
        ca, srv, cli, rogue = text("ca.pem"), text("server.pem"), text("client.pem"), text("rogue-client.pem")
        for t in (ca, srv, cli, rogue):
            self.assertIn("Version: 3 (0x2)", t)
        self.assertIn("CA:TRUE", ca)
        self.assertIn("Certificate Sign", ca)
        self.assertIn("DNS:localhost", srv)
        self.assertIn("IP Address:127.0.0.1", srv)
        self.assertIn("TLS Web Server Authentication", srv)
        self.assertIn("CA:FALSE", srv)
        self.assertIn("Subject: CN = zio-gateway", cli)
        self.assertIn("TLS Web Client Authentication", cli)
        self.assertIn("DNS:zio-gateway", cli)
        verify = lambda ca_file, cert: subprocess.run(  # noqa: E731
            ["openssl", "verify", "-CAfile", os.path.join(self.dir, ca_file), os.path.join(self.dir, cert)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE).returncode
        self.assertEqual(verify("ca.pem", "client.pem"), 0)
        self.assertEqual(verify("ca.pem", "server.pem"), 0)
        self.assertNotEqual(verify("ca.pem", "rogue-client.pem"), 0)
        self.assertEqual(verify("rogue-ca.pem", "rogue-client.pem"), 0)

    # ---- official queries
    def test_qir_0001_zki(self):
        q = read_query("QIR-0001-ZKi.graphql")
        wid = uid("indicatie/240300002/4200101")
        data = self.c.ok("indicatieregister", q, {"wlzIndicatieID": wid, "initieelVerantwoordelijkZorgkantoor": ZK})
        self.assertEqual(len(data["wlzIndicatie"]), 1)
        w = data["wlzIndicatie"][0]
        self.assertEqual((w["wlzindicatieID"], w["bsn"], w["besluitnummer"], w["soortWlzindicatie"], w["afgiftedatum"],
                          w["ingangsdatum"], w["einddatum"], w["initieelVerantwoordelijkZorgkantoor"]),
                         (wid, "240300002", 4200101, "1", "2023-12-15", "2024-01-01", None, ZK))
        self.assertEqual(sorted(p["zzpCode"] for p in w["geindiceerdZorgzwaartepakket"]), ["081", "082"])
        self.assertEqual(w["client"]["geboorteDatum"], "2014-06-12")
        self.assertEqual(w["client"]["contactGegevens"], [])
        self.assertIsNone(w["wzd"])
        # both filter fields take part
        other_zk = self.c.ok("indicatieregister", q, {"wlzIndicatieID": wid, "initieelVerantwoordelijkZorgkantoor": "9999"})
        self.assertEqual(other_zk["wlzIndicatie"], [])
        other_id = self.c.ok("indicatieregister", q, {"wlzIndicatieID": uid("indicatie/240300014/4200202"),
                                                      "initieelVerantwoordelijkZorgkantoor": ZK})
        self.assertEqual([(x["bsn"], x["besluitnummer"]) for x in other_id["wlzIndicatie"]], [("240300014", 4200202)])
        everything = self.c.ok("indicatieregister", "{ wlzIndicatie { wlzindicatieID } }")
        self.assertEqual(len(everything["wlzIndicatie"]), 22)

    def test_qbr_0004_zku(self):
        q = read_query("QBR-0004-ZKu.graphql")
        sid = uid("bzzp/240300063/806/2024-01-01/11110001/7")
        data = self.c.ok("bemiddelingsregister", q, {"bemiddelingspecificatieId": sid, "uitvoerendZorgkantoor": ZK})
        self.assertEqual(len(data["bemiddelingspecificatie"]), 1)
        s = data["bemiddelingspecificatie"][0]
        self.assertEqual((s["bemiddelingspecificatieID"], s["leveringsvorm"], s["zzpCode"], s["toewijzingIngangsdatum"],
                          s["toewijzingEinddatum"], s["instelling"], s["uitvoerendZorgkantoor"], s["vaststellingMoment"],
                          s["soortToewijzing"]),
                         (sid, "7", "806", "2024-01-01", None, "11110001", ZK, "2024-01-02T09:00:00Z", "1"))
        b = s["bemiddeling"]
        self.assertEqual((b["bemiddelingID"], b["wlzIndicatieID"], b["verantwoordelijkZorgkantoor"],
                          b["verantwoordelijkheidIngangsdatum"], b["client"]["bsn"], b["client"]["clientID"]),
                         (uid("bemiddeling/240300063/4200601"), uid("indicatie/240300063/4200601"), ZK, "2024-01-01",
                          "240300063", uid("client/240300063")))
        none = self.c.ok("bemiddelingsregister", q, {"bemiddelingspecificatieId": sid, "uitvoerendZorgkantoor": "9999"})
        self.assertEqual(none["bemiddelingspecificatie"], [])

    def test_vaststellingmoment_gte(self):
        data = self.c.ok("bemiddelingsregister", """{
          bemiddelingspecificatie(where: {vaststellingMoment: {gte: "2024-03-01T00:00:00Z"}}) {
            zzpCode leveringsvorm toewijzingIngangsdatum vaststellingMoment bemiddeling { client { bsn } } } }""")
        got = sorted((s["bemiddeling"]["client"]["bsn"], s["zzpCode"], s["leveringsvorm"], s["toewijzingIngangsdatum"])
                     for s in data["bemiddelingspecificatie"])
        # the allocations of 05-aw33-2024-03-08 that are new or changed (README.md of conformance/registry)
        self.assertEqual(got, [
            ("240300026", "081", "7", "2024-03-11"),   # K03
            ("240300051", "082", "7", "2024-01-01"),   # K05 (4200502)
            ("240300087", "806", "2", "2024-01-01"),   # K08 pgb closed
            ("240300087", "806", "7", "2024-03-11"),   # K08 mpt
            ("240300117", "081", "7", "2024-01-01"),   # K11 closed
            ("240300166", "081", "7", "2024-01-01"),   # K16 closed
            ("240300166", "081", "7", "2024-03-16"),   # K16 new
        ])
        earlier = self.c.ok("bemiddelingsregister", """{
          bemiddelingspecificatie(where: {vaststellingMoment: {lt: "2024-03-01T00:00:00Z"}}) { bemiddelingspecificatieID } }""")
        self.assertEqual(len(earlier["bemiddelingspecificatie"]), 30 - 7)

    def test_roots_backreferences_and_nested_filters(self):
        k05 = self.c.ok("bemiddelingsregister", """{
          client(where: {bsn: {eq: "240300051"}}) {
            bsn clientID
            bemiddeling(order: [{wlzIndicatieID: ASC}]) {
              wlzIndicatieID
              all: bemiddelingspecificatie { zzpCode }
              f82: bemiddelingspecificatie(where: {zzpCode: {eq: "082"}}) { zzpCode bemiddeling { client { bsn } } }
            } } }""")["client"]
        self.assertEqual(len(k05), 1)
        self.assertEqual(k05[0]["clientID"], uid("client/240300051"))
        bems = {b["wlzIndicatieID"]: b for b in k05[0]["bemiddeling"]}
        a, b = uid("indicatie/240300051/4200501"), uid("indicatie/240300051/4200502")
        self.assertEqual(set(bems), {a, b})
        self.assertEqual([x["wlzIndicatieID"] for x in k05[0]["bemiddeling"]], sorted([a, b]))
        self.assertEqual((bems[a]["all"], bems[a]["f82"]), ([{"zzpCode": "081"}], []))
        self.assertEqual(bems[b]["f82"], [{"zzpCode": "082", "bemiddeling": {"client": {"bsn": "240300051"}}}])

        roots = self.c.ok("bemiddelingsregister", "{ client { clientID } bemiddeling { bemiddelingID } "
                                                  "overdracht { overdrachtID } regiehouder { regiehouderID } }")
        specs = self.fx["bemiddelingspecificatie"]
        self.assertEqual(len(roots["client"]), len({s["bemiddeling"]["client"]["clientID"] for s in specs}))
        self.assertEqual(len(roots["bemiddeling"]), len({s["bemiddeling"]["bemiddelingID"] for s in specs}))
        self.assertEqual((roots["overdracht"], roots["regiehouder"]), ([], []))

        pgb = self.c.ok("bemiddelingsregister", """{
          bemiddeling(where: {bemiddelingspecificatie: {some: {leveringsvorm: {eq: "2"}}}}) { client { bsn } } }""")
        self.assertEqual(sorted(x["client"]["bsn"] for x in pgb["bemiddeling"]), ["240300075", "240300087"])
        by_client = self.c.ok("bemiddelingsregister", """{
          client(where: {bemiddeling: {some: {wlzIndicatieID: {eq: "%s"}}}}) { bsn } }""" % b)
        self.assertEqual(by_client["client"], [{"bsn": "240300051"}])
        ors = self.c.ok("bemiddelingsregister", """{
          bemiddelingspecificatie(where: {or: [{zzpCode: {eq: "806"}}, {redenIntrekking: {eq: "02"}}],
                                          bemiddeling: {client: {bsn: {startsWith: "24030"}}}}) { zzpCode } }""")
        self.assertEqual(sorted(x["zzpCode"] for x in ors["bemiddelingspecificatie"]), ["081", "806", "806", "806", "806"])
        p2 = self.c.ok("bemiddelingsregister", """{
          bemiddelingspecificatie(where: {instelling: {in: ["11110002"]}, toewijzingEinddatum: {eq: null}}) {
            bemiddeling { client { bsn } } } }""")
        self.assertEqual(sorted(x["bemiddeling"]["client"]["bsn"] for x in p2["bemiddelingspecificatie"]),
                         ["240300002", "240300105"])

    # ---- errors
    def test_validation_and_request_errors(self):
        t = self.c.token()
        status, _, body = self.c.gql("indicatieregister", "{ wlzIndicatie { nope } }", token=t)
        self.assertEqual(status, 200)
        self.assertNotIn("data", body)
        self.assertIn("Cannot query field 'nope'", body["errors"][0]["message"])
        # the official Indicatieregister filter has no bsn field
        status, _, body = self.c.gql("indicatieregister", '{ wlzIndicatie(where: {bsn: {eq: "x"}}) { bsn } }', token=t)
        self.assertEqual(status, 200)
        self.assertNotIn("data", body)
        self.assertIn("bsn", body["errors"][0]["message"])
        status, _, body = self.c.gql("bemiddelingsregister", "{ bemiddelingspecificatie { ", token=t)
        self.assertEqual(status, 200)
        self.assertNotIn("data", body)
        self.assertIn("Syntax Error", body["errors"][0]["message"])
        # a missing required variable is a request error too
        status, _, body = self.c.gql("bemiddelingsregister", read_query("QBR-0004-ZKu.graphql"),
                                     {"uitvoerendZorgkantoor": ZK}, token=t)
        self.assertEqual(status, 200)
        self.assertNotIn("data", body)
        self.assertIn("bemiddelingspecificatieId", body["errors"][0]["message"])
        status, _, body = self.c.request("POST", "/indicatieregister/graphql", b"not json",
                                         {"Authorization": f"Bearer {t}", "Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertIn("errors", body)
        status, _, _ = self.c.request("GET", "/nowhere")
        self.assertEqual(status, 404)

    # ---- TLS
    def test_tls_requires_a_trusted_client_certificate(self):
        def attempt(cert):
            return Client(self.server, cert=cert).request("GET", "/_control/stats", timeout=10)

        refused = (ssl.SSLError, ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)
        for cert in (None, "rogue-client"):
            with self.assertRaises(refused, msg=f"cert={cert}") as cm:
                attempt(cert)
            if isinstance(cm.exception, ssl.SSLError):
                self.assertRegex(str(cm.exception).lower(), "certificate|unknown ca|alert|eof")
        # the server is still there, and the trusted certificate works, by name and by IP
        self.assertEqual(attempt("client")[0], 200)
        self.assertEqual(Client(self.server, host="127.0.0.1").request("GET", "/_control/stats")[0], 200)
        log = self.server.log_text()
        self.assertIn("TLS handshake failed", log)
        # the client also checks the server: a client that trusts only the rogue CA refuses it
        ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "rogue-ca.pem"))
        ctx.load_cert_chain(os.path.join(self.dir, "client.pem"), os.path.join(self.dir, "client.key"))
        conn = http.client.HTTPSConnection("localhost", self.server.port, context=ctx, timeout=10)
        with self.assertRaises(ssl.SSLCertVerificationError):
            conn.request("GET", "/_control/stats")
        conn.close()

    # ---- OAuth2
    def test_token_endpoint(self):
        before = self.stats()
        status, resp, body = self.c.token_response(form={"scope": "iwlz:read", "audience": "registers"})
        self.assertEqual(status, 200)
        self.assertEqual(resp.getheader("Content-Type"), "application/json")
        self.assertEqual((body["token_type"], body["expires_in"], body["scope"]), ("Bearer", 3600, "iwlz:read"))
        self.assertRegex(body["access_token"], r"^[0-9a-f]{32}$")
        status, _, body2 = self.c.token_response(basic=False)  # client_id/client_secret form fields
        self.assertEqual(status, 200)
        self.assertNotEqual(body2["access_token"], body["access_token"])
        self.assertEqual(body2["scope"], "")
        for kw in ({"secret": "wrong"}, {"client_id": "someone-else"}, {"secret": "wrong", "basic": False}):
            status, resp, err = self.c.token_response(**kw)
            self.assertEqual((status, err), (401, {"error": "invalid_client"}), kw)
        status, _, err = self.c.request("POST", "/oauth2/token", b"grant_type=password&username=a&password=b",
                                        {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((status, err), (400, {"error": "unsupported_grant_type"}))
        after = self.stats()
        self.assertEqual(after["token_requests"] - before["token_requests"], 6)
        self.assertEqual(after["tokens_issued"] - before["tokens_issued"], 2)

    def test_graphql_requires_a_valid_token(self):
        q = "{ wlzIndicatie { bsn } }"
        before = self.stats()
        for headers in ({}, {"Authorization": "Bearer 00000000000000000000000000000000"},
                        {"Authorization": "Basic Z2F0ZXdheTpzM2NyZXQtZm9yLXRlc3Rz"}):
            status, resp, body = self.c.request("POST", "/indicatieregister/graphql", {"query": q}, headers)
            self.assertEqual(status, 401, headers)
            self.assertEqual(resp.getheader("WWW-Authenticate"), 'Bearer error="invalid_token"')
            self.assertEqual(body, {"errors": [{"message": "invalid token"}]})
        # the token is checked before the body is looked at
        status, _, body = self.c.request("POST", "/bemiddelingsregister/graphql", b"not json",
                                         {"Content-Type": "application/json"})
        self.assertEqual((status, body), (401, {"errors": [{"message": "invalid token"}]}))
        after = self.stats()
        self.assertEqual(after["unauthorized"] - before["unauthorized"], 4)
        self.assertEqual(after["graphql_requests"]["indicatieregister"]
                         - before["graphql_requests"]["indicatieregister"], 3)
        self.assertEqual(after["graphql_requests"]["bemiddelingsregister"]
                         - before["graphql_requests"]["bemiddelingsregister"], 1)

    def test_expire_tokens(self):
        t = self.c.token()
        self.assertEqual(self.c.gql("bemiddelingsregister", "{ client { bsn } }", token=t)[0], 200)
        status, _, body = self.c.request("POST", "/_control/expire-tokens", b"")
        self.assertEqual(status, 200)
        self.assertGreaterEqual(body["revoked"], 1)
        status, resp, body = self.c.gql("bemiddelingsregister", "{ client { bsn } }", token=t)
        self.assertEqual(status, 401)
        self.assertEqual(resp.getheader("WWW-Authenticate"), 'Bearer error="invalid_token"')
        self.assertEqual(self.c.gql("bemiddelingsregister", "{ client { bsn } }", token=self.c.token())[0], 200)

    def test_token_ttl(self):
        server = Server(self.dir, self.fixtures_path, "--token-ttl", "1")
        try:
            c = Client(server)
            status, _, body = c.token_response()
            self.assertEqual((status, body["expires_in"]), (200, 1))
            t = body["access_token"]
            self.assertEqual(c.gql("indicatieregister", "{ wlzIndicatie { bsn } }", token=t)[0], 200)
            time.sleep(2)
            self.assertEqual(c.gql("indicatieregister", "{ wlzIndicatie { bsn } }", token=t)[0], 401)
            # a token of one server means nothing to another
            self.assertEqual(self.c.gql("indicatieregister", "{ wlzIndicatie { bsn } }", token=c.token())[0], 401)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_keep_alive_connection(self):
        """Several requests on one connection (HTTP/1.1 keep-alive, as a pooling client does)."""
        conn = http.client.HTTPSConnection("localhost", self.server.port, context=self.c.ctx, timeout=10)
        try:
            pair = base64.b64encode(b"gateway:s3cret-for-tests").decode()
            conn.request("POST", "/oauth2/token", b"grant_type=client_credentials",
                         {"Authorization": f"Basic {pair}", "Content-Type": "application/x-www-form-urlencoded"})
            resp = conn.getresponse()
            token = json.loads(resp.read())["access_token"]
            sock = conn.sock
            for reg, q in (("indicatieregister", "{ wlzIndicatie { bsn } }"), ("bemiddelingsregister", "{ client { bsn } }"),
                           ("indicatieregister", "{ nope }")):
                conn.request("POST", f"/{reg}/graphql", json.dumps({"query": q}).encode(),
                             {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                self.assertTrue(json.loads(resp.read()))
                self.assertIs(conn.sock, sock)  # not reconnected
        finally:
            conn.close()

    # ---- control endpoints
    def test_delay(self):
        t = self.c.token()
        q = "{ wlzIndicatie { bsn } }"
        try:
            self.assertEqual(self.c.request("POST", "/_control/delay", {"seconds": 1.5})[0], 200)
            done = {}

            def slow():
                t0 = time.monotonic()
                done["status"] = self.c.gql("indicatieregister", q, token=t)[0]
                done["took"] = time.monotonic() - t0
            th = threading.Thread(target=slow)
            th.start()
            time.sleep(0.2)
            t0 = time.monotonic()
            self.stats()  # another connection is answered while the first waits
            self.assertLess(time.monotonic() - t0, 1.0)
            self.assertTrue(th.is_alive())
            th.join(20)
            self.assertEqual(done["status"], 200)
            self.assertGreaterEqual(done["took"], 1.5)
        finally:
            self.assertEqual(self.c.request("POST", "/_control/delay", {"seconds": 0})[0], 200)
        t0 = time.monotonic()
        self.assertEqual(self.c.gql("indicatieregister", q, token=t)[0], 200)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertEqual(self.c.request("POST", "/_control/delay", {"seconds": "x"})[0], 400)

    def test_replace_fixtures(self):
        only = json.loads(run_fixtures("--only", "indicaties"))
        q = "{ bemiddelingspecificatie { zzpCode } }"
        try:
            status, _, counts = self.c.request("POST", "/_control/fixtures", only)
            self.assertEqual(status, 200)
            self.assertEqual((counts["wlzIndicatie"], counts["bemiddelingspecificatie"]), (22, 0))
            self.assertEqual(self.c.ok("bemiddelingsregister", q)["bemiddelingspecificatie"], [])
            self.assertEqual(len(self.c.ok("indicatieregister", "{ wlzIndicatie { bsn } }")["wlzIndicatie"]), 22)
            bad = {"bemiddelingspecificatie": [{"bemiddelingspecificatieID": "x"}]}
            self.assertEqual(self.c.request("POST", "/_control/fixtures", bad)[0], 400)
        finally:
            self.assertEqual(self.c.request("POST", "/_control/fixtures", self.fx)[0], 200)
        self.assertEqual(len(self.c.ok("bemiddelingsregister", q)["bemiddelingspecificatie"]), 30)

    def test_sigterm_stops_cleanly(self):
        server = Server(self.dir, self.fixtures_path)
        self.assertEqual(Client(server).request("GET", "/_control/stats")[0], 200)
        server.proc.send_signal(signal.SIGTERM)
        self.assertEqual(server.proc.wait(10), 0)
        server.stop()


if __name__ == "__main__":
    unittest.main()
