#!/usr/bin/env python3
"""A local stand-in for the iWlz netwerkmodel registers (Indicatieregister and
Bemiddelingsregister), for tests only.

It serves the OFFICIAL GraphQL schema files (schemas/netwerkmodel/*.graphql)
with fixture data, over HTTPS that requires a client certificate, behind a
local OAuth2 client-credentials token endpoint. See README.md next to this file.

    python3 tests/netwerkmodel/register.py --dir DIR --fixtures FIXTURES.json \
        [--schemas schemas/netwerkmodel] [--port 0] [--client-id gateway] \
        [--client-secret-file DIR/secret] [--token-ttl 3600]

Prints exactly one line `listening 127.0.0.1:PORT` on stdout when ready (and
writes PORT to DIR/port); everything else goes to stderr.

Only the standard library and graphql-core 3.2 are used; certificates are made
with the `openssl` command-line tool.
"""
import argparse
import base64
import binascii
import datetime
import http.server
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import graphql
from graphql.execution import ExecutionContext

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMAS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "schemas", "netwerkmodel")
DEFAULT_SECRET = "s3cret-for-tests"
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 60.0
MAX_BODY = 16 * 1024 * 1024

REGISTERS = {
    # URL path -> (register name, schema file)
    "/indicatieregister/graphql": ("indicatieregister", "Indicatieregister.graphql"),
    "/bemiddelingsregister/graphql": ("bemiddelingsregister", "Bemiddelingregister.graphql"),
}


def log(msg):
    try:
        sys.stderr.write(f"register: {msg}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


# --------------------------------------------------------------------------
# Certificates (openssl command line)
# --------------------------------------------------------------------------
OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
utf8 = yes

[dn]
CN = {cn}
O = zio-gateway tests

[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer

[v3_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:{cn}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


def _openssl(*args):
    proc = subprocess.run(["openssl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{proc.stderr}")


def _serial():
    # positive, at most 16 octets (RFC 5280 allows 20)
    return "0x" + secrets.choice("1234567") + secrets.token_hex(15)


def _cnf(work, cn):
    path = os.path.join(work, f"{secrets.token_hex(4)}.cnf")
    with open(path, "w") as f:
        f.write(OPENSSL_CNF.format(cn=cn))
    return path


def _genkey(path):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    os.chmod(path, 0o600)


def _make_ca(work, name, cn):
    key, pem = os.path.join(work, f"{name}.key"), os.path.join(work, f"{name}.pem")
    _genkey(key)
    _openssl("req", "-x509", "-new", "-key", key, "-config", _cnf(work, cn), "-extensions", "v3_ca",
             "-sha256", "-days", "3650", "-set_serial", _serial(), "-out", pem)
    return pem, key


def _make_leaf(work, name, cn, kind, ca_pem, ca_key):
    key, pem, csr = (os.path.join(work, f"{name}.{e}") for e in ("key", "pem", "csr"))
    _genkey(key)
    cnf = _cnf(work, cn)
    _openssl("req", "-new", "-key", key, "-config", cnf, "-out", csr)
    _openssl("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-set_serial", _serial(),
             "-sha256", "-days", "3650", "-extfile", cnf, "-extensions", kind, "-out", pem)
    return pem, key


def _install(work, d, names):
    for n in names:
        os.replace(os.path.join(work, n), os.path.join(d, n))


def ensure_certificates(d):
    """Creates what DIR lacks: test CA, server and client certificate, a rogue CA
    with its own client certificate. Files are made in a scratch directory and
    renamed into place."""
    os.makedirs(d, exist_ok=True)
    have = lambda *ns: all(os.path.exists(os.path.join(d, n)) for n in ns)  # noqa: E731
    made = []
    with tempfile.TemporaryDirectory(prefix=".gen-", dir=d) as work:
        fresh_ca = not have("ca.pem", "ca.key")
        if fresh_ca:
            _make_ca(work, "ca", "zio-gateway netwerkmodel test CA")
            _install(work, d, ["ca.key", "ca.pem"])
            made.append("ca")
        ca_pem, ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
        if fresh_ca or not have("server.pem", "server.key"):
            _make_leaf(work, "server", "localhost", "v3_server", ca_pem, ca_key)
            _install(work, d, ["server.key", "server.pem"])
            made.append("server")
        if fresh_ca or not have("client.pem", "client.key"):
            _make_leaf(work, "client", "zio-gateway", "v3_client", ca_pem, ca_key)
            _install(work, d, ["client.key", "client.pem"])
            made.append("client")
        if not have("rogue-ca.pem", "rogue-client.pem", "rogue-client.key"):
            r_pem, r_key = _make_ca(work, "rogue-ca", "untrusted rogue CA")
            _make_leaf(work, "rogue-client", "zio-gateway", "v3_client", r_pem, r_key)
            _install(work, d, ["rogue-ca.key", "rogue-ca.pem", "rogue-client.key", "rogue-client.pem"])
            made.append("rogue")
    if made:
        log(f"created certificates in {d}: {', '.join(made)}")


def _write_atomic(path, text):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# The generic filter evaluator (HotChocolate-style `where` inputs over dicts)
# --------------------------------------------------------------------------
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")
LIST_OPS = {"some", "all", "none", "any"}


def _norm(a, b):
    """Makes a field value and an operand comparable, or returns None if they are
    not: two strings (two UUIDs case-insensitively, two offset date-times as
    instants, otherwise lexicographically, which orders ISO dates) or two numbers."""
    if isinstance(a, str) and isinstance(b, str):
        if _UUID_RE.match(a) and _UUID_RE.match(b):
            return a.lower(), b.lower()
        if _DATETIME_RE.match(a) and _DATETIME_RE.match(b):
            try:
                return datetime.datetime.fromisoformat(a), datetime.datetime.fromisoformat(b)
            except ValueError:
                return a, b
        return a, b
    num = lambda x: isinstance(x, (int, float)) and not isinstance(x, bool)  # noqa: E731
    if num(a) and num(b):
        return a, b
    if isinstance(a, bool) and isinstance(b, bool):
        return a, b
    return None


def _eq(v, a):
    if v is None or a is None:
        return v is None and a is None
    p = _norm(v, a)
    return p is not None and p[0] == p[1]


def _in(v, arg):
    return arg is not None and any(_eq(v, x) for x in arg)


def _cmp(pred):
    def op(v, a):
        if v is None or a is None:
            return False  # a null never matches a comparison
        p = _norm(v, a)
        return p is not None and pred(p[0], p[1])
    return op


def _str(pred):
    def op(v, a):
        return isinstance(v, str) and isinstance(a, str) and pred(v, a)
    return op


OPERATIONS = {
    "eq": _eq,
    "neq": lambda v, a: not _eq(v, a),
    "in": _in,
    "nin": lambda v, a: not _in(v, a),
    "gt": _cmp(lambda x, y: x > y),
    "gte": _cmp(lambda x, y: x >= y),
    "lt": _cmp(lambda x, y: x < y),
    "lte": _cmp(lambda x, y: x <= y),
    "ngt": _cmp(lambda x, y: not x > y),
    "ngte": _cmp(lambda x, y: not x >= y),
    "nlt": _cmp(lambda x, y: not x < y),
    "nlte": _cmp(lambda x, y: not x <= y),
    "contains": _str(lambda x, y: y in x),
    "ncontains": _str(lambda x, y: y not in x),
    "startsWith": _str(lambda x, y: x.startswith(y)),
    "nstartsWith": _str(lambda x, y: not x.startswith(y)),
    "endsWith": _str(lambda x, y: x.endswith(y)),
    "nendsWith": _str(lambda x, y: not x.endswith(y)),
}


def matches(obj, flt):
    """True if the dict `obj` satisfies the object filter `flt` (a `where` value:
    field -> operation/object/list filter, plus `and`/`or`). A missing or null
    filter matches everything."""
    if flt is None:
        return True
    for key, cond in flt.items():
        if cond is None:
            continue
        if key == "and":
            if not all(matches(obj, c) for c in cond):
                return False
        elif key == "or":
            if not any(matches(obj, c) for c in cond):
                return False
        else:
            value = obj.get(key) if isinstance(obj, dict) else None
            if not match_value(value, cond):
                return False
    return True


def match_value(value, cond):
    """One field's value against its filter: the value's shape picks the kind of
    filter (list -> some/all/none/any, dict -> nested object filter, scalar or
    null -> operation filter)."""
    if cond is None:
        return True
    keys = set(cond)
    if isinstance(value, (list, tuple)) or (value is None and keys and keys <= LIST_OPS):
        return match_list(value or [], cond)
    if isinstance(value, dict):
        return matches(value, cond)
    return match_ops(value, cond)


def match_ops(value, cond):
    for op, arg in cond.items():
        if op == "and":
            ok = arg is None or all(match_ops(value, c) for c in arg)
        elif op == "or":
            ok = arg is None or any(match_ops(value, c) for c in arg)
        elif op in OPERATIONS:
            ok = OPERATIONS[op](value, arg)
        else:
            ok = False  # an object filter on a null or scalar value
        if not ok:
            return False
    return True


def match_list(items, cond):
    for op, arg in cond.items():
        if arg is None:
            continue
        if op == "some":
            ok = any(matches(x, arg) for x in items)
        elif op == "all":
            ok = all(matches(x, arg) for x in items)
        elif op == "none":
            ok = not any(matches(x, arg) for x in items)
        elif op == "any":
            ok = (len(items) > 0) == bool(arg)
        else:
            ok = False
        if not ok:
            return False
    return True


def _get_path(obj, path):
    for p in path:
        obj = obj.get(p) if isinstance(obj, dict) else None
    return obj


def _flatten_sort(spec, prefix=()):
    out = []
    for k, v in (spec or {}).items():
        if isinstance(v, dict):
            out += _flatten_sort(v, prefix + (k,))
        elif v is not None:
            out.append((prefix + (k,), str(v).upper()))
    return out


def apply_order(items, order):
    """HotChocolate-style `order: [{field: ASC|DESC}, {nested: {field: ASC}}]`;
    earlier entries take precedence; nulls sort first in ascending order."""
    items = list(items)
    keys = [k for spec in (order or []) for k in _flatten_sort(spec)]
    for path, direction in reversed(keys):
        def key(x, path=path):
            v = _get_path(x, path)
            return (0, "") if v is None else (1, v)
        try:
            items.sort(key=key, reverse=(direction == "DESC"))
        except TypeError:
            items.sort(key=lambda x, path=path: str(_get_path(x, path)), reverse=(direction == "DESC"))
    return items


def select(items, where=None, order=None):
    return apply_order([x for x in items if matches(x, where)], order)


# --------------------------------------------------------------------------
# Fixture stores
# --------------------------------------------------------------------------
def _objects(fixtures, key):
    v = fixtures.get(key) or []
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise ValueError(f"fixtures: `{key}` must be a list of objects")
    return v


class Store:
    """An immutable snapshot of both registers' data; a fixture replacement swaps
    the whole snapshot, so one request sees one consistent state."""

    def __init__(self, fixtures):
        if not isinstance(fixtures, dict):
            raise ValueError("fixtures: expected a JSON object")
        self.roots = {"indicatieregister": {"wlzIndicatie": list(_objects(fixtures, "wlzIndicatie"))},
                      "bemiddelingsregister": self._bemiddelingsregister(_objects(fixtures, "bemiddelingspecificatie"))}
        self.counts = {"wlzIndicatie": len(self.roots["indicatieregister"]["wlzIndicatie"]),
                       **{k: len(v) for k, v in self.roots["bemiddelingsregister"].items()}}

    @staticmethod
    def _bemiddelingsregister(specs):
        """Builds the object graph from bemiddelingspecificatie objects that carry
        their parent bemiddeling (with its client) nested: bemiddeling and client
        are deduplicated by ID and get their back-references."""
        clients, bems, out, overdrachten, regiehouders = {}, {}, [], {}, {}
        for raw in specs:
            s = dict(raw)
            b_raw = s.get("bemiddeling")
            if not isinstance(b_raw, dict) or "bemiddelingID" not in b_raw:
                raise ValueError(f"fixtures: bemiddelingspecificatie {s.get('bemiddelingspecificatieID')} "
                                 "lacks its nested `bemiddeling` with a bemiddelingID")
            bid = b_raw["bemiddelingID"]
            b = bems.get(bid)
            if b is None:
                c_raw = b_raw.get("client")
                if not isinstance(c_raw, dict) or "clientID" not in c_raw:
                    raise ValueError(f"fixtures: bemiddeling {bid} lacks its nested `client` with a clientID")
                cid = c_raw["clientID"]
                c = clients.get(cid)
                if c is None:
                    c = dict(c_raw)
                    c["bemiddeling"] = []
                    c.setdefault("contactpersoon", [])
                    c.setdefault("contactgegevens", [])
                    c["regiehouder"] = []  # only for ClientFilterInput.regiehouder
                    for cp in c["contactpersoon"] or []:
                        cp["client"] = c
                    for cg in c["contactgegevens"] or []:
                        cg["client"] = c
                    clients[cid] = c
                b = {k: v for k, v in b_raw.items() if k != "bemiddelingspecificatie"}
                b["client"], b["clientID"], b["bemiddelingspecificatie"] = c, cid, []
                b["regiehouder"] = [dict(r) for r in (b_raw.get("regiehouder") or [])]
                for r in b["regiehouder"]:
                    r["bemiddeling"], r["client"] = b, c
                    regiehouders.setdefault(r.get("regiehouderID"), r)
                o = b_raw.get("overdracht")
                if isinstance(o, dict):
                    o = dict(o)
                    o["bemiddeling"], o["bemiddelingID"] = b, bid
                    o["overdrachtspecificatie"] = [dict(x) for x in (o.get("overdrachtspecificatie") or [])]
                    for x in o["overdrachtspecificatie"]:
                        x["overdracht"] = o
                    overdrachten.setdefault(o.get("overdrachtID"), o)
                b["overdracht"] = o
                bems[bid] = b
                c["bemiddeling"].append(b)
            s["bemiddeling"] = b
            os_ = s.get("overdrachtspecificatie")
            if isinstance(os_, dict):
                os_ = dict(os_)
                os_["bemiddelingspecificatie"] = s
                os_["bemiddelingspecificatieID"] = s.get("bemiddelingspecificatieID")
                s["overdrachtspecificatie"] = os_
            b["bemiddelingspecificatie"].append(s)
            out.append(s)
        return {"client": list(clients.values()), "bemiddeling": list(bems.values()),
                "bemiddelingspecificatie": out, "overdracht": list(overdrachten.values()),
                "regiehouder": list(regiehouders.values())}


def load_schema(path, register):
    with open(path, encoding="utf-8") as f:
        schema = graphql.build_schema(f.read())
    for tname, t in schema.type_map.items():
        if tname.startswith("__") or not isinstance(t, graphql.GraphQLObjectType):
            continue
        root = t is schema.query_type
        for fname, field in t.fields.items():
            if root:
                field.resolve = _root_resolver(register, fname)
            elif "where" in field.args or "order" in field.args:
                field.resolve = _list_resolver(fname, graphql.is_non_null_type(field.type))
    return schema


def _root_resolver(register, name):
    def resolve(_root, info, where=None, order=None):
        return select(info.context["store"].roots[register].get(name, []), where, order)
    return resolve


def _list_resolver(name, non_null):
    def resolve(obj, _info, where=None, order=None):
        items = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if items is None:
            return [] if non_null else None
        return select(items, where, order)
    return resolve


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------
class State:
    def __init__(self, args, schemas, store, secret):
        self.client_id, self.secret, self.ttl = args.client_id, secret, args.token_ttl
        self.schemas, self.store = schemas, store
        self.lock = threading.Lock()
        self.tokens = {}  # token -> monotonic expiry
        self.delay = 0.0
        self.stats = {"token_requests": 0, "tokens_issued": 0,
                      "graphql_requests": {"indicatieregister": 0, "bemiddelingsregister": 0},
                      "unauthorized": 0}

    def issue(self):
        token = secrets.token_hex(16)
        with self.lock:
            now = time.monotonic()
            self.tokens = {t: e for t, e in self.tokens.items() if e > now}
            self.tokens[token] = now + self.ttl
            self.stats["tokens_issued"] += 1
        return token

    def valid(self, token):
        with self.lock:
            exp = self.tokens.get(token)
            return exp is not None and time.monotonic() < exp


class ApiError(Exception):
    def __init__(self, status, body, headers=()):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, list(headers)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "netwerkmodel-register/1"
    sys_version = ""
    timeout = IDLE_TIMEOUT

    # one line per request on stderr
    def log_request(self, code="-", size="-"):
        ms = (time.monotonic() - getattr(self, "_t0", time.monotonic())) * 1000
        code = getattr(code, "value", code)
        note = getattr(self, "_note", "")
        log(f'{self.client_address[0]}:{self.client_address[1]} "{self.requestline}" {code} {ms:.0f}ms{note}')

    def log_message(self, fmt, *args):
        log(f"{self.client_address[0]}:{self.client_address[1]} {fmt % args}")

    def handle_one_request(self):
        self._t0, self._note = time.monotonic(), ""
        super().handle_one_request()

    @property
    def state(self):
        return self.server.state

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        path = urllib.parse.urlsplit(self.path).path
        routes = {
            "/oauth2/token": ("POST", self._token),
            "/_control/expire-tokens": ("POST", self._expire_tokens),
            "/_control/delay": ("POST", self._delay),
            "/_control/fixtures": ("POST", self._fixtures),
            "/_control/stats": ("GET", self._stats),
        }
        for p in REGISTERS:
            routes[p] = ("POST", self._graphql)
        try:
            if path not in routes:
                self._body()  # drain, keeps the connection usable
                raise ApiError(404, {"error": "not_found", "path": path})
            want, fn = routes[path]
            if method != want:
                self._body()
                raise ApiError(405, {"error": "method_not_allowed"}, [("Allow", want)])
            fn(path)
        except ApiError as e:
            self._json(e.status, e.body, e.headers)
        except (ConnectionError, socket.timeout, ssl.SSLError):
            self.close_connection = True
        except Exception as e:  # a bug here must not take the server down
            log(f"internal error on {method} {path}: {e!r}")
            self._json(500, {"errors": [{"message": f"internal error: {e}"}]})

    # ---- plumbing
    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    self.close_connection = True
                    raise ApiError(413, {"error": "body too large"})
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, {"error": "invalid_request", "error_description": "bad Content-Length"})
        if n > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, {"error": "body too large"})
        return self.rfile.read(n) if n > 0 else b""

    def _json(self, status, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def _json_body(self):
        return self._parse_json(self._body())

    @staticmethod
    def _parse_json(raw):
        try:
            return json.loads(raw.decode("utf-8") if raw else "null")
        except (UnicodeDecodeError, ValueError) as e:
            raise ApiError(400, {"errors": [{"message": f"request body is not JSON: {e}"}]})

    # ---- OAuth2 client credentials (RFC 6749 4.4, client auth 2.3.1)
    def _token(self, _path):
        st = self.state
        with st.lock:
            st.stats["token_requests"] += 1
        raw = self._body()
        if self._content_type() != "application/x-www-form-urlencoded":
            raise ApiError(400, {"error": "invalid_request",
                                 "error_description": "expected application/x-www-form-urlencoded"})
        try:
            form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            raise ApiError(400, {"error": "invalid_request"})
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, {"error": "unsupported_grant_type"})
        auth = self.headers.get("Authorization") or ""
        basic = auth[:6].lower() == "basic "
        cid = secret = None
        if basic:
            try:
                dec = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
                i, _, s = dec.partition(":")
                cid, secret = urllib.parse.unquote_plus(i), urllib.parse.unquote_plus(s)
            except (binascii.Error, UnicodeDecodeError, ValueError):
                cid = secret = None
        else:
            cid, secret = form.get("client_id"), form.get("client_secret")
        ok = (cid is not None and secret is not None
              and secrets.compare_digest(cid.encode(), st.client_id.encode())
              and secrets.compare_digest(secret.encode(), st.secret.encode()))
        if not ok:
            self._note = f" client_id={cid!r} refused"
            raise ApiError(401, {"error": "invalid_client"},
                           [("WWW-Authenticate", 'Basic realm="netwerkmodel-register"')] if basic else [])
        token = st.issue()
        self._note = f" client_id={cid!r} issued {token[:6]}…"
        body = {"access_token": token, "token_type": "Bearer", "expires_in": st.ttl, "scope": form.get("scope", "")}
        for k in ("audience", "resource"):
            if k in form:
                body[k] = form[k]
        self._json(200, body, [("Pragma", "no-cache")])

    # ---- GraphQL
    def _graphql(self, path):
        st = self.state
        register, _ = REGISTERS[path]
        with st.lock:
            st.stats["graphql_requests"][register] += 1
            delay = st.delay
        raw = self._body()
        if delay > 0:
            time.sleep(delay)
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if not token or not st.valid(token):
            with st.lock:
                st.stats["unauthorized"] += 1
            self._note = " invalid token"
            raise ApiError(401, {"errors": [{"message": "invalid token"}]},
                           [("WWW-Authenticate", 'Bearer error="invalid_token"')])
        payload = self._parse_json(raw)
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            raise ApiError(400, {"errors": [{"message": "expected a JSON object with a `query` string"}]})
        variables = payload.get("variables")
        op = payload.get("operationName")
        if variables is not None and not isinstance(variables, dict):
            raise ApiError(400, {"errors": [{"message": "`variables` must be an object"}]})
        if op is not None and not isinstance(op, str):
            raise ApiError(400, {"errors": [{"message": "`operationName` must be a string"}]})
        result = run_graphql(st.schemas[register], st.store, payload["query"], variables, op)
        if "errors" in result:
            self._note = f" {len(result['errors'])} error(s): {result['errors'][0].get('message', '')[:120]}"
        self._json(200, result)

    # ---- control endpoints
    def _expire_tokens(self, _path):
        self._body()
        st = self.state
        with st.lock:
            n = len(st.tokens)
            st.tokens.clear()
        self._json(200, {"revoked": n})

    def _delay(self, _path):
        body = self._json_body()
        secs = body.get("seconds") if isinstance(body, dict) else None
        if isinstance(secs, bool) or not isinstance(secs, (int, float)) or secs < 0:
            raise ApiError(400, {"error": "expected {\"seconds\": number >= 0}"})
        with self.state.lock:
            self.state.delay = float(secs)
        self._json(200, {"seconds": float(secs)})

    def _fixtures(self, _path):
        body = self._json_body()
        try:
            store = Store(body)
        except ValueError as e:
            raise ApiError(400, {"error": str(e)})
        self.state.store = store
        self._json(200, store.counts)

    def _stats(self, _path):
        self._body()
        with self.state.lock:
            stats = json.loads(json.dumps(self.state.stats))
        self._json(200, stats)


def run_graphql(schema, store, query, variables=None, operation_name=None):
    """Parse, validate and execute; request errors (syntax, validation, variable
    coercion) give {"errors": [...]} without `data`."""
    try:
        document = graphql.parse(query)
    except graphql.GraphQLError as e:
        return {"errors": [e.formatted]}
    errors = graphql.validate(schema, document)
    if errors:
        return {"errors": [e.formatted for e in errors]}
    context = {"store": store}
    ctx = ExecutionContext.build(schema, document, None, context, variables, operation_name)
    if isinstance(ctx, list):
        return {"errors": [e.formatted for e in ctx]}
    result = graphql.execute_sync(schema, document, None, context, variables, operation_name)
    return result.formatted


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, ctx, state):
        self.ctx, self.state = ctx, state
        super().__init__(addr, Handler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)  # no getfqdn()
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        """TLS handshake in the connection's own thread; a refused client
        certificate is logged and the server carries on."""
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log(f"{client_address[0]}:{client_address[1]} TLS handshake failed: {e}")
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        log(f"{client_address[0]}:{client_address[1]} connection error: {sys.exc_info()[1]!r}")


def tls_context(d):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(os.path.join(d, "ca.pem"))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="certificates, secret and port file live here")
    ap.add_argument("--fixtures", help="fixtures JSON ({wlzIndicatie: [...], bemiddelingspecificatie: [...]})")
    ap.add_argument("--schemas", default=DEFAULT_SCHEMAS, help="directory with the official .graphql files")
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--client-id", default="gateway")
    ap.add_argument("--client-secret-file", help="default DIR/secret (written with a test secret if missing)")
    ap.add_argument("--token-ttl", type=int, default=3600, help="token lifetime in seconds")
    ap.add_argument("--exit-on-stdin-eof", action="store_true",
                    help="stop when stdin closes (the parent test process went away)")
    args = ap.parse_args(argv)

    d = os.path.abspath(args.dir)
    ensure_certificates(d)
    secret_file = args.client_secret_file or os.path.join(d, "secret")
    if not os.path.exists(secret_file):
        _write_atomic(secret_file, DEFAULT_SECRET)
        os.chmod(secret_file, 0o600)
    with open(secret_file, encoding="utf-8") as f:
        secret = f.read().strip()

    fixtures = {}
    if args.fixtures:
        with open(args.fixtures, encoding="utf-8") as f:
            fixtures = json.load(f)
    store = Store(fixtures)
    schemas = {name: load_schema(os.path.join(args.schemas, fname), name) for name, fname in REGISTERS.values()}

    state = State(args, schemas, store, secret)
    server = TLSServer(("127.0.0.1", args.port), tls_context(d), state)
    port = server.server_address[1]

    def stop(signum, _frame):
        log(f"signal {signum}, stopping")
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_on_stdin_eof:
        def watch():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except (OSError, ValueError):
                pass
            log("stdin closed, stopping")
            server.shutdown()
        threading.Thread(target=watch, daemon=True).start()

    _write_atomic(os.path.join(d, "port"), f"{port}\n")
    log(f"serving {', '.join(f'{k}={v}' for k, v in store.counts.items())}; client_id={args.client_id!r}, "
        f"token ttl {args.token_ttl}s, certificates in {d}")
    sys.stdout.write(f"listening 127.0.0.1:{port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
