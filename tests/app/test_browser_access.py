"""The page for every shopper, in Chromium: no serious axe-core violation (empty page, a result
with a selection, at desktop and phone size); the keyboard path (a real "Choose a photo" button,
Enter / Space on the drop zone, list rows and the photo focusable and working); tag text at
4.5:1 or more on every class colour; the photo described by the list; and at 360-414 px no
horizontal overflow, the result scrolled into view after an upload and the similar items in
view (a bottom sheet) after a selection."""

from __future__ import annotations

import re

import pytest

from tests.app.app_helpers import OverlapEngine
from tests.app.browser_helpers import (
    axe_violations,
    by,
    click_image_pixel,
    horizontal_overflow,
    in_viewport,
    open_page,
    reset_viewport,
    selected,
    set_viewport,
    upload,
    wait_for,
)


def _contrast(a: str, b: str) -> float:
    """WCAG 2 contrast of two "rgb(r, g, b)" / "#rrggbb" colours."""

    def luminance(colour):
        if colour.startswith("#"):
            rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        else:
            rgb = [int(float(v)) for v in re.findall(r"[\d.]+", colour)[:3]]
        lin = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4
               for c in rgb]  # fmt: skip
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture()
def phone(browser):
    yield browser
    reset_viewport(browser)


def test_no_serious_accessibility_violation_empty_and_with_a_result(browser, live, app_data):
    open_page(browser, live.url)
    assert axe_violations(browser) == []
    assert upload(browser, app_data["scenes"][0]["path"]) == "done"
    wait_for(browser, lambda d: d.find_elements(*by("#similar-items .card")))
    assert axe_violations(browser) == []


@pytest.mark.parametrize("width, height", [(360, 740), (390, 844), (414, 896)])
def test_phone_layout_no_overflow_result_in_view_and_a_bottom_sheet(
    phone, live, app_data, width, height
):
    set_viewport(phone, width, height, mobile=True)
    open_page(phone, live.url)
    assert horizontal_overflow(phone) <= 0
    assert upload(phone, app_data["scenes"][1]["path"]) == "done"
    assert horizontal_overflow(phone) <= 0, "the page is wider than the phone"
    # the photo was scrolled into view: its top on screen, most of it visible
    photo = in_viewport(phone, "#photo")
    assert 0 <= photo["top"] < 0.25 * height, photo
    # the main garment's similar items sit in a bottom sheet, on screen with the photo
    wait_for(phone, lambda d: d.find_elements(*by("#similar-items .card")))
    sheet = in_viewport(phone, "#similar-panel")
    assert sheet["top"] < height and abs(sheet["bottom"] - height) <= 1, sheet
    assert photo["top"] < sheet["top"]
    # a selection keeps both in view
    rows = phone.find_elements(*by("#instances li:not([hidden]) button"))
    phone.execute_script("arguments[0].scrollIntoView({block: 'start'})", rows[-1])
    rows[-1].click()
    sheet = in_viewport(phone, "#similar-panel")
    assert sheet["top"] < height and abs(sheet["bottom"] - height) <= 1, sheet
    assert horizontal_overflow(phone) <= 0
    if width == 390:
        assert axe_violations(phone) == []


def test_phone_click_on_the_photo_shows_its_items_in_the_sheet(phone, overlap_live, tmp_path):
    import numpy as np
    from PIL import Image

    path = tmp_path / "look.png"
    Image.fromarray(np.full((200, 100, 3), 180, np.uint8)).save(path)
    set_viewport(phone, 360, 740, mobile=True)
    open_page(phone, overlap_live.url)
    assert upload(phone, path) == "done"
    assert horizontal_overflow(phone) <= 0
    click_image_pixel(phone, 40, 190, 100, 200)  # the shoe
    assert selected(phone) == OverlapEngine.SHOE
    title = phone.find_element(*by("#similar-title"))
    assert title.text == "Similar to this shoe"
    box = in_viewport(phone, "#similar-panel")
    assert 0 <= box["top"] < box["height"], box


def test_keyboard_choose_button_drop_zone_list_rows_and_photo(browser, overlap_live, tmp_path):
    import numpy as np
    from PIL import Image
    from selenium.webdriver.common.keys import Keys

    open_page(browser, overlap_live.url)
    browser.execute_script(
        "window.__chooser = 0; document.getElementById('file-input').addEventListener('click',"
        " (e) => { window.__chooser++; e.preventDefault(); });"
    )
    # Tab from the top of the page reaches the drop zone, then the button
    from selenium.webdriver.common.action_chains import ActionChains

    browser.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    reached = []
    for _ in range(3):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        reached.append(browser.switch_to.active_element.get_attribute("id"))
    assert reached[:2] == ["dropzone", "choose"], reached
    chooser = browser.find_element(*by("#choose"))
    assert chooser.tag_name == "button"
    chooser.send_keys(Keys.ENTER)
    zone = browser.find_element(*by("#dropzone"))
    browser.execute_script("arguments[0].focus()", zone)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    browser.switch_to.active_element.send_keys(Keys.SPACE)
    assert browser.execute_script("return window.__chooser") == 3  # the file chooser opened 3x

    path = tmp_path / "look.png"
    Image.fromarray(np.full((200, 100, 3), 180, np.uint8)).save(path)
    assert upload(browser, path) == "done"
    e = OverlapEngine
    # a list row takes focus and Enter selects its garment
    row = browser.find_element(*by(f'#instances li[data-index="{e.SKIRT}"] button'))
    browser.execute_script("arguments[0].focus()", row)
    assert browser.switch_to.active_element == row
    row.send_keys(Keys.ENTER)
    assert selected(browser) == e.SKIRT
    assert row.get_attribute("aria-pressed") == "true"
    # the photo takes focus and the arrow keys move between garments
    stage = browser.find_element(*by("#stage"))
    assert stage.get_attribute("tabindex") == "0"
    browser.execute_script("arguments[0].focus()", stage)
    before = selected(browser)
    browser.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
    assert selected(browser) != before
    # the canvas is described by the list of garments
    photo = browser.find_element(*by("#photo"))
    assert photo.get_attribute("role") == "img"
    assert "instances" in photo.get_attribute("aria-describedby").split()
    assert "dress" in photo.get_attribute("aria-label")


def test_tag_text_contrasts_4_5_to_1_on_every_class_colour(browser, live, app_data):
    from fashion_mrcnn.app.server import hex_color

    open_page(browser, live.url)
    colours = [hex_color(c) for c in range(1, 47)]  # every class of the 46-class taxonomy
    texts = browser.execute_script("return arguments[0].map(textOn)", colours)
    low = [(c, t) for c, t in zip(colours, texts) if _contrast(c, t) < 4.5]
    assert not low, low
    assert upload(browser, app_data["scenes"][0]["path"]) == "done"
    for tag in browser.find_elements(*by("#overlay .tag")):
        if tag.is_displayed():
            fg, bg = (
                tag.value_of_css_property("color"),
                tag.value_of_css_property("background-color"),
            )
            assert _contrast(fg, bg) >= 4.5, (tag.text, fg, bg)
