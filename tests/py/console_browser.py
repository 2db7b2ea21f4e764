"""The console and the portal in a real browser (Debian's chromium through
chromium-driver and selenium), against a real `ringhook serve` and a real
receiver run here.

Usage: console_browser.py BASE_URL API_TOKEN SCREENSHOT_DIR
Exits non-zero at the first failed expectation, naming it; saves a
screenshot of each step in SCREENSHOT_DIR.
"""
import base64
import json
import os
import socket
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

XSS_BODY = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
XSS_NAME = 'Shop "><img src=x onerror=alert(3)> <script>alert(4)</script>'


class Receiver:
    """A webhook receiver: answers 200 with an XSS-laden body; records paths."""

    def __init__(self):
        self.got = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                outer.got.append((self.path, self.rfile.read(n)))
                if self.path.startswith("/slow"):
                    time.sleep(1)
                body = XSS_BODY.encode()
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def self_signed(cn):
    """A self-signed P-256 certificate and its key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem_key.decode()


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def api(base, token, method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read()
        return json.loads(text) if text else None


def main() -> int:
    base, token, shots = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(shots, exist_ok=True)
    receiver = Receiver()
    opts = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900", "--disable-gpu"]:
        opts.add_argument(a)
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)
    wait = WebDriverWait(driver, 15)
    step = [0]

    def shot(name):
        step[0] += 1
        driver.save_screenshot(os.path.join(shots, f"{step[0]:02d}-{name}.png"))

    def no_alert(where):
        try:
            text = driver.switch_to.alert.text
            raise AssertionError(f"a script ran ({where}): alert {text!r}")
        except NoAlertPresentException:
            pass

    def click(text, scope=None):
        el = (scope or driver).find_element(By.XPATH, f".//button[normalize-space()='{text}']")
        el.click()
        return el

    def field(label):
        # An XPath string literal: a label may hold an apostrophe.
        quoted = f"'{label}'" if "'" not in label else f'"{label}"'
        lab = driver.find_element(By.XPATH, f"//label[normalize-space()={quoted}]")
        return driver.find_element(By.ID, lab.get_attribute("for"))

    try:
        # Sign in: / redirects to the console, which asks for a token.
        driver.get(base + "/")
        wait.until(EC.presence_of_element_located((By.XPATH, "//h1[normalize-space()='Sign in']")))
        expect(driver.current_url.startswith(base + "/console/"), f"redirected: {driver.current_url}")
        shot("sign-in")
        field("API token").send_keys("not-the-token")
        click("Sign in")
        wait.until(EC.text_to_be_present_in_element((By.ID, "toast"), "not valid"))
        # The keyboard alone signs in: a fresh page focuses the token
        # field, Enter submits.
        driver.refresh()
        wait.until(EC.presence_of_element_located((By.XPATH, "//h1[normalize-space()='Sign in']")))
        active = driver.switch_to.active_element
        expect(active.get_attribute("name") == "token", "the token field has the focus")
        active.send_keys(token + Keys.ENTER)
        wait.until(EC.presence_of_element_located((By.XPATH, "//h1[normalize-space()='Applications']")))

        # An application, through the form; its hostile name is text.
        field("Name").send_keys(XSS_NAME)
        click("Create application")
        wait.until(EC.presence_of_element_located((By.XPATH, "//button[normalize-space()='New endpoint']")))
        expect(driver.find_element(By.TAG_NAME, "h1").text == XSS_NAME, "the app name renders as text")
        no_alert("app name")
        app_id = driver.find_element(By.CSS_SELECTOR, "p.mono").text.strip()
        api(base, token, "PUT", "/api/v1/event-type/order.paid", {
            "description": "An order was paid",
            "schemas": {"1": {"type": "object", "examples": [{"orderId": "o_42", "note": "<b>bold</b>"}]}}})

        # An endpoint, through the form.
        click("New endpoint")
        field("URL").send_keys(receiver.url + "/hook")
        field("Description").send_keys('"><img src=x onerror=alert(5)>')
        field("Event type header (sends the event type in this header)").send_keys("x-alloy-topic")
        driver.find_element(By.XPATH, "//label[contains(., 'Deliver in order')]/input").click()
        # An ed25519 signing key pasted in the form: only its public half is shown after.
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes_raw()
        whsk = "whsk_" + base64.b64encode(key.private_bytes_raw() + public).decode()
        field("Signing key (whsec_ for HMAC, whsk_ for ed25519)").send_keys(whsk)
        click("Create endpoint")
        row = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-endpoint]")))
        expect(receiver.url in row.text, "the endpoint row shows its URL")
        expect('onerror=alert(5)' in row.text, "the description renders as text")
        no_alert("endpoint description")
        shot("endpoints")

        # Send test: the attempt appears inline, with the receiver's hostile
        # body as text.
        click("Send test", row)
        # The registry's schema example is the payload of a test of its type.
        Select(field("Event type")).select_by_value("order.paid")
        expect("o_42" in field("Payload (JSON)").get_attribute("value"), "the schema's example")
        Select(field("Event type")).select_by_value("svix.ping")
        click("Send")
        result = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "dl.attempt")))
        expect("success" in result.text and "200" in result.text, f"the attempt: {result.text}")
        expect(XSS_BODY in result.text, "the response body renders as text")
        no_alert("response body")
        shot("send-test")

        # Inactive: a new message is not delivered; Active again: it is.
        row = driver.find_element(By.CSS_SELECTOR, "tr[data-endpoint]")
        click("Active", row)
        wait.until(EC.presence_of_element_located((By.XPATH, "//tr[@data-endpoint]//button[normalize-space()='Inactive']")))
        ep_id = driver.find_element(By.CSS_SELECTOR, "tr[data-endpoint]").get_attribute("data-endpoint")
        expect(api(base, token, "GET", f"/api/v1/app/{app_id}/endpoint/{ep_id}")["disabled"] is True, "disabled through the toggle")
        expect(api(base, token, "GET", f"/api/v1/app/{app_id}/endpoint/{ep_id}")["eventTypeHeader"] == "x-alloy-topic",
               "the event type header set in the form")
        expect(api(base, token, "GET", f"/api/v1/app/{app_id}/endpoint/{ep_id}")["fifo"] is True, "FIFO chosen in the form")
        shown_key = api(base, token, "GET", f"/api/v1/app/{app_id}/endpoint/{ep_id}/secret")["key"]
        expect(shown_key == "whpk_" + base64.b64encode(public).decode(), f"the form's ed25519 key, public half: {shown_key}")
        before = len(receiver.got)
        m1 = api(base, token, "POST", f"/api/v1/app/{app_id}/msg", {"eventType": "order.paid", "payload": {"n": 1, "html": "<script>alert(6)</script>"}})
        driver.get(f"{base}/console/#/app/{app_id}/msg/{m1['id']}")
        wait.until(EC.presence_of_element_located((By.XPATH, "//*[contains(text(), 'No endpoint takes this message')]")))
        expect(len(receiver.got) == before, "nothing delivered while inactive")
        shot("inactive-message")
        driver.get(f"{base}/console/#/app/{app_id}")
        click("Inactive", wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-endpoint]"))))
        wait.until(EC.presence_of_element_located((By.XPATH, "//tr[@data-endpoint]//button[normalize-space()='Active']")))
        m2 = api(base, token, "POST", f"/api/v1/app/{app_id}/msg", {"eventType": "order.paid", "payload": {"n": 2, "html": "<script>alert(7)</script>", "link": "javascript:alert(10)"}})
        deadline = time.time() + 15
        while not any(b'"n": 2' in b for _, b in receiver.got[before:]):
            expect(time.time() < deadline, "delivered once active again")
            time.sleep(0.1)

        # The message page: payload as text, the attempt, and Resend.
        driver.get(f"{base}/console/#/app/{app_id}/msg/{m2['id']}")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "pre.payload")))
        expect("<script>alert(7)</script>" in driver.find_element(By.CSS_SELECTOR, "pre.payload").text, "payload as text")
        no_alert("payload")
        expect(not driver.find_elements(By.CSS_SELECTOR, "a[href^='javascript:' i]"), "no javascript: link from the payload")
        # A javascript: URL is no endpoint: the form says why, nothing is made.
        driver.get(f"{base}/console/#/app/{app_id}")
        click("New endpoint", wait.until(EC.presence_of_element_located((By.TAG_NAME, "main"))))
        field("URL").send_keys("javascript:alert(9)//")
        click("Create endpoint")
        wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#toast.bad")))
        expect(not driver.find_elements(By.XPATH, "//td[contains(., 'javascript:')]"), "no javascript: endpoint")
        no_alert("javascript: URL")

        # TLS and proxy settings through the form: the CA is shown back,
        # the client certificate and the proxy (which may carry
        # credentials) are not, and saving the edit form untouched keeps
        # all three.
        ca_pem, _ = self_signed("receiver CA")
        client_pem, client_key = self_signed("ringhook client")
        proxy = "http://user:pw@proxy.example:3128"
        driver.get(f"{base}/console/#/app/{app_id}")
        click("New endpoint", wait.until(EC.presence_of_element_located((By.TAG_NAME, "main"))))
        field("URL").send_keys("https://127.0.0.1:1/tls-hook")
        field("CA certificates trusted instead of the engine's (PEM, https only)").send_keys(ca_pem)
        field("Client certificate (PEM, for receivers that require one)").send_keys(client_pem)
        field("Client key (PEM)").send_keys(client_key)
        field("Egress proxy (HTTP CONNECT)").send_keys(proxy)
        click("Create endpoint")
        tls_row = wait.until(EC.presence_of_element_located(
            (By.XPATH, "//tr[@data-endpoint][contains(., 'tls-hook')]")))
        tls_id = tls_row.get_attribute("data-endpoint")
        view = api(base, token, "GET", f"/api/v1/app/{app_id}/endpoint/{tls_id}")
        expect((view.get("caCert") or "").strip() == ca_pem.strip(), "the form's CA, shown back")
        expect(view.get("hasClientCert") is True and view.get("hasProxy") is True, f"client cert and proxy set: {view}")
        expect("pw@" not in json.dumps(view) and "PRIVATE KEY" not in json.dumps(view),
               "neither the proxy's credentials nor the client key in the view")
        click("Edit", tls_row)
        proxy_field = wait.until(lambda d: field("Egress proxy (HTTP CONNECT)"))
        expect("set (not shown)" in proxy_field.get_attribute("placeholder"), "the proxy is set, not shown")
        expect(proxy_field.get_attribute("value") == "", "the proxy's value is not in the page")
        expect("set (not shown)" in field("Client certificate (PEM, for receivers that require one)").get_attribute("placeholder"),
               "the client certificate is set, not shown")
        key_body = client_key.splitlines()[1]
        expect("pw@" not in driver.page_source and key_body not in driver.page_source,
               "no secret of the endpoint in the page")
        click("Save")
        wait.until(EC.text_to_be_present_in_element((By.ID, "toast"), "Endpoint saved"))
        view = api(base, token, "GET", f"/api/v1/app/{app_id}/endpoint/{tls_id}")
        expect((view.get("caCert") or "").strip() == ca_pem.strip() and view.get("hasClientCert") is True
               and view.get("hasProxy") is True, f"an untouched edit keeps all three: {view}")
        shot("endpoint-tls")
        api(base, token, "DELETE", f"/api/v1/app/{app_id}/endpoint/{tls_id}")
        driver.get(f"{base}/console/#/app/{app_id}/msg/{m2['id']}")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "pre.payload")))
        wait.until(EC.presence_of_element_located((By.XPATH, "//td[@data-status='success']")))
        n_before = len(receiver.got)
        click("Resend")
        deadline = time.time() + 15
        while len(receiver.got) == n_before:
            expect(time.time() < deadline, "the resend reached the receiver")
            time.sleep(0.1)
        driver.refresh()
        wait.until(EC.presence_of_element_located((By.XPATH, "//td[contains(., '(manual)')]")))
        shot("message")

        # A failed attempt names why: a port nobody listens on.
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
        probe.close()
        dead = api(base, token, "POST", f"/api/v1/app/{app_id}/endpoint", {"url": f"http://127.0.0.1:{closed_port}/dead", "filterTypes": ["dead.letter"]})
        m3 = api(base, token, "POST", f"/api/v1/app/{app_id}/msg", {"eventType": "dead.letter", "payload": {"n": 3}})
        driver.get(f"{base}/console/#/app/{app_id}/msg/{m3['id']}")
        deadline = time.time() + 15
        while not driver.find_elements(By.CSS_SELECTOR, "td[data-error-kind='connect_refused']"):
            expect(time.time() < deadline, "the refused attempt shows its error kind")
            time.sleep(0.3)
            driver.refresh()
        cell = driver.find_element(By.CSS_SELECTOR, "td[data-error-kind='connect_refused']")
        expect(cell.text == "connect refused", f"the error kind reads: {cell.text}")

        # A rule, through the Rules form, watching that endpoint: it fires.
        driver.get(f"{base}/console/#/rules")
        wait.until(EC.presence_of_element_located((By.XPATH, "//h1[normalize-space()='Rules']")))
        field("Name").send_keys("dead endpoint")
        Select(field("Scope")).select_by_value("endpoint")
        field("Application").send_keys(app_id)
        field("Endpoint, event type or source").send_keys(dead["id"])
        Select(field("Signal")).select_by_value("consecutive_failures")
        Select(field("Comparison")).select_by_value(">=")
        threshold = field("Threshold")
        threshold.clear()
        threshold.send_keys("1")
        cooldown = field("Cooldown (seconds)")
        cooldown.clear()
        cooldown.send_keys("0")
        click("Create rule")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-rule]")))
        deadline = time.time() + 20
        while not driver.find_elements(By.CSS_SELECTOR, "td[data-rule-state='firing']"):
            expect(time.time() < deadline, "the rule shows firing")
            time.sleep(0.3)
            driver.refresh()
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-rule]")))
        shot("rules")
        api(base, token, "DELETE", f"/api/v1/app/{app_id}/endpoint/{dead['id']}")

        # The message log, filtered by event type.
        driver.get(f"{base}/console/#/app/{app_id}/msg")
        Select(wait.until(lambda d: field("Event type"))).select_by_value("order.paid")
        click("Filter")
        wait.until(EC.presence_of_element_located((By.XPATH, f"//a[normalize-space()='{m2['id']}']")))
        # By an endpoint's delivery status: delivered ones under success,
        # none under fail.
        Select(field("Endpoint")).select_by_value(ep_id)
        Select(field("Delivery status")).select_by_visible_text("success")
        click("Filter")
        wait.until(EC.presence_of_element_located((By.XPATH, f"//a[normalize-space()='{m2['id']}']")))
        Select(field("Delivery status")).select_by_visible_text("fail")
        click("Filter")
        wait.until(lambda d: not d.find_elements(By.XPATH, f"//a[normalize-space()='{m2['id']}']"))
        shot("messages")

        # A narrow window (a phone): nothing wider than the screen.
        driver.set_window_size(390, 844)
        driver.get(f"{base}/console/#/app/{app_id}")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-endpoint]")))
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        expect(overflow <= 0, f"the page is {overflow}px wider than a narrow window")
        shot("narrow")
        driver.set_window_size(1280, 900)

        # The dashboard: charts of the engine's own samples, the rule that
        # fires, and a slow receiver's backlog among the longest.
        slow = api(base, token, "POST", f"/api/v1/app/{app_id}/endpoint", {"url": receiver.url + "/slow", "filterTypes": ["slow.one"]})
        for n in range(12):
            api(base, token, "POST", f"/api/v1/app/{app_id}/msg", {"eventType": "slow.one", "payload": {"n": n}})
        deadline = time.time() + 20
        while True:
            driver.get(f"{base}/console/#/dashboard")
            wait.until(EC.presence_of_element_located((By.XPATH, "//h2[normalize-space()='Rules firing']")))
            if driver.find_elements(By.CSS_SELECTOR, f"tr[data-backlog='{slow['id']}']"):
                break
            expect(time.time() < deadline, "the slow endpoint among the longest backlogs")
            time.sleep(0.5)
        expect(driver.find_elements(By.CSS_SELECTOR, "li[data-firing]"), "the firing rule on the dashboard")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "svg.chart polyline")))
        charts = driver.find_elements(By.CSS_SELECTOR, "svg.chart")
        expect(len(charts) == 4, f"four charts, got {len(charts)}")
        expect(not driver.find_elements(By.XPATH, "//*[contains(@class,'error')]"), "no error on the dashboard")
        legend = driver.find_element(By.CSS_SELECTOR, "ul.legend").text
        expect("delivered" in legend, legend)
        shot("dashboard")

        # The portal: only its application, whatever the address asks for.
        other = api(base, token, "POST", "/api/v1/app", {"name": "Someone else"})
        portal = api(base, token, "POST", f"/api/v1/auth/app-portal-access/{app_id}", {"capabilities": ["ViewBase", "CreateAttempts"]})
        driver.delete_all_cookies()
        driver.get(portal["url"])
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-endpoint]")))
        expect(driver.find_element(By.TAG_NAME, "h1").text == XSS_NAME, "the portal shows its application")
        expect(not driver.find_elements(By.XPATH, "//button[normalize-space()='New endpoint']"), "no ManageEndpoint, no New endpoint")
        expect("token=" not in driver.current_url, "the token leaves the address bar")
        shot("portal")
        driver.get(f"{base}/portal/#/app/{other['id']}")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-endpoint]")))
        expect(driver.find_element(By.TAG_NAME, "h1").text == XSS_NAME, "another application is out of reach")
        no_alert("portal")
        print(json.dumps({"ok": True, "screenshots": step[0]}))
        return 0
    except Exception:
        shot("failure")
        raise
    finally:
        driver.quit()
        receiver.server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
