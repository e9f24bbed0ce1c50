"""GET /openapi.json against the real server: the document is valid OpenAPI 3.1 (every schema a
valid JSON Schema 2020-12, every $ref resolving), every documented path answers its documented
methods (the server's Allow header says exactly those), and real answers — successes and each
kind of error — have a documented status and a body that matches its schema."""
import json
import os
import re
import unittest
import uuid

from jsonschema import Draft202012Validator
from jsonschema.validators import RefResolver

from support import Database, Service, request, submit, wait_until

METHODS = ("get", "put", "post", "delete", "patch")


class OpenApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.service = Service(cls.db)
        r = request(cls.service.base, "GET", "/openapi.json")
        assert r.status == 200, r.body
        cls.doc = r.json()
        cls.resolver = RefResolver("", cls.doc)

    @classmethod
    def tearDownClass(cls):
        cls.service.stop()
        cls.db.close()

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.resolver.resolve(node["$ref"])[1]
        return node

    def test_the_document_is_openapi_3_1_with_valid_schemas_and_refs(self):
        self.assertEqual(self.doc["openapi"], "3.1.0")
        for name, schema in self.doc["components"]["schemas"].items():
            with self.subTest(schema=name):
                Draft202012Validator.check_schema(schema)

        def refs(node):
            if isinstance(node, dict):
                for k, v in node.items():
                    if k == "$ref":
                        yield v
                    else:
                        yield from refs(v)
            elif isinstance(node, list):
                for v in node:
                    yield from refs(v)
        for ref in refs(self.doc):
            with self.subTest(ref=ref):
                self.assertTrue(self.resolver.resolve(ref)[1])
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                with self.subTest(route=method + " " + path):
                    self.assertIn(method, METHODS)
                    self.assertTrue(op.get("summary"))
                    self.assertTrue(op.get("responses"))
                    params = [self.resolve(p) for p in op.get("parameters", [])]
                    params = {p["name"] for p in params if p["in"] == "path"}
                    self.assertEqual(params, {s[1:-1] for s in path.split("/") if s.startswith("{")})

    def test_every_route_the_readme_names_is_in_the_document(self):
        """The README's API text is checked against the document: a route named there (a
        heading, `GET /path` in prose, or a curl -X example) must be documented."""
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")) as f:
            readme = f.read()
        routes = set(re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[a-z0-9{}<>/_.:-]*)", readme))
        routes |= set(re.findall(r"curl (?:-[a-zA-Z] \S+ )*-X (POST|PATCH|PUT|DELETE) (?:-[a-zA-Z] '[^']*' )*"
                                 r"localhost:3000(/[a-z0-9/_.-]*)", readme))
        self.assertTrue(routes)
        def documented(path):
            """The document's path for a README path (`/jobs/<id>` or `/queues/mail`)."""
            templated = re.sub(r"<([a-z_]+)>", r"{\1}", path)
            if templated in self.doc["paths"]:
                return templated
            for p in self.doc["paths"]:
                if re.fullmatch(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(p)), path):
                    return p
            return None
        for method, path in sorted(routes):
            with self.subTest(route=method + " " + path):
                p = documented(path)
                self.assertTrue(p, "not in api/openapi.json")
                self.assertIn(method.lower(), self.doc["paths"][p])

    def concrete(self, path):
        return (path.replace("{id}", str(uuid.uuid4())).replace("{name}", "oa-queue")
                .replace("{file}", "app.js"))

    def test_the_server_allows_exactly_the_documented_methods_of_each_path(self):
        for path, item in self.doc["paths"].items():
            with self.subTest(path=path):
                r = request(self.service.base, "OPTIONS", self.concrete(path))
                self.assertEqual(r.status, 204, r.body)
                allowed = {m.strip().lower() for m in r.header("allow").split(",")} - {"options"}
                self.assertEqual(allowed, {m for m in item if m in METHODS})

    def check(self, method, path, body=None, headers=None, template=None):
        """Sends the request and checks the answer against the operation of `template`."""
        r = request(self.service.base, method, path, body, headers)
        op = self.doc["paths"][template or path.split("?")[0]][method.lower()]
        self.assertIn(str(r.status), op["responses"], "%s %s answered %d %s" % (method, path, r.status, r.body))
        response = self.resolve(op["responses"][str(r.status)])
        content = response.get("content", {})
        if "application/json" in content:
            schema = self.resolve(content["application/json"]["schema"])
            Draft202012Validator(schema, resolver=self.resolver).validate(json.loads(r.body))
        for name, header in response.get("headers", {}).items():
            if header.get("required") is False:  # documented as sometimes there
                continue
            if r.status in (201, 302) or name == "Retry-After":
                self.assertTrue(r.header(name), "%s %s: no %s header" % (method, path, name))
        return r

    def test_real_answers_match_their_documented_schemas(self):
        job = {"job_type": "noop", "payload": {"k": 1}, "queue": "oa-queue"}
        created = self.check("POST", "/jobs", job)
        job_id = created.json()["id"]
        self.check("POST", "/jobs/batch", {"jobs": [job, job]})
        self.check("GET", "/jobs/" + job_id, template="/jobs/{id}")
        self.assertTrue(wait_until(lambda: request(self.service.base, "GET", "/jobs/" + job_id).json()["status"] == "done"))
        self.check("GET", "/jobs/" + job_id, template="/jobs/{id}")
        for i in range(3):
            submit(self.service, job)
        paged = self.check("GET", "/jobs?limit=2")
        self.assertIn('rel="next"', paged.header("link"))
        self.check("GET", "/queues")
        self.check("GET", "/queues/oa-queue", template="/queues/{name}")
        self.check("PATCH", "/queues/oa-queue", {"concurrency_limit": 4}, template="/queues/{name}")
        self.check("POST", "/queues/oa-queue/pause", template="/queues/{name}/pause")
        self.check("POST", "/queues/oa-queue/resume", template="/queues/{name}/resume")
        self.check("GET", "/healthz")
        self.check("GET", "/metrics")
        self.check("GET", "/openapi.json")
        self.check("GET", "/")
        self.check("GET", "/ui/")
        self.check("GET", "/ui/app.js", template="/ui/{file}")

    def test_errors_match_their_documented_statuses_and_codes(self):
        cases = [
            ("POST", "/jobs", b"{", {"Content-Type": "application/json"}, None, "malformed_json"),
            ("POST", "/jobs", b"{}", {"Content-Type": "text/plain"}, None, "unsupported_media_type"),
            ("POST", "/jobs", {"job_type": "nope", "payload": {}}, None, None, "unknown_job_type"),
            ("POST", "/jobs", {"job_type": "noop", "payload": {}, "max_atempts": 2}, None, None, "unknown_field"),
            ("POST", "/jobs/batch", {"jobs": []}, None, None, "invalid_batch"),
            ("GET", "/jobs?limit=0", None, None, None, "invalid_query"),
            ("GET", "/jobs/not-a-uuid", None, None, "/jobs/{id}", "invalid_id"),
            ("GET", "/jobs/" + str(uuid.uuid4()), None, None, "/jobs/{id}", "not_found"),
            ("GET", "/queues/Not_A_Queue", None, None, "/queues/{name}", "invalid_queue"),
            ("GET", "/queues/oa-none", None, None, "/queues/{name}", "not_found"),
            ("PATCH", "/queues/oa-queue", {"concurrency_limit": -1}, None, "/queues/{name}", None),
            ("GET", "/events?status=bogus", None, None, None, "invalid_query"),
            ("GET", "/ui/missing.js", None, None, "/ui/{file}", "not_found"),
        ]
        for method, path, body, headers, template, code in cases:
            with self.subTest(request=method + " " + path):
                r = self.check(method, path, body, headers, template)
                self.assertGreaterEqual(r.status, 400)
                if code:
                    self.assertEqual(r.json()["error"]["code"], code)


class OpenApiWithToken(unittest.TestCase):
    def test_401_is_documented_where_the_token_is_needed(self):
        db = Database()
        service = Service(db, {"API_TOKEN": "oa-token"})
        try:
            doc = request(service.base, "GET", "/openapi.json", headers={"Authorization": "Bearer oa-token"}).json()
            for path, item in doc["paths"].items():
                if "get" not in item or "{" in path:
                    continue
                with self.subTest(path=path):
                    r = request(service.base, "GET", path)
                    self.assertIn(str(r.status), item["get"]["responses"], r.body)
                    if r.status == 401:
                        self.assertEqual(r.json()["error"]["code"], "unauthorized")
        finally:
            service.stop()
            db.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
