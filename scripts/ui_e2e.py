"""The dashboard in a real browser (scripts/test-ui.sh runs it): Debian's headless Chromium
driven by Selenium through Debian's chromedriver. Signs in with a token, opens every page,
approves a pending promotion, rolls back, and checks after each action that the page shows
the new state; at phone width nothing overflows; the browser console logged no error; a
predictor's token sees no approve or deploy button. Screenshots go to the directory given.

Usage: ui_e2e.py <base url> <admin token> <predictor token> <project> <screenshot dir>
"""
import os
import re
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, ADMIN, PREDICTOR, PROJECT, SHOTS = sys.argv[1:6]
os.makedirs(SHOTS, exist_ok=True)


def browser():
    """Headless Chromium; its start is retried (a busy machine can make it miss its timeout)."""
    for attempt in range(3):
        try:
            return start_browser()
        except WebDriverException as e:
            print(f"   browser did not start (attempt {attempt + 1}): {str(e).splitlines()[0]}")
    raise SystemExit("ui-e2e: FAILED: Chromium did not start")


def start_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def submit(driver, element):
    """Clicks a button or link that loads a page, and waits until the new page is there."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def old_page_gone(_):
        # Selenium's staleness_of expects StaleElementReferenceException; chromedriver may also
        # answer "Node with given id does not belong to the document" for a replaced page
        try:
            old.tag_name
            return False
        except WebDriverException:
            return True

    WebDriverWait(driver, 10).until(old_page_gone)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")


def check(condition, what):
    if not condition:
        raise SystemExit(f"ui-e2e: FAILED: {what}")
    print(f"   ok: {what}")


def text(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def sign_in(driver, token):
    driver.get(BASE + "/ui")
    check(driver.current_url.endswith("/ui/signin"), "an anonymous visit goes to the sign-in page")
    driver.find_element(By.ID, "token").send_keys(token)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/ui/signin'] button"))
    check(driver.current_url.rstrip("/").endswith("/ui"), "signing in opens the projects page")


def shot(driver, name):
    path = os.path.join(SHOTS, name + ".png")
    # the whole page: the window grows to the document's height for the screenshot
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.execute_script("return window.innerWidth")
    driver.set_window_size(width, min(max(height + 120, 600), 6000))
    driver.save_screenshot(path)
    print(f"   screenshot {path}")


def stage_model(driver, stage):
    for row in driver.find_elements(By.CSS_SELECTOR, "#stages-table tbody tr"):
        cells = row.find_elements(By.TAG_NAME, "td")
        if cells[0].text == stage:
            return cells[1].text
    return None


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def run(driver):
    sign_in(driver, ADMIN)
    check(PROJECT in text(driver, "#projects"), f"the projects page lists {PROJECT}")
    shot(driver, "projects")

    submit(driver, driver.find_element(By.LINK_TEXT, PROJECT))
    check(driver.find_elements(By.CSS_SELECTOR, "#metric svg.chart circle.serving"), "the metric chart marks the serving model")
    check("serving — " in text(driver, "#metric svg.chart g.legend") and "production: model 1" in text(driver, "#metric svg.chart g.legend"),
          "the metric chart's legend says which stage each marked model serves: " + text(driver, "#metric svg.chart g.legend"))
    # monitoring: the live metric over time beside the test split's, open alerts, logging settings
    check(driver.find_elements(By.CSS_SELECTOR, "#live svg.chart polyline.series"), "the live chart draws model 1's line")
    check(driver.find_elements(By.CSS_SELECTOR, "#live svg.chart line.series.test"), "the live chart shows the test-split value")
    live = text(driver, "#live-table")
    check("production" in live and "150" in live, "the live table counts the 150 logged predictions: " + live)
    check("accuracy drop" in text(driver, "#alerts-table"), "the open alert is listed")
    check("30 days" in text(driver, "#logging"), "the logging settings are shown")
    check(stage_model(driver, "production") == "1", "production serves model 1")
    check(stage_model(driver, "staging") == "2", "staging serves model 2")
    approve = driver.find_elements(By.CSS_SELECTOR, "#requests-table form[action$='/approve'] button")
    check(len(approve) == 1, "a pending promotion has an approve button")
    driver.set_window_size(1280, 1000)
    shot(driver, "project")
    driver.set_window_size(1280, 1000)

    form = driver.find_element(By.CSS_SELECTOR, "#requests-table form[action$='/approve']")
    form.find_element(By.NAME, "comment").send_keys("checked the metrics")
    submit(driver, form.find_element(By.TAG_NAME, "button"))
    check("promoted" in text(driver, ".flash.ok"), "approving shows the promotion: " + text(driver, ".flash"))
    check(stage_model(driver, "production") == "2", "after the approval production serves model 2")
    check(not driver.find_elements(By.CSS_SELECTOR, "#requests-table"), "no request is pending any more")

    # a rollback of production says why and is confirmed: without the box ticked it is refused
    rollback = driver.find_element(By.CSS_SELECTOR, "form[action$='/rollback']")
    rollback.find_element(By.NAME, "reason").send_keys("model 2 mislabels setosa")
    submit(driver, rollback.find_element(By.TAG_NAME, "button"))
    check("takes a confirmation" in text(driver, ".flash.error"), "an unconfirmed rollback of production is refused: " + text(driver, ".flash"))
    check(stage_model(driver, "production") == "2", "after the refusal production still serves model 2")
    rollback = driver.find_element(By.CSS_SELECTOR, "form[action$='/rollback']")
    rollback.find_element(By.NAME, "reason").send_keys("model 2 mislabels setosa")
    rollback.find_element(By.NAME, "confirm").click()
    submit(driver, rollback.find_element(By.TAG_NAME, "button"))
    check("Rolled production back" in text(driver, ".flash.ok"), "rolling back says so")
    check("model 2 mislabels setosa" in text(driver, "#audit-table"), "the audit trail records the reason")
    check(stage_model(driver, "production") == "1", "after the rollback production serves model 1 again")
    first = driver.find_elements(By.CSS_SELECTOR, "#timeline-table tbody tr")[0].text
    check("rollback" in first and "serving" in first, "the timeline shows the rollback, serving now")
    check(re.search(r"\d\d:\d\d:\d\d [A-Za-z][A-Za-z0-9+-]*", first), "its time says its time zone: " + first)

    # a refusal of the database, readable: rolling back staging, which has no earlier model
    rollback = driver.find_element(By.CSS_SELECTOR, "form[action$='/rollback']")
    Select(rollback.find_element(By.NAME, "stage")).select_by_visible_text("staging")
    rollback.find_element(By.NAME, "reason").send_keys("try staging")
    submit(driver, rollback.find_element(By.TAG_NAME, "button"))
    error = text(driver, ".flash.error")
    check(error.startswith("Refused:") and "SQLSTATE" in error, "a refusal is shown in the database's words: " + error)

    # the rollout running on staging: listed with its arms, stopped with its button
    rollouts = text(driver, "#rollouts-table")
    check("running" in rollouts and "shadow" in rollouts and "staging" in rollouts, "the running rollout is listed: " + rollouts)
    stop = driver.find_element(By.CSS_SELECTOR, "form[action$='/rollouts/stop']")
    check("staging" in stop.text, "its stop button names the stage: " + stop.text)
    submit(driver, stop.find_element(By.TAG_NAME, "button"))
    check("stopped" in text(driver, ".flash.ok"), "stopping the rollout says so: " + text(driver, ".flash"))
    check("running" not in text(driver, "#rollouts-table") and "stopped" in text(driver, "#rollouts-table"),
          "the rollout is listed as stopped: " + text(driver, "#rollouts-table"))
    check(not driver.find_elements(By.CSS_SELECTOR, "form[action$='/rollouts/stop']"), "no stop button is left")

    # the models table sorts and filters on the server, by links and a GET form
    project_url = BASE + "/ui/projects/" + PROJECT.replace(" ", "%20")
    form = driver.find_element(By.ID, "models-filter")
    Select(form.find_element(By.NAME, "algorithm")).select_by_visible_text("xgboost")
    submit(driver, form.find_element(By.TAG_NAME, "button"))
    algorithms = [r.find_elements(By.TAG_NAME, "td")[1].text for r in driver.find_elements(By.CSS_SELECTOR, "#models-table tbody tr")]
    check(algorithms and set(algorithms) == {"xgboost"}, f"filtered by algorithm, only xgboost models are listed: {algorithms}")
    check("algorithm=xgboost" in driver.current_url, "the filter is in the page's address: " + driver.current_url)
    driver.get(project_url + "?sort=metric&order=asc")
    values = [float(r.find_elements(By.TAG_NAME, "td")[3].text) for r in driver.find_elements(By.CSS_SELECTOR, "#models-table tbody tr")]
    check(values == sorted(values) and len(values) >= 2, f"sorted by the metric, ascending: {values}")
    submit(driver, driver.find_element(By.CSS_SELECTOR, "#models-table thead a[href*='sort=metric']"))
    values = [float(r.find_elements(By.TAG_NAME, "td")[3].text) for r in driver.find_elements(By.CSS_SELECTOR, "#models-table tbody tr")]
    check(values == sorted(values, reverse=True), f"its header link sorts it the other way: {values}")
    # two models side by side, the differences marked
    form = driver.find_element(By.ID, "compare-form")
    form.find_element(By.NAME, "models").send_keys("1,2")
    submit(driver, form.find_element(By.TAG_NAME, "button"))
    compared = text(driver, "#compare-table")
    check("xgboost" in compared and "f1" in compared, "the comparison lists algorithms and metrics: " + compared[:200])
    check(driver.find_elements(By.CSS_SELECTOR, "#compare-table td.diff"), "the comparison marks what differs")
    driver.get(project_url)

    submit(driver, driver.find_element(By.CSS_SELECTOR, "#models-table a[href='/ui/models/2']"))
    check("xgboost" in driver.find_element(By.TAG_NAME, "h1").text, "the model page names its algorithm")
    check(driver.find_elements(By.CSS_SELECTOR, "#hyperparams-table tbody tr"), "the model page lists hyperparameters")
    check("fit_time" in text(driver, "#metrics-table"), "the model page lists every metric")
    check("sepal_length" in text(driver, "#schema-table"), "the model page shows the feature schema")
    check("Live metrics" in text(driver, "#live"), "the model page has its live metrics")
    check(driver.find_elements(By.CSS_SELECTOR, "#drift svg.chart rect.bar"), "the model page charts its latest drift check")
    # how it did on its test split: the confusion matrix (its counts add up to the rows) and
    # the ROC and precision-recall curves of each class
    counts = [int(c.text) for c in driver.find_elements(By.CSS_SELECTOR, "#confusion-table tbody td")]
    rows = int(text(driver, "#evaluation p").split()[0])
    check(len(counts) == 9 and sum(counts) == rows, f"the confusion matrix counts the {rows} test rows: {counts}")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#evaluation svg.chart polyline.series")) == 6,
          "ROC and precision-recall curves for each of the 3 classes")
    check("AUC" in text(driver, "#evaluation"), "the curves' legends give their areas")
    shot(driver, "model")

    # a phone's width: nothing wider than the screen
    driver.set_window_size(390, 844)
    for path in ("/ui", "/ui/projects/" + PROJECT.replace(" ", "%20"), "/ui/models/2",
                 "/ui/projects/" + PROJECT.replace(" ", "%20") + "/compare?models=1,2"):
        driver.get(BASE + path)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        check(overflow <= 1, f"{path} fits a 390 px screen (overflow {overflow} px)")
    driver.get(BASE + "/ui/projects/" + PROJECT.replace(" ", "%20"))
    height = driver.execute_script(
        "return Math.min(...[...document.querySelectorAll('#metric svg.chart text')].map(t => t.getBoundingClientRect().height))")
    check(height >= 8, f"the chart's labels stay readable on a 390 px screen ({height:.1f} px high)")
    shot(driver, "project-phone")

    errors = console_errors(driver)
    check(not errors, f"the browser console logged no error {errors}")

    driver.set_window_size(1280, 1000)
    driver.get(BASE + "/ui")
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/ui/signout'] button"))
    check(driver.current_url.endswith("/ui/signin"), "signing out returns to the sign-in page")
    driver.get(BASE + "/ui")
    check(driver.current_url.endswith("/ui/signin"), "after signing out the pages ask to sign in")

    sign_in(driver, PREDICTOR)
    driver.get(BASE + "/ui/projects/" + PROJECT.replace(" ", "%20"))
    check(not driver.find_elements(By.CSS_SELECTOR, "form[action$='/deploy'], form[action$='/rollback'], form[action$='/approve']"),
          "a predictor's token sees the project without deploy, rollback or approve buttons")
    check(stage_model(driver, "production") == "1", "and sees what production serves")
    errors = console_errors(driver)
    check(not errors, f"the browser console logged no error {errors}")


def explain(driver, error):
    """What the page showed when a step failed, and a screenshot of it."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    print(f"ui-e2e: FAILED: {type(error).__name__}: {first}")
    try:
        print(f"   at {driver.current_url}: {driver.title}")
        for flash in driver.find_elements(By.CSS_SELECTOR, ".flash"):
            print(f"   message on the page: {flash.text}")
        driver.save_screenshot(os.path.join(SHOTS, "failure.png"))
        print(f"   screenshot {os.path.join(SHOTS, 'failure.png')}")
    except WebDriverException:
        pass


driver = browser()
try:
    run(driver)
except (WebDriverException, SystemExit) as error:
    explain(driver, error)
    sys.exit(1)
finally:
    driver.quit()
print("ui-e2e: all passed")
