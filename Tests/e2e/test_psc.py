"""A physician logs in with Pro Santé Connect (the local PSC-like provider), then logs out there too."""
import json
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_login import csp_violations, submit_and_wait


def test_physician_logs_in_with_pro_sante_connect_and_out(server, browser):
    browser.get(server["base"] + "/login")
    button = browser.find_element(By.LINK_TEXT, "Se connecter avec Pro Santé Connect")
    submit_and_wait(browser, button)
    # At the provider: pick the test professional (a CPS card or e-CPS, simulated).
    assert browser.current_url.startswith(server["psc"]["issuer"] + "/protocol/openid-connect/auth?")
    choice = browser.find_element(By.XPATH, "//button[contains(., 'Olivier Oncologue')]")
    submit_and_wait(browser, choice)
    WebDriverWait(browser, 10).until(lambda driver: driver.current_url == server["base"] + "/")
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert "Dr Olivier Oncologue" in heading
    assert "RCP Nouvelle-Aquitaine Sud" in browser.page_source

    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "[data-test=logout]"))
    # The provider ended its session and sent the browser back to the login page.
    WebDriverWait(browser, 10).until(lambda driver: driver.current_url.startswith(server["base"] + "/login"))
    assert "déconnecté" in browser.page_source
    log = json.load(urllib.request.urlopen(server["psc"]["issuer"].split("/auth/")[0] + "/_test/log", timeout=5))
    assert log["logouts"] and log["logouts"][-1]["id_token_hint"] is True
    browser.get(server["base"] + "/")
    assert browser.current_url.startswith(server["base"] + "/login")
    assert csp_violations(browser) == []
