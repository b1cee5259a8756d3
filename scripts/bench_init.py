"""Size and init time of Lambda binaries against a hello-world baseline (standard library only).

A fake Lambda Runtime API listens on a free loopback port; each binary is started with the
environment a Lambda gives it, and its init time is the time from spawn until its first
GET /2018-06-01/runtime/invocation/next; then it is killed. Runs are interleaved (one round over
every binary, BENCH_RUNS times, default 15) so background load hits all binaries alike. Prints one
table (size, median init, ratio to the baseline) and exits 1 if a binary fails, is over 12 MiB or
its median init is over 1.5x the baseline's.

usage: bench_init.py BASELINE BINARY...
environment: ROSTER_JWT_PUBLIC_KEY, ROSTER_JWT_PRIVATE_KEY (given only to the binaries named in
BENCH_PRIVATE_KEY_FOR, as in template.yaml), BENCH_RUNS
"""

import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
TIMEOUT_S = 10
MAX_MB, MAX_RATIO = 12, 1.5
PRIVATE_KEY_FOR = os.environ.get("BENCH_PRIVATE_KEY_FOR", "").split()

polled = threading.Event()
polled_at = 0.0


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        global polled_at
        if self.path == "/2018-06-01/runtime/invocation/next":
            polled_at = time.perf_counter()
            polled.set()
            self.rfile.read(1)  # never answer: returns once the process is killed
            self.close_connection = True
            return
        self.send_error(404)

    def do_POST(self):  # /runtime/init/error and the like: the run fails by timeout or exit
        self.send_error(404)

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
        # Roster's own, as template.yaml sets them.
        "ROSTER_TABLE": "roster", "ROSTER_BUCKET": "roster-files",
        "ROSTER_MAIL_FROM": "no-reply@example.com", "ROSTER_APP_URL": "https://app.example.com",
        "ROSTER_JWT_PUBLIC_KEY": os.environ["ROSTER_JWT_PUBLIC_KEY"],
        "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH": "true",
    }
    if name in PRIVATE_KEY_FOR:
        env["ROSTER_JWT_PRIVATE_KEY"] = os.environ["ROSTER_JWT_PRIVATE_KEY"]
    return env


def run_once(binary, port):
    """Init time in ms, or raises RuntimeError with why the binary never polled."""
    polled.clear()
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env=lambda_env(binary, port),
                                stdout=subprocess.DEVNULL, stderr=stderr)
        while not polled.wait(0.005):
            if proc.poll() is not None or time.perf_counter() - start > TIMEOUT_S:
                break
        ok = polled.is_set()
        proc.kill()
        code = proc.wait()
        if not ok:
            stderr.seek(0)
            why = f"exited with {code}" if code >= 0 else f"no poll within {TIMEOUT_S} s"
            raise RuntimeError(f"{why}; stderr: {stderr.read().decode(errors='replace')[-800:].strip()}")
        return (polled_at - start) * 1000


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    binaries = sys.argv[1:]  # the baseline first
    times = {b: [] for b in binaries}
    failed = {}
    for round_ in range(RUNS + 1):  # round 0 warms the page cache and is not counted
        for b in binaries:
            if b in failed:
                continue
            try:
                ms = run_once(b, port)
            except RuntimeError as err:
                failed[b] = str(err)
                continue
            if round_:
                times[b].append(ms)

    baseline = binaries[0]
    if baseline in failed:
        sys.exit(f"baseline {baseline} failed: {failed[baseline]}")
    base = statistics.median(times[baseline])
    print(f"\n{'binary':<26} {'size MiB':>9} {'init ms':>8} {'min ms':>7} {'ratio':>6}  "
          f"(median of {RUNS}; targets <= {MAX_MB} MiB, <= {MAX_RATIO}x)")
    bad = 0
    for b in binaries:
        size = os.path.getsize(b) / 2**20
        flags = [f"SIZE > {MAX_MB} MiB"] if size > MAX_MB else []
        if b in failed:
            cols = f"{'-':>8} {'-':>7} {'-':>6}"
            flags.append("FAILED")
        else:
            ms = statistics.median(times[b])
            cols = f"{ms:>8.2f} {min(times[b]):>7.2f} {ms / base:>6.2f}"
            if ms / base > MAX_RATIO:
                flags.append(f"INIT > {MAX_RATIO}x")
        bad += bool(flags)
        print(f"{os.path.basename(b):<26} {size:>9.2f} {cols}  {' '.join(flags)}")
    for b, why in failed.items():
        print(f"\n{os.path.basename(b)} failed to start: {why}")
    print(f"\n{bad} of {len(binaries)} binaries miss a target" if bad else "\nall targets met")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
