"""Exports as a clinician gets them: the minutes of last week's board downloaded from the
meeting page (a real PDF, checked with pdftotext), and the validated fiche's CDA."""
import glob
import os
import subprocess
import tempfile
import time

from selenium.webdriver.common.by import By

from test_login import log_in
from test_patients import account, open_patient


def wait_for_download(folder, suffix, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = [path for path in glob.glob(os.path.join(folder, "*" + suffix)) if os.path.getsize(path) > 0]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} downloaded into {folder}: {os.listdir(folder)}")


def test_oncologist_downloads_the_minutes_and_the_fiche(server, browser):
    folder = tempfile.mkdtemp(prefix="concerto-downloads-")
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": folder})
    log_in(browser, server, *account(server, "oncologue"))
    open_patient(browser, server, "RCP Nouvelle-Aquitaine Sud", "LAMBERT Jean")
    browser.find_element(By.CSS_SELECTOR, "[data-test=case-link]").click()
    # The validated fiche offers its exports; its CDA passes the official ANS schematron.
    browser.find_element(By.CSS_SELECTOR, "[data-test=export-cda]").click()
    cda = wait_for_download(folder, ".xml")
    validate = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "spec", "schematron", "validate")
    checked = subprocess.run([validate, cda], capture_output=True, text=True)
    assert checked.returncode == 0 and "ok (0 failed assertions)" in checked.stdout, checked.stdout + checked.stderr
    os.remove(cda)
    browser.find_element(By.CSS_SELECTOR, "[data-test=export-pdf]").click()
    fiche = wait_for_download(folder, ".pdf")
    os.remove(fiche)
    browser.find_element(By.PARTIAL_LINK_TEXT, "RCP thoracique").click()
    browser.find_element(By.CSS_SELECTOR, "[data-test=minutes-pdf]").click()
    minutes = wait_for_download(folder, ".pdf")
    with open(minutes, "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    text = subprocess.run(["pdftotext", "-layout", minutes, "-"], capture_output=True, text=True, check=True).stdout
    assert "Compte rendu de RCP" in text
    assert "LAMBERT Jean" in text and "BERNARD Louise" in text
    assert "FOLFOX" in text
    assert "Page 1 /" in text
