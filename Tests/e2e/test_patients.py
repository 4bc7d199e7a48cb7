"""The trust layer as clinicians meet it: care scope, break-the-glass, identity checks, audit."""
import http.cookiejar
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import urllib.parse
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from test_login import csp_violations, log_in, submit_and_wait


def account(server, email_prefix):
    for accounts in server["accounts"].values():
        for email, password in accounts:
            if email.startswith(email_prefix):
                return email, password
    raise AssertionError(f"no demo account {email_prefix}")


def open_patient(browser, server, community_name, patient_name):
    browser.get(server["base"] + "/")
    browser.find_element(By.LINK_TEXT, community_name).click()
    browser.find_element(By.LINK_TEXT, patient_name).click()


def test_break_the_glass_opens_a_patient_outside_the_care_scope(server, browser):
    log_in(browser, server, *account(server, "radiotherapeute"))
    open_patient(browser, server, "RCP Nouvelle-Aquitaine Sud", "LAMBERT Jean")
    decision = browser.find_element(By.CSS_SELECTOR, "[data-test=access-decision]").text
    assert "Accès aux données cliniques refusé" in decision
    assert "ni dans l'équipe de soins" in decision
    assert browser.find_element(By.CSS_SELECTOR, "[data-test=identity-status]").text == "Identité provisoire"
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-test=clinical]")
    browser.find_element(By.CSS_SELECTOR, "[data-test=emergency-link]").click()
    Select(browser.find_element(By.ID, "reason_code")).select_by_value("continuite_soins")
    browser.find_element(By.ID, "justification").send_keys("court")
    # The browser refuses a justification under 20 characters; the server does too.
    browser.execute_script("document.getElementById('justification').removeAttribute('minlength')")
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]"))
    assert "20 caractères" in browser.find_element(By.CSS_SELECTOR, "[data-test=emergency-error]").text
    browser.find_element(By.ID, "justification").clear()
    browser.find_element(By.ID, "justification").send_keys("Patient vu aux urgences de Pau, avis de radiothérapie demandé")
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]"))
    assert "bris de glace" in browser.find_element(By.CSS_SELECTOR, "[data-test=access-decision]").text
    assert browser.find_elements(By.CSS_SELECTOR, "[data-test=clinical]")
    assert csp_violations(browser) == []

    browser.delete_all_cookies()
    log_in(browser, server, *account(server, "coordination"))
    browser.find_element(By.LINK_TEXT, "RCP Nouvelle-Aquitaine Sud").click()
    assert "Patient vu aux urgences de Pau" in browser.find_element(By.ID, "btg-title").find_element(By.XPATH, "..").text


def test_an_opposition_keeps_the_other_community_out_of_the_clinical_record(server, browser):
    log_in(browser, server, *account(server, "chirurgienne"))
    open_patient(browser, server, "RCP Nouvelle-Aquitaine Nord", "BERNARD Louise")
    decision = browser.find_element(By.CSS_SELECTOR, "[data-test=access-decision]").text
    assert "le patient s'est opposé au partage" in decision
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-test=emergency-link]")
    assert browser.find_elements(By.CSS_SELECTOR, "[data-test=opposition]")


def test_creating_a_patient_checks_the_ins_and_offers_the_existing_record(server, browser):
    log_in(browser, server, *account(server, "oncologue"))
    browser.get(server["base"] + "/patients/new")

    def fill(birth_name, first_names, birth_date, sex, ins=""):
        for field, value in (("birth_name", birth_name), ("first_names", first_names), ("ins_matricule", ins)):
            element = browser.find_element(By.ID, field)
            element.clear()
            element.send_keys(value)
        browser.execute_script(f"document.getElementById('birth_date').value = '{birth_date}'")
        Select(browser.find_element(By.ID, "sex")).select_by_value(sex)

    fill("Dupont", "Marie", "1961-05-12", "F", ins="261053306312399")
    Select(browser.find_element(By.ID, "ins_kind")).select_by_value("test")
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]"))
    assert "La clé du matricule INS est incorrecte" in browser.page_source
    fill("Dupont", "Marie", "1961-05-12", "F")
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]"))
    matches = browser.find_element(By.CSS_SELECTOR, "[data-test=matches]").text
    assert "MARTIN Marie" in matches
    fill("Garcia", "Ana Lucia", "1983-09-30", "F")
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]"))
    assert browser.find_element(By.CSS_SELECTOR, "[data-test=patient-name]").text == "GARCIA Ana"
    assert browser.find_elements(By.CSS_SELECTOR, "[data-test=clinical]")


def audit_command(server, verb, database, checkpoints):
    """`concerto audit VERB` on a copy of the demo database, with the server's audit key
    (beside its database) and a folder of checkpoints of our own."""
    key = os.path.join(os.path.dirname(server["database"]), "audit.key")
    env = dict(os.environ, CONCERTO_AUDIT_KEY_FILE=key, CONCERTO_AUDIT_CHECKPOINT_DIR=checkpoints)
    return subprocess.run([server["binary"], "audit", verb, "--database", f"sqlite:{database}"],
                          capture_output=True, text=True, timeout=60, env=env)


def snapshot(server):
    """A consistent copy of the live demo database, after the browser tests above, with
    the server's signed checkpoints so far."""
    directory = tempfile.mkdtemp(prefix="concerto-audit-")
    path = f"{directory}/copy.sqlite"
    source = sqlite3.connect(server["database"])
    target = sqlite3.connect(path)
    source.backup(target)
    source.close()
    target.close()
    shutil.copytree(os.path.join(os.path.dirname(server["database"]), "audit-checkpoints"), f"{directory}/checkpoints")
    return directory, path


def tamper(path, *statements):
    connection = sqlite3.connect(path)
    connection.execute("DROP TRIGGER audit_events_no_update")
    connection.execute("DROP TRIGGER audit_events_no_delete")
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()


def make_busy(server, rounds=60):
    """A clinician's morning over HTTP: log in, open the community, open every patient, repeatedly."""
    email, password = account(server, "oncologue")
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(server["base"] + "/login").read().decode()
    token = re.search(r'name="_csrf" value="([0-9a-f]+)"', page).group(1)
    opener.open(server["base"] + "/login", urllib.parse.urlencode({"_csrf": token, "email": email, "password": password}).encode())
    home = opener.open(server["base"] + "/").read().decode()
    community = re.search(r'href="(/communities/[0-9a-f-]+)"', home).group(1)
    patients = sorted(set(re.findall(r'href="(/patients/[0-9a-f-]{36})"', opener.open(server["base"] + community).read().decode())))
    assert patients
    for _ in range(rounds):
        for patient in patients:
            opener.open(server["base"] + patient).read()


def test_audit_verify_passes_on_the_busy_demo_database_and_names_the_first_broken_event(server):
    make_busy(server)
    directory, path = snapshot(server)
    checkpoints = f"{directory}/checkpoints"
    try:
        # Pin the copy's head as the server does every 5 minutes.
        pinned = audit_command(server, "checkpoint", path, checkpoints)
        assert pinned.returncode == 0, pinned.stderr
        result = audit_command(server, "verify", path, checkpoints)
        assert result.returncode == 0, result.stderr
        assert "Audit trail intact" in result.stdout
        count = sqlite3.connect(path).execute("SELECT COUNT(*) FROM audit_events").fetchone()[0]
        assert count > 200
        cases = {
            "edited": ["UPDATE audit_events SET reason = 'forged' WHERE seq = 20"],
            "deleted": ["DELETE FROM audit_events WHERE seq = 20"],
            "reordered": ["UPDATE audit_events SET seq = -1 WHERE seq = 20",
                          "UPDATE audit_events SET seq = 20 WHERE seq = 21",
                          "UPDATE audit_events SET seq = 21 WHERE seq = -1"],
        }
        for name, statements in cases.items():
            copy = f"{directory}/{name}.sqlite"
            shutil.copy(path, copy)
            tamper(copy, *statements)
            result = audit_command(server, "verify", copy, checkpoints)
            assert result.returncode != 0, name
            assert "event 20" in result.stderr + result.stdout, (name, result.stderr)
        # The end deleted and the head rewound: only the signed checkpoint can tell.
        copy = f"{directory}/rewound.sqlite"
        shutil.copy(path, copy)
        tamper(copy, f"DELETE FROM audit_events WHERE seq > {count - 5}",
               f"UPDATE audit_head SET seq = {count - 5}, hash = (SELECT hash FROM audit_events WHERE seq = {count - 5})")
        result = audit_command(server, "verify", copy, checkpoints)
        assert result.returncode != 0
        assert "end of the trail was deleted" in result.stderr, result.stderr
    finally:
        shutil.rmtree(directory, ignore_errors=True)
