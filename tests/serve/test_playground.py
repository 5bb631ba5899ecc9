"""The page at ``/``: plain HTML + JS with no external resources, and, in headless Chromium (Debian's package; the
test is skipped without it), a search that fills both columns (whitened hits and the raw re-ranking)."""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx
import pytest


def test_page_is_self_contained(search_server):
    html = httpx.get(search_server.url + "/").text
    assert "<form" in html and 'id="index"' in html
    assert not re.search(r"""(src|href)=["']https?://""", html)  # no CDN: works offline


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_search_in_headless_chromium(search_server):
    url = search_server.url + "/?q=the%20cat%20sat&index=faq&k=3"
    proc = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000",
                           "--dump-dom", url], capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    left = re.search(r'<table id="left">(.*?)</table>', dom, re.S)
    right = re.search(r'<table id="right">(.*?)</table>', dom, re.S)
    assert left and right, dom[-2000:]
    assert left.group(1).count("<tr>") == 3 and right.group(1).count("<tr>") == 3, dom[-3000:]
    assert "hits in" in dom
