#!/usr/bin/env python3
"""Check a synthguard HTML release report in real headless Chromium.

    python scripts/check_report.py REPORT.html --screenshot OUT.png [--chromium PATH] [--timeout S]

Two Chromium runs, each in a fresh temporary profile with networking features off:

1. A probe run (--dump-dom) on a temporary copy of the page with one small inline script added
   (the page itself has none; its Content-Security-Policy is kept, widened only to let that
   script run). After the load event the script records, into the DOM, the verdict element's
   decision, text and rendered size, every <img>'s decode state (complete, naturalWidth/Height,
   rendered size, and the alpha sum of its decoded pixels drawn on a canvas, which the check
   compares with a Python decode of the same data URI: a truncated PNG that decodes only in part
   has transparent rows and is caught), any resource the page fetched that is not a data: URI, and the page height.
2. A screenshot run on the unmodified page, with the window as tall as the page (at least
   4000 px, at most 16000), then a count of the screenshot's non-white pixels (an all-white or
   tiny image means nothing rendered).

Exit 0 and print what was checked when all holds; exit 1 with a one-line message when a check
fails; exit 2 when the check cannot run (no Chromium, no report file, Chromium crashed).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

PROBE_ID = "sg-browser-probe"
MIN_HEIGHT, MAX_HEIGHT, WIDTH = 4000, 16000, 1280

PROBE_SCRIPT = """<script>
window.addEventListener("load", function () {
  var out = {};
  var v = document.getElementById("verdict");
  if (v) {
    var r = v.getBoundingClientRect();
    out.verdict = {decision: v.getAttribute("data-decision"), text: v.innerText,
                   width: r.width, height: r.height};
  }
  out.images = Array.prototype.map.call(document.images, function (img) {
    var r = img.getBoundingClientRect(), w = img.naturalWidth, h = img.naturalHeight, alpha = null;
    if (img.complete && w && h) {  // draw the decoded pixels: rows a partial decode lacks stay transparent
      try {
        var c = document.createElement("canvas");
        c.width = w; c.height = h;
        var ctx = c.getContext("2d");
        ctx.drawImage(img, 0, 0);
        var d = ctx.getImageData(0, 0, w, h).data;
        alpha = 0;
        for (var k = 3; k < d.length; k += 4) { alpha += d[k]; }
      } catch (e) { alpha = "error: " + e.name; }
    }
    return {id: img.id, alt: img.alt, complete: img.complete, naturalWidth: w, naturalHeight: h,
            width: r.width, height: r.height, alphaSum: alpha,
            scheme: (img.getAttribute("src") || "").split(",")[0].slice(0, 40)};
  });
  out.fetched = performance.getEntriesByType("resource").map(function (e) { return e.name; })
    .filter(function (n) { return n.indexOf("data:") !== 0; });
  out.scripts = document.scripts.length;
  out.height = Math.ceil(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight));
  var pre = document.createElement("pre");
  pre.id = "%s";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>""" % PROBE_ID  # noqa: UP031 (a JavaScript template: an f-string would need every brace doubled)


class CheckFailed(Exception):
    """A check on the rendered page failed (exit 1)."""


class CannotRun(Exception):
    """The check could not be run (exit 2)."""


class _ProbeParser(HTMLParser):
    """Pull the probe's JSON text and the <img> tags out of Chromium's --dump-dom output."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_probe = False
        self.probe = ""
        self.img_tags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.img_tags += 1
        if tag == "pre" and dict(attrs).get("id") == PROBE_ID:
            self.in_probe = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self.in_probe = False

    def handle_data(self, data: str) -> None:
        if self.in_probe:
            self.probe += data


def _chromium_args(chromium: str, profile: str) -> list[str]:
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}"]


def _run_chromium(chromium: str, extra: list[str], url: str, timeout: float) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="sg-chromium-") as profile:
        cmd = _chromium_args(chromium, profile) + extra + [url]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise CannotRun(f"chromium did not finish within {timeout:.0f} s") from None
    return done


def _probe_copy(page: str) -> str:
    """The page with the probe script added and its CSP widened to allow only that inline script."""
    def widen(match: re.Match[str]) -> str:
        tag = match.group(0)
        for quote in ("'", "&#x27;", "&#39;"):
            none = f"default-src {quote}none{quote};"
            tag = tag.replace(none, f"{none} script-src {quote}unsafe-inline{quote};")
        return tag

    page = re.sub(r'<meta[^>]+http-equiv="Content-Security-Policy"[^>]*>', widen, page, flags=re.I)
    if "</body>" in page:
        return page.replace("</body>", PROBE_SCRIPT + "</body>", 1)
    return page + PROBE_SCRIPT


def probe(report: Path, chromium: str, timeout: float) -> tuple[dict, int]:
    with tempfile.TemporaryDirectory(prefix="sg-probe-") as tmp:
        copy = Path(tmp) / "probe.html"
        copy.write_text(_probe_copy(report.read_text(encoding="utf-8")), encoding="utf-8")
        done = _run_chromium(chromium, ["--virtual-time-budget=5000", f"--window-size={WIDTH},{MIN_HEIGHT}",
                                        "--dump-dom"], copy.as_uri(), timeout)
    parser = _ProbeParser()
    parser.feed(done.stdout)
    if not parser.probe:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if not done.stdout.strip():
            raise CannotRun(f"chromium --dump-dom returned no DOM (exit {done.returncode}): {tail}")
        raise CheckFailed("the page did not finish loading in Chromium (the probe never ran)")
    return json.loads(parser.probe), parser.img_tags


def screenshot(report: Path, out: Path, height: int, chromium: str, timeout: float) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    done = _run_chromium(chromium, ["--virtual-time-budget=5000", f"--window-size={WIDTH},{height}",
                                    f"--screenshot={out.resolve()}"], report.resolve().as_uri(), timeout)
    if not out.exists() or out.stat().st_size == 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CannotRun(f"chromium wrote no screenshot (exit {done.returncode}): {tail}")


class _ImgParser(HTMLParser):
    """The src of each <img> in the report file, by id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.src: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img" and a.get("id"):
            self.src[a["id"] or ""] = a.get("src") or ""


def reference_alpha(src: str) -> tuple[int, int, int]:
    """Width, height and alpha sum (0-255 per pixel) of a data-URI image decoded in Python."""
    import base64
    import io

    import numpy as np
    from matplotlib import image

    header, _, payload = src.partition(",")
    data = base64.b64decode(payload) if header.endswith(";base64") else payload.encode()
    pixels = np.asarray(image.imread(io.BytesIO(data), format=header[5:].split(";")[0].split("/")[-1]))
    if pixels.dtype.kind in "ui":
        pixels = pixels / float(np.iinfo(pixels.dtype).max)
    h, w = pixels.shape[:2]
    alpha = np.rint(pixels[..., 3] * 255).sum() if pixels.ndim == 3 and pixels.shape[2] == 4 else 255.0 * w * h
    return w, h, int(alpha)


def non_white_share(png: Path) -> tuple[int, int, float]:
    """Width, height and the share of pixels that are not (near) white."""
    import numpy as np
    from matplotlib import image

    pixels = image.imread(str(png))  # floats in [0, 1] for PNG
    rgb = np.asarray(pixels)[..., :3]
    dark = (rgb < 0.94).any(axis=-1)
    return int(rgb.shape[1]), int(rgb.shape[0]), float(dark.mean())


def check(report: Path, shot: Path, chromium: str, timeout: float) -> list[str]:
    done: list[str] = []
    info, img_tags = probe(report, chromium, timeout)

    verdict = info.get("verdict")
    if not verdict:
        raise CheckFailed('no element with id="verdict" in the rendered page')
    decision = verdict.get("decision")
    if not decision:
        raise CheckFailed("the verdict element has no data-decision attribute")
    text = " ".join((verdict.get("text") or "").split())
    if not text:
        raise CheckFailed("the verdict element renders no text")
    if verdict.get("width", 0) <= 0 or verdict.get("height", 0) <= 0:
        raise CheckFailed("the verdict element has no rendered size (hidden?)")
    if decision in ("released", "refused") and decision.upper() not in text.upper():
        raise CheckFailed(f"the verdict text does not say {decision.upper()}: {text[:80]!r}")
    done.append(f"verdict: data-decision={decision!r}, text {text[:90]!r}"
                f"{'...' if len(text) > 90 else ''}, rendered {verdict['width']:.0f}x{verdict['height']:.0f} px")

    images = info.get("images", [])
    if len(images) != img_tags:
        raise CheckFailed(f"the DOM dump holds {img_tags} <img> tags but the probe saw {len(images)}")
    for img in images:
        name = img.get("id") or img.get("alt") or "(unnamed)"
        if not img.get("id"):
            raise CheckFailed(f"an <img> ({name}) has no id")
        if not img.get("alt"):
            raise CheckFailed(f"<img id={name}> has no alt text")
        if not img.get("scheme", "").startswith("data:image/"):
            raise CheckFailed(f"<img id={name}> is not an embedded data URI ({img.get('scheme')!r})")
        if not img.get("complete") or not img.get("naturalWidth") or not img.get("naturalHeight"):
            raise CheckFailed(f"<img id={name}> did not decode in Chromium")
        if img.get("width", 0) < 16 or img.get("height", 0) < 16:
            raise CheckFailed(f"<img id={name}> decoded but renders at {img.get('width')}x{img.get('height')} px")
    parser = _ImgParser()
    parser.feed(report.read_text(encoding="utf-8"))
    for img in images:
        name = img["id"]
        try:
            w, h, alpha = reference_alpha(parser.src.get(name, ""))
        except Exception as err:  # noqa: BLE001 - any decoding failure is the finding
            got = img.get("alphaSum")
            drawn = (f"Chromium drew {got / (255.0 * img['naturalWidth'] * img['naturalHeight']):.0%} of it"
                     if isinstance(got, (int, float)) else "Chromium could not draw it")
            raise CheckFailed(f"<img id={name}> is corrupt: {drawn} and Python cannot decode it "
                              f"({type(err).__name__}: {str(err)[:60]})") from None
        if (w, h) != (img["naturalWidth"], img["naturalHeight"]):
            raise CheckFailed(f"<img id={name}> is {img['naturalWidth']}x{img['naturalHeight']} in Chromium, {w}x{h} in Python")
        got = img.get("alphaSum")
        if not isinstance(got, (int, float)):
            raise CheckFailed(f"<img id={name}>: its decoded pixels could not be read ({got})")
        if abs(got - alpha) > 0.05 * w * h:  # one missing row of a 660-wide opaque PNG differs by 660*255
            raise CheckFailed(f"<img id={name}> decoded only in part in Chromium "
                              f"({got / (255.0 * w * h):.1%} vs {alpha / (255.0 * w * h):.1%} of its pixels opaque)")
    done.append(f"{len(images)} <img> fully decoded (pixel alpha matches a Python decode): " + (", ".join(
        f"{i['id']} {i['naturalWidth']}x{i['naturalHeight']}" for i in images) or "none"))

    fetched = info.get("fetched", [])
    if fetched:
        raise CheckFailed(f"the page fetched {len(fetched)} external resource(s), first {fetched[0]!r}")
    if info.get("scripts", 0) > 1:  # the probe's own script is one
        raise CheckFailed(f"the page carries {info['scripts'] - 1} script element(s); a report has none")
    done.append("no external requests, no scripts in the page")

    height = max(MIN_HEIGHT, min(MAX_HEIGHT, int(info.get("height") or MIN_HEIGHT)))
    screenshot(report, shot, height, chromium, timeout)
    width, tall, share = non_white_share(shot)
    if share < 0.01:
        raise CheckFailed(f"the screenshot {shot} is blank ({share:.2%} non-white pixels)")
    done.append(f"screenshot {width}x{tall} px (page height {info.get('height')} px), "
                f"{share:.1%} non-white pixels")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="the HTML report to check")
    parser.add_argument("--screenshot", type=Path, required=True, help="where to write the PNG screenshot")
    parser.add_argument("--chromium", default=None, help="the Chromium binary (default: chromium on PATH)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per Chromium run")
    args = parser.parse_args(argv)

    try:
        chromium = args.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            raise CannotRun("chromium not found on PATH (Debian: apt-get install -y chromium)")
        if not args.report.is_file():
            raise CannotRun(f"report not found: {args.report}")
        lines = check(args.report, args.screenshot, chromium, args.timeout)
    except CheckFailed as err:
        print(f"FAIL {args.report}: {err}", file=sys.stderr)
        return 1
    except CannotRun as err:
        print(f"ERROR {args.report}: {err}", file=sys.stderr)
        return 2
    print(f"OK {args.report} in {chromium}:")
    for line in lines:
        print(f"  - {line}")
    print(f"screenshot: {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
