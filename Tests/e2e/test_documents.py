"""CDA reports as an oncologist files them: several files on the fiche RCP at once, with
progress per file, one refused for another patient; then the report's page."""
import os

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_login import csp_violations, log_in
from test_patients import account, open_patient

CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "corpus", "cda")


def test_oncologist_uploads_reports_and_reads_one(server, browser):
    log_in(browser, server, *account(server, "oncologue"))
    open_patient(browser, server, "RCP Nouvelle-Aquitaine Sud", "PAT-TROIS DOMINIQUE")
    browser.find_element(By.CSS_SELECTOR, "[data-test=case-link]").click()
    form = browser.find_element(By.CSS_SELECTOR, "[data-test=upload-form]")
    files = [os.path.abspath(os.path.join(CORPUS, name)) for name in
             ("IMG_CR_IMG_2024.01.xml", "CANCER-FRCP_2022.01_Appareil.xml", "HL7-Diagnostic_Imaging_Report.xml")]
    form.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys("\n".join(files))
    form.find_element(By.CSS_SELECTOR, "[data-test=upload-documents]").click()
    # The script sends one request per file and marks each line with the server's answer.
    WebDriverWait(browser, 20).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "[data-upload-progress] li[data-status]")) == 3)
    statuses = {item.text.split(" ")[0]: item.get_attribute("data-status")
                for item in browser.find_elements(By.CSS_SELECTOR, "[data-upload-progress] li[data-status]")}
    assert statuses == {"IMG_CR_IMG_2024.01.xml": "imported", "CANCER-FRCP_2022.01_Appareil.xml": "imported",
                        "HL7-Diagnostic_Imaging_Report.xml": "refused"}
    refused = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "li[data-status=refused]")][0]
    assert "autre patient" in refused
    browser.refresh()
    rows = browser.find_elements(By.CSS_SELECTOR, "[data-test=document-row]")
    assert len(rows) == 2
    rows[0].find_element(By.TAG_NAME, "a").click()
    assert "Scanner" in browser.find_element(By.CSS_SELECTOR, "[data-test=document-title]").text or \
        "RCP" in browser.find_element(By.CSS_SELECTOR, "[data-test=document-title]").text
    body = browser.find_element(By.CSS_SELECTOR, "[data-test=document-body]")
    assert len(body.find_elements(By.TAG_NAME, "h2")) >= 3
    assert csp_violations(browser) == []
