"""The web playground in a real headless Chromium: a bad key shows the server's error, a
text-to-image from the form completes and its image appears, an edit with an uploaded image
completes; screenshots (laptop and phone) go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.api.conftest import Api
from tests.support.browser import headless_chromium, screenshot
from tests.support.media import encode, noise_image

WAIT_S = 240


@pytest.fixture
def laptop() -> Iterator[webdriver.Chrome]:
    driver = headless_chromium(1280, 900)
    yield driver
    driver.quit()


def _use_key(driver: webdriver.Chrome, key: str) -> None:
    field = driver.find_element(By.ID, "api-key")
    field.clear()
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#key-form button").click()


def _open(driver: webdriver.Chrome, api: Api) -> None:
    driver.get(f"{api.url}/")
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#fields [name]"))


def _pick(driver: webdriver.Chrome, model: str, endpoint: str | None = None) -> None:
    Select(driver.find_element(By.ID, "model")).select_by_value(model)
    if endpoint is not None:
        Select(driver.find_element(By.ID, "endpoint")).select_by_visible_text(endpoint)


def _fill(driver: webdriver.Chrome, name: str, value: str) -> None:
    field = driver.find_element(By.CSS_SELECTOR, f'#fields [name="{name}"]')
    if field.tag_name == "select":
        Select(field).select_by_value(value)
        return
    field.clear()
    field.send_keys(value)


def _wait_for_images(driver: webdriver.Chrome, count: int) -> None:
    def loaded(d: webdriver.Chrome) -> bool:
        error = d.find_element(By.ID, "error")
        if error.is_displayed():
            raise AssertionError(f"the playground showed an error: {error.text}")
        return bool(
            d.execute_script(
                "const imgs = [...document.querySelectorAll('#gallery img')];"
                "return imgs.length >= arguments[0]"
                " && imgs.every(i => i.complete && i.naturalWidth > 0);",
                count,
            )
        )

    WebDriverWait(driver, WAIT_S).until(loaded)


def test_bad_key_shows_an_error(api: Api, laptop: webdriver.Chrome) -> None:
    _open(laptop, api)
    _use_key(laptop, "fs_not-a-key")
    error = WebDriverWait(laptop, 30).until(ready.visibility_of_element_located((By.ID, "error")))
    assert error.text.startswith("401")
    screenshot(laptop, "playground-bad-key")


def test_text_to_image_then_an_uploaded_edit(
    api: Api, laptop: webdriver.Chrome, tmp_path: Path
) -> None:
    _open(laptop, api)
    _use_key(laptop, api.key)
    WebDriverWait(laptop, 30).until(lambda d: "$" in d.find_element(By.ID, "balance").text)

    _pick(laptop, "flux-dev", "textToImage")
    _fill(laptop, "prompt", "a red bicycle")
    _fill(laptop, "image_size", "256x192")
    _fill(laptop, "output_format", "png")
    laptop.find_element(By.ID, "submit").click()
    _wait_for_images(laptop, 1)
    card = laptop.find_element(By.CSS_SELECTOR, "#gallery .card")
    assert "seed:" in card.text and "model: flux-dev" in card.text
    assert card.find_element(By.LINK_TEXT, "Download").get_attribute("download")

    photo = tmp_path / "photo.png"
    photo.write_bytes(encode(noise_image(128, 96, 9), "PNG"))
    _pick(laptop, "flux-2-pro-image-to-image-866")
    _fill(laptop, "prompt", "make it snow")
    laptop.find_element(By.CSS_SELECTOR, '[name="image_urls__file"]').send_keys(str(photo))
    laptop.find_element(By.ID, "submit").click()
    _wait_for_images(laptop, 2)
    screenshot(laptop, "playground-laptop")

    laptop.set_window_size(390, 844)
    laptop.execute_script("window.scrollTo(0, 0)")
    inner, scroll = laptop.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]"
    )
    assert scroll <= inner, f"the page is {scroll} px wide in a {inner} px phone window"
    screenshot(laptop, "playground-phone")
