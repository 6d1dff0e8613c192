# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Headless Chromium (the Debian package) driven over the DevTools protocol
on a pipe (``--remote-debugging-pipe``: file descriptors 3 and 4, JSON
messages ending in NUL), so that a test needs no extra Python package and no
network port.

``Browser.open(path)`` loads a local file and returns a page; the page keeps
what the browser said (console messages, uncaught exceptions, and the log:
Content-Security-Policy violations and failed loads are reported there).
"""

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM = ('chromium', 'chromium-browser', 'google-chrome')


def chromium():
    """The path of a Chromium binary, or None."""
    for name in CHROMIUM:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium; use as a context manager."""

    def __init__(self, width=1400, height=1000):
        self.events, self._buffer, self._next = [], b'', 0
        self._profile = tempfile.mkdtemp(prefix='mc-chromium-')
        to_chrome_r, self._to_chrome = os.pipe()
        from_chrome, from_chrome_w = os.pipe()
        # The child's fds 3 and 4 are the pipes; dup2 from copies above 4 (os.pipe may have returned 3 or 4).
        high_r, high_w = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)

        def child():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self._proc = subprocess.Popen(  # pylint: disable=subprocess-popen-preexec-fn
            [chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe',
             '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-sync',
             '--window-size=%d,%d' % (width, height), '--user-data-dir=' + self._profile, 'about:blank'],
            preexec_fn=child, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        for fd in sorted({to_chrome_r, from_chrome_w, high_r, high_w}):
            os.close(fd)
        self._from_chrome = from_chrome

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.call('Browser.close')
        except (OSError, RuntimeError, TimeoutError, EOFError):
            pass
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def call(self, method, params=None, session=None, timeout=30):
        self._next += 1
        message = {'id': self._next, 'method': method, 'params': params or {}}
        if session:
            message['sessionId'] = session
        os.write(self._to_chrome, json.dumps(message).encode('utf-8') + b'\0')
        return self._wait(lambda m, want=self._next: m.get('id') == want, timeout)

    def _wait(self, wanted, timeout):
        deadline = time.time() + timeout
        while True:
            while b'\0' in self._buffer:
                raw, self._buffer = self._buffer.split(b'\0', 1)
                message = json.loads(raw.decode('utf-8'))
                if wanted(message):
                    if 'error' in message:
                        raise RuntimeError('%s' % message['error'])
                    return message.get('result', message.get('params'))
                self.events.append(message)
            left = deadline - time.time()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise TimeoutError('Chromium did not answer in %d s' % timeout)
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise EOFError('Chromium closed its pipe')
            self._buffer += chunk

    def open(self, path):
        target = self.call('Target.createTarget', {'url': 'about:blank'})['targetId']
        session = self.call('Target.attachToTarget', {'targetId': target, 'flatten': True})['sessionId']
        page = Page(self, session)
        for domain in ('Runtime', 'Log', 'Page'):
            page.call(domain + '.enable')
        page.call('Page.navigate', {'url': 'file://' + os.path.abspath(path)})
        self._wait(lambda m: m.get('method') == 'Page.loadEventFired' and m.get('sessionId') == session, 30)
        return page


class Page:
    """A tab: evaluate script, take a screenshot, read what the browser said."""

    def __init__(self, browser, session):
        self.browser, self.session = browser, session

    def call(self, method, params=None):
        return self.browser.call(method, params, self.session)

    def eval(self, expression):
        result = self.call('Runtime.evaluate', {'expression': expression, 'returnByValue': True,
                                                'awaitPromise': True})
        if result.get('exceptionDetails'):
            raise RuntimeError('script failed: %s' % json.dumps(result['exceptionDetails'])[:500])
        return result['result'].get('value')

    def problems(self):
        """Console errors and warnings, uncaught exceptions, and the log's errors and warnings (CSP
        violations, failed loads) of this page, as text."""
        self.eval('1')      # flushes the events sent before this answer
        out = []
        for event in self.browser.events:
            if event.get('sessionId') != self.session:
                continue
            params = event.get('params') or {}
            if event.get('method') == 'Runtime.exceptionThrown':
                out.append('exception: %s' % json.dumps(params.get('exceptionDetails'))[:500])
            elif event.get('method') == 'Runtime.consoleAPICalled' and params.get('type') in ('error', 'warning',
                                                                                              'assert'):
                out.append('console %s: %s' % (params['type'], json.dumps(params.get('args'))[:500]))
            elif event.get('method') == 'Log.entryAdded' and params['entry'].get('level') in ('error', 'warning'):
                out.append('log %s: %s' % (params['entry'].get('level'), params['entry'].get('text')))
        return out

    def screenshot(self, path):
        height = self.eval('Math.min(document.documentElement.scrollHeight, 6000)')
        self.call('Emulation.setDeviceMetricsOverride', {'width': 1400, 'height': int(height),
                                                         'deviceScaleFactor': 1, 'mobile': False})
        data = self.call('Page.captureScreenshot', {'format': 'png'})['data']
        with open(path, 'wb') as handle:
            handle.write(base64.b64decode(data))
        return path
