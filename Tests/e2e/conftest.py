"""Browser suite: the real server binary, a real headless Chromium, driven by selenium.

The server runs on a free loopback port with a throw-away SQLite database and --demo;
the demo accounts are read from its output, as a new user would read them.
"""
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

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "Tests" / "e2e" / "screenshots"
ACCOUNT_LINE = re.compile(r"^demo account: (\S+) (\S+) (\S+)$")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def psc_provider():
    """The local Pro Santé Connect stand-in (scripts/psc-provider, on authlib), on a free port."""
    workdir = tempfile.mkdtemp(prefix="concerto-psc-")
    secret = os.urandom(16).hex()
    secret_file = pathlib.Path(workdir) / "client-secret"
    secret_file.write_text(secret)
    process = subprocess.Popen(
        ["python3", "scripts/psc-provider/provider.py", "--port", "0", "--test-controls",
         "--client", f"concerto-e2e:{secret}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    line = process.stdout.readline()
    if not line.startswith("ready "):
        process.kill()
        raise RuntimeError("the local PSC provider did not start (pip install authlib): " + line + process.stdout.read())
    yield {"issuer": line.split()[1], "client_id": "concerto-e2e", "secret_file": str(secret_file)}
    process.terminate()
    process.wait(timeout=10)


def start_concerto(binary, port, database, env, output_label="server"):
    """Starts `concerto serve --demo` and waits until it answers; returns (process, accounts)."""
    process = subprocess.Popen(
        [binary, "serve", "--demo", "--port", str(port), "--database", database],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    accounts = {}
    deadline = time.time() + 60
    output = []
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        output.append(line)
        match = ACCOUNT_LINE.match(line.strip())
        if match:
            email, password, role = match.groups()
            accounts.setdefault(role, []).append((email, password))
        if "listening on" in line:
            break
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except Exception:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"{output_label} did not start:\n" + "".join(output))
    # Nobody reads the rest of its output: drain it so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return process, accounts


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def base_env():
    env = dict(os.environ, CONCERTO_BCRYPT_COST="8", CONCERTO_LOG_LEVEL="warning")
    env.pop("CONCERTO_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    # The test run's Orthanc (scripts/test-all) is the demo's imaging exchange.
    if os.environ.get("CONCERTO_TEST_DICOMWEB_URL"):
        env["CONCERTO_DICOMWEB_URL"] = os.environ["CONCERTO_TEST_DICOMWEB_URL"]
    return env


@pytest.fixture(scope="session")
def server(psc_provider):
    binary = os.environ.get("CONCERTO_BIN", str(ROOT / ".build" / "debug" / "concerto"))
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="concerto-e2e-")
    env = base_env()
    env.update(CONCERTO_PSC_ISSUER=psc_provider["issuer"], CONCERTO_PSC_CLIENT_ID=psc_provider["client_id"],
               CONCERTO_PSC_CLIENT_SECRET_FILE=psc_provider["secret_file"])
    process, accounts = start_concerto(binary, port, f"sqlite:{workdir}/e2e.sqlite", env)
    base = f"http://127.0.0.1:{port}"
    yield {"base": base, "accounts": accounts, "binary": binary, "database": f"{workdir}/e2e.sqlite", "psc": psc_provider}
    stop(process)


@pytest.fixture(scope="session")
def postgres_admin_url():
    """The test run's PostgreSQL (scripts/test-all exports it), else a throw-away one."""
    if os.environ.get("CONCERTO_E2E_POSTGRES_URL"):
        yield os.environ["CONCERTO_E2E_POSTGRES_URL"]
        return
    pg_env = dict(os.environ, PGTEST_DIR=tempfile.mkdtemp(prefix="concerto-e2e-pg-"))
    url = subprocess.run([str(ROOT / "scripts" / "pg-test"), "start"], env=pg_env, check=True, capture_output=True, text=True).stdout.strip()
    yield url
    subprocess.run([str(ROOT / "scripts" / "pg-test"), "stop"], env=pg_env, check=False)


@pytest.fixture(scope="session")
def cluster(postgres_admin_url):
    """Two `concerto serve` instances on one fresh PostgreSQL database, as a region runs them
    behind a load balancer: same database, same audit key, different ports."""
    binary = os.environ.get("CONCERTO_BIN", str(ROOT / ".build" / "debug" / "concerto"))
    name = "concerto_e2e_" + os.urandom(6).hex()
    admin = urllib.parse.urlparse(postgres_admin_url)
    psql = "/usr/lib/postgresql/15/bin/psql"
    psql_env = dict(os.environ, PGPASSWORD=admin.password or "")
    subprocess.run([psql, "-h", admin.hostname, "-p", str(admin.port), "-U", admin.username, "-d", admin.path.lstrip("/") or "postgres",
                    "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {name}"], env=psql_env, check=True, capture_output=True)
    database = postgres_admin_url.rsplit("/", 1)[0] + "/" + name + "?sslmode=disable"
    workdir = tempfile.mkdtemp(prefix="concerto-e2e-cluster-")
    env = base_env()
    env["CONCERTO_AUDIT_KEY_FILE"] = f"{workdir}/audit.key"
    first, accounts = start_concerto(binary, free_port(), database, env, "instance A")
    port_b = free_port()
    second, _ = start_concerto(binary, port_b, database, env, "instance B")
    yield {"a": f"http://127.0.0.1:{first.args[4]}", "b": f"http://127.0.0.1:{port_b}", "accounts": accounts}
    for process in (second, first):
        stop(process)
    subprocess.run([psql, "-h", admin.hostname, "-p", str(admin.port), "-U", admin.username, "-d", admin.path.lstrip("/") or "postgres",
                    "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], env=psql_env, check=False, capture_output=True)


def make_browser():
    options = Options()
    options.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--lang=fr-FR"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.implicitly_wait(5)
    return driver


def finish(request, driver, suffix=""):
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / f"{request.node.name}{suffix}.png"))
    driver.quit()


@pytest.fixture
def browser(request):
    driver = make_browser()
    yield driver
    finish(request, driver)


@pytest.fixture
def second_browser(request):
    """Another participant's Chromium (its own cookies), for what two people see at once."""
    driver = make_browser()
    yield driver
    finish(request, driver, "-second")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)
