"""Size, init time and cold and warm request times of Lambda binaries against a hello-world
baseline (standard library only).

A fake Lambda Runtime API listens on a free loopback port; each binary is started with the
environment a Lambda gives it and answers the invocations the fake API hands it; then it is killed.
- init: spawn -> the binary's first GET /2018-06-01/runtime/invocation/next. Every binary; the
  first poll is never answered.
- cold request: spawn -> the response to the first invocation posted back (init, then the first
  request through a fresh SDK client, connection and all).
- warm request: the second invocation handed -> its response posted back.
- the check "cold <= warm + init + 2 ms", taken per run (the median of cold - init - warm): the
  first request may not carry init work the SDK put off.
The request part runs for the handlers in BENCH_REQUESTS (default: the five of issue 13) and
hello-world, each invocation a copy of events/NAME.json made real: the setup's tenant, department,
member and owner token in place of the sample ids and fake token, a new email for each created
member. Every response must be a 2xx. Runs are interleaved (one round over every binary,
BENCH_RUNS times, default 15) so background load hits all binaries alike; a round 0 warms the page
cache and is not counted. Prints one table and exits 1 if a binary fails, is over 6 MiB, its
median init is over 1.2x the baseline's, or its cold request misses the check.

usage: bench_init.py BASELINE BINARY...
       bench_init.py setup GATEWAY_URL EMULATOR_URL ADMIN_EMAIL ADMIN_PASSWORD
         (makes the data through a running local gateway; prints shell assignments BENCH_*)
environment: ROSTER_JWT_PUBLIC_KEY, ROSTER_JWT_PRIVATE_KEY (given only to the binaries named in
BENCH_PRIVATE_KEY_FOR, as in template.yaml), ROSTER_TABLE, ROSTER_BUCKET, ROSTER_MAIL_FROM,
AWS_ENDPOINT_URL (the emulator), BENCH_RUNS, BENCH_REQUESTS, and for the request part the BENCH_*
values the setup printed.
"""

import http.server
import json
import os
import re
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from roster_py import api, tenant

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
TIMEOUT_S = 10
# SPEC.md §9.6: each handler binary links only its own handler.
MAX_MB, MAX_RATIO, MAX_COLD_EXCESS_MS = 6, 1.2, 2.0
PRIVATE_KEY_FOR = os.environ.get("BENCH_PRIVATE_KEY_FOR", "").split()
REQUESTS = os.environ.get("BENCH_REQUESTS", "get-jwks get-member list-members login create-member").split()
EVENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "events")


class Invocations:
    """What the fake Runtime API hands one process: these events, then a poll never answered."""

    def __init__(self, events):
        self.events = events
        self.polled_at = None  # the first GET .../invocation/next
        self.handed_at = []  # when event n went out
        self.answered = []  # (when, statusCode) of response n
        self.errors = []
        self.finished = threading.Event()
        self.lock = threading.Lock()


current = Invocations([])


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm holds the
        # body of a reused connection back for the client's delayed ACK (~40 ms on every warm run).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        if self.path != "/2018-06-01/runtime/invocation/next":
            self.send_error(404)
            return
        run = current
        with run.lock:
            if run.polled_at is None:
                run.polled_at = time.perf_counter()
            n = len(run.handed_at)
            if n < len(run.events):
                run.handed_at.append(time.perf_counter())
        if n >= len(run.events):
            run.finished.set()
            self.rfile.read(1)  # never answer: returns once the process is killed
            self.close_connection = True
            return
        body = run.events[n]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Lambda-Runtime-Aws-Request-Id", f"bench-{n}")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-67d15633-3f9e2a1b7c4d5e6f70819a12")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        answered_at = time.perf_counter()
        run = current
        body = self.read_body()
        match = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", self.path)
        if not match:  # /runtime/init/error: the run fails by timeout or exit
            run.errors.append(f"{self.path}: {body[-400:]!r}")
            self.send_error(404)
            return
        if match.group(2) == "error":
            run.errors.append(f"invocation error: {body[-400:]!r}")
            run.finished.set()
        else:
            try:
                status = json.loads(body).get("statusCode")
            except ValueError:
                status = None
            run.answered.append((answered_at, status, body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def log_message(self, *args):
        pass


def lambda_env(binary, port):
    name = os.path.basename(binary)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8", "TZ": ":UTC",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "ASIABENCH", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
        # Roster's own, as template.yaml sets them (the table and bucket of the setup, if any).
        "ROSTER_TABLE": os.environ.get("ROSTER_TABLE", "roster"),
        "ROSTER_BUCKET": os.environ.get("ROSTER_BUCKET", "roster-files"),
        "ROSTER_MAIL_FROM": os.environ.get("ROSTER_MAIL_FROM", "no-reply@example.com"),
        "ROSTER_APP_URL": "https://app.example.com",
        "ROSTER_JWT_PUBLIC_KEY": os.environ["ROSTER_JWT_PUBLIC_KEY"],
        "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH": "true",
    }
    if os.environ.get("AWS_ENDPOINT_URL"):  # locally, the emulator
        env["AWS_ENDPOINT_URL"] = os.environ["AWS_ENDPOINT_URL"]
    if name in PRIVATE_KEY_FOR:
        env["ROSTER_JWT_PRIVATE_KEY"] = os.environ["ROSTER_JWT_PRIVATE_KEY"]
    return env


def run_once(binary, port, events):
    """(init, cold, warm) in ms of one process answering `events` (cold and warm None without
    events), or raises RuntimeError with why it did not."""
    global current
    run = current = Invocations(events)
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env=lambda_env(binary, port),
                                stdout=subprocess.DEVNULL, stderr=stderr)
        while not run.finished.wait(0.005):
            if proc.poll() is not None or time.perf_counter() - start > TIMEOUT_S:
                break
        proc.kill()
        code = proc.wait()
        stderr.seek(0)
        log = stderr.read().decode(errors="replace")[-800:].strip()
    if not run.finished.is_set() or run.errors:
        why = f"exited with {code}" if code >= 0 else f"not done within {TIMEOUT_S} s"
        raise RuntimeError(f"{why}; {' '.join(run.errors)} stderr: {log}")
    for _, status, body in run.answered:
        if not isinstance(status, int) or not 200 <= status < 300:
            raise RuntimeError(f"answered {status}: {body[:400]!r}")
    init = (run.polled_at - start) * 1000
    if not events:
        return init, None, None
    cold = (run.answered[0][0] - start) * 1000
    warm = (run.answered[1][0] - run.handed_at[1]) * 1000
    return init, cold, warm


def setup(argv):
    """Real data for the request part, made through a running local gateway."""
    client, owned = tenant.from_command_line(argv)
    tenants = f"/v1/tenants/{owned.tenant['id']}"
    department = client.api("POST", f"{tenants}/departments", owned.token, {
        "name": "Engineering", "parent_id": owned.tenant["root_department_id"],
    }, expect=(201,))
    member = client.api("POST", f"{tenants}/members", owned.token, {
        "email": f"member-{secrets.token_hex(4)}@bench.test", "name": "Mia Member",
        "department_id": department["id"],
    }, expect=(201,))
    values = {
        "BENCH_TENANT_ID": owned.tenant["id"], "BENCH_DEPARTMENT_ID": department["id"],
        "BENCH_MEMBER_ID": member["id"], "BENCH_OWNER_EMAIL": owned.email,
        "BENCH_OWNER_PASSWORD": owned.password, "BENCH_OWNER_TOKEN": owned.token,
    }
    for name, value in values.items():
        print(f"{name}={shlex.quote(value)}")


def real_event(name, nth):
    """events/NAME.json with the setup's data in place of the sample's, as bytes."""
    with open(os.path.join(EVENTS, f"{name}.json")) as f:
        text = f.read()
    env = os.environ
    for sample, real in {
        "01935f3c-7a2b-7c4e-9f1a-2b3c4d5e6f70": env["BENCH_TENANT_ID"],
        "01935f41-0c9e-7a13-a2d4-5e6f708192a3": env["BENCH_DEPARTMENT_ID"],
        "01935f46-2d8c-7f19-a4e3-7b8c9d0e1f2a": env["BENCH_MEMBER_ID"],
        "ada.lovelace@example.com": env["BENCH_OWNER_EMAIL"],
        "correct horse battery staple": env["BENCH_OWNER_PASSWORD"],
        # create-member: every invocation creates a new member.
        "charles.babbage@example.com": f"created-{secrets.token_hex(6)}-{nth}@bench.test",
    }.items():
        text = text.replace(sample, real)
    text = re.sub(r"Bearer [A-Za-z0-9._-]+", f"Bearer {env['BENCH_OWNER_TOKEN']}", text)
    event = json.loads(text)
    if "content-length" in event["headers"]:
        event["headers"]["content-length"] = str(len(event.get("body", "").encode()))
    return json.dumps(event).encode()


def median(values):
    return statistics.median(values) if values else None


def main():
    if sys.argv[1:2] == ["setup"]:
        api.run(lambda: setup(sys.argv[2:6]))
        return
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    binaries = sys.argv[1:]  # the baseline first
    baseline = binaries[0]
    requesting = [baseline] + [b for b in binaries[1:] if os.path.basename(b) in REQUESTS]
    if "BENCH_TENANT_ID" not in os.environ:
        requesting = []
    inits = {b: [] for b in binaries}
    colds = {b: [] for b in requesting}
    warms = {b: [] for b in requesting}
    excess = {b: [] for b in requesting}
    failed = {}

    def measure(b, events):
        if b in failed:
            return None
        try:
            return run_once(b, port, events)
        except RuntimeError as err:
            failed[b] = str(err)
            return None

    for round_ in range(RUNS + 1):  # round 0 warms the page cache and is not counted
        for b in binaries:
            result = measure(b, [])
            if result and round_:
                inits[b].append(result[0])
    for round_ in range(RUNS + 1):
        for b in requesting:
            # hello-world answers anything; a handler gets its own event, made real.
            name = "get-jwks" if b == baseline else os.path.basename(b)
            result = measure(b, [real_event(name, 2 * round_), real_event(name, 2 * round_ + 1)])
            if result and round_:
                init, cold, warm = result
                colds[b].append(cold)
                warms[b].append(warm)
                excess[b].append(cold - init - warm)

    if baseline in failed:
        sys.exit(f"baseline {baseline} failed: {failed[baseline]}")
    base_init, base_cold = median(inits[baseline]), median(colds.get(baseline, []))
    print(f"\n{'binary':<26} {'size MiB':>8} {'init ms':>8} {'ratio':>6} {'cold ms':>8} {'ratio':>6} "
          f"{'warm ms':>8} {'c-i-w ms':>8}  (median of {RUNS}; targets: size <= {MAX_MB} MiB, "
          f"init <= {MAX_RATIO}x, cold <= warm + init + {MAX_COLD_EXCESS_MS:g} ms)")
    bad = 0
    for b in binaries:
        size = os.path.getsize(b) / 2**20
        flags = [f"SIZE > {MAX_MB} MiB"] if size > MAX_MB else []
        cols = [f"{size:>8.2f}"]
        if b in failed:
            flags.append("FAILED")
        init, cold, warm, over = (median(inits[b]), median(colds.get(b, [])), median(warms.get(b, [])),
                                  median(excess.get(b, [])))
        cols += [f"{init:>8.2f} {init / base_init:>6.2f}" if init else f"{'-':>8} {'-':>6}"]
        if init and init / base_init > MAX_RATIO:
            flags.append(f"INIT > {MAX_RATIO}x")
        if cold is not None:
            cols += [f"{cold:>8.2f} {cold / base_cold:>6.2f} {warm:>8.2f} {over:>8.2f}"]
            if over > MAX_COLD_EXCESS_MS:
                flags.append(f"COLD > WARM + INIT + {MAX_COLD_EXCESS_MS:g} ms")
        else:
            cols += [f"{'-':>8} {'-':>6} {'-':>8} {'-':>8}"]
        bad += bool(flags)
        print(f"{os.path.basename(b):<26} {' '.join(cols)}  {' '.join(flags)}")
    for b, why in failed.items():
        print(f"\n{os.path.basename(b)} failed: {why}")
    print(f"\n{bad} of {len(binaries)} binaries miss a target" if bad else "\nall targets met")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
