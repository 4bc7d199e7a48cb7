"""A clinician's first minutes: log in with a printed demo account, see the dashboard, log out."""
import urllib.parse

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait


def submit_and_wait(browser, button):
    """Clicks a submit button and waits until the next page has replaced this one."""
    page = browser.find_element(By.TAG_NAME, "html")
    button.click()

    def replaced(_driver):
        try:
            page.tag_name
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            # Chromium may answer for a node of the page being left with "does not belong
            # to the document" instead of a stale reference: the page is gone all the same.
            if "does not belong to the document" in str(error):
                return True
            raise

    wait = WebDriverWait(browser, 10)
    wait.until(replaced)
    wait.until(lambda driver: driver.execute_script("return document.readyState") == "complete")


def log_in(browser, server, email, password):
    browser.get(server["base"] + "/login")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(password)
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]"))


def csp_violations(browser):
    return [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_demo_accounts_are_printed(server):
    roles = server["accounts"]
    assert {"admin", "coordinator", "physician", "secretary"} <= set(roles)
    assert len(roles["physician"]) >= 2


def test_physician_logs_in_sees_dashboard_and_logs_out(server, browser):
    email, password = server["accounts"]["physician"][0]
    log_in(browser, server, email, password)
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading.startswith("Bonjour")
    assert "Vos communautés de partage" in browser.page_source
    assert browser.find_elements(By.CSS_SELECTOR, "ul.list li"), "the physician's community is listed"
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "[data-test=logout]"))
    assert "Vous êtes déconnecté·e." in browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    browser.get(server["base"] + "/")
    assert browser.current_url.endswith("/login")
    assert csp_violations(browser) == []


def test_failed_login_shows_the_french_error(server, browser):
    email, _ = server["accounts"]["secretary"][0]
    log_in(browser, server, email, "pas le bon mot de passe")
    error = browser.find_element(By.ID, "login-error").text
    assert error == "Adresse e-mail ou mot de passe incorrect."
    assert browser.find_element(By.ID, "email").get_attribute("value") == email


def test_language_can_be_switched_to_english(server, browser):
    browser.get(server["base"] + "/login")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Connexion"
    Select(browser.find_element(By.ID, "language-select")).select_by_value("en")
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, ".language-form button"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Log in"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"


def test_unknown_page_is_a_french_404(server, browser):
    browser.get(server["base"] + "/nulle-part")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Page introuvable"


def test_login_never_redirects_off_site(server, browser):
    """Attack: `next=/<TAB>/evil.example` was answered as is, and Chromium followed it to
    //evil.example. Each payload is put in the login form's hidden field, as a crafted link
    or a tampered form would, and the browser must land on Concerto's own dashboard."""
    email, password = server["accounts"]["physician"][0]
    base_host = urllib.parse.urlsplit(server["base"]).netloc
    for payload in ["/\t/evil.example", "/%09/evil.example", "//evil.example", "/\\evil.example",
                    "https://evil.example", "/%2F%2Fevil.example", "javascript:alert(1)"]:
        browser.get(server["base"] + "/login?next=" + urllib.parse.quote(payload, safe=""))
        browser.execute_script("document.querySelector('input[name=next]').value = arguments[0]", payload)
        browser.find_element(By.ID, "email").send_keys(email)
        browser.find_element(By.ID, "password").send_keys(password)
        submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]"))
        landed = urllib.parse.urlsplit(browser.current_url)
        assert landed.netloc == base_host, (payload, browser.current_url)
        assert landed.path == "/", (payload, browser.current_url)
        assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Bonjour")
        submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "[data-test=logout]"))
