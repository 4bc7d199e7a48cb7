#!/usr/bin/env python3
"""A local OpenID Connect provider that behaves like Pro Santé Connect, for the demo and tests.

PSC traits that generic test providers lack, reproduced here:
- discovery at <issuer>/.well-known/wallet-openid-configuration, endpoints under
  <issuer>/protocol/openid-connect/ (auth, token, userinfo, certs, logout);
- authorisation code flow with PKCE (S256 only), client secret (HTTP Basic or form);
- `acr` = `eidas1` in the ID token (RS256, with a `kid`), `scope_all`;
- userinfo carrying SubjectNameID (8 + RPPS), given_name, family_name, SubjectRefPro
  (exercices, activities with numeroFinessSite), otherIds; as JSON, or as a signed JWT;
- access tokens that live 2 minutes; codes that work once;
- end-session with id_token_hint, state and post_logout_redirect_uri.

Built on authlib (PKCE) and joserfc (JWK, JWT). Test controls (`--test-controls`):
POST /_test/behaviour {json} changes how the next tokens are made (acr, aud, alg "none",
a foreign key, expiry, nonce, userinfo as JWT, key rotation, a delay);
GET /_test/log lists the logouts received.

    provider.py --port 0 --client concerto-demo:SECRET --redirect-prefix http://127.0.0.1:
prints `ready <issuer>` once listening.
"""
import argparse
import base64
import html
import json
import secrets
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwk, jwt

REALM = "/auth/realms/esante-wallet"
OIDC = REALM + "/protocol/openid-connect"
ACCESS_TOKEN_SECONDS = 120
CODE_SECONDS = 60


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key() -> jwk.RSAKey:
    return jwk.RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "alg": "RS256", "use": "sig"})


class Provider:
    def __init__(self, professionals, clients, redirect_prefixes, test_controls):
        self.professionals = {p["sub"]: p for p in professionals}
        self.clients = clients
        self.redirect_prefixes = redirect_prefixes
        self.test_controls = test_controls
        self.key = new_key()
        self.retired_keys = []
        self._foreign_key = None
        self.codes = {}
        self.access_tokens = {}
        self.logouts = []
        self.behaviour = {}
        self.lock = threading.Lock()
        self.issuer = ""

    @property
    def foreign_key(self):
        """A key the JWKS does not list (made when a test first asks for it)."""
        if self._foreign_key is None:
            self._foreign_key = new_key()
        return self._foreign_key

    # What PSC publishes.
    def discovery(self):
        base = self.issuer + "/protocol/openid-connect"
        return {
            "issuer": self.issuer,
            "authorization_endpoint": base + "/auth",
            "token_endpoint": base + "/token",
            "userinfo_endpoint": base + "/userinfo",
            "jwks_uri": base + "/certs",
            "end_session_endpoint": base + "/logout",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "userinfo_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "scope_all"],
            "acr_values_supported": ["eidas1"],
            "claims_supported": ["sub", "SubjectNameID", "given_name", "family_name", "SubjectRefPro", "otherIds", "acr"],
        }

    def jwks(self):
        keys = [self.key] + self.retired_keys
        return {"keys": [k.as_dict(private=False) for k in keys]}

    def userinfo_claims(self, professional):
        idnat = "8" + professional["rpps"]
        activities = [{"numeroFinessSite": finess, "raisonSocialeSite": name, "codeModeExercice": "S",
                       "codeSecteurDActivite": "SA01"} for finess, name in professional["sites"]]
        return {
            "sub": professional["sub"],
            "SubjectNameID": idnat,
            "preferred_username": idnat,
            "given_name": professional["given_name"],
            "family_name": professional["family_name"],
            "SubjectRefPro": {
                "codeCivilite": professional.get("civility", ""),
                "exercices": [{
                    "codeProfession": professional["profession"],
                    "codeCategorieProfessionnelle": "C",
                    "codeCiviliteDExercice": professional.get("civility", ""),
                    "nomDExercice": professional["family_name"],
                    "prenomDExercice": professional["given_name"],
                    "codeTypeSavoirFaire": "S",
                    "codeSavoirFaire": professional["savoir_faire"],
                    "activities": activities,
                }],
            },
            "otherIds": [{"identifiant": professional["rpps"], "origine": "RPPS", "qualite": 1}],
        }

    def sign(self, claims):
        """Signs as the behaviour says: the current key, a key not in the JWKS, or alg none."""
        how = self.behaviour.get("sign", "key")
        if how == "none":
            header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            return header + "." + b64url(json.dumps(claims).encode()) + "."
        key = self.foreign_key if how == "foreign" else self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)

    def id_token(self, client_id, professional, nonce):
        now = int(time.time())
        b = self.behaviour
        claims = {
            "iss": self.issuer,
            "sub": professional["sub"],
            "aud": b.get("aud", client_id),
            "azp": client_id,
            "exp": now + int(b.get("expires_in", 300)),
            "iat": now + int(b.get("iat_offset", 0)),
            "auth_time": now,
            "nonce": b.get("nonce", nonce),
            "SubjectNameID": "8" + professional["rpps"],
            "preferred_username": "8" + professional["rpps"],
        }
        acr = b.get("acr", "eidas1")
        if acr is not None:
            claims["acr"] = acr
        return self.sign(claims)


class Handler(BaseHTTPRequestHandler):
    provider: Provider = None
    server_version = "psc-provider"

    def log_message(self, format, *args):
        pass

    # Answers.
    def send(self, status, body, content_type="application/json", headers=None):
        data = body if isinstance(body, bytes) else (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def oauth_error(self, status, error, description=""):
        self.send(status, {"error": error, "error_description": description})

    def form(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def delay(self):
        seconds = float(self.provider.behaviour.get("delay", 0))
        if seconds:
            time.sleep(seconds)

    # Routing.
    def do_GET(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        p = self.provider
        self.delay()
        if url.path == REALM + "/.well-known/wallet-openid-configuration":
            return self.send(200, p.discovery())
        if url.path == OIDC + "/certs":
            return self.send(200, p.jwks())
        if url.path == OIDC + "/auth":
            return self.authorize_page(query)
        if url.path == OIDC + "/userinfo":
            return self.userinfo()
        if url.path == OIDC + "/logout":
            return self.end_session(query)
        if url.path == "/_test/log" and p.test_controls:
            with p.lock:
                return self.send(200, {"logouts": p.logouts})
        self.send(404, {"error": "not_found"})

    def do_POST(self):
        url = urlparse(self.path)
        p = self.provider
        if url.path == OIDC + "/auth":
            return self.authorize_choice(self.form())
        if url.path == OIDC + "/token":
            self.delay()
            return self.token(self.form())
        if url.path == "/_test/behaviour" and p.test_controls:
            length = int(self.headers.get("Content-Length") or 0)
            change = json.loads(self.rfile.read(length) or b"{}")
            with p.lock:
                if change.pop("rotate_key", False):
                    p.retired_keys = [p.key] if change.pop("keep_old_key", True) else []
                    p.key = new_key()
                if change.pop("reset", False):
                    p.behaviour = {}
                p.behaviour.update(change)
                return self.send(200, {"behaviour": p.behaviour, "kid": p.key.kid})
        self.send(404, {"error": "not_found"})

    # The authorisation endpoint: checks the request, then lets the user pick a test professional.
    def check_authorization_request(self, params):
        p = self.provider
        client_id = params.get("client_id", "")
        if client_id not in p.clients:
            return "unknown client_id"
        redirect_uri = params.get("redirect_uri", "")
        if not any(redirect_uri.startswith(prefix) for prefix in p.redirect_prefixes):
            return "redirect_uri not registered"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in params.get("scope", "").split():
            return "scope must include openid"
        if params.get("code_challenge_method") != "S256" or len(params.get("code_challenge", "")) < 43:
            return "PKCE with S256 is required"
        if not params.get("state") or not params.get("nonce"):
            return "state and nonce are required"
        return None

    def authorize_page(self, query):
        problem = self.check_authorization_request(query)
        if problem:
            return self.send(400, "<p>Requête refusée : %s</p>" % html.escape(problem), "text/html; charset=utf-8")
        hidden = "".join('<input type="hidden" name="%s" value="%s">' % (html.escape(k), html.escape(v)) for k, v in query.items())
        choices = "".join(
            '<li><button type="submit" name="professional" value="%s">Dr %s %s (RPPS %s)</button></li>'
            % (html.escape(prof["sub"]), html.escape(prof["given_name"]), html.escape(prof["family_name"]), prof["rpps"])
            for prof in self.provider.professionals.values())
        page = ("<!doctype html><html lang=fr><meta charset=utf-8><title>Pro Santé Connect (local)</title>"
                "<h1>Pro Santé Connect — fournisseur local de démonstration</h1>"
                "<p>Choisissez le professionnel de test (carte CPS ou e-CPS simulée) :</p>"
                '<form method="post" action="%s/auth">%s<ul>%s</ul></form></html>') % (OIDC, hidden, choices)
        self.send(200, page, "text/html; charset=utf-8")

    def authorize_choice(self, form):
        problem = self.check_authorization_request(form)
        professional = self.provider.professionals.get(form.get("professional", ""))
        if problem or professional is None:
            return self.send(400, "<p>Requête refusée : %s</p>" % html.escape(problem or "unknown professional"), "text/html; charset=utf-8")
        code = secrets.token_urlsafe(24)
        with self.provider.lock:
            self.provider.codes[code] = {
                "client_id": form["client_id"], "redirect_uri": form["redirect_uri"], "professional": professional,
                "nonce": form["nonce"], "challenge": form["code_challenge"], "expires": time.time() + CODE_SECONDS,
                "used": False,
            }
        self.redirect(form["redirect_uri"] + ("&" if "?" in form["redirect_uri"] else "?")
                      + urlencode({"code": code, "state": form["state"], "session_state": str(uuid.uuid4())}))

    def client_credentials(self, form):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                return None, None
            return client_id, secret
        return form.get("client_id"), form.get("client_secret")

    def token(self, form):
        p = self.provider
        client_id, secret = self.client_credentials(form)
        if client_id not in p.clients or not secrets.compare_digest(p.clients[client_id], secret or ""):
            return self.oauth_error(401, "invalid_client")
        if form.get("grant_type") != "authorization_code":
            return self.oauth_error(400, "unsupported_grant_type")
        with p.lock:
            grant = p.codes.get(form.get("code", ""))
            if grant is None or grant["used"] or grant["expires"] < time.time():
                return self.oauth_error(400, "invalid_grant", "code unknown, expired or already used")
            grant["used"] = True
        if grant["client_id"] != client_id or grant["redirect_uri"] != form.get("redirect_uri"):
            return self.oauth_error(400, "invalid_grant", "client or redirect_uri differs")
        if create_s256_code_challenge(form.get("code_verifier", "")) != grant["challenge"]:
            return self.oauth_error(400, "invalid_grant", "PKCE verification failed")
        access_token = secrets.token_urlsafe(32)
        with p.lock:
            p.access_tokens[access_token] = {"professional": grant["professional"], "client_id": client_id,
                                             "expires": time.time() + ACCESS_TOKEN_SECONDS}
            id_token = p.id_token(client_id, grant["professional"], grant["nonce"])
        self.send(200, {"access_token": access_token, "token_type": "Bearer", "expires_in": ACCESS_TOKEN_SECONDS,
                        "id_token": id_token, "scope": "openid scope_all"})

    def userinfo(self):
        p = self.provider
        auth = self.headers.get("Authorization", "")
        with p.lock:
            grant = p.access_tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if grant is None or grant["expires"] < time.time():
            return self.send(401, {"error": "invalid_token"}, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        claims = p.userinfo_claims(grant["professional"])
        if p.behaviour.get("userinfo") == "jwt":
            claims.update({"iss": p.issuer, "aud": grant["client_id"]})
            with p.lock:
                return self.send(200, p.sign(claims), "application/jwt")
        self.send(200, claims)

    def end_session(self, query):
        target = query.get("post_logout_redirect_uri", "")
        with self.provider.lock:
            self.provider.logouts.append({"id_token_hint": bool(query.get("id_token_hint")), "state": query.get("state", ""),
                                          "post_logout_redirect_uri": target})
        if target and any(target.startswith(prefix) for prefix in self.provider.redirect_prefixes):
            state = query.get("state")
            return self.redirect(target + (("&" if "?" in target else "?") + urlencode({"state": state}) if state else ""))
        self.send(200, "<p>Vous êtes déconnecté de Pro Santé Connect.</p>", "text/html; charset=utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--client", action="append", default=[], help="CLIENT_ID:SECRET (repeatable)")
    parser.add_argument("--redirect-prefix", action="append", default=[], help="accepted redirect URI prefix (repeatable)")
    parser.add_argument("--professionals", default="Fixtures/psc-test-professionals.json")
    parser.add_argument("--test-controls", action="store_true")
    args = parser.parse_args()
    # A parent that blocks signals (a test runner's thread) passes its mask on: without
    # this, SIGTERM would not stop the provider.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("the local provider listens on loopback only")
    with open(args.professionals, encoding="utf-8") as f:
        professionals = json.load(f)["professionals"]
    clients = dict(c.split(":", 1) for c in args.client) or {"concerto-demo": "concerto-demo-secret"}
    provider = Provider(professionals, clients, args.redirect_prefix or ["http://127.0.0.1:", "http://localhost:"], args.test_controls)
    Handler.provider = provider
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    provider.issuer = "http://%s:%d%s" % (args.host, server.server_address[1], REALM)
    print("ready " + provider.issuer, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
