"""Helpers shared by the Python benchmarks (scripts/bench/live, writepath, load):
release instances, throw-away PostgreSQL clusters, logins, wrk runs."""
import asyncio
import contextlib
from http.cookiejar import CookieJar
import os
import pathlib
import re
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The checkout whose release build is measured: this one, or another (BENCH_CHECKOUT=/path,
# e.g. a worktree of an older commit, to measure the code before beside the code now).
CHECKOUT = pathlib.Path(os.environ.get("BENCH_CHECKOUT", str(ROOT))).resolve()
PSQL = "/usr/lib/postgresql/15/bin/psql"
BINARY = str(CHECKOUT / ".build" / "release" / "concerto")
BENCH_BINARY = str(CHECKOUT / ".build" / "release" / "concerto-bench")
# A PostgreSQL that syncs its commits, as a server in production does (scripts/pg-test
# turns fsync off for the tests), with docs/deployment.md's memory settings.
DURABLE_POSTGRES = ("-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c shared_buffers=2GB "
                    "-c effective_cache_size=8GB -c random_page_cost=1.1 -c work_mem=32MB")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def build_slowsync(workdir):
    """The sync-delay shim (scripts/bench/slowsync.c), readable by the postgres user."""
    target = os.path.join(workdir, "slowsync.so")
    compiler = "cc" if subprocess.run(["which", "cc"], capture_output=True).returncode == 0 else "clang"
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", target, str(ROOT / "scripts" / "bench" / "slowsync.c"), "-ldl"], check=True)
    os.chmod(workdir, 0o755)
    os.chmod(target, 0o755)
    return target


def slow_env(shim, delay_us):
    return {"LD_PRELOAD": shim, "SLOWSYNC_US": str(delay_us)} if shim else {}


def server_env(workdir, extra=None):
    env = dict(os.environ, CONCERTO_BCRYPT_COST="8", CONCERTO_LOG_LEVEL="error",
               CONCERTO_AUDIT_KEY_FILE=os.path.join(workdir, "audit.key"),
               CONCERTO_AUDIT_CHECKPOINT_DIR=os.path.join(workdir, "checkpoints"))
    env.pop("CONCERTO_DATABASE_URL", None)
    env.update(extra or {})
    return env


def seed(database, env):
    """Demo data, plus a southern board filled to 40 cases; returns the agenda's path."""
    subprocess.run([BINARY, "demo", "--database", database], cwd=CHECKOUT, env=env, check=True, capture_output=True)
    out = subprocess.run([BENCH_BINARY, "seed-agenda", "--database", database], cwd=CHECKOUT, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def start_instance(port, database, env, log=None, binary=BINARY):
    """`concerto serve` (release) on `port`; returns (process, {email: password}, {role: [email]})
    once it answers. Its output goes to the file `log` when given."""
    process = subprocess.Popen([binary, "serve", "--demo", "--port", str(port), "--database", database],
                               cwd=CHECKOUT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    accounts, roles = {}, {}
    deadline = time.time() + 120
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise RuntimeError("instance exited")
        match = re.match(r"^demo account: (\S+) (\S+) (\S+)$", line.strip())
        if match:
            accounts[match.group(1)] = match.group(2)
            roles.setdefault(match.group(3), []).append(match.group(1))
        if "listening on" in line:
            break
    sink = open(log, "w") if log else None
    def drain():
        for line in process.stdout:
            if sink:
                sink.write(line)
                sink.flush()
    threading.Thread(target=drain, daemon=True).start()
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except Exception:
            time.sleep(0.05)
    return process, accounts, roles


def stop_instance(process, timeout=20):
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise RuntimeError(f"an instance did not stop within {timeout} s of SIGTERM")


def log_in(base, email, password):
    """Returns (opener with the session cookie, 'concerto_session=...')."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="_csrf" value="([0-9a-f]+)"', page).group(1)
    opener.open(base + "/login", urllib.parse.urlencode({"_csrf": token, "email": email, "password": password}).encode())
    session = next(cookie.value for cookie in jar if cookie.name == "concerto_session")
    return opener, f"concerto_session={session}"


def wrk(base, path, cookie, connections, duration, threads=2):
    """One wrk run; returns (requests/s, p99 ms, non-2xx count)."""
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", "-H", f"Cookie: {cookie}", base + path],
                         check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p99, int(errors.group(1)) if errors else 0


@contextlib.contextmanager
def postgres_cluster(options=DURABLE_POSTGRES, server_environment=""):
    """A throw-away PostgreSQL 15 (scripts/pg-test) in a directory of its own under /tmp;
    yields (admin URL, pg-test environment for `restart`)."""
    env = dict(os.environ, PGTEST_DIR=f"/tmp/concerto-bench-pg-{os.urandom(4).hex()}", PGTEST_OPTIONS=options, PGTEST_ENV=server_environment)
    url = subprocess.run([str(ROOT / "scripts" / "pg-test"), "start"], env=env, check=True, capture_output=True, text=True).stdout.strip()
    try:
        yield url, env
    finally:
        subprocess.run([str(ROOT / "scripts" / "pg-test"), "stop"], env=env, check=False, capture_output=True)


def create_database(admin_url, name):
    subprocess.run([PSQL, admin_url, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return admin_url.rsplit("/", 1)[0] + "/" + name + "?sslmode=disable"


def query(database_url, sql):
    out = subprocess.run([PSQL, database_url.split("?")[0], "-At", "-c", sql], check=True, capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def workdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


async def http(port, method, path, cookie=None, form=None, headers=None, timeout=None):
    """One request on its own connection (asyncio, for many clients at once); returns
    (status, headers, body). `timeout` seconds, or none."""
    async def exchange():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            body = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else b""
            lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close", "Accept-Language: fr"]
            if cookie:
                lines.append(f"Cookie: {cookie}")
            for name, value in (headers or {}).items():
                lines.append(f"{name}: {value}")
            if form is not None:
                lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        head_lines = head.decode("latin-1").split("\r\n")
        status = int(head_lines[0].split()[1])
        response_headers = [tuple(line.split(": ", 1)) for line in head_lines[1:] if ": " in line]
        if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in response_headers):
            decoded = b""
            while rest:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0] or b"0", 16)
                if size == 0:
                    break
                decoded, rest = decoded + rest[:size], rest[size + 2:]
            rest = decoded
        return status, response_headers, rest.decode("utf-8", "replace")
    return await (asyncio.wait_for(exchange(), timeout) if timeout else exchange())


def session_cookie(headers, jar):
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            jar[key] = val
    return "; ".join(f"{k}={v}" for k, v in jar.items())


async def async_log_in(port, email, password):
    """Logs in over `http`; returns the Cookie header value of the session."""
    jar = {}
    status, headers, page = await http(port, "GET", "/login")
    cookie = session_cookie(headers, jar)
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
    status, headers, _ = await http(port, "POST", "/login", cookie, {"email": email, "password": password, "_csrf": csrf})
    if status != 303:
        raise RuntimeError(f"login of {email} failed: {status}")
    return session_cookie(headers, jar)
