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
import time
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


@pytest.fixture(scope="session")
def server(psc_provider):
    binary = os.environ.get("CONCERTO_BIN", str(ROOT / ".build" / "debug" / "concerto"))
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="concerto-e2e-")
    env = dict(os.environ, CONCERTO_BCRYPT_COST="8", CONCERTO_LOG_LEVEL="warning")
    env.update(CONCERTO_PSC_ISSUER=psc_provider["issuer"], CONCERTO_PSC_CLIENT_ID=psc_provider["client_id"],
               CONCERTO_PSC_CLIENT_SECRET_FILE=psc_provider["secret_file"])
    env.pop("CONCERTO_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    # The test run's Orthanc (scripts/test-all) is the demo's imaging exchange.
    if os.environ.get("CONCERTO_TEST_DICOMWEB_URL"):
        env["CONCERTO_DICOMWEB_URL"] = os.environ["CONCERTO_TEST_DICOMWEB_URL"]
    process = subprocess.Popen(
        [binary, "serve", "--demo", "--port", str(port), "--database", f"sqlite:{workdir}/e2e.sqlite"],
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
        raise RuntimeError("server did not start:\n" + "".join(output))
    yield {"base": base, "accounts": accounts, "binary": binary, "database": f"{workdir}/e2e.sqlite", "psc": psc_provider}
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def browser(request):
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
    yield driver
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / f"{request.node.name}.png"))
    driver.quit()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)
