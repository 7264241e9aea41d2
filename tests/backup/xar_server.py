"""A stand-in for XWiki's export action, for tests/backup_drill.rs.

Serves GET /bin/export/XWiki/XWikiPreferences on 127.0.0.1:PORT. It checks the request as
XWiki would need it (path, query parameters format=xar, name, history=true, backup=true, and
HTTP Basic auth of USER:PASSWORD), records each request in LOG, and answers per MODE:
ok (a real XAR: a zip with package.xml and pages), 401, 500, html (HTTP 200 with an HTML
error page, as XWiki answers "needadminrights"), truncated (HTTP 200, the zip cut in half).
"""
import base64
import io
import json
import os
import sys
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

PORT, MODE, USER, PASSWORD, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]


def xar():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("package.xml", "<package><infos><name>backup</name><backupPack>true</backupPack></infos></package>")
        for i in range(20):
            z.writestr(f"Main/Page{i}.xml", "<xwikidoc>" + os.urandom(1024).hex() + "</xwikidoc>")
    return buf.getvalue()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        auth = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        with open(LOG, "a") as f:
            f.write(json.dumps({"path": url.path, "query": q, "auth_ok": auth == expected}) + "\n")
        ok_request = (
            url.path == "/bin/export/XWiki/XWikiPreferences"
            and q.get("format") == "xar"
            and q.get("name")
            and q.get("history") == "true"
            and q.get("backup") == "true"
        )
        if MODE == "401" or auth != expected:
            return self.reply(401, b"unauthorized", "text/plain")
        if not ok_request:
            return self.reply(404, b"not found", "text/plain")
        if MODE == "500":
            return self.reply(500, b"internal error", "text/plain")
        if MODE == "html":
            return self.reply(200, b"<html><body>needadminrights" + b" " * 20000 + b"</body></html>", "text/html")
        body = xar()
        if MODE == "truncated":
            body = body[: len(body) // 2]
        self.reply(200, body, "application/zip")

    def reply(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
