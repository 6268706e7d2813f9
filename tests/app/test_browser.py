"""The page in a real headless Chromium: upload -> overlay with the scene's tags; click a garment
-> similar catalogue items; bad uploads -> a message on the page; the score slider and toggles
work without running the model again; samples, drag-and-drop and paste reach the model."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest

WAIT = 60  # seconds; an analysis takes ~0.2 s here, the first one traces the graph


def _by(css):
    from selenium.webdriver.common.by import By

    return By.CSS_SELECTOR, css


def _state(driver) -> str:
    return driver.find_element(*_by("body")).get_attribute("data-state")


def _wait_state(driver, states, timeout=WAIT) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: _state(d) in states)
    return _state(driver)


@pytest.fixture()
def page(browser, live):
    """The page freshly loaded and ready (its model description fetched)."""
    browser.get(live.url)
    _wait_state(browser, {"idle"})
    return browser


def _upload(driver, path) -> str:
    driver.find_element(*_by("#file-input")).send_keys(str(path))
    return _wait_state(driver, {"done", "error"})


def _visible_tags(driver) -> list[str]:
    return [
        tag.find_element(*_by(".name")).text
        for tag in driver.find_elements(*_by("#overlay .tag"))
        if tag.is_displayed()
    ]


def _click_image_pixel(driver, x: int, y: int, size: int) -> None:
    """Click the photo at image pixel (x, y) of a ``size`` x ``size`` image."""
    from selenium.webdriver.common.action_chains import ActionChains

    photo = driver.find_element(*_by("#photo"))
    w, h = photo.size["width"], photo.size["height"]
    dx = (x + 0.5) * w / size - w / 2  # offsets are from the element's centre
    dy = (y + 0.5) * h / size - h / 2
    ActionChains(driver).move_to_element_with_offset(photo, round(dx), round(dy)).click().perform()


def _inner_pixel(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) of the mask pixel nearest its centroid."""
    ys, xs = np.nonzero(mask)
    k = np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2)
    return int(xs[k]), int(ys[k])


def test_upload_shows_the_scene_tags_and_a_click_shows_similar_items(page, app_data, artifacts):
    from selenium.webdriver.support.ui import WebDriverWait

    scene = app_data["scenes"][0]
    assert _upload(page, scene["path"]) == "done", page.find_element(*_by("#error")).text
    shown = _visible_tags(page)
    assert set(scene["names"]) <= set(shown), f"expected tags {scene['names']}, page shows {shown}"
    assert page.find_element(*_by("#photo")).get_attribute("width") == "128"

    # click the photo inside the largest garment
    k = int(np.argmax(scene["masks"].sum(axis=(0, 1))))
    x, y = _inner_pixel(scene["masks"][:, :, k])
    _click_image_pixel(page, x, y, 128)
    WebDriverWait(page, WAIT).until(lambda d: d.find_elements(*_by("#similar-items figure")))
    items = page.find_elements(*_by("#similar-items figure"))
    names = [it.find_element(*_by(".name")).text for it in items]
    assert names == [scene["names"][k]] * len(items), names
    # the catalogue holds this very scene: its garment comes first
    assert items[0].find_element(*_by(".source")).text == scene["path"].name
    similarity = [float(it.find_element(*_by(".similarity")).text.split()[-1]) for it in items]
    assert similarity == sorted(similarity, reverse=True)
    selected = page.find_elements(*_by("#instances li.selected .name"))
    assert [s.text for s in selected] == [scene["names"][k]]

    shot = artifacts / "shop-the-look.png"
    assert page.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("text", "notes.txt: cannot read image"),
        ("empty", "empty.jpg: empty upload"),
        ("truncated", "truncated.png: cannot decode image"),
    ],
)
def test_bad_upload_shows_a_message_and_the_server_keeps_serving(
    page, bad_files, app_data, kind, expected
):
    assert _upload(page, bad_files[kind]) == "error"
    error = page.find_element(*_by("#error"))
    assert error.is_displayed() and error.text.startswith(expected), error.text
    # the next photo is analysed as usual
    assert _upload(page, app_data["scenes"][1]["path"]) == "done"
    assert not page.find_element(*_by("#error")).is_displayed()


def test_a_6000px_photo_is_analysed_downscaled_with_a_notice(page, bad_files):
    assert _upload(page, bad_files["huge"]) == "done"
    notice = page.find_element(*_by("#notice"))
    assert notice.is_displayed()
    assert "6000x6000" in notice.text and "1280x1280" in notice.text, notice.text
    assert page.find_element(*_by("#photo")).get_attribute("width") == "1280"


def test_slider_toggles_and_hover_do_not_run_the_model_again(page, live, app_data):
    scene = app_data["scenes"][2]
    assert _upload(page, scene["path"]) == "done"
    runs = live.webapp.analyses
    total = len(page.find_elements(*_by("#overlay .tag")))
    assert total >= len(scene["names"])

    def slide(value):
        page.execute_script(
            "const s = document.getElementById('min-score'); s.value = arguments[0];"
            "s.dispatchEvent(new Event('input'));",
            value,
        )

    slide(1.0)
    assert _visible_tags(page) == []
    assert page.find_element(*_by("#summary")).text.startswith("0 garments")
    slide(0.0)
    assert len(_visible_tags(page)) == total
    # the JSON download follows the slider: every detection at 0.00
    href = page.find_element(*_by("#download-json")).get_attribute("href")
    assert "min_score=0.00" in href
    with urllib.request.urlopen(href, timeout=30) as response:
        assert len(json.load(response)["instances"]) == total

    page.find_element(*_by("#show-scores")).click()
    assert not any(s.is_displayed() for s in page.find_elements(*_by("#overlay .tag .score")))
    page.find_element(*_by("#show-tags")).click()
    assert _visible_tags(page) == []
    page.find_element(*_by("#show-boxes")).click()
    assert not any(b.is_displayed() for b in page.find_elements(*_by("#overlay .box")))
    assert "boxes=0" in page.find_element(*_by("#download-png")).get_attribute("href")

    from selenium.webdriver.common.action_chains import ActionChains

    item = page.find_elements(*_by("#instances li"))[1]
    ActionChains(page).move_to_element(item).perform()
    assert "highlight" in item.get_attribute("class")
    highlighted = page.find_elements(*_by("#overlay .box.highlight"))
    assert [b.get_attribute("data-index") for b in highlighted] == ["1"]
    assert live.webapp.analyses == runs, "a display change ran the model again"


def test_sample_drop_and_paste_reach_the_model(page, live):
    runs = live.webapp.analyses
    page.find_elements(*_by("#samples .sample"))[0].click()
    assert _wait_state(page, {"done", "error"}) == "done"
    assert page.find_element(*_by("#photo")).get_attribute("width") == "128"
    assert live.webapp.analyses == runs + 1

    # a dropped file and a pasted one, built from a sample image inside the page
    for event in ("drop", "paste"):
        page.execute_async_script(
            """
            const [kind, done] = arguments;
            fetch('api/samples/1.png').then(r => r.blob()).then(blob => {
              document.body.dataset.state = 'idle';
              const data = new DataTransfer();
              data.items.add(new File([blob], kind + '.png', {type: 'image/png'}));
              const e = kind === 'drop'
                ? new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true})
                : new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true});
              document.getElementById('dropzone').dispatchEvent(e);
              done();
            });
            """,
            event,
        )
        assert _wait_state(page, {"done", "error"}) == "done", event
        result_id = page.execute_script("return state.result.id")
        record = live.webapp.results[result_id].record
        assert record["image"] == f"{event}.png"
    assert live.webapp.analyses == runs + 3
