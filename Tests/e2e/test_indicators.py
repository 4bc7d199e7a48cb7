"""After the board (issue 20), as a 3C coordinator uses it: the community's indicators with
their charts, a narrower period, the CSV and the annual report downloaded."""
import os
import subprocess
import tempfile

from selenium.webdriver.common.by import By

from test_exports import wait_for_download
from test_login import csp_violations, log_in, submit_and_wait
from test_patients import account


def figures(browser):
    items = browser.find_elements(By.CSS_SELECTOR, "[data-test=indicators-figures] dt, [data-test=indicators-figures] dd")
    texts = [item.text for item in items]
    return dict(zip(texts[0::2], texts[1::2]))


def test_coordinator_reads_the_indicators_changes_the_period_and_downloads_them(server, browser):
    folder = tempfile.mkdtemp(prefix="concerto-downloads-")
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": folder})
    log_in(browser, server, *account(server, "coordination"))
    browser.get(server["base"] + "/")
    browser.find_element(By.LINK_TEXT, "RCP Nouvelle-Aquitaine Sud").click()
    browser.find_element(By.CSS_SELECTOR, "[data-test=indicators-link]").click()

    # The demo's six months of thoracic boards: figures, both charts, the tables beside them.
    year = figures(browser)
    assert int(year["Fiches discutées"]) >= 50, year
    assert int(year["Réunions tenues"]) >= 20, year
    assert year["Dossiers complets à la discussion"] != "—", year
    for chart in ("months", "sites"):
        svg = browser.find_element(By.CSS_SELECTOR, f"[data-test=chart-{chart}]")
        assert svg.get_attribute("role") == "img" and svg.find_elements(By.CSS_SELECTOR, "rect")
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-test=indicators-table]")) == 4

    # The last two months only: fewer fiches, and the period says so.
    start = subprocess.run(["date", "-d", "-60 days", "+%Y-%m-%d"], capture_output=True, text=True, check=True).stdout.strip()
    field = browser.find_element(By.ID, "from")
    browser.execute_script("arguments[0].value = arguments[1]", field, start)
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "[data-test=indicators-apply]"))
    assert f"from={start}" in browser.current_url
    narrower = figures(browser)
    assert 0 < int(narrower["Fiches discutées"]) < int(year["Fiches discutées"]), (narrower, year)
    assert "/".join(reversed(start.split("-"))) in browser.find_element(By.CSS_SELECTOR, "[data-test=indicators-period-label]").text

    browser.find_element(By.CSS_SELECTOR, "[data-test=indicators-csv]").click()
    csv = wait_for_download(folder, ".csv")
    with open(csv, encoding="utf-8-sig") as handle:
        text = handle.read()
    assert f"Fiches discutées;{narrower['Fiches discutées']}" in text and "Délai;Médiane;90e percentile;Fiches" in text

    browser.find_element(By.CSS_SELECTOR, "[data-test=indicators-pdf]").click()
    report = wait_for_download(folder, ".pdf")
    with open(report, "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    pdf_text = subprocess.run(["pdftotext", "-layout", report, "-"], capture_output=True, text=True, check=True).stdout
    assert "Rapport d'activité des RCP" in pdf_text and "Fiches discutées par mois" in pdf_text
    assert not csp_violations(browser)
    for path in (csv, report):
        os.remove(path)
