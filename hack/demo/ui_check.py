"""Open the UI that `kubectl airkube ui --no-browser` printed and check that a run's page
shows the run in the state given: `ui_check.py URL NAMESPACE DAG RUN STATE`. The demo
calls it so that "the UI shows the demo's run" is checked, not assumed."""

from __future__ import annotations

import re
import sys
import urllib.request
from http.cookiejar import CookieJar


def main(url: str, namespace: str, dag: str, run: str, state: str) -> int:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    opener.open(url, timeout=30).read()  # the one-time token, exchanged for a cookie
    base = url.split("/?", 1)[0]
    page = f"{base}/ui/namespaces/{namespace}/dags/{dag}/runs/{run}"
    html = opener.open(page, timeout=30).read().decode()
    heading = re.search(r"<h1>(.*?)</h1>", html, re.S)
    shown = re.sub(r"<[^>]+>", "", heading.group(1)).split() if heading else []
    if shown[:2] != [run, state]:
        print(f"demo: the UI's page of {run} shows {shown!r}, not {run} {state}", file=sys.stderr)
        return 1
    print(f"demo: the UI shows {run}: {state} ({page})")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
