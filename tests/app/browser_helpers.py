"""Helpers of the browser tests (a uniquely named module, as ``app_helpers``): waiting for the
page's state, uploading, clicking an image pixel, phone-sized viewports and the axe-core
accessibility check."""

from __future__ import annotations

import os

import numpy as np
import pytest

WAIT = 60  # seconds; an analysis takes ~0.2 s here, the first one traces the graph
#: axe-core impacts a page must not have
BLOCKING = ("serious", "critical")


def by(css):
    from selenium.webdriver.common.by import By

    return By.CSS_SELECTOR, css


def page_state(driver) -> str:
    return driver.find_element(*by("body")).get_attribute("data-state")


def wait_state(driver, states, timeout=WAIT) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: page_state(d) in states)
    return page_state(driver)


def wait_for(driver, condition, timeout=WAIT, message=""):
    """``condition(driver)``'s first truthy value; on a timeout, fails with ``message`` (a
    text, or a function of the driver that reads what the page says instead)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout).until(condition)
    except TimeoutException:
        said = message(driver) if callable(message) else message
        pytest.fail(f"waited {timeout} s in vain: {said or 'the condition never held'}")


def open_page(driver, url):
    driver.get(url)
    wait_state(driver, {"idle"})
    return driver


def upload(driver, path) -> str:
    driver.execute_script("document.body.dataset.state = 'idle'")
    driver.find_element(*by("#file-input")).send_keys(str(path))
    return wait_state(driver, {"done", "error"})


def visible_tags(driver) -> list[str]:
    return [
        tag.find_element(*by(".name")).text
        for tag in driver.find_elements(*by("#overlay .tag"))
        if tag.is_displayed()
    ]


def click_image_pixel(driver, x: float, y: float, width: int, height: int) -> None:
    """Click the photo at image pixel (x, y) of a ``width`` x ``height`` image."""
    from selenium.webdriver.common.action_chains import ActionChains

    photo = driver.find_element(*by("#photo"))
    w, h = photo.size["width"], photo.size["height"]
    dx = (x + 0.5) * w / width - w / 2  # offsets are from the element's centre
    dy = (y + 0.5) * h / height - h / 2
    ActionChains(driver).move_to_element_with_offset(photo, round(dx), round(dy)).click().perform()


def inner_pixel(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) of the mask pixel nearest its centroid."""
    ys, xs = np.nonzero(mask)
    k = np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2)
    return int(xs[k]), int(ys[k])


def selected(driver) -> int:
    return driver.execute_script("return state.selected")


def set_viewport(driver, width: int, height: int, mobile: bool) -> None:
    """Emulate a device viewport (CSS px) through the DevTools protocol."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 2 if mobile else 1,
         "mobile": mobile},
    )  # fmt: skip


def reset_viewport(driver) -> None:
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def horizontal_overflow(driver) -> int:
    """CSS px by which the page is wider than the viewport (0: none)."""
    return driver.execute_script(
        "return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )


def in_viewport(driver, css: str) -> dict:
    """The element's top and bottom against the viewport's height."""
    return driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return {top: r.top, bottom: r.bottom, height: window.innerHeight};",
        css,
    )


def axe_source() -> str:
    """axe-core's script, from the axe-core-python package (the dev extra)."""
    try:
        from importlib.resources import files

        return (files("axe_core_python") / "axe.min.js").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("axe-core-python is not installed (pip install -e '.[dev]')")


def axe_violations(driver, impacts=BLOCKING) -> list[dict]:
    """axe-core's violations of the page as it is now, of the given impacts: ``{id, impact,
    help, nodes}`` each."""
    driver.execute_script(axe_source())
    driver.set_script_timeout(120)
    found = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']})
          .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))))
          .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
        """
    )
    return [v for v in found if v["impact"] in impacts]
