"""Debian's chromium for the browser tests and benchmarks (Playwright drives it)."""

CHROMIUM = "/usr/bin/chromium"
#: Without the background-networking flags chromium keeps dialling out on this closed network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
