"""``hdrfuse serve``: the ASGI app through a test client, and the page in a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from conftest import gamma_bracket, save_jpeg, textured_scene  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from hdrfuse.web import Limits, create_app  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "brackets" / "hdrtoolbox_stacks" / "stack_ghost"


def _jpegs(tmp_path: Path) -> list[Path]:
    times = [(1, 400), (1, 100), (1, 25)]
    frames = gamma_bracket(textured_scene(), [4 * n / d * 25 for n, d in times])
    return [save_jpeg(tmp_path / f"shot_{i}.jpg", f, t) for i, (f, t) in enumerate(zip(frames, times))]


def _files(paths: list[Path], names: list[str] | None = None) -> list[tuple[str, tuple[str, bytes, str]]]:
    names = names or [p.name for p in paths]
    return [("files", (n, p.read_bytes(), "image/jpeg")) for n, p in zip(names, paths)]


def _wait(client: TestClient, job: str) -> dict:
    for _ in range(600):
        body = client.get(f"/api/jobs/{job}").json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


@pytest.fixture
def client():  # noqa: ANN201
    app = create_app(Limits(max_files=4, max_file_bytes=2**20, max_total_bytes=3 * 2**20, max_pixels=10**6))
    with TestClient(app) as c:
        yield c
    assert not app.state.root.exists(), "temporary files left after the server stopped"


def test_fuse_through_the_api_matches_the_library(client, tmp_path) -> None:  # noqa: ANN001
    import hdrfuse
    from hdrfuse.io import read_image

    paths = _jpegs(tmp_path)
    response = client.post("/api/jobs", files=_files(paths), data={"method": "mertens"})
    assert response.status_code == 202
    body = _wait(client, response.json()["id"])
    assert body["status"] == "done", body["error"]
    result = body["result"]
    assert result["frames"] == 3 and result["exposure_source"] == "exif"
    assert [i["label"] for i in result["inputs"]] == ["shot_0.jpg", "shot_1.jpg", "shot_2.jpg"]
    png = client.get(f"/api/jobs/{body['id']}/files/result.png?download=1")
    assert png.status_code == 200 and "attachment" in png.headers["content-disposition"]
    out = tmp_path / "web.png"
    out.write_bytes(png.content)
    expected = hdrfuse.fuse(paths)
    assert np.abs(read_image(out).pixels - expected).max() <= 1 / 255 + 1e-6
    legends = {m["map"]: m["legend"] for m in result["maps"]}
    assert set(legends) == {"weights"} and "share of each frame" in legends["weights"]
    assert abs(sum(result["histogram"]) - 1) < 1e-3
    for fmt in ("tif", "exr"):
        assert client.get(f"/api/jobs/{body['id']}/files/result.{fmt}").status_code == 200
    assert client.delete(f"/api/jobs/{body['id']}").status_code == 200
    assert client.get(f"/api/jobs/{body['id']}").status_code == 404


def test_upload_limits_and_bad_requests(client, tmp_path) -> None:  # noqa: ANN001
    paths = _jpegs(tmp_path)
    too_many = client.post("/api/jobs", files=_files(paths + paths[:2]))
    assert too_many.status_code in (400, 413) and "limit" in too_many.json()["error"]
    one = client.post("/api/jobs", files=_files(paths[:1]))
    assert one.status_code == 400 and "at least 2 frames" in one.json()["error"]
    big = tmp_path / "big.jpg"
    big.write_bytes(os.urandom(2 * 2**20))
    large = client.post("/api/jobs", files=_files([paths[0], big]))
    assert large.status_code == 413 and "limit" in large.json()["error"]
    exe = client.post("/api/jobs", files=_files(paths[:2], ["a.jpg", "run.sh"]))
    assert exe.status_code == 400 and "run.sh: not a JPEG" in exe.json()["error"]
    method = client.post("/api/jobs", files=_files(paths), data={"method": "nope"})
    assert method.status_code == 400 and "unknown method 'nope'" in method.json()["error"]
    align = client.post("/api/jobs", files=_files(paths), data={"align": "sift"})
    assert align.status_code == 400 and "align 'sift' is not one of default, none" in align.json()["error"]


def test_alignment_defaults_to_the_methods_own(client, tmp_path) -> None:  # noqa: ANN001
    info = client.get("/api/methods").json()
    assert info["align"][0] == "default"  # the page's first choice: each method's own alignment
    assert {m["name"]: m["align"] for m in info["methods"]}["deghost"] == "auto"
    paths = _jpegs(tmp_path)
    used = {}
    for method, align in (("deghost", "default"), ("deghost", "none"), ("mertens", "default")):
        sent = client.post("/api/jobs", files=_files(paths), data={"method": method, "align": align})
        job = sent.json()["id"]
        body = _wait(client, job)
        assert body["status"] == "done", body["error"]
        used[method, align] = body["result"]["align"]
    assert used == {("deghost", "default"): "auto", ("deghost", "none"): "none",
                    ("mertens", "default"): "none"}


def test_bad_file_fails_the_job_with_one_line_naming_the_upload(client, tmp_path) -> None:  # noqa: ANN001
    paths = _jpegs(tmp_path)
    paths[1].write_bytes(paths[1].read_bytes()[:200])
    body = _wait(client, client.post("/api/jobs", files=_files(paths)).json()["id"])
    assert body["status"] == "failed" and body["error"].startswith("shot_1.jpg:")
    assert "\n" not in body["error"] and "hdrfuse-serve" not in body["error"]  # no server path leaks


def test_client_paths_never_reach_the_filesystem(client, tmp_path) -> None:  # noqa: ANN001
    paths = _jpegs(tmp_path)
    evil = ["../../../../tmp/evil_a.jpg", "/etc/evil_b.jpg", "..\\..\\evil_c.jpg"]
    body = _wait(client, client.post("/api/jobs", files=_files(paths, evil)).json()["id"])
    assert body["status"] == "done"
    assert [i["label"] for i in body["result"]["inputs"]] == ["evil_a.jpg", "evil_b.jpg", "evil_c.jpg"]
    assert not Path("/tmp/evil_a.jpg").exists() and not Path("/etc/evil_b.jpg").exists()
    for name in ("../../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "upload/frame_00.jpg"):
        assert client.get(f"/api/jobs/{body['id']}/files/{name}").status_code == 404


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_page_in_headless_chromium(tmp_path) -> None:  # noqa: ANN001
    """Drop a real bracket on the page, fuse it, see the result, the maps and the downloads."""
    sync_api = pytest.importorskip("playwright.sync_api")
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium)")
    import uvicorn

    frames = sorted(SHARED.glob("*.JPG")) if SHARED.is_dir() else _jpegs(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Limits())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"])
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#method option[value=mertens]", state="attached")
            page.set_input_files("#files", [str(f) for f in frames])
            page.select_option("#method", "mertens")
            page.click("#go")
            page.wait_for_selector("#result:not([hidden])", timeout=120_000)
            assert page.text_content("#status").startswith("done")
            try:  # the page shows the result before the browser has decoded the image
                page.wait_for_function("document.getElementById('after').naturalWidth > 0", timeout=60_000)
            except sync_api.TimeoutError:
                pass
            width = page.evaluate("document.getElementById('after').naturalWidth")
            assert width > 0, "the result image did not load"
            assert page.locator("#inputs figure").count() == len(frames)
            assert page.locator("#maps img").count() == len(frames)  # one Mertens weight map per frame
            assert "share of each frame" in page.text_content("#maps")
            page.fill("#slider", "80")
            clip = page.evaluate("document.getElementById('after-clip').style.width")
            assert clip == "80%"
            assert page.get_attribute("#download-tif", "href").endswith("result.tif?download=1")
            shot = tmp_path / "web_result.png"
            page.screenshot(path=str(shot), full_page=True)
            target = os.environ.get("HDRFUSE_SCREENSHOTS")  # docs: HDRFUSE_SCREENSHOTS=docs/figures
            if target:
                from PIL import Image

                Image.open(shot).convert("RGB").save(Path(target) / "web_result.jpg", quality=82)
            # a bad file: the page shows the server's one-line message
            bad = tmp_path / "broken.jpg"
            bad.write_bytes(frames[0].read_bytes()[:300])
            page.set_input_files("#files", [str(frames[0]), str(bad)])
            page.click("#go")
            page.wait_for_selector("#error:not([hidden])", timeout=60_000)
            assert page.text_content("#error").startswith("broken.jpg:")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=20)
    assert not app.state.root.exists()
