"""Imaging from the regional exchange (the test run's Orthanc): an oncologist attaches two
studies of her patient to the fiche RCP and sees their thumbnails, fetched through Concerto."""
import os

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_login import csp_violations, log_in
from test_patients import account, open_patient

pytestmark = pytest.mark.skipif(not os.environ.get("CONCERTO_TEST_DICOMWEB_URL"),
                                reason="needs the test run's Orthanc (make test starts it)")


def loaded_thumbnails(browser):
    """Thumbnails the browser decoded as real pictures (not the placeholder)."""
    return browser.execute_script("""
        return Array.from(document.querySelectorAll('[data-test=study-thumbnail]'))
            .filter(img => img.complete && img.naturalWidth > 0 && !img.currentSrc.endsWith('.svg')).length""")


def test_oncologist_attaches_two_studies_and_sees_their_thumbnails(server, browser):
    log_in(browser, server, *account(server, "oncologue"))
    open_patient(browser, server, "RCP Nouvelle-Aquitaine Sud", "MARTIN Marie")
    browser.find_element(By.CSS_SELECTOR, "[data-test=case-link]").click()
    case_url = browser.current_url
    browser.find_element(By.CSS_SELECTOR, "[data-test=imaging-tab]").click()
    # The last three years of the patient's studies on the exchange, newest first.
    rows = browser.find_elements(By.CSS_SELECTOR, "[data-test=study-row]")
    assert len(rows) >= 4
    assert "TEP-TDM au 18F-FDG" in browser.find_element(By.CSS_SELECTOR, "[data-test=imaging-results]").text
    for accession, note in (("ACC-M-0002", "Examen de référence"), ("ACC-M-0001", "Dernier bilan")):
        row = browser.find_element(By.CSS_SELECTOR, f"[data-test=study-row][data-accession={accession}]")
        row.find_element(By.NAME, "note").send_keys(note)
        row.find_element(By.CSS_SELECTOR, "[data-test=attach-study]").click()
        WebDriverWait(browser, 10).until(lambda b: b.find_elements(
            By.CSS_SELECTOR, f"[data-test=study-row][data-accession={accession}] [data-test=already-attached]"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-test=attached-study]")) == 2
    # Modality filter: only MR studies.
    browser.find_element(By.CSS_SELECTOR, "input[name=modality][value=MR]").click()
    browser.find_element(By.CSS_SELECTOR, "[data-test=imaging-search-submit]").click()
    WebDriverWait(browser, 10).until(lambda b: "modality=MR" in b.current_url)
    assert all("MR" in row.text for row in browser.find_elements(By.CSS_SELECTOR, "[data-test=study-row]"))

    browser.get(case_url)
    studies = browser.find_elements(By.CSS_SELECTOR, "[data-test=attached-study]")
    assert len(studies) == 2
    notes = [element.text for element in browser.find_elements(By.CSS_SELECTOR, "[data-test=study-note]")]
    assert sorted(notes) == ["Dernier bilan", "Examen de référence"]
    WebDriverWait(browser, 10).until(lambda b: loaded_thumbnails(b) == 2)
    assert csp_violations(browser) == []
    browser.execute_script("document.getElementById('imaging-title').scrollIntoView()")
    os.makedirs(os.path.join(os.path.dirname(__file__), "screenshots"), exist_ok=True)
    browser.save_screenshot(os.path.join(os.path.dirname(__file__), "screenshots", "case_imaging.png"))
