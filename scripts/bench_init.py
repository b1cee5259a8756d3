"""Init time of Lambda binaries: a fake Lambda Runtime API on loopback; each binary is started as
Lambda would start it, and init time is the time from spawn to its first request for an event
(GET /2018-06-01/runtime/invocation/next). Prints the median of BENCH_RUNS runs per binary and
its ratio to the baseline binary. Standard library only.

usage: bench_init.py BASELINE BINARY...   (environment: what the binaries need)
"""

import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
first_poll = threading.Event()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            first_poll.set()
            # Never answer: the process is killed once the poll arrived.
            time.sleep(30)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def measure(binary, port):
    env = dict(os.environ)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{port}"
    env.setdefault("AWS_LAMBDA_FUNCTION_NAME", os.path.basename(binary))
    times = []
    for _ in range(RUNS):
        first_poll.clear()
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ok = first_poll.wait(timeout=10)
        elapsed = time.perf_counter() - start
        proc.kill()
        _, err = proc.communicate()
        if not ok:
            raise SystemExit(f"{binary} never polled for an event: {err.decode(errors='replace')[-500:]}")
        times.append(elapsed * 1000)
    return statistics.median(times)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    baseline, binaries = sys.argv[1], sys.argv[2:]
    base = measure(baseline, port)
    print(f"{'binary':<28} {'init ms (median)':>16} {'ratio':>7}")
    print(f"{os.path.basename(baseline):<28} {base:>16.2f} {1.0:>7.2f}")
    worst = 0.0
    for binary in binaries:
        ms = measure(binary, port)
        ratio = ms / base
        worst = max(worst, ratio)
        flag = "  OVER 1.5x" if ratio > 1.5 else ""
        print(f"{os.path.basename(binary):<28} {ms:>16.2f} {ratio:>7.2f}{flag}")
    print(f"worst ratio: {worst:.2f} (target <= 1.5)")
    sys.exit(1 if worst > 1.5 else 0)


if __name__ == "__main__":
    main()
