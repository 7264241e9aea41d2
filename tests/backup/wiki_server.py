"""A stand-in XWiki for the cutover smoke test (tests/cutover.rs): serves on ADDRESS:PORT the
home page, a known page with TEXT, the REST wiki resource (HTTP Basic USER:PASSWORD), an
attachment, and the REST HQL query of every document (JSON, as XWiki's HQLSearchSource
answers it), under an optional context path.

Usage: wiki_server.py ADDRESS PORT USER PASSWORD PAGE TEXT ATTACHMENT DOCS
Environment: WIKI_CONTEXT (e.g. /xwiki), WIKI_TLS_CERT and WIKI_TLS_KEY (serve HTTPS),
WIKI_ATTACHMENT (the attachment's bytes), WIKI_EXTRA (documents only this wiki has),
WIKI_DROP (a document index this wiki lacks), WIKI_VERSION (index=version overrides)."""
import base64
import json
import os
import ssl
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

ADDRESS, PORT, USER, PASSWORD, PAGE, TEXT, ATTACHMENT, DOCS = sys.argv[1:9]
CONTEXT = os.environ.get("WIKI_CONTEXT", "")
BODY = os.environ.get("WIKI_ATTACHMENT", "\x89PNG" + "\0" * 100).encode("latin-1")
DROP = os.environ.get("WIKI_DROP")
VERSIONS = dict(
    kv.split("=", 1) for kv in os.environ.get("WIKI_VERSION", "").split(",") if kv
)
QUERY = "/rest/wikis/xwiki/query?type=hql&q=where%201%3D1%20order%20by%20doc.fullName"


def documents():
    docs = []
    for i in range(int(DOCS)):
        if DROP is not None and str(i) == DROP:
            continue
        version = VERSIONS.get(str(i), "1.1")
        docs.append({"pageFullName": f"Space{i}.Page{i}", "language": "", "version": version})
        if i == 0:
            docs.append({"pageFullName": f"Space{i}.Page{i}", "language": "fr", "version": "1.1"})
    for i in range(int(os.environ.get("WIKI_EXTRA", "0"))):
        docs.append({"pageFullName": f"XWiki.Mandatory{i}", "language": "", "version": "1.1"})
    return docs


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def authed(self):
        want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return self.headers.get("Authorization") == want

    def do_GET(self):
        space, name = PAGE.split(".", 1)
        doc, file = ATTACHMENT.split("/", 1)
        dspace, dname = doc.split(".", 1)
        if not self.path.startswith(CONTEXT + "/"):
            return self.reply(404, b"not found")
        path = self.path[len(CONTEXT):]
        if path == "/":
            return self.reply(200, b"<html>XWiki</html>")
        if path == f"/bin/view/{space}/{name}":
            return self.reply(200, f"<html>{TEXT}</html>".encode())
        if path == f"/bin/download/{dspace}/{dname}/{file}":
            return self.reply(200, BODY)
        if path.startswith("/rest/"):
            if not self.authed():
                return self.reply(401, b"unauthorized")
            if path == "/rest/wikis/xwiki":
                return self.reply(200, b"<wiki/>")
            if path.startswith(QUERY + "&") and self.headers.get("Accept") == "application/json":
                params = dict(p.split("=", 1) for p in path[len(QUERY) + 1:].split("&"))
                start, number = int(params.get("start", "0")), int(params["number"])
                docs = documents()
                page = docs[start:] if number < 0 else docs[start:start + number]
                body = json.dumps({"searchResults": page})
                return self.reply(200, body.encode())
        self.reply(404, b"not found")

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = HTTPServer((ADDRESS, int(PORT)), Handler)
if os.environ.get("WIKI_TLS_CERT"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["WIKI_TLS_CERT"], os.environ["WIKI_TLS_KEY"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
