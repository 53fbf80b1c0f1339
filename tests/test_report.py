"""report.html: the page's data, that it needs no network, and how it behaves in a real headless Chromium.

The browser test drives Debian's ``chromium`` through its ``chromedriver``
with Selenium (``.ci/run`` installs both); it skips, saying why, where they
are missing.
"""

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from media import blurred, black, panning_shots, write_video
from vidaesthetic import SpotSettings, extract_spots, load_model
from vidaesthetic.apps.view import VIDEO_ROUTE, page_for, serve
from vidaesthetic.curve.record import ScoreCurve
from vidaesthetic.output.index import INDEX_FILE
from vidaesthetic.output.report import REPORT_FILE, count_explanation, report_data, stretches

FPS = 25


def shots_with_a_fade(path):
    """Two panning shots, a black second between them and a blurred second at the end."""
    frames = list(panning_shots((3, 4), 2.0, FPS, size=(192, 108)))
    middle = [black(192, 108)] * FPS
    tail = [blurred(frames[-1], 6)] * FPS
    return write_video(path, frames[:2 * FPS] + middle + frames[2 * FPS:] + tail, fps=FPS)


@pytest.fixture(scope="module")
def report_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    video = shots_with_a_fade(folder / "clip.mp4")
    document = extract_spots(video, folder / "out", load_model("baseline"), SpotSettings(top=3, progress=False))
    return folder / "out", document


def embedded(page):
    return json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page,
                                re.S).group(1).replace("<\\/", "</"))


def test_the_page_holds_every_spot_stretch_and_setting(report_folder):
    out, document = report_folder
    page = (out / REPORT_FILE).read_text()
    data = embedded(page)
    curve = ScoreCurve.load(out / "scores.json")
    assert [spot["rank"] for spot in data["spots"]] == [spot["rank"] for spot in document["spots"]]
    assert [spot["time"] for spot in data["spots"]] == [spot["time"] for spot in document["spots"]]
    for spot in document["spots"]:  # each in the gallery, by its image, and marked on the curve
        assert f'src="{spot["image"]}"' in page and f'class="mark" data-rank="{spot["rank"]}"' in page
    never = [stretch for stretch in data["stretches"] if stretch["kind"] == "never"]
    blank = next(stretch for stretch in never if stretch["reason"] == "blank")
    assert any(stretch["start"] >= 5.0 - 0.05 for stretch in never)  # the blurred last second, with its reason
    assert blank["start"] == pytest.approx(2.0, abs=0.05) and blank["end"] == pytest.approx(3.0 - 1 / FPS, abs=0.05)
    assert len(data["stretches"]) == len(stretches(curve)) and page.count('class="stretch') == len(data["stretches"])
    assert data["video"]["src"] == "../clip.mp4"  # relative, so the folder can move with its video
    assert data["model"]["name"] == "baseline" and data["smoothing"]["method"] == "kalman-rts"
    assert data["selection"]["top"] == 3 and data["count"].startswith(f"{len(document['spots'])} of the 3 asked")
    assert document["files"]["report"] == REPORT_FILE
    assert len(data["points"]["t"]) == len(curve)


def test_the_page_asks_no_other_host_for_anything(report_folder):
    out, _ = report_folder
    page = (out / REPORT_FILE).read_text()
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/", page, re.I)
    assert not re.search(r"<(iframe|object|embed)\b", page, re.I)
    for reference in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert reference == "data:," or (not reference.startswith(("//", "http")) and (out / reference).exists())


def test_the_count_is_explained():
    automatic = {"top": None, "automatic_count": {"limit": 4, "rule": "one per shot"}, "relaxed": [],
                 "shortfall": None}
    assert count_explanation(automatic, 4) == "4 chosen automatically (up to 4): one per shot."
    asked = {"top": 5, "relaxed": ["min-gap lowered to 1 s"], "shortfall": "3 of 5: no other frame qualifies"}
    assert count_explanation(asked, 3) == ("3 of the 5 asked for. To reach the count: min-gap lowered to 1 s. "
                                           "3 of 5: no other frame qualifies.")


def test_no_report_when_told(tmp_path):
    video = shots_with_a_fade(tmp_path / "clip.mp4")
    document = extract_spots(video, tmp_path / "out", load_model("baseline"),
                             SpotSettings(top=2, report=False, progress=False))
    assert not (tmp_path / "out" / REPORT_FILE).exists() and "report" not in document["files"]


def test_view_finds_the_page_to_open(report_folder, tmp_path):
    from click.testing import CliRunner

    from vidaesthetic import InputError
    from vidaesthetic.cli import main

    out, _ = report_folder
    assert page_for(out) == out / REPORT_FILE and page_for(out / REPORT_FILE) == out / REPORT_FILE
    (tmp_path / INDEX_FILE).write_text("<html></html>")
    assert page_for(tmp_path) == tmp_path / INDEX_FILE
    with pytest.raises(InputError, match="no such file or folder"):
        page_for(out.parent / "nothing-here.d")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="has no report.html or index.html"):
        page_for(empty)
    result = CliRunner().invoke(main, ["view", str(out), "--no-browser"])
    assert result.exit_code == 0 and result.output.strip() == (out / REPORT_FILE).resolve().as_uri()


def test_serving_gives_byte_ranges_of_the_source_video_on_localhost_only(report_folder):
    import urllib.error
    import urllib.request

    out, document = report_folder
    server, url = serve(out / REPORT_FILE)
    try:
        assert url.startswith("http://127.0.0.1:") and server.server_address[0] == "127.0.0.1"
        assert urllib.request.urlopen(url).read().decode().startswith("<!DOCTYPE html>")
        video = url.rsplit("/", 1)[0] + "/" + VIDEO_ROUTE
        whole = (out.parent / "clip.mp4").read_bytes()
        answer = urllib.request.urlopen(urllib.request.Request(video, headers={"Range": "bytes=100-199"}))
        assert answer.status == 206 and answer.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
        assert answer.read() == whole[100:200]
        assert urllib.request.urlopen(video).read() == whole
        with pytest.raises(urllib.error.HTTPError, match="416"):
            urllib.request.urlopen(urllib.request.Request(video, headers={"Range": f"bytes={len(whole)}-"}))
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- a real browser


def chromium_driver():
    webdriver = pytest.importorskip("selenium.webdriver", reason="Selenium is not installed (pip install selenium)")
    browser, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("no Chromium and chromedriver here (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                     "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver), options=options)


@pytest.mark.parametrize("opened", ["from disk", "served"])
def test_the_report_in_chromium(report_folder, tmp_path, opened):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    out, document = report_folder
    browser = chromium_driver()
    server = None
    try:
        if opened == "served":  # vidaesthetic view --serve: the video comes from the server, with byte ranges
            server, url = serve(out / REPORT_FILE)
            browser.get(url)
        else:
            browser.get((out / REPORT_FILE).resolve().as_uri())
        wait = WebDriverWait(browser, 20)
        wait.until(lambda b: b.execute_script("return document.getElementById('video').readyState >= 1"))
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, errors
        drawn = browser.execute_script("return document.querySelector('#curve .smoothed').getTotalLength()")
        assert drawn > 500  # the curve is drawn across the plot
        widths = browser.execute_script("return [...document.images].map((image) => image.naturalWidth)")
        assert len(widths) == len(document["spots"]) and min(widths) > 0  # every key frame shows
        ActionChains(browser).move_to_element(browser.find_element(By.ID, "curve")).perform()  # the middle: 3 s
        hovered = browser.find_element(By.ID, "tooltip").text
        assert re.fullmatch(r"\d+\.\d{3} s\s+00:00:0\d\.\d{3}\s+raw \S+\s+smoothed \S+", hovered), hovered
        frame = 1 / FPS
        for spot in document["spots"]:
            browser.find_element(By.CSS_SELECTOR, f'.spot[data-rank="{spot["rank"]}"]').click()
            wait.until(lambda b: not b.execute_script("return document.getElementById('video').seeking"))
            assert abs(browser.execute_script("return document.getElementById('video').currentTime")
                       - spot["time"]) <= frame
        in_time = sorted(document["spots"], key=lambda spot: spot["time"])
        browser.execute_script("document.activeElement.blur()")
        keys = browser.find_element(By.TAG_NAME, "body")
        for _ in in_time:
            keys.send_keys(Keys.ARROW_LEFT)  # to the earliest spot, whatever was selected
        for spot in in_time:
            selected = browser.execute_script("return +document.querySelector('.spot.selected').dataset.rank")
            assert selected == spot["rank"]  # → and ← step through the spots in time order
            keys.send_keys(Keys.ARROW_RIGHT)
        shot = tmp_path / "report.png"
        browser.save_screenshot(str(shot))
    finally:
        browser.quit()
        if server is not None:
            server.shutdown()
            server.server_close()
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.02  # not a blank page
    keep = os.environ.get("VIDAESTHETIC_SCREENSHOTS")  # where the README's screenshot came from
    if keep and opened == "from disk":
        shutil.copy(shot, Path(keep) / "report.png")


def test_a_batch_index_lists_every_video_and_a_broken_files_error(tmp_path):
    from click.testing import CliRunner

    from vidaesthetic.cli import main
    from vidaesthetic.output.index import IndexRow, batch_root, write_index

    good = [shots_with_a_fade(tmp_path / name) for name in ("a.mp4", "b.mp4")]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    out = tmp_path / "out"
    pending = write_index(out, [IndexRow(video, out / video.stem) for video in good])  # before any is done
    assert "0 of 2 videos done" in pending.read_text() and pending.read_text().count("not done yet") == 2
    result = CliRunner().invoke(main, ["spots", *map(str, good), str(broken), "-o", str(out), "-q",
                                       "--model", "baseline", "--top", "2"])
    assert result.exit_code != 0  # one video failed
    page = (out / INDEX_FILE).read_text()
    assert "2 of 3 videos done, 1 failed" in page
    assert 'href="a/report.html"' in page and 'href="b/report.html"' in page and "not done yet" not in page
    failure = re.search(r'<tr class="failed"><th scope="row">broken.mp4</th><td colspan="4">failed: ([^<]*)</td>', page)
    assert failure and "broken.mp4" in failure.group(1) and "not a readable video" in failure.group(1)
    assert not re.search(r"https?:", page)
    assert batch_root([out / "a"]) is None  # a single video has its report, no index
    assert batch_root([tmp_path / "a_spots", tmp_path / "b_spots"]) == tmp_path


def test_a_video_the_browser_cannot_play_gets_a_note(tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    video = write_video(tmp_path / "clip.avi", panning_shots((5,), 2.0, FPS, size=(96, 64)), fps=FPS, codec="mpeg4")
    extract_spots(video, tmp_path / "out", load_model("baseline"), SpotSettings(top=1, progress=False))
    browser = chromium_driver()
    try:
        browser.get((tmp_path / "out" / REPORT_FILE).resolve().as_uri())
        WebDriverWait(browser, 20).until(lambda b: b.execute_script("return !document.getElementById('video-note').hidden"))
        assert "cannot play this video (mpeg4)" in browser.find_element("id", "video-note").text
        assert browser.execute_script("return document.querySelector('.spot img').naturalWidth") > 0
    finally:
        browser.quit()
