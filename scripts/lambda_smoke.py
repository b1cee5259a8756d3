"""Invokes Roster's functions under cargo-lambda's runtime emulator with the sample events of
`events/`, made real: run by scripts/lambda-smoke.sh, which starts the emulator, builds the
binaries and runs `cargo lambda watch` with the Lambda environment.

Two phases, so that nothing runs a job behind the workers' backs:
1. setup: a local gateway of its own (`local-gateway serve --setup`: the table, bucket, sender and
   bootstrap admin) creates, through the API, what the chosen events need (a tenant and its owner,
   departments, members, licences, invitations, a join link and join requests, an API client, a
   SCIM token and the SCIM Users and Groups it provisions...),
   reading mailed links from the emulator; then the gateway is stopped (it also plays the
   schedules and the stream locally, which would run the workers' jobs itself).
2. smoke: for every chosen function, a copy of its sample event (under the work directory) with the
   real ids, tokens and bodies substituted is sent with `cargo lambda invoke --data-file`; the
   answer's status (or a worker's report) must be the one expected here, else the run fails with
   the answer. Jobs are created by the functions themselves and handed to the workers as the stack
   would (a DynamoDB stream record of the real item, an S3 notification of the real upload, an
   EventBridge schedule), and the workers' effects are checked (jobs completed, rows imported).

usage: lambda_smoke.py [FUNCTION...]   (none: every function of events/)
environment: ROSTER_* and AWS_* as for the functions (see lambda_env), ROSTER_BOOTSTRAP_EMAIL and
ROSTER_BOOTSTRAP_PASSWORD, SMOKE_GATEWAY (the local-gateway binary), SMOKE_WORK_DIR (event copies
and logs).
"""

import base64
import copy
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import boto3  # in the venv with moto

from roster_py import api, mail, tenant

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS = os.path.join(ROOT, "events")
# Rows of the import the department move then moves: more than one transaction can rewrite, so the
# move becomes a job for department-move-run.
MOVE_ROWS = 100


SmokeFailure = api.Failure  # the shared setup's failures fail the run alike


def own_variables():
    """{function: the names of the variables template.yaml gives it beyond Globals} (today the
    token issuers' ROSTER_SIGNING_KEY_SECRET)."""
    with open(os.path.join(ROOT, "template.yaml")) as f:
        template = f.read()
    own = {}
    for resource in re.split(r"\n  \w+:\n    Type: AWS::Serverless::Function\n", template)[1:]:
        block = resource.split("\n\n  ")[0]  # up to the next resource
        name = re.search(r"Binary: ([\w-]+)", block).group(1)
        variables = block.split("\n      Environment:\n        Variables:\n", 1)[1:]
        listed = re.match(r"(?:          \w+:.*\n)*", variables[0]).group(0) if variables else ""
        own[name] = frozenset(re.findall(r"^          (\w+):", listed, re.M))
    return own


def lambda_env(variables, withheld):
    """The environment a function gets, as template.yaml gives it, pointed at the emulator: every
    ROSTER_* setting of this process except the local setup's (bootstrap admin, gateway address)
    and the variables other functions get but this one does not (`withheld` minus its own
    `variables`: the private key outside the token issuers), the SDK's AWS_* settings (endpoint,
    region, credentials) and the Lambda HTTP settings of Globals."""
    env = {
        name: value for name, value in os.environ.items()
        if name.startswith("ROSTER_") and not name.startswith(("ROSTER_BOOTSTRAP_", "ROSTER_GATEWAY_"))
        and (name in variables or name not in withheld)
    }
    env.update({name: value for name, value in os.environ.items() if name.startswith("AWS_")})
    env["AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH"] = "true"
    env["RUST_LOG"] = os.environ.get("RUST_LOG", "info")
    return env


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def in_days(days):
    """An end-of-day timestamp `days` from now (the samples' fixed dates go stale)."""
    return time.strftime("%Y-%m-%dT23:59:59Z", time.gmtime(time.time() + days * 86400))


def unique(prefix):
    return f"{prefix}-{secrets.token_hex(4)}"


class Smoke(api.Client):
    """The run: a client of the setup gateway (phase 1) and the functions' invoker (phase 2)."""

    def __init__(self):
        self.env = os.environ
        super().__init__(None, self.env["AWS_ENDPOINT_URL"])  # the gateway's base once it runs
        self.work = self.env["SMOKE_WORK_DIR"]
        self.dynamodb = boto3.client("dynamodb", region_name=self.env["AWS_REGION"], endpoint_url=self.emulator)
        self.gateway = None
        self.own_variables = own_variables()
        self.watches = {}  # a function's own variables -> (server process, port, env file)
        self.invocations = []  # (function, what, seconds)
        self.written = 0

    # ---------------------------------------------------------------------------------------
    # Phase 1: the local gateway, for setup only.

    def start_gateway(self):
        port = free_port()
        env = dict(self.env, ROSTER_GATEWAY_ADDR=f"127.0.0.1:{port}")
        log = open(os.path.join(self.work, "gateway.log"), "wb")
        self.gateway = subprocess.Popen(
            [self.env["SMOKE_GATEWAY"], "serve", "--setup"], env=env, stdout=log, stderr=log
        )
        self.base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            if self.gateway.poll() is not None:
                raise SmokeFailure(f"the setup gateway exited; see {log.name}")
            try:
                with urllib.request.urlopen(f"{self.base}/.well-known/jwks.json", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise SmokeFailure("the setup gateway did not answer")

    def stop_gateway(self):
        if self.gateway is not None:
            self.gateway.terminate()
            self.gateway.wait(timeout=10)
            self.gateway = None

    def setup_tenant(self):
        self.admin = self.login(self.env["ROSTER_BOOTSTRAP_EMAIL"], self.env["ROSTER_BOOTSTRAP_PASSWORD"])
        owned = tenant.tenant_with_owner(
            self, self.admin, f"{unique('owner')}@smoke.test", "owner-password-1", name="Smoke Corp",
            member_quota=1000, seats_total=20,
            feature_flags={"licence_renewal": True, "api_access": True},
            settings={"join_rules": {"join_by_number": True}})
        self.tenant = owned.tenant["id"]
        self.join_number = owned.tenant["join_number"]
        self.root = owned.tenant["root_department_id"]
        self.owner = owned.token
        self.sales = self.department("Sales")

    def tenant_path(self, rest=""):
        return f"/v1/tenants/{self.tenant}{rest}"

    def department(self, name, parent=None):
        body = {"name": name, "parent_id": parent or self.root}
        return self.api("POST", self.tenant_path("/departments"), self.owner, body, expect=(201,))["id"]

    def member(self, name):
        """A member of Sales (created by the owner) at a fresh address: (id, email)."""
        email = f"{unique(name.lower())}@people.test"
        body = {"email": email, "name": name, "department_id": self.sales}
        created = self.api("POST", self.tenant_path("/members"), self.owner, body, expect=(201,))
        return created["id"], email

    def person(self, name):
        """A member who set a password and signed in: dict with id, email, password, token."""
        member_id, email = self.member(name)
        password = f"{name.lower()}-password-1"
        tenant.set_password(self, email, password)
        return {"id": member_id, "email": email, "password": password,
                "token": self.login(email, password, self.tenant)}

    def licensed(self, name, days=90):
        """A member holding a licence that ends in `days` days."""
        member_id, _ = self.member(name)
        self.api("PUT", self.tenant_path(f"/members/{member_id}/licence"), self.owner,
                 {"expires_at": in_days(days)})
        return member_id

    def invitation(self):
        """(id, mailed token) of a fresh invitation into Sales."""
        email = f"{unique('invitee')}@people.test"
        created = self.api("POST", self.tenant_path("/invitations"), self.owner,
                           {"email": email, "name": "Ivy Invitee", "department_id": self.sales},
                           expect=(201,))
        return created["id"], mail.mailed_token(self, email, "invitations/accept")

    def join_link(self):
        return self.api("POST", self.tenant_path("/join-links"), self.owner,
                        {"label": "Smoke", "department_id": self.sales}, expect=(201,))

    def join_request(self, code):
        """The id of a pending join request, made through the link by a new person."""
        email = f"{unique('joiner')}@people.test"
        self.api("POST", f"/v1/join/{code}", body={"email": email, "name": "Jo Joiner",
                 "password": "joiner-password-1", "phone": "+15555550100"}, expect=(201, 202))
        # The answer only queues the request; the outbox worker files it a moment later.
        deadline = time.monotonic() + 20
        while True:
            pending = self.api("GET", self.tenant_path("/join-requests?status=pending&limit=100"), self.owner)
            for request in pending["items"]:
                if request["email"] == email:
                    return request["id"]
            if time.monotonic() > deadline:
                raise SmokeFailure(f"no pending join request of {email}: {pending}")
            time.sleep(0.2)

    def scim_ready(self):
        """The SCIM token the setup provisions with and the SCIM steps present (created once,
        by the owner)."""
        if not hasattr(self, "scim_token"):
            self.scim_token = self.api("POST", self.tenant_path("/scim-tokens"), self.owner,
                                       {"label": "Smoke IdP"}, expect=(201,))["token"]

    def scim_api(self, method, rest, body=None, expect=(200,), with_headers=False):
        """A SCIM request through the gateway, as the identity provider sends it (the SCIM token,
        application/scim+json)."""
        self.scim_ready()
        return self.api(method, f"/scim/v2/{self.tenant}{rest}", self.scim_token, body, expect,
                        "application/scim+json", with_headers)

    def scim_user_body(self, name):
        """scim-create-user's sample User for a fresh address (its userName) and externalId."""
        email = f"{unique(name.lower())}@idp.test"
        return self.sample_body("scim-create-user", userName=email, externalId=unique("00u"),
                                emails=[{"primary": True, "value": email, "type": "work"}])

    def scim_user(self, name):
        """A User the identity provider provisioned: dict with id, userName, externalId, etag."""
        body = self.scim_user_body(name)
        created, headers = self.scim_api("POST", "/Users", body, expect=(201,), with_headers=True)
        return {"id": created["id"], "userName": body["userName"], "externalId": body["externalId"],
                "etag": headers["etag"]}

    def scim_group(self, name, members):
        """A Group (a department under the root) holding `members` (User ids): dict with id,
        displayName, etag."""
        body = self.sample_body("scim-create-group", displayName=unique(name),
                                members=[{"value": m} for m in members])
        created, headers = self.scim_api("POST", "/Groups", body, expect=(201,), with_headers=True)
        return {"id": created["id"], "displayName": body["displayName"], "etag": headers["etag"]}

    # ---------------------------------------------------------------------------------------
    # Phase 2: the functions under the runtime emulator.

    def start_watches(self):
        """One `cargo lambda watch` server per distinct set of a function's own variables (one
        server gives all its functions the same environment): today one for the token issuers,
        with the private key, and one for every other function, without it. A server starts each
        function on its first invocation (`cargo run`, the binary built already) and keeps it for
        the next ones, as a warm Lambda container."""
        withheld = frozenset().union(*self.own_variables.values())
        for number, variables in enumerate(sorted(set(self.own_variables.values()), key=sorted)):
            env_file = os.path.join(self.work, f"lambda-{number}.env")
            with open(env_file, "w") as f:
                os.fchmod(f.fileno(), 0o600)  # it may hold the signing key; removed at the end
                f.writelines(f"{k}='{v}'\n" for k, v in sorted(lambda_env(variables, withheld).items()))
            port = free_port()
            # The server's own environment has no ROSTER_ or AWS_ settings: the functions get
            # exactly the env file's. Its own log stays at warnings (at info it logs every
            # function's environment, the private key included).
            env = {k: v for k, v in os.environ.items() if not k.startswith(("ROSTER_", "AWS_"))}
            env["RUST_LOG"] = "warn"
            log = open(os.path.join(self.work, f"watch-{number}.log"), "wb")
            process = subprocess.Popen(
                ["cargo", "lambda", "watch", "--ignore-changes", "--invoke-address", "127.0.0.1",
                 "--invoke-port", str(port), "--env-file", env_file, "--timeout", "600"],
                cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
            self.watches[variables] = (process, port, env_file)
        for process, port, _ in self.watches.values():
            for _ in range(600):
                if process.poll() is not None:
                    raise SmokeFailure(f"cargo lambda watch exited; see {self.work}/watch-*.log")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise SmokeFailure("cargo lambda watch did not listen")

    def stop_watches(self):
        for process, _, env_file in self.watches.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)  # the server and the functions it started
            except ProcessLookupError:
                pass
            process.wait(timeout=20)
            os.remove(env_file)
        self.watches = {}

    def watch_port(self, function):
        return self.watches[self.own_variables.get(function, frozenset())][1]

    def sample(self, function):
        with open(os.path.join(EVENTS, f"{function}.json")) as f:
            return json.load(f)

    def http_event(self, function, params=None, token=None, body=None, query=None, headers=None,
                   keep_body=False):
        """A copy of the function's sample API Gateway event with the real path parameters, bearer
        token (none: the header is dropped), JSON body (keep_body: the sample's; a new one is sent
        in the sample's content type, application/scim+json for SCIM), query and extra headers.
        The sample's fake `if-match` is dropped unless `headers` give one."""
        event = copy.deepcopy(self.sample(function))
        template = event["routeKey"].split(" ", 1)[1]
        path = template
        for name, value in (params or {}).items():
            path = path.replace("{" + name + "}", urllib.parse.quote(str(value), safe=""))
        if "{" in path:
            raise SmokeFailure(f"{function}: path parameters missing for {template}")
        event["rawPath"] = path
        event["requestContext"]["http"]["path"] = path
        if params:
            event["pathParameters"] = {k: str(v) for k, v in params.items()}
        event["requestContext"]["requestId"] = secrets.token_urlsafe(12)
        sent_headers = event["headers"]
        sent_headers.pop("authorization", None)
        sent_headers.pop("if-match", None)
        if token:
            sent_headers["authorization"] = f"Bearer {token}"
        sent_headers.update(headers or {})
        if not keep_body:
            event.pop("body", None)
            sent_headers.pop("content-length", None)
            content_type = sent_headers.pop("content-type", None) or "application/json"
            if body is not None:
                event["body"] = json.dumps(body)
                sent_headers["content-type"] = content_type
        if "body" in event:
            sent_headers["content-length"] = str(len(event["body"].encode()))
        if query is not None:
            event["rawQueryString"] = urllib.parse.urlencode(query)
            event["queryStringParameters"] = {k: str(v) for k, v in query.items()}
        return event

    def sample_body(self, function, **changes):
        """The sample event's JSON body with `changes` applied."""
        return {**json.loads(self.sample(function)["body"]), **changes}

    def invoke(self, function, event, what="sample"):
        """`cargo lambda invoke` of `event` (written under the work directory): the function's
        answer, parsed; an invocation error fails the run with the error and the log's tail."""
        self.written += 1
        path = os.path.join(self.work, "events", f"{self.written:03d}-{function}.json")
        with open(path, "w") as f:
            json.dump(event, f, indent=2)
        start = time.perf_counter()
        done = subprocess.run(
            ["cargo", "lambda", "invoke", function, "--data-file", path,
             "--invoke-address", "127.0.0.1", "--invoke-port", str(self.watch_port(function)),
             "--output-format", "json", "--color", "never"],
            capture_output=True, text=True, timeout=600,
        )
        seconds = time.perf_counter() - start
        self.invocations.append((function, what, seconds))
        if done.returncode != 0:
            raise SmokeFailure(
                f"{function} ({what}, {path}): the invocation failed:\n{done.stdout}{done.stderr}"
                f"\n(function logs: {self.work}/watch-*.log)")
        try:
            return json.loads(done.stdout)
        except ValueError:
            raise SmokeFailure(f"{function} ({what}): not JSON: {done.stdout!r} {done.stderr}")

    def http(self, function, expect, what="sample", **event_args):
        """Invokes an API function with its real sample; the answer must have status `expect`.
        Returns the answer's body (parsed JSON, or the text)."""
        answer = self.invoke(function, self.http_event(function, **event_args), what)
        body = answer.get("body") or ""
        if answer.get("isBase64Encoded"):
            body = base64.b64decode(body).decode(errors="replace")
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        if answer.get("statusCode") != expect:
            raise SmokeFailure(f"{function} ({what}): expected {expect}, got {answer.get('statusCode')}:"
                               f" {body}")
        print(f"  ok  {function:<24} {expect}  ({what})", flush=True)
        return parsed

    def worker(self, function, event, what):
        """Invokes a worker or scheduled function; returns its report."""
        report = self.invoke(function, event, what)
        print(f"  ok  {function:<24} {json.dumps(report)}  ({what})", flush=True)
        return report

    def stream_record(self, function, job_id, event_name):
        """The function's sample DynamoDB stream event (export-run's for import-run) carrying the
        job's real item as NewImage."""
        key = {"pk": {"S": f"TENANT#{self.tenant}"}, "sk": {"S": f"JOB#{job_id}"}}
        item = self.dynamodb.get_item(TableName=self.env["ROSTER_TABLE"], Key=key).get("Item")
        if item is None:
            raise SmokeFailure(f"{function}: no job {job_id} in the table")
        event = copy.deepcopy(self.sample(function))
        if "dynamodb" not in event["Records"][0]:  # import-run's sample is the S3 notification
            event = copy.deepcopy(self.sample("export-run"))
        record = event["Records"][0]
        record["eventName"] = event_name
        record["awsRegion"] = self.env["AWS_REGION"]
        record["dynamodb"]["Keys"] = key
        record["dynamodb"]["NewImage"] = item
        record["dynamodb"]["ApproximateCreationDateTime"] = int(time.time())
        return event

    def schedule(self, rule):
        """An EventBridge scheduled event (the shape of the scheduled samples) for `rule`."""
        event = copy.deepcopy(self.sample("recycle-purge"))
        event["id"] = secrets.token_hex(16)
        event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        event["resources"] = [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"]
        return event

    def job(self, job_id, what):
        return self.http("get-job", 200, what, token=self.owner,
                         params={"tenant_id": self.tenant, "job_id": job_id})

    def expect_job(self, job_id, status, succeeded=None, what="the worker's effect"):
        job = self.job(job_id, what)
        if job["status"] != status or (succeeded is not None and job["counts"]["succeeded"] != succeeded):
            raise SmokeFailure(f"job {job_id}: expected {status} with {succeeded} rows done, got {job}")
        return job

    def import_csv(self, rows, department):
        lines = ["email,name,department,position"]
        for n in range(rows):
            lines.append(f"{unique(f'row{n}')}@import.test,Row {n},{department},Imported")
        return ("\r\n".join(lines) + "\r\n").encode()

    def upload(self, url, data):
        status, answer, _ = api.call("PUT", url, raw=data, content_type="text/csv")
        if status >= 300:
            raise SmokeFailure(f"the upload answered {status}: {answer}")


# ---------------------------------------------------------------------------------------------
# The scenario: per function, what it needs prepared (phase 1, through the gateway) and its
# invocation (phase 2). Steps run in this order; a chosen function's step runs with all the
# preparation it needs.


class Receiver:
    """A webhook receiver on loopback that answers 200 and keeps each delivery's headers."""

    def __init__(self):
        import http.server
        import threading
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length") or 0))
                received.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hook"


def steps():
    """[(function, prepare(smoke) or None, run(smoke))], in the order they run."""
    s = []

    def step(function, prepare=None):
        def register(run):
            s.append((function, prepare, run))
            return run
        return register

    # Public routes and the caller's own account.
    @step("get-jwks")
    def _(x):
        keys = x.http("get-jwks", 200)
        if not keys.get("keys"):
            raise SmokeFailure(f"get-jwks: no keys: {keys}")

    def ada(x):
        x.ada = x.person("Ada")

    @step("login", ada)
    def _(x):
        answer = x.http("login", 200, body=x.sample_body(
            "login", email=x.ada["email"], password=x.ada["password"], tenant_id=x.tenant))
        if not answer.get("access_token"):
            raise SmokeFailure(f"login: no token: {answer}")

    @step("get-me", ada)
    def _(x):
        me = x.http("get-me", 200, token=x.ada["token"])
        if me["user"]["email"] != x.ada["email"]:
            raise SmokeFailure(f"get-me: someone else: {me}")
        # The documented sample itself carries a made-up token: refused before anything is read.
        answer = x.invoke("get-me", x.sample("get-me"), "the sample as shipped")
        if answer.get("statusCode") != 401:
            raise SmokeFailure(f"get-me with the sample's fake token: expected 401, got {answer}")
        print(f"  ok  {'get-me':<24} 401  (the sample as shipped, fake token)", flush=True)

    @step("update-me", ada)
    def _(x):
        x.http("update-me", 200, token=x.ada["token"], keep_body=True)

    @step("list-my-logins", ada)
    def _(x):
        x.http("list-my-logins", 200, token=x.ada["token"], query={"limit": 50})

    def sessions(x):
        # Three more sessions of one person, their refresh tokens in the body: one to refresh,
        # one to sign out of, one to end from the list.
        x.sid = x.person("Sid")
        x.sid_sessions = []
        for _ in range(3):
            signed = x.api("POST", "/v1/auth/login", body={
                "email": x.sid["email"], "password": x.sid["password"], "tenant_id": x.tenant,
                "refresh": "body"})
            x.sid_sessions.append(signed)
        listed = x.api("GET", "/v1/me/sessions", x.sid["token"])["items"]
        x.sid_ended = listed[0]["id"]  # the newest: the third sign-in's

    def with_refresh_cookie(x, function, token):
        event = x.http_event(function, body={})
        event["cookies"] = [f"__Secure-roster_refresh={token}"]
        return event

    @step("refresh-session", sessions)
    def _(x):
        answer = x.invoke("refresh-session",
                          with_refresh_cookie(x, "refresh-session", x.sid_sessions[0]["refresh_token"]))
        cookies = answer.get("cookies") or []
        if answer.get("statusCode") != 200 or not any(
                c.startswith("__Secure-roster_refresh=") and "HttpOnly" in c for c in cookies):
            raise SmokeFailure(f"refresh-session: expected 200 with the next refresh cookie, got {answer}")
        print(f"  ok  {'refresh-session':<24} 200  (the cookie of a sign-in)", flush=True)

    @step("logout", sessions)
    def _(x):
        answer = x.invoke("logout", with_refresh_cookie(x, "logout", x.sid_sessions[1]["refresh_token"]))
        if answer.get("statusCode") != 204:
            raise SmokeFailure(f"logout: expected 204, got {answer}")
        print(f"  ok  {'logout':<24} 204  (the cookie of a sign-in)", flush=True)

    @step("list-my-sessions", sessions)
    def _(x):
        listed = x.http("list-my-sessions", 200, token=x.sid["token"], query={"limit": 50})
        if not any(s["current"] for s in listed["items"]):
            raise SmokeFailure(f"list-my-sessions: the caller's own session is not listed: {listed}")

    @step("end-my-session", sessions)
    def _(x):
        x.http("end-my-session", 204, token=x.sid["token"], params={"session_id": x.sid_ended})

    def pat(x):
        x.pat = x.person("Pat")

    @step("change-password", pat)
    def _(x):
        x.http("change-password", 200, token=x.pat["token"],
               body=x.sample_body("change-password", current_password=x.pat["password"]))

    def rita(x):
        x.rita = x.person("Rita")

    @step("request-password-reset", rita)
    def _(x):
        x.http("request-password-reset", 202, body={"email": x.rita["email"]})

    def reset_link(x):
        rita(x)
        # The link request-password-reset mails, asked for here through the gateway.
        before = len(mail.links_mailed(x, x.rita["email"], "set-password"))
        x.api("POST", "/v1/auth/password-reset/request", body={"email": x.rita["email"]}, expect=(202,))
        x.reset_token = mail.mailed_token(x, x.rita["email"], "set-password", after=before)

    @step("complete-password-reset", reset_link)
    def _(x):
        x.http("complete-password-reset", 204,
               body=x.sample_body("complete-password-reset", token=x.reset_token))

    def unproven(x):
        x.unproven_id, x.unproven_email = x.member("Uma")

    @step("resend-verification", unproven)
    def _(x):
        x.http("resend-verification", 202, body={"email": x.unproven_email})

    def verify_link(x):
        _, email = x.member("Vera")
        x.verify_token = mail.mailed_token(x, email, "set-password")

    @step("verify-email", verify_link)
    def _(x):
        answer = x.http("verify-email", 200, body=x.sample_body("verify-email", token=x.verify_token))
        if answer != {"email_verified": True}:
            raise SmokeFailure(f"verify-email: {answer}")

    def email_change(x):
        x.eve = x.person("Eve")
        x.eve_new_email = f"{unique('eve-new')}@people.test"
        x.api("PATCH", "/v1/me", x.eve["token"],
              {"email": x.eve_new_email, "current_password": x.eve["password"]}, expect=(202,))
        x.confirm_token = mail.mailed_token(x, x.eve_new_email, "confirm-email")

    @step("confirm-email-change", email_change)
    def _(x):
        x.http("confirm-email-change", 200, token=x.eve["token"], body={"token": x.confirm_token})

    # Tenants (the platform admin).
    @step("list-tenants")
    def _(x):
        x.http("list-tenants", 200, token=x.admin, query={"limit": 50})

    @step("create-tenant")
    def _(x):
        body = x.sample_body("create-tenant", owner_email=f"{unique('grace')}@acme.test")
        x.http("create-tenant", 201, token=x.admin, body=body)

    @step("get-tenant")
    def _(x):
        x.http("get-tenant", 200, token=x.owner, params={"tenant_id": x.tenant})

    def other_tenant(x):
        x.other_tenant = x.api("POST", "/v1/tenants", x.admin, x.sample_body(
            "create-tenant", owner_email=f"{unique('olga')}@acme.test"), expect=(201,))["id"]

    @step("update-tenant", other_tenant)
    def _(x):
        # On a tenant of its own: the sample sets an IP allowlist and a password expiry.
        x.http("update-tenant", 200, token=x.admin, params={"tenant_id": x.other_tenant}, keep_body=True)

    def doomed_tenant(x):
        x.doomed_tenant = x.api("POST", "/v1/tenants", x.admin, x.sample_body(
            "create-tenant", owner_email=f"{unique('dora')}@acme.test"), expect=(201,))["id"]

    @step("delete-tenant", doomed_tenant)
    def _(x):
        x.http("delete-tenant", 202, token=x.admin, params={"tenant_id": x.doomed_tenant})

    def deleted_tenant(x):
        x.deleted_tenant = x.api("POST", "/v1/tenants", x.admin, x.sample_body(
            "create-tenant", owner_email=f"{unique('dina')}@acme.test"), expect=(201,))["id"]
        x.api("DELETE", f"/v1/tenants/{x.deleted_tenant}", x.admin, expect=(202,))

    @step("restore-tenant", deleted_tenant)
    def _(x):
        x.http("restore-tenant", 200, token=x.admin, params={"tenant_id": x.deleted_tenant})

    # Departments.
    @step("list-departments")
    def _(x):
        x.http("list-departments", 200, token=x.owner, params={"tenant_id": x.tenant}, query={"limit": 50})

    @step("get-department")
    def _(x):
        department = x.http("get-department", 200, token=x.owner,
                            params={"tenant_id": x.tenant, "department_id": x.sales})
        if department["id"] != x.sales:
            raise SmokeFailure(f"get-department: {department}")

    @step("create-department")
    def _(x):
        x.http("create-department", 201, token=x.owner, params={"tenant_id": x.tenant},
               body=x.sample_body("create-department", parent_id=x.sales))

    def branch(x):
        x.branch = x.department("Branch")

    @step("update-department", branch)
    def _(x):
        # The sample renames and sets an IP allowlist: on a department nobody here works in.
        x.http("update-department", 200, token=x.owner,
               params={"tenant_id": x.tenant, "department_id": x.branch}, keep_body=True)

    def scratch(x):
        x.scratch = x.department("Scratch")

    @step("delete-department", scratch)
    def _(x):
        x.http("delete-department", 204, token=x.owner,
               params={"tenant_id": x.tenant, "department_id": x.scratch})

    # Members.
    @step("create-member")
    def _(x):
        body = x.sample_body("create-member", email=f"{unique('charles')}@people.test",
                             department_id=x.sales)
        x.http("create-member", 201, token=x.owner, params={"tenant_id": x.tenant}, body=body)

    def listed(x):
        x.listed_id, _ = x.member("Lee")

    @step("list-members", listed)
    def _(x):
        query = dict(x.sample("list-members")["queryStringParameters"], department_id=x.sales)
        page = x.http("list-members", 200, token=x.owner, params={"tenant_id": x.tenant}, query=query)
        if x.listed_id not in [m["id"] for m in page["items"]]:
            raise SmokeFailure(f"list-members: {x.listed_id} is not listed: {page}")

    def edited(x):
        x.edited_id, _ = x.member("Ed")
        _, headers = x.api("GET", x.tenant_path(f"/members/{x.edited_id}"), x.owner, with_headers=True)
        x.edited_etag = headers["etag"]
        x.group = getattr(x, "group", None) or x.department("Group")

    @step("get-member", edited)
    def _(x):
        x.http("get-member", 200, token=x.owner, params={"tenant_id": x.tenant, "member_id": x.edited_id})

    @step("update-member", edited)
    def _(x):
        body = x.sample_body("update-member", department_id=x.group)
        x.http("update-member", 200, token=x.owner, params={"tenant_id": x.tenant, "member_id": x.edited_id},
               body=body, headers={"if-match": x.edited_etag})

    def doomed(x):
        x.doomed_id, _ = x.member("Dee")

    @step("delete-member", doomed)
    def _(x):
        x.http("delete-member", 204, token=x.owner, params={"tenant_id": x.tenant, "member_id": x.doomed_id})

    def bulk(x):
        x.group = getattr(x, "group", None) or x.department("Group")
        x.bulk_ids = [x.member("Bo")[0], x.member("Bea")[0]]

    @step("bulk-update-members", bulk)
    def _(x):
        body = x.sample_body("bulk-update-members", member_ids=x.bulk_ids,
                             set=dict(x.sample_body("bulk-update-members")["set"], department_id=x.group))
        x.http("bulk-update-members", 200, token=x.owner, params={"tenant_id": x.tenant}, body=body)

    def disabled(x):
        x.disabled_id, _ = x.member("Di")

    @step("bulk-status-members", disabled)
    def _(x):
        x.http("bulk-status-members", 200, token=x.owner, params={"tenant_id": x.tenant},
               body=x.sample_body("bulk-status-members", member_ids=[x.disabled_id]))

    def reset_member(x):
        x.reset_member_id, _ = x.member("Rex")

    @step("send-password-reset", reset_member)
    def _(x):
        x.http("send-password-reset", 204, token=x.owner,
               params={"tenant_id": x.tenant, "member_id": x.reset_member_id})

    @step("list-recycle-bin")
    def _(x):
        x.http("list-recycle-bin", 200, token=x.owner, params={"tenant_id": x.tenant}, query={"limit": 50})

    def binned(x):
        x.binned_id, _ = x.member("Bin")
        x.api("DELETE", x.tenant_path(f"/members/{x.binned_id}"), x.owner, expect=(204,))

    @step("restore-member", binned)
    def _(x):
        x.http("restore-member", 200, token=x.owner, params={"tenant_id": x.tenant, "member_id": x.binned_id},
               body={"department_id": x.sales})

    # Licences.
    @step("get-licences")
    def _(x):
        x.http("get-licences", 200, token=x.owner, params={"tenant_id": x.tenant})

    def unlicensed(x):
        x.unlicensed = [x.member(n)[0] for n in ("Al", "Bee", "Cy")]

    @step("assign-licences", unlicensed)
    def _(x):
        x.http("assign-licences", 200, token=x.owner, params={"tenant_id": x.tenant},
               body=x.sample_body("assign-licences", member_ids=x.unlicensed, expires_at=in_days(180)))

    def seat_taker(x):
        x.seat_taker, _ = x.member("Sam")

    @step("set-member-licence", seat_taker)
    def _(x):
        x.http("set-member-licence", 200, token=x.owner,
               params={"tenant_id": x.tenant, "member_id": x.seat_taker},
               body=x.sample_body("set-member-licence", expires_at=in_days(180)))

    def licence_holder(x):
        x.licence_holder = x.licensed("Hal")

    @step("revoke-member-licence", licence_holder)
    def _(x):
        x.http("revoke-member-licence", 204, token=x.owner,
               params={"tenant_id": x.tenant, "member_id": x.licence_holder})

    def licence_holders(x):
        x.licence_holders = [x.licensed("Kim"), x.licensed("Kit")]

    @step("revoke-licences", licence_holders)
    def _(x):
        x.http("revoke-licences", 200, token=x.owner, params={"tenant_id": x.tenant},
               body=x.sample_body("revoke-licences", member_ids=x.licence_holders[:1]))

    def renewals(x):
        # Only licences ending soon (licences::EXPIRING_DAYS) can be renewed.
        x.renewals = [x.licensed("Ren", days=10), x.licensed("Rae", days=10)]

    @step("renew-licences", renewals)
    def _(x):
        x.http("renew-licences", 200, token=x.owner, params={"tenant_id": x.tenant},
               body=x.sample_body("renew-licences", member_ids=x.renewals))

    # Invitations.
    @step("create-invitation")
    def _(x):
        body = x.sample_body("create-invitation", email=f"{unique('grace')}@people.test", department_id=x.sales)
        x.http("create-invitation", 201, token=x.owner, params={"tenant_id": x.tenant}, body=body)

    @step("list-invitations")
    def _(x):
        x.http("list-invitations", 200, token=x.owner, params={"tenant_id": x.tenant},
               query=x.sample("list-invitations")["queryStringParameters"])

    def to_resend(x):
        x.to_resend, _ = x.invitation()

    @step("resend-invitation", to_resend)
    def _(x):
        x.http("resend-invitation", 200, token=x.owner,
               params={"tenant_id": x.tenant, "invitation_id": x.to_resend})

    def to_cancel(x):
        x.to_cancel, _ = x.invitation()

    @step("cancel-invitation", to_cancel)
    def _(x):
        x.http("cancel-invitation", 204, token=x.owner,
               params={"tenant_id": x.tenant, "invitation_id": x.to_cancel})

    def to_accept(x):
        if not hasattr(x, "accept_token"):
            _, x.accept_token = x.invitation()

    @step("preview-invitation", to_accept)
    def _(x):
        x.http("preview-invitation", 200, params={"token": x.accept_token})

    @step("accept-invitation", to_accept)
    def _(x):
        x.http("accept-invitation", 201, params={"token": x.accept_token}, keep_body=True)

    # Join links and join requests.
    @step("create-join-link")
    def _(x):
        body = x.sample_body("create-join-link", department_id=x.sales, expires_at=in_days(30))
        link = x.http("create-join-link", 201, token=x.owner, params={"tenant_id": x.tenant}, body=body)
        if not link.get("code"):
            raise SmokeFailure(f"create-join-link: no code: {link}")

    @step("list-join-links")
    def _(x):
        x.http("list-join-links", 200, token=x.owner, params={"tenant_id": x.tenant}, query={"limit": 50})

    def link_to_revoke(x):
        x.link_to_revoke = x.join_link()["id"]

    @step("revoke-join-link", link_to_revoke)
    def _(x):
        x.http("revoke-join-link", 204, token=x.owner,
               params={"tenant_id": x.tenant, "join_link_id": x.link_to_revoke})

    def join_code(x):
        if not hasattr(x, "join_code"):
            x.join_code = x.join_link()["code"]

    @step("preview-join-link", join_code)
    def _(x):
        x.http("preview-join-link", 200, params={"code": x.join_code})

    @step("join", join_code)
    def _(x):
        # A new person: a pending request and a verification mail (202 verification_sent).
        body = x.sample_body("join", email=f"{unique('alan')}@people.test")
        x.http("join", 202, params={"code": x.join_code}, body=body)

    @step("preview-join-number")
    def _(x):
        x.http("preview-join-number", 200, params={"number": x.join_number})

    @step("join-by-number")
    def _(x):
        body = x.sample_body("join-by-number", email=f"{unique('grace')}@people.test")
        x.http("join-by-number", 202, params={"number": x.join_number}, body=body)

    @step("rotate-join-number")
    def _(x):
        # After the join steps that use the current number: the old one stops working.
        rotated = x.http("rotate-join-number", 200, token=x.owner, params={"tenant_id": x.tenant})
        number = rotated.get("join_number")
        if not number or number == x.join_number:
            raise SmokeFailure(f"rotate-join-number: no new number: {rotated}")
        x.join_number = number

    @step("list-join-requests")
    def _(x):
        x.http("list-join-requests", 200, token=x.owner, params={"tenant_id": x.tenant},
               query=x.sample("list-join-requests")["queryStringParameters"])

    def to_approve(x):
        join_code(x)
        x.to_approve = x.join_request(x.join_code)

    @step("approve-join-request", to_approve)
    def _(x):
        x.http("approve-join-request", 200, token=x.owner,
               params={"tenant_id": x.tenant, "request_id": x.to_approve}, body={"department_id": x.sales})

    def to_reject(x):
        join_code(x)
        x.to_reject = x.join_request(x.join_code)

    @step("reject-join-request", to_reject)
    def _(x):
        x.http("reject-join-request", 200, token=x.owner,
               params={"tenant_id": x.tenant, "request_id": x.to_reject}, keep_body=True)

    # API clients.
    @step("create-api-client")
    def _(x):
        x.client = x.http("create-api-client", 201, token=x.owner, params={"tenant_id": x.tenant},
                          keep_body=True)

    @step("issue-client-token")
    def _(x):
        client = getattr(x, "client", None) or x.http(
            "create-api-client", 201, "a client to grant", token=x.owner, params={"tenant_id": x.tenant},
            keep_body=True)
        body = x.sample_body("issue-client-token", client_id=client["id"], client_secret=client["client_secret"])
        granted = x.http("issue-client-token", 200, body=body)
        if not granted.get("access_token"):
            raise SmokeFailure(f"issue-client-token: no token: {granted}")

    @step("list-api-clients")
    def _(x):
        x.http("list-api-clients", 200, token=x.owner, params={"tenant_id": x.tenant}, query={"limit": 50})

    def doomed_client(x):
        x.doomed_client = x.api("POST", x.tenant_path("/api-clients"), x.owner,
                                {"name": "Old sync", "permissions": ["members.read"]}, expect=(201,))["id"]

    @step("delete-api-client", doomed_client)
    def _(x):
        x.http("delete-api-client", 204, token=x.owner,
               params={"tenant_id": x.tenant, "client_id": x.doomed_client})

    # SCIM tokens (the owner's access token, like the API clients).
    @step("create-scim-token")
    def _(x):
        created = x.http("create-scim-token", 201, token=x.owner, params={"tenant_id": x.tenant},
                         keep_body=True)
        if not str(created.get("token", "")).startswith(f"scim.{created.get('id')}."):
            raise SmokeFailure(f"create-scim-token: no token: {created}")

    @step("list-scim-tokens")
    def _(x):
        x.http("list-scim-tokens", 200, token=x.owner, params={"tenant_id": x.tenant}, query={"limit": 50})

    def doomed_scim_token(x):
        x.doomed_scim_token = x.api("POST", x.tenant_path("/scim-tokens"), x.owner, {"label": "Old IdP"},
                                    expect=(201,))

    @step("revoke-scim-token", doomed_scim_token)
    def _(x):
        x.http("revoke-scim-token", 204, token=x.owner,
               params={"tenant_id": x.tenant, "token_id": x.doomed_scim_token["id"]})
        x.http("scim-service-provider-config", 401, "with the revoked token",
               token=x.doomed_scim_token["token"], params={"tenant_id": x.tenant})

    # SCIM 2.0: the identity provider with the setup's SCIM token (x.scim_token). Users and Groups
    # the steps read or change are provisioned through SCIM during the setup.
    def scim(x):
        x.scim_ready()

    for function in ("scim-service-provider-config", "scim-list-resource-types", "scim-get-resource-type",
                     "scim-list-schemas", "scim-get-schema"):
        def discovery(x, function=function):
            # The sample's path parameters (User, the core User schema) with the real tenant.
            params = dict(x.sample(function)["pathParameters"], tenant_id=x.tenant)
            answer = x.http(function, 200, token=x.scim_token, params=params)
            if not answer.get("schemas"):
                raise SmokeFailure(f"{function}: not a SCIM resource: {answer}")
        step(function, scim)(discovery)

    def scim_listed(x):
        x.scim_listed = x.scim_user("Lise")

    @step("scim-list-users", scim_listed)
    def _(x):
        query = dict(x.sample("scim-list-users")["queryStringParameters"],
                     filter=f'userName eq "{x.scim_listed["userName"]}"')
        page = x.http("scim-list-users", 200, token=x.scim_token, params={"tenant_id": x.tenant}, query=query)
        if [u["id"] for u in page["Resources"]] != [x.scim_listed["id"]]:
            raise SmokeFailure(f"scim-list-users: the filter did not find {x.scim_listed['id']} alone: {page}")

    def scim_searched(x):
        x.scim_searched = x.scim_user("Sera")

    @step("scim-search", scim_searched)
    def _(x):
        body = dict(x.sample_body("scim-search"), filter=f'userName eq "{x.scim_searched["userName"]}"')
        page = x.http("scim-search", 200, token=x.scim_token, params={"tenant_id": x.tenant}, body=body)
        if [u["id"] for u in page["Resources"]] != [x.scim_searched["id"]]:
            raise SmokeFailure(f"scim-search: the filter did not find {x.scim_searched['id']} alone: {page}")

    @step("scim-create-user", scim)
    def _(x):
        body = x.scim_user_body("Grace")
        user = x.http("scim-create-user", 201, token=x.scim_token, params={"tenant_id": x.tenant}, body=body)
        if user.get("userName") != body["userName"] or user.get("externalId") != body["externalId"]:
            raise SmokeFailure(f"scim-create-user: not the User sent: {user}")

    def scim_edited(x):
        x.scim_edited = x.scim_user("Edda")

    @step("scim-get-user", scim_edited)
    def _(x):
        user = x.http("scim-get-user", 200, token=x.scim_token,
                      params={"tenant_id": x.tenant, "user_id": x.scim_edited["id"]})
        if user["userName"] != x.scim_edited["userName"]:
            raise SmokeFailure(f"scim-get-user: {user}")

    @step("scim-replace-user", scim_edited)
    def _(x):
        edda = x.scim_edited
        body = x.sample_body("scim-replace-user", id=edda["id"], userName=edda["userName"],
                             externalId=edda["externalId"],
                             emails=[{"primary": True, "value": edda["userName"], "type": "work"}])
        user = x.http("scim-replace-user", 200, token=x.scim_token,
                      params={"tenant_id": x.tenant, "user_id": edda["id"]}, body=body,
                      headers={"if-match": edda["etag"]})
        if user.get("title") != body["title"] or user.get("displayName") != body["displayName"]:
            raise SmokeFailure(f"scim-replace-user: not replaced: {user}")

    @step("scim-patch-user", scim_edited)
    def _(x):
        # Entra ID's deprovisioning: active "False" disables the member.
        user = x.http("scim-patch-user", 200, token=x.scim_token,
                      params={"tenant_id": x.tenant, "user_id": x.scim_edited["id"]}, keep_body=True)
        if user.get("active") is not False:
            raise SmokeFailure(f"scim-patch-user: still active: {user}")

    def scim_doomed(x):
        x.scim_doomed = x.scim_user("Dora")

    @step("scim-delete-user", scim_doomed)
    def _(x):
        x.http("scim-delete-user", 204, token=x.scim_token,
               params={"tenant_id": x.tenant, "user_id": x.scim_doomed["id"]})

    def scim_joiner(x):
        x.scim_joiner = x.scim_user("Gil")["id"]

    @step("scim-create-group", scim_joiner)
    def _(x):
        body = x.sample_body("scim-create-group", displayName=unique("Engineering"),
                             members=[{"value": x.scim_joiner, "display": "Gil"}])
        group = x.http("scim-create-group", 201, token=x.scim_token, params={"tenant_id": x.tenant}, body=body)
        if [m["value"] for m in group.get("members", [])] != [x.scim_joiner]:
            raise SmokeFailure(f"scim-create-group: the member did not move in: {group}")

    def scim_team(x):
        # Two Users; the Group holds the first. The replace swaps them, the patch adds the first back.
        x.scim_team_members = [x.scim_user("Hal")["id"], x.scim_user("Hana")["id"]]
        x.scim_team = x.scim_group("Platform", x.scim_team_members[:1])

    @step("scim-list-groups", scim_team)
    def _(x):
        query = dict(x.sample("scim-list-groups")["queryStringParameters"],
                     filter=f'displayName eq "{x.scim_team["displayName"]}"')
        page = x.http("scim-list-groups", 200, token=x.scim_token, params={"tenant_id": x.tenant}, query=query)
        if [g["id"] for g in page["Resources"]] != [x.scim_team["id"]]:
            raise SmokeFailure(f"scim-list-groups: the filter did not find {x.scim_team['id']} alone: {page}")

    @step("scim-get-group", scim_team)
    def _(x):
        group = x.http("scim-get-group", 200, token=x.scim_token,
                       params={"tenant_id": x.tenant, "group_id": x.scim_team["id"]})
        if group["displayName"] != x.scim_team["displayName"]:
            raise SmokeFailure(f"scim-get-group: {group}")

    @step("scim-replace-group", scim_team)
    def _(x):
        team = x.scim_team
        body = x.sample_body("scim-replace-group", id=team["id"], displayName=unique("Platform"),
                             members=[{"value": x.scim_team_members[1]}])
        group = x.http("scim-replace-group", 200, token=x.scim_token,
                       params={"tenant_id": x.tenant, "group_id": team["id"]}, body=body,
                       headers={"if-match": team["etag"]})
        if group["displayName"] != body["displayName"] or \
                [m["value"] for m in group.get("members", [])] != [x.scim_team_members[1]]:
            raise SmokeFailure(f"scim-replace-group: not replaced: {group}")
        team["displayName"] = body["displayName"]

    @step("scim-patch-group", scim_team)
    def _(x):
        body = x.sample_body("scim-patch-group", Operations=[
            {"op": "Add", "path": "members", "value": [{"value": x.scim_team_members[0]}]}])
        group = x.http("scim-patch-group", 200, token=x.scim_token,
                       params={"tenant_id": x.tenant, "group_id": x.scim_team["id"]}, body=body)
        if x.scim_team_members[0] not in [m["value"] for m in group.get("members", [])]:
            raise SmokeFailure(f"scim-patch-group: the member was not added: {group}")

    def scim_doomed_group(x):
        x.scim_doomed_group = x.scim_group("Old team", [x.scim_user("Otto")["id"]])["id"]

    @step("scim-delete-group", scim_doomed_group)
    def _(x):
        # Its member moves to the root first.
        x.http("scim-delete-group", 204, token=x.scim_token,
               params={"tenant_id": x.tenant, "group_id": x.scim_doomed_group})

    # Logs.
    @step("list-audit-log")
    def _(x):
        x.http("list-audit-log", 200, token=x.owner, params={"tenant_id": x.tenant}, query={"limit": 50})

    @step("list-login-log")
    def _(x):
        x.http("list-login-log", 200, token=x.owner, params={"tenant_id": x.tenant}, query={"limit": 50})

    # Jobs: the API functions create them, the workers run them as the stack's events would.
    @step("get-import-template")
    def _(x):
        template = x.http("get-import-template", 200, token=x.owner, params={"tenant_id": x.tenant})
        if "email" not in str(template):
            raise SmokeFailure(f"get-import-template: {template!r}")

    @step("create-export")
    def _(x):
        body = x.sample_body("create-export", department_id=x.sales)
        x.export_job = x.http("create-export", 202, token=x.owner, params={"tenant_id": x.tenant}, body=body)["id"]

    @step("export-run")
    def _(x):
        if not hasattr(x, "export_job"):
            body = x.sample_body("create-export", department_id=x.sales)
            x.export_job = x.http("create-export", 202, "a job for export-run", token=x.owner,
                                  params={"tenant_id": x.tenant}, body=body)["id"]
        report = x.worker("export-run", x.stream_record("export-run", x.export_job, "INSERT"),
                          "stream INSERT of the queued export")
        if report.get("exported") != 1:
            raise SmokeFailure(f"export-run did not export the job: {report}")
        x.expect_job(x.export_job, "completed")
        x.export_done = True

    def movers(x):
        x.movers = x.department("Movers")
        x.group = getattr(x, "group", None) or x.department("Group")

    def new_import(x, rows, department, what):
        # Create mode without mail (the sample invites): rows become members, which the move below
        # must rewrite, and nobody is mailed a hundred times.
        created = x.http("create-import", 201, what, token=x.owner, params={"tenant_id": x.tenant},
                         body=x.sample_body("create-import", mode="create", send_email=False))
        data = x.import_csv(rows, department)
        x.upload(created["upload_url"], data)
        return created["job"]["id"], len(data)

    # One run checks both: create-import's job is what import-run imports.
    @step("create-import", movers)
    @step("import-run", movers)
    def _(x):
        if hasattr(x, "upload_imported"):  # done already, for department-move-run
            return
        # An upload's notification runs the whole import (checked, counted, rows created).
        job, size = new_import(x, MOVE_ROWS, "Movers", "sample (create mode, no mail)")
        event = x.sample("import-run")
        record = event["Records"][0]
        record["awsRegion"] = x.env["AWS_REGION"]
        record["eventTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        record["s3"]["bucket"]["name"] = x.env["ROSTER_BUCKET"]
        record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{x.env['ROSTER_BUCKET']}"
        record["s3"]["object"]["key"] = f"tenants/{x.tenant}/jobs/{job}/upload.csv"
        record["s3"]["object"]["size"] = size
        report = x.worker("import-run", event, "S3 ObjectCreated of the upload")
        if report.get("imported") != 1:
            raise SmokeFailure(f"import-run did not run the upload's import: {report}")
        x.expect_job(job, "completed", succeeded=MOVE_ROWS)
        x.upload_imported = job

    @step("mail-outbox", rita)
    def _(x):
        # A reset request queues its mail in the outbox; the worker, fed the item's stream
        # INSERT, mails the link. (The gateway that set up stopped before it played the stream.)
        x.http("request-password-reset", 202, body={"email": x.rita["email"]})
        items = x.dynamodb.query(TableName=x.env["ROSTER_TABLE"],
                                 KeyConditionExpression="pk = :pk",
                                 ExpressionAttributeValues={":pk": {"S": "OUTBOX"}})["Items"]
        if not items:
            raise SmokeFailure("mail-outbox: request-password-reset queued nothing")
        before = len(mail.links_mailed(x, x.rita["email"], "set-password"))
        event = copy.deepcopy(x.sample("mail-outbox"))
        record = event["Records"][0]
        record["awsRegion"] = x.env["AWS_REGION"]
        record["dynamodb"]["Keys"] = {"pk": items[-1]["pk"], "sk": items[-1]["sk"]}
        record["dynamodb"]["NewImage"] = items[-1]
        report = x.worker("mail-outbox", event, "a queued reset mail")
        if report.get("mailed") != 1 or len(mail.links_mailed(x, x.rita["email"], "set-password")) <= before:
            raise SmokeFailure(f"mail-outbox did not mail the reset link: {report}")

    @step("job-dead-letters", movers)
    def _(x):
        # An upload whose import-run gave up: its dead letter (the async invocation's on-failure
        # record, carrying the S3 event) ends the job failed with the reason.
        job, size = new_import(x, 2, "Movers", "an upload nobody ran")
        letter = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {
                "requestId": secrets.token_hex(16), "condition": "RetriesExhausted",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:import-run",
                "approximateInvokeCount": 3,
            },
            "requestPayload": {"Records": [{"eventSource": "aws:s3", "s3": {
                "bucket": {"name": x.env["ROSTER_BUCKET"]},
                "object": {"key": f"tenants/{x.tenant}/jobs/{job}/upload.csv", "size": size}}}]},
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": "smoke: the worker gave up"},
        }
        event = copy.deepcopy(x.sample("job-dead-letters"))
        event["Records"][0]["body"] = json.dumps(letter)
        report = x.worker("job-dead-letters", event, "an upload's dead letter")
        if report.get("failed") != 1:
            raise SmokeFailure(f"job-dead-letters did not fail the job: {report}")
        failed = x.expect_job(job, "failed")
        if "smoke: the worker gave up" not in (failed.get("error") or ""):
            raise SmokeFailure(f"the failed job does not say why: {failed}")

    @step("start-import")
    def _(x):
        # An upload started by the API: the job is queued and its stream MODIFY runs it.
        job, _ = new_import(x, 3, "Sales", "a job to start")
        started = x.http("start-import", 202, token=x.owner, params={"tenant_id": x.tenant, "job_id": job})
        if started["status"] != "queued":
            raise SmokeFailure(f"start-import: {started}")
        report = x.worker("import-run", x.stream_record("import-run", job, "MODIFY"),
                          "stream MODIFY of the started import")
        if report.get("imported") != 1:
            raise SmokeFailure(f"import-run did not run the started import: {report}")
        x.expect_job(job, "completed", succeeded=3)

    @step("department-move-run", movers)
    def _(x):
        if not hasattr(x, "upload_imported"):
            steps_by_name()["import-run"](x)
        moving = x.http("update-department", 202, "a move too large for one transaction", token=x.owner,
                        params={"tenant_id": x.tenant, "department_id": x.movers},
                        body={"parent_id": x.group})
        report = x.worker("department-move-run",
                          x.stream_record("department-move-run", moving["id"], "INSERT"),
                          "stream INSERT of the queued move")
        if report.get("finished") != 1:
            raise SmokeFailure(f"department-move-run did not finish the move: {report}")
        x.expect_job(moving["id"], "completed")
        moved = x.http("get-department", 200, "the moved department", token=x.owner,
                       params={"tenant_id": x.tenant, "department_id": x.movers})
        if moved["parent_id"] != x.group:
            raise SmokeFailure(f"the moved department: {moved}")
        x.worker("department-move-run", x.schedule("roster-DepartmentMoveRunSchedule"),
                 "EventBridge schedule (the sweep)")

    @step("list-jobs")
    def _(x):
        x.http("list-jobs", 200, token=x.owner, params={"tenant_id": x.tenant}, query={"limit": 20})

    @step("get-job")
    def _(x):
        if not hasattr(x, "export_job"):
            body = x.sample_body("create-export", department_id=x.sales)
            x.export_job = x.http("create-export", 202, "a job to read", token=x.owner,
                                  params={"tenant_id": x.tenant}, body=body)["id"]
        x.job(x.export_job, "sample")

    @step("delete-job")
    def _(x):
        # A finished job (one still queued or running answers 409): the export above.
        if not hasattr(x, "export_done"):
            steps_by_name()["export-run"](x)
        x.http("delete-job", 204, token=x.owner, params={"tenant_id": x.tenant, "job_id": x.export_job})

    # The signing key's rotation as Secrets Manager runs it: the four steps with one token; the
    # JWKS then publishes the new key beside the old one (get-jwks re-reads its set after 10 s).
    @step("rotate-signing-key")
    def _(x):
        token = secrets.token_hex(16)
        for stage in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            event = dict(x.sample("rotate-signing-key"), ClientRequestToken=token, Step=stage,
                         SecretId=x.env["ROSTER_SIGNING_KEY_SECRET"])
            x.worker("rotate-signing-key", event, stage)
        deadline = time.monotonic() + 15
        while True:
            keys = x.http("get-jwks", 200, "after the rotation").get("keys", [])
            if len(keys) >= 2:
                break
            if time.monotonic() > deadline:
                raise SmokeFailure(f"the JWKS does not publish the rotated key: {keys}")
            time.sleep(1)

    # Events and webhooks: a receiver on loopback (ROSTER_WEBHOOKS_ALLOW_LOCAL, as the local stack
    # sets it), the log's items handed to the workers as the stream hands them.
    def webhook(x):
        x.receiver = Receiver()
        body = {"url": x.receiver.url, "event_types": ["department.created", "member.created"],
                "description": "smoke"}
        x.webhook = x.api("POST", x.tenant_path("/webhooks"), x.owner, body, expect=(201,))
        if not str(x.webhook.get("secret", "")).startswith("whsec_"):
            raise SmokeFailure(f"POST /webhooks: no secret shown: {x.webhook}")

    def log_record(x, function, pk, newest=True):
        """The function's sample stream event carrying the newest (or oldest) item under `pk`."""
        items = x.dynamodb.query(TableName=x.env["ROSTER_TABLE"], KeyConditionExpression="pk = :pk",
                                 ExpressionAttributeValues={":pk": {"S": pk}},
                                 ScanIndexForward=not newest, Limit=1)["Items"]
        if not items:
            raise SmokeFailure(f"{function}: nothing under {pk}")
        event = copy.deepcopy(x.sample(function))
        record = event["Records"][0]
        event["Records"] = [record]
        record["awsRegion"] = x.env["AWS_REGION"]
        record["dynamodb"]["Keys"] = {"pk": items[0]["pk"], "sk": items[0]["sk"]}
        record["dynamodb"]["NewImage"] = items[0]
        return event

    @step("create-webhook")
    def _(x):
        body = {"url": "https://hooks.example.com/roster", "event_types": ["member.deleted"]}
        created = x.http("create-webhook", 201, token=x.owner, params={"tenant_id": x.tenant},
                         body=body)
        if not str(created.get("secret", "")).startswith("whsec_"):
            raise SmokeFailure(f"create-webhook: no secret shown: {created}")

    @step("event-sequencer", webhook)
    def _(x):
        # A change now, whose pending event no stream has played (the gateway has stopped).
        x.http("create-department", 201, "a change to number", token=x.owner,
               params={"tenant_id": x.tenant}, body={"name": unique("Evented"), "parent_id": x.root})
        event = log_record(x, "event-sequencer", f"EVENTQ#{x.tenant}")
        report = x.worker("event-sequencer", event, "a pending event's stream INSERT")
        if not report.get("sequenced"):
            raise SmokeFailure(f"event-sequencer numbered nothing: {report}")

    @step("list-events", webhook)
    def _(x):
        page = x.http("list-events", 200, token=x.owner, params={"tenant_id": x.tenant},
                      query={"types": "department.created", "limit": 100})
        if not page.get("items"):
            raise SmokeFailure(f"list-events: no department.created: {page}")

    @step("list-platform-events", webhook)
    def _(x):
        x.http("list-platform-events", 200, token=x.admin, query={"limit": 10})

    @step("webhook-dispatch", webhook)
    def _(x):
        event = log_record(x, "webhook-dispatch", f"EVENTS#{x.tenant}")
        report = x.worker("webhook-dispatch", event, "a logged event's stream INSERT")
        if report.get("delivered") != 1 or not x.receiver.received:
            raise SmokeFailure(f"webhook-dispatch delivered nothing: {report}")
        headers = x.receiver.received[-1]
        if not headers.get("webhook-signature", "").startswith("v1,"):
            raise SmokeFailure(f"webhook-dispatch: unsigned delivery: {headers}")

    @step("event-bus", webhook)
    def _(x):
        event = log_record(x, "event-bus", f"EVENTS#{x.tenant}")
        report = x.worker("event-bus", event, "a logged event's stream INSERT")
        if report.get("published") != 1:
            raise SmokeFailure(f"event-bus put nothing on the bus: {report}")

    @step("list-webhooks", webhook)
    def _(x):
        x.http("list-webhooks", 200, token=x.owner, params={"tenant_id": x.tenant}, query={"limit": 50})

    @step("get-webhook", webhook)
    def _(x):
        x.http("get-webhook", 200, token=x.owner,
               params={"tenant_id": x.tenant, "webhook_id": x.webhook["id"]})

    @step("update-webhook", webhook)
    def _(x):
        x.http("update-webhook", 200, token=x.owner,
               params={"tenant_id": x.tenant, "webhook_id": x.webhook["id"]},
               body={"description": "smoke, renamed"})

    @step("rotate-webhook-secret", webhook)
    def _(x):
        rotated = x.http("rotate-webhook-secret", 200, token=x.owner,
                         params={"tenant_id": x.tenant, "webhook_id": x.webhook["id"]}, body={})
        if rotated.get("secret") == x.webhook.get("secret"):
            raise SmokeFailure("rotate-webhook-secret: the same secret")

    @step("list-webhook-deliveries", webhook)
    def _(x):
        page = x.http("list-webhook-deliveries", 200, token=x.owner,
                      params={"tenant_id": x.tenant, "webhook_id": x.webhook["id"]},
                      query={"limit": 50})
        x.delivery = (page.get("items") or [{}])[0].get("id")

    @step("retry-webhook-delivery", webhook)
    def _(x):
        if not getattr(x, "delivery", None):
            raise SmokeFailure("retry-webhook-delivery: no delivery to retry (run webhook-dispatch)")
            raise SmokeFailure("retry-webhook-delivery: no delivery to retry")
        x.http("retry-webhook-delivery", 200, token=x.owner, body={},
               params={"tenant_id": x.tenant, "webhook_id": x.webhook["id"],
                       "delivery_id": x.delivery})

    @step("webhook-retry")
    def _(x):
        event = x.sample("webhook-retry")
        event["id"] = secrets.token_hex(16)
        event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        x.worker("webhook-retry", event, "EventBridge schedule")

    @step("delete-webhook", webhook)
    def _(x):
        x.http("delete-webhook", 204, token=x.owner,
               params={"tenant_id": x.tenant, "webhook_id": x.webhook["id"]})

    # Scheduled jobs.
    for function, rule in (("recycle-purge", "roster-RecyclePurgeSchedule"),
                           ("invitation-expiry", "roster-InvitationExpirySchedule"),
                           ("licence-expiry", "roster-LicenceExpirySchedule"),
                           ("tenant-purge", "roster-TenantPurgeSchedule")):
        def scheduled(x, function=function, rule=rule):
            event = x.sample(function)
            event["id"] = secrets.token_hex(16)
            event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            x.worker(function, event, "EventBridge schedule")
        step(function)(scheduled)

    @step("consistency-check")
    def consistency_check(x):
        event = x.sample("consistency-check")
        event["id"] = secrets.token_hex(16)
        event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        report = x.worker("consistency-check", event, "EventBridge schedule")
        # Everything the smoke did before must have left the table consistent.
        if report.get("findings") != [] or not report.get("items_scanned"):
            raise SmokeFailure(f"consistency-check: expected a clean scan, got {report}")

    return s


def steps_by_name():
    return {function: run for function, _, run in steps()}


def main():
    every = sorted(name[:-5] for name in os.listdir(EVENTS) if name.endswith(".json"))
    if sys.argv[1:] == ["--check-steps"]:
        # The suite's check that a run of them all covers every function (no invocation).
        stepped = {f for f, _, _ in steps()}
        missing = [f for f in every if f not in stepped]
        sys.exit(f"no smoke step for: {', '.join(missing)}" if missing else 0)
    chosen = sys.argv[1:] or every
    unknown = [f for f in chosen if f not in every]
    if unknown:
        sys.exit(f"no sample event for: {', '.join(unknown)}")
    plan = [(f, prepare, run) for f, prepare, run in steps() if f in chosen]
    missing = sorted(set(chosen) - {f for f, _, _ in plan})
    if missing:
        sys.exit(f"no smoke step for: {', '.join(missing)}")

    smoke = Smoke()
    os.makedirs(os.path.join(smoke.work, "events"), exist_ok=True)
    started = time.perf_counter()
    try:
        smoke.start_gateway()
        smoke.setup_tenant()
        prepared = set()
        for _, prepare, _ in plan:
            if prepare and prepare not in prepared:
                prepared.add(prepare)
                prepare(smoke)
    finally:
        smoke.stop_gateway()
    setup_s = time.perf_counter() - started
    print(f"setup through the local gateway: {setup_s:.1f} s; invoking {len(plan)} functions", flush=True)

    done = set()
    try:
        smoke.start_watches()
        for function, _, run in plan:
            if run in done:  # one run serving two functions (create-import and import-run)
                continue
            done.add(run)
            run(smoke)
    finally:
        smoke.stop_watches()
    total = time.perf_counter() - started
    slowest = sorted(smoke.invocations, key=lambda i: -i[2])[:3]
    print("slowest: " + ", ".join(f"{f} ({what}) {s:.1f} s" for f, what, s in slowest))
    print(f"{len(smoke.invocations)} invocations of {len({f for f, _, _ in smoke.invocations})} functions"
          f" passed in {total - setup_s:.1f} s (setup {setup_s:.1f} s, total {total:.1f} s)")


if __name__ == "__main__":
    try:
        main()
    except SmokeFailure as failure:
        sys.exit(f"FAILED: {failure}")
