"""The RCP workflow as a board meets it: a coordinator plans, an oncologist registers a
case, the séance checks in three specialties, decides and validates; the oncologist reads
the proposal."""
import datetime
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from test_login import csp_violations, log_in, submit_and_wait
from test_patients import account, open_patient


def set_value(browser, element_id, value):
    field = browser.find_element(By.ID, element_id)
    # Date and time inputs take their value in ISO form whatever the browser's locale.
    browser.execute_script("arguments[0].value = arguments[1]", field, value)


def test_coordinator_creates_a_series_and_sees_its_meetings(server, browser):
    log_in(browser, server, *account(server, "coordination"))
    browser.get(server["base"] + "/meetings")
    browser.find_element(By.CSS_SELECTOR, "[data-test=new-series]").click()
    Select(browser.find_element(By.ID, "community")).select_by_visible_text("RCP Nouvelle-Aquitaine Sud")
    browser.find_element(By.ID, "title").send_keys("RCP sénologie")
    Select(browser.find_element(By.ID, "kind")).select_by_value("organ")
    browser.find_element(By.CSS_SELECTOR, "input[name='organ_76752008']").click()
    set_value(browser, "interval", "2")
    Select(browser.find_element(By.ID, "weekday")).select_by_value("2")
    set_value(browser, "first_date", datetime.date.today().isoformat())
    set_value(browser, "start_time", "08:30")
    browser.find_element(By.ID, "place").send_keys("Salle 4")
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "[data-test=save-meeting]"))
    assert browser.current_url.endswith("/meetings")
    assert "Série créée" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    series = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "[data-test=series]")]
    assert any("RCP sénologie" in row and "toutes les 2 semaines, le mardi" in row for row in series)
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "[data-test=meeting-row]") if "RCP sénologie" in row.text]
    # Every other Tuesday over the next three months: six or seven meetings, all at 08:30.
    assert 6 <= len(rows) <= 7
    assert all("08:30" in row for row in rows)
    assert csp_violations(browser) == []

    # A series without a place is refused with a French message and nothing is stored.
    browser.find_element(By.CSS_SELECTOR, "[data-test=new-series]").click()
    browser.find_element(By.ID, "title").send_keys("RCP sans lieu")
    browser.find_element(By.CSS_SELECTOR, "input[name='organ_76752008']").click()
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "[data-test=save-meeting]"))
    assert "Indiquez un lieu" in browser.find_element(By.CSS_SELECTOR, "[data-test=form-error]").text
    browser.get(server["base"] + "/meetings")
    assert "RCP sans lieu" not in browser.page_source


def test_a_case_goes_from_draft_to_a_validated_proposal(server, browser):
    # The oncologist writes a new fiche for Louise and registers it on today's board.
    log_in(browser, server, *account(server, "oncologue"))
    open_patient(browser, server, "RCP Nouvelle-Aquitaine Sud", "BERNARD Louise")
    browser.find_element(By.CSS_SELECTOR, "[data-test=new-case]").click()
    Select(browser.find_element(By.ID, "presentation_reason")).select_by_value("relapse")
    browser.find_element(By.ID, "tumour_site").send_keys("C50.4")
    browser.find_element(By.ID, "ct").send_keys("T2")
    browser.find_element(By.ID, "summary").send_keys("Récidive locale du sein gauche, 2 ans après tumorectomie.")
    browser.find_element(By.ID, "question").send_keys("Mastectomie de rattrapage ?")
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "[data-test=save-case]"))
    assert browser.find_element(By.CSS_SELECTOR, "[data-test=case-status]").text == "brouillon"
    case_url = browser.current_url
    select = Select(browser.find_element(By.ID, "meeting"))
    today = next(option.text for option in select.options if "RCP thoracique" in option.text)
    select.select_by_visible_text(today)
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "[data-test=register-case]"))
    assert browser.find_element(By.CSS_SELECTOR, "[data-test=case-status]").text == "inscrit"
    assert csp_violations(browser) == []

    # The coordinator runs the séance: quorum turns green with the third specialty.
    browser.delete_all_cookies()
    log_in(browser, server, *account(server, "coordination"))
    browser.get(server["base"] + "/meetings")
    today_row = next(row for row in browser.find_elements(By.CSS_SELECTOR, "[data-test=meeting-row]") if "RCP thoracique" in row.text)
    today_row.find_element(By.TAG_NAME, "a").click()
    browser.find_element(By.CSS_SELECTOR, "[data-test=session-link]").click()
    session_url = browser.current_url
    assert browser.find_element(By.CSS_SELECTOR, "[data-test=quorum]").get_attribute("data-quorum") == "not-met"

    def check_in(name, specialty):
        row = browser.find_element(By.CSS_SELECTOR, f"[data-test=attendee][data-name='{name}']")
        Select(row.find_element(By.NAME, "specialty")).select_by_value(specialty)
        Select(row.find_element(By.NAME, "status")).select_by_value("present")
        submit_and_wait(browser, row.find_element(By.CSS_SELECTOR, "[data-test=check-in]"))
        return browser.find_element(By.CSS_SELECTOR, "[data-test=quorum]").get_attribute("data-quorum")

    assert check_in("Dr Olivier Oncologue", "G15_10/SM36") == "not-met"
    assert check_in("Dr Hugo Chirurgien", "G15_10/SM11") == "not-met"
    assert check_in("Dr Rémi Radiothérapeute", "G15_10/SM37") == "met"
    assert "Quorum atteint" in browser.find_element(By.CSS_SELECTOR, "[data-test=quorum]").text

    agenda = browser.find_element(By.CSS_SELECTOR, "[data-test=session-agenda]")
    louise = next(item for item in agenda.find_elements(By.TAG_NAME, "li") if "BERNARD Louise" in item.text)
    submit_and_wait(browser, louise.find_element(By.TAG_NAME, "button"))
    current = browser.find_element(By.CSS_SELECTOR, "[data-test=current-case]")
    assert "BERNARD Louise" in current.text
    assert "Mastectomie de rattrapage ?" in current.find_element(By.CSS_SELECTOR, "[data-test=case-question]").text
    form = browser.find_element(By.CSS_SELECTOR, "[data-test=decision-form]")
    form.find_element(By.CSS_SELECTOR, "input[name='type_surgery']").click()
    form.find_element(By.ID, "proposal").send_keys("Mastectomie totale gauche de rattrapage, puis avis d'oncogénétique.")
    submit_and_wait(browser, form.find_element(By.CSS_SELECTOR, "[data-test=record-decision]"))
    assert browser.current_url == session_url
    assert browser.find_element(By.CSS_SELECTOR, "[data-test=current-status]").text == "discuté"
    assert "Quorum atteint" in browser.find_element(By.CSS_SELECTOR, "[data-test=current-case] [data-test=decision]").text
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "[data-test=validate-decision]"))
    assert browser.find_element(By.CSS_SELECTOR, "[data-test=current-status]").text == "validé"
    assert csp_violations(browser) == []

    # The oncologist reads the validated proposal; the fiche is now read-only.
    browser.delete_all_cookies()
    log_in(browser, server, *account(server, "oncologue"))
    browser.get(case_url)
    assert browser.find_element(By.CSS_SELECTOR, "[data-test=case-status]").text == "validé"
    assert "Mastectomie totale gauche de rattrapage" in browser.find_element(By.CSS_SELECTOR, "[data-test=decision-proposal]").text
    assert browser.find_element(By.CSS_SELECTOR, "[data-test=read-only]")
    assert "nouvelle version" in browser.find_element(By.CSS_SELECTOR, "[data-test=edit-case]").text
    assert csp_violations(browser) == []


def test_search_and_agenda_print(server, browser):
    log_in(browser, server, *account(server, "oncologue"))
    browser.get(server["base"] + "/cases")
    browser.find_element(By.CSS_SELECTOR, "[data-test=search-query]").send_keys("sigmoide")
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "[data-test=search]"))
    results = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "[data-test=result]")]
    assert len(results) == 1 and "LAMBERT Jean" in results[0] and "validé" in results[0]
    # The past board from the demo data: its agenda lists both validated decisions.
    browser.get(server["base"] + "/meetings")
    past = browser.find_element(By.ID, "past-title").find_element(By.XPATH, "..")
    past.find_element(By.PARTIAL_LINK_TEXT, "RCP thoracique").click()
    browser.find_element(By.CSS_SELECTOR, "[data-test=agenda-link]").click()
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "[data-test=agenda-row]")]
    assert len(rows) == 2 and all("validé" in row for row in rows)
    assert csp_violations(browser) == []
