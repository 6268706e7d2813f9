"""The page in a real headless Chromium, with the real (tiny) model: upload -> overlay with the
scene's tags and the main garment's similar items; a click on a garment -> product cards of its
category; bad uploads -> a plain message and the earlier result marked as such; the score
slider and toggles work without running the model again; samples, drag-and-drop and paste reach
the model."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest

from tests.app.browser_helpers import (
    by,
    click_image_pixel,
    inner_pixel,
    open_page,
    selected,
    upload,
    visible_tags,
    wait_for,
    wait_state,
)


@pytest.fixture()
def page(browser, live):
    """The page freshly loaded and ready (its model description fetched)."""
    return open_page(browser, live.url)


def _cards(driver):
    return driver.find_elements(*by("#similar-items .card"))


def test_upload_shows_the_scene_tags_and_a_click_shows_similar_products(page, app_data, artifacts):
    scene = app_data["scenes"][0]
    assert upload(page, scene["path"]) == "done", page.find_element(*by("#error")).text
    shown = visible_tags(page)
    assert set(scene["names"]) <= set(shown), f"expected tags {scene['names']}, page shows {shown}"
    assert page.find_element(*by("#photo")).get_attribute("width") == "128"
    # the main garment is selected at once, and its similar items shown
    main = page.execute_script("return state.result.main")
    assert main >= 0 and selected(page) == main
    wait_for(page, lambda d: _cards(d))

    # click the photo inside the largest garment
    k = int(np.argmax(scene["masks"].sum(axis=(0, 1))))
    x, y = inner_pixel(scene["masks"][:, :, k])
    page.execute_script("state.lastClick = null")
    click_image_pixel(page, x, y, 128, 128)
    name = scene["names"][k]
    wait_for(page, lambda d: d.find_element(*by("#similar-title")).text.endswith(f"this {name}"))
    wait_for(
        page, lambda d: _cards(d) and d.find_element(*by("#similar-message")).text[0].isdigit()
    )
    cards = _cards(page)
    categories = {c.get_attribute("data-category") for c in cards}
    assert len(categories) == 1, categories  # the garment's own category
    # the catalogue holds this very scene, with its product row: its garment comes first
    assert cards[0].get_attribute("data-image") == scene["path"].name
    title = cards[0].find_element(*by(".title"))
    assert title.text == "Everyday look" and title.tag_name == "a"
    assert title.get_attribute("href") == "https://shop.example/p/1"
    assert cards[0].find_element(*by(".price")).text == "49.90"
    similarity = [float(c.get_attribute("data-similarity")) for c in cards]
    assert similarity == sorted(similarity, reverse=True)
    assert [s.text for s in page.find_elements(*by("#instances li.selected .name"))] == [name]

    shot = artifacts / "shop-the-look.png"
    assert page.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_more_like_this_and_the_filters_rerun_the_search(page, app_data):
    scenes = app_data["scenes"]
    assert upload(page, scenes[2]["path"]) == "done"
    # a garment whose category the catalogue holds in another scene too (which garment the
    # page picks first depends on the trained model's scores): "more like this" then has
    # something to show besides the item itself
    elsewhere = {c for scene in scenes[:2] for c in scene["category_ids"]}
    name = next(n for n, c in zip(scenes[2]["names"], scenes[2]["category_ids"]) if c in elsewhere)
    pick = next(
        li
        for li in page.find_elements(*by("#instances li"))
        if li.find_element(*by(".name")).text == name
    )
    pick.find_element(*by("button.pick")).click()
    wait_for(page, lambda d: d.find_element(*by("#similar-title")).text.endswith(f"this {name}"))
    wait_for(page, lambda d: _cards(d), message="no similar items for the picked garment")
    first = _cards(page)[0]
    label = first.find_element(*by(".title")).text
    first_id = first.get_attribute("data-item")
    first.find_element(*by(".more")).click()
    wait_for(
        page, lambda d: d.find_element(*by("#similar-title")).text == f"More like this: {label}"
    )
    wait_for(
        page,
        lambda d: _cards(d),
        message=lambda d: d.find_element(*by("#similar-message")).text,
    )
    assert first_id not in [c.get_attribute("data-item") for c in _cards(page)]
    # a clean name where the catalogue has no product data (scene 2 has no row)
    labels = [c.find_element(*by(".title")).text for c in _cards(page)]
    assert all(text and "." not in text.split("·")[-1] for text in labels), labels

    from selenium.webdriver.support.ui import Select

    Select(page.find_element(*by("#filter-category"))).select_by_value("all")
    colours = Select(page.find_element(*by("#filter-colour")))
    colour = colours.options[1].get_attribute("value")
    colours.select_by_value(colour)
    wait_for(
        page, lambda d: d.find_element(*by("#similar-message")).text != "Searching the catalogue…"
    )
    cards = _cards(page)
    texts = [c.find_element(*by(".colour")).text for c in cards]
    assert cards and all(t.startswith(f"{colour} ") for t in texts), texts


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("text", "notes.txt: this file is not a photo we can read: use JPEG, PNG or WebP"),
        ("empty", "empty.jpg: empty upload"),
        ("truncated", "truncated.png: this photo is damaged or incomplete"),
    ],
)
def test_bad_upload_shows_a_plain_message_and_marks_the_earlier_result(
    page, bad_files, app_data, kind, expected
):
    assert upload(page, app_data["scenes"][0]["path"]) == "done"
    assert upload(page, bad_files[kind]) == "error"
    error = page.find_element(*by("#error"))
    assert error.is_displayed() and error.text.startswith(expected), error.text
    # the result beside it is the earlier photo's, and says so
    note = page.find_element(*by("#stale-note"))
    assert note.is_displayed() and "earlier photo" in note.text, note.text
    assert "stale" in page.find_element(*by("#result-panel")).get_attribute("class")
    assert not page.find_element(*by("#similar-panel")).is_displayed()
    # the next photo is analysed as usual
    assert upload(page, app_data["scenes"][1]["path"]) == "done"
    assert not page.find_element(*by("#error")).is_displayed()
    assert not page.find_element(*by("#stale-note")).is_displayed()


def test_a_6000px_photo_is_analysed_downscaled_with_a_notice(page, bad_files):
    assert upload(page, bad_files["huge"]) == "done"
    notice = page.find_element(*by("#notice"))
    assert notice.is_displayed()
    assert "6000x6000" in notice.text and "1280x1280" in notice.text, notice.text
    assert page.find_element(*by("#photo")).get_attribute("width") == "1280"


def test_a_photo_without_garments_shows_items_like_the_whole_photo(
    page, live, app_data, monkeypatch
):
    from tests.app.app_helpers import find_nothing

    find_nothing(monkeypatch, live.webapp.engine)
    assert upload(page, app_data["scenes"][1]["path"]) == "done"
    assert page.find_element(*by("#summary")).text.startswith("No garment found")
    wait_for(
        page, lambda d: d.find_element(*by("#similar-title")).text == "Similar to this whole photo"
    )
    wait_for(
        page, lambda d: _cards(d), message=lambda d: d.find_element(*by("#similar-message")).text
    )
    assert page.find_element(*by("#filter-category")).get_attribute("value") == "all"


def test_slider_toggles_and_hover_do_not_run_the_model_again(page, live, app_data):
    scene = app_data["scenes"][2]
    assert upload(page, scene["path"]) == "done"
    runs = live.webapp.analyses
    total = len(page.find_elements(*by("#overlay .tag")))
    duplicates = sum(d >= 0 for d in page.execute_script("return state.result.duplicate_of"))
    assert total >= len(scene["names"])

    def slide(value):
        page.execute_script(
            "const s = document.getElementById('min-score'); s.value = arguments[0];"
            "s.dispatchEvent(new Event('input'));",
            value,
        )

    slide(1.0)
    assert visible_tags(page) == []
    assert page.find_element(*by("#summary")).text.startswith("No garment found")
    assert page.find_element(*by("#empty-help")).is_displayed()
    slide(0.0)
    assert len(visible_tags(page)) == total - duplicates  # duplicates are listed, not drawn
    # the JSON download follows the slider: every detection at 0.00
    href = page.find_element(*by("#download-json")).get_attribute("href")
    assert "min_score=0.00" in href
    with urllib.request.urlopen(href, timeout=30) as response:
        assert len(json.load(response)["instances"]) == total

    page.find_element(*by("#show-scores")).click()
    assert not any(s.is_displayed() for s in page.find_elements(*by("#overlay .tag .score")))
    page.find_element(*by("#show-tags")).click()
    assert visible_tags(page) == []
    page.find_element(*by("#show-boxes")).click()
    assert not any(b.is_displayed() for b in page.find_elements(*by("#overlay .box")))
    assert "boxes=0" in page.find_element(*by("#download-png")).get_attribute("href")

    from selenium.webdriver.common.action_chains import ActionChains

    item = page.find_elements(*by("#instances li"))[1]
    ActionChains(page).move_to_element(item).perform()
    assert "highlight" in item.get_attribute("class")
    highlighted = page.find_elements(*by("#overlay .box.highlight"))
    assert [b.get_attribute("data-index") for b in highlighted] == [
        item.get_attribute("data-index")
    ]
    assert live.webapp.analyses == runs, "a display change ran the model again"


def test_sample_drop_and_paste_reach_the_model(page, live):
    runs = live.webapp.analyses
    page.find_elements(*by("#samples .sample"))[0].click()
    assert wait_state(page, {"done", "error"}) == "done"
    assert page.find_element(*by("#photo")).get_attribute("width") == "128"
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
        assert wait_state(page, {"done", "error"}) == "done", event
        result_id = page.execute_script("return state.result.id")
        record = live.webapp.results[result_id].record
        assert record["image"] == f"{event}.png"
    assert live.webapp.analyses == runs + 3
