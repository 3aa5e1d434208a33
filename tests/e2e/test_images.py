"""Image classification in a real browser: the picture is shown and labelled by hotkey."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Serve, login, open_annotate, screenshot, stored_annotations
from tests.support import png


def test_image_is_shown_and_labelled(serve: Serve, page: Page, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.png").write_bytes(png(64, 48, (220, 40, 40)))
    (folder / "b.png").write_bytes(png(64, 48, (40, 40, 220)))
    site = serve("image-classification", ["red", "blue"], [], folder=folder)
    login(page, site, "ann1")
    open_annotate(page, site)
    img = page.locator("#item img")
    expect(img).to_have_count(1)
    page.wait_for_function("document.querySelector('#item img').complete")
    assert page.evaluate("document.querySelector('#item img').naturalWidth") == 64
    shown = img.get_attribute("alt")
    screenshot(page, "annotate-image.png")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("#progress")).to_have_text("1 done")
    stored = stored_annotations(site, "ann1")
    assert [a["value"] for a in stored] == ["red"]
    assert shown in ("a.png", "b.png")
