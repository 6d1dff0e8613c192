# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab resource server: a tiny TCP service standing in for a site's application.

    lab-server.py PORT [PORT ...]      (installed as /usr/local/sbin/mc-lab-server)

Listens on every given TCP port on all addresses (IPv6 and IPv4 when the host
has IPv6, IPv4 only otherwise). On each connection it first writes one line

    hello from <hostname> port <port>

and then echoes back every line it receives until the peer closes, so that a
test can hold one long-lived connection and check that it keeps working (for
example across a WireGuard or firewall reload). Python 3 standard library only.
"""

import signal
import socket
import socketserver
import sys
import threading


def log(message):
    sys.stdout.write(message + '\n')
    sys.stdout.flush()


class Handler(socketserver.StreamRequestHandler):
    """Greet, then echo line by line until EOF."""

    def handle(self):
        port = self.server.server_address[1]
        peer = self.client_address[0]
        if peer.startswith('::ffff:'):
            peer = peer[len('::ffff:'):]
        log('port %d: connection from %s' % (port, peer))
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            self.wfile.write(('hello from %s port %d\n' % (socket.gethostname(), port)).encode())
            for line in self.rfile:
                self.wfile.write(line)
        except OSError as exc:
            log('port %d: connection from %s failed: %s' % (port, peer, exc))
            return
        log('port %d: %s closed' % (port, peer))


class Server4(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class Server6(Server4):
    address_family = socket.AF_INET6

    def server_bind(self):
        # Dual stack: IPv4 clients arrive as IPv4-mapped addresses.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def listen(port):
    """A server on every address for ``port``: dual stack when possible, else IPv4."""
    if socket.has_ipv6:
        try:
            return Server6(('::', port), Handler)
        except OSError:
            pass
    return Server4(('0.0.0.0', port), Handler)


def main(argv):
    try:
        ports = sorted({int(arg) for arg in argv})
    except ValueError:
        ports = []
    if not ports or any(port < 1 or port > 65535 for port in ports):
        sys.stderr.write('usage: mc-lab-server PORT [PORT ...]\n')
        return 2
    servers = [listen(port) for port in ports]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        log('listening on %s port %d' % (server.server_address[0], server.server_address[1]))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
