"""Group commit under crashes (issue 19): the server is killed with SIGKILL while eight
clients read patient records (each read audited), three times over, on SQLite and on
PostgreSQL. Every read answered 200 must have its audit event in the database afterwards,
and `concerto audit verify` must find the chain intact once the sequencer has caught up."""
import http.cookiejar
import os
import random
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import ROOT, base_env, free_port, start_concerto, stop

PSQL = "/usr/lib/postgresql/15/bin/psql"


def log_in(base, email, password):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="_csrf" value="([0-9a-f]+)"', page).group(1)
    opener.open(base + "/login", urllib.parse.urlencode({"_csrf": token, "email": email, "password": password}).encode())
    return opener


def patient_pages(opener, base):
    home = opener.open(base + "/").read().decode()
    community = re.search(r'href="(/communities/[0-9a-f-]+)"', home).group(1)
    pages = sorted(set(re.findall(r'href="(/patients/[0-9a-f-]{36})"', opener.open(base + community).read().decode())))
    assert pages
    return pages


def hammer(opener, base, pages, prefix, acknowledged, stop_flag):
    """Reads records until told to stop; keeps the request ids the server answered 200."""
    index = 0
    while not stop_flag.is_set():
        request_id = f"{prefix}-{index}"
        index += 1
        request = urllib.request.Request(base + random.choice(pages), headers={"X-Request-Id": request_id})
        try:
            with opener.open(request, timeout=5) as response:
                response.read()
                if response.status == 200:
                    acknowledged.append(request_id)
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.01)  # the server is down: the client retries, like a browser's reload


@pytest.fixture(params=["sqlite", "postgres"])
def crash_database(request, postgres_admin_url):
    workdir = tempfile.mkdtemp(prefix="concerto-crash-")
    if request.param == "sqlite":
        yield {"url": f"sqlite:{workdir}/crash.sqlite", "workdir": workdir,
               "query": lambda sql: sqlite3.connect(f"{workdir}/crash.sqlite").execute(sql).fetchall()}
    else:
        admin = urllib.parse.urlparse(postgres_admin_url)
        name = "concerto_crash_" + os.urandom(6).hex()
        psql = [PSQL, "-h", admin.hostname, "-p", str(admin.port), "-U", admin.username, "-v", "ON_ERROR_STOP=1", "-At"]
        env = dict(os.environ, PGPASSWORD=admin.password or "")
        subprocess.run(psql + ["-d", admin.path.lstrip("/") or "postgres", "-c", f"CREATE DATABASE {name}"], env=env, check=True, capture_output=True)

        def query(sql):
            out = subprocess.run(psql + ["-d", name, "-c", sql], env=env, check=True, capture_output=True, text=True).stdout
            return [tuple(line.split("|")) for line in out.splitlines() if line]
        yield {"url": postgres_admin_url.rsplit("/", 1)[0] + "/" + name + "?sslmode=disable", "workdir": workdir, "query": query}
        subprocess.run(psql + ["-d", admin.path.lstrip("/") or "postgres", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                       env=env, check=False, capture_output=True)
    shutil.rmtree(workdir, ignore_errors=True)


def test_kill_9_under_load_loses_no_acknowledged_audit_event(crash_database):
    binary = os.environ.get("CONCERTO_BIN", str(ROOT / ".build" / "debug" / "concerto"))
    env = base_env()
    env["CONCERTO_AUDIT_KEY_FILE"] = os.path.join(crash_database["workdir"], "audit.key")
    env["CONCERTO_AUDIT_CHECKPOINT_DIR"] = os.path.join(crash_database["workdir"], "checkpoints")
    acknowledged = []
    accounts = None
    for round_number in range(3):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process, printed = start_concerto(binary, port, crash_database["url"], env, f"round {round_number}")
        accounts = accounts or printed
        email, password = next(pair for pair in accounts["physician"] if pair[0].startswith("oncologue"))
        opener = log_in(base, email, password)
        pages = patient_pages(opener, base)
        stop_flag = threading.Event()
        workers = [threading.Thread(target=hammer, args=(opener, base, pages, f"crash-{round_number}-{worker}", acknowledged, stop_flag))
                   for worker in range(8)]
        for worker in workers:
            worker.start()
        time.sleep(1.0 + random.random())
        process.kill()  # SIGKILL: no shutdown, no last sequencing, no last checkpoint
        process.wait()
        stop_flag.set()
        for worker in workers:
            worker.join()
    assert len(acknowledged) > 100, "the load did not get going"

    # A last start lets the sequencer catch up; then a clean stop.
    process, _ = start_concerto(binary, free_port(), crash_database["url"], env, "after the crashes")
    stop(process)
    verify = subprocess.run([binary, "audit", "verify", "--database", crash_database["url"]],
                            capture_output=True, text=True, timeout=120, env=env)
    assert verify.returncode == 0, verify.stderr
    assert "Audit trail intact" in verify.stdout
    assert "not yet sequenced" not in verify.stdout

    stored = {row[0] for row in crash_database["query"]("SELECT request_id FROM audit_events WHERE request_id LIKE 'crash-%'")}
    lost = [request_id for request_id in acknowledged if request_id not in stored]
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged reads have no audit event, e.g. {lost[:5]}"
