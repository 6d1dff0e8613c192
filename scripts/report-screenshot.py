# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Screenshot of an HTML report in headless Chromium, as docs/images/report.png was taken:

    .venv/bin/python scripts/report-screenshot.py inventories/lab/.meshconnect/lab/report.html docs/images/report.png \\
        --filter 'user=carol' --choose 'hq:app'

``--filter`` is the address's filter part; ``--choose`` clicks the first row to that resource.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests', 'host'))

from browser import Browser  # noqa: E402  pylint: disable=wrong-import-position


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('report')
    parser.add_argument('out')
    parser.add_argument('--filter', default='')
    parser.add_argument('--choose')
    args = parser.parse_args()
    with Browser() as browser:
        page = browser.open(os.path.abspath(args.report) + ('#' + args.filter if args.filter else ''))
        if args.choose:
            page.eval('Array.from(document.querySelectorAll("#matrix-body tr")).filter(function (tr) {'
                      ' return tr.dataset.to === %s; })[0].click()' % json.dumps(args.choose))
        problems = page.problems()
        page.screenshot(args.out)
    for problem in problems:
        print('browser: %s' % problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
