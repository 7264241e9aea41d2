"""A stand-in XWiki for the cutover smoke test (tests/cutover.rs): serves on ADDRESS:PORT the
home page, a known page with TEXT, the REST wiki resource (HTTP Basic USER:PASSWORD), an
attachment, and a REST page list with PAGES entries."""
import base64
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

ADDRESS, PORT, USER, PASSWORD, PAGE, TEXT, ATTACHMENT, PAGES = sys.argv[1:9]


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
        if self.path == "/":
            return self.reply(200, b"<html>XWiki</html>")
        if self.path == f"/bin/view/{space}/{name}":
            return self.reply(200, f"<html>{TEXT}</html>".encode())
        if self.path == f"/bin/download/{dspace}/{dname}/{file}":
            return self.reply(200, b"\x89PNG" + b"\0" * 100)
        if self.path.startswith("/rest/"):
            if not self.authed():
                return self.reply(401, b"unauthorized")
            if self.path == "/rest/wikis/xwiki":
                return self.reply(200, b"<wiki/>")
            if self.path == "/rest/wikis/xwiki/pages?number=-1":
                body = "<pages>" + "<pageSummary/>" * int(PAGES) + "</pages>"
                return self.reply(200, body.encode())
        self.reply(404, b"not found")

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer((ADDRESS, int(PORT)), Handler).serve_forever()
