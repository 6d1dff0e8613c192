# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address and port arithmetic for the mesh compiler.

Addresses are IPv4 and handled as integers; a block of addresses is an
inclusive interval ``(lo, hi)``.  Port sets are kept per protocol as sorted,
disjoint, inclusive intervals.  Nothing here knows about Ansible.
"""

import bisect
import ipaddress
import re

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import show

MAX_ADDR = (1 << 32) - 1
PORT_MAX = 65535
PORT_PROTOCOLS = ('tcp', 'udp')

# ASCII digits only, to the end of the text (no trailing newline): int() would read other scripts' digits.
_PORT_RE = re.compile(r'(tcp|udp)/([0-9]{1,5})(?:-([0-9]{1,5}))?\Z', re.ASCII)
_PREFIX_RE = re.compile(r'[0-9]{1,2}\Z', re.ASCII)
_DOTTED_RE = re.compile(r'[0-9.]+\Z')


class AddressError(ValueError):
    """An address, prefix or port specification is malformed."""


def _address_error(text, what, why=None):
    detail = ' (%s)' % why if why and len(text) <= 40 else ''
    return AddressError('%s is not %s%s' % (show(text), what, detail))


def parse_ip(text):
    """Return the integer value of a dotted-quad IPv4 address.

    Parsed by the standard library: ASCII digits only, no leading zeros, no
    spaces; anything else raises ``AddressError`` with a bounded quote.
    """
    if not isinstance(text, str):
        raise _address_error(text, 'an IPv4 address')
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError as exc:
        raise _address_error(text, 'an IPv4 address', str(exc))


def format_ip(value):
    return '%d.%d.%d.%d' % ((value >> 24) & 255, (value >> 16) & 255, (value >> 8) & 255, value & 255)


def parse_cidr(text, strict=True):
    """Parse ``a.b.c.d`` or ``a.b.c.d/len`` into ``(network_int, prefix_len)``.

    With ``strict`` the address must be the network address of its prefix
    (``10.0.0.1/24`` is refused: host bits set).
    """
    if not isinstance(text, str):
        raise _address_error(text, 'an IPv4 address or CIDR')
    if '/' in text:
        addr_text, _sep, len_text = text.partition('/')
        if not _PREFIX_RE.match(len_text) or int(len_text) > 32:
            raise AddressError('%s has an invalid prefix length (write /0 to /32)' % show(text))
        length = int(len_text)
    else:
        addr_text, length = text, 32
    try:
        addr = parse_ip(addr_text)
    except AddressError:
        raise _address_error(text, 'an IPv4 address or CIDR')
    mask = prefix_mask(length)
    if strict and addr & ~mask & MAX_ADDR:
        raise AddressError('%s has host bits set; did you mean %s/%d?'
                           % (show(text), format_ip(addr & mask), length))
    return addr & mask if strict else addr, length


def prefix_mask(length):
    return (MAX_ADDR << (32 - length)) & MAX_ADDR


def cidr_interval(text):
    """``10.0.0.0/24`` -> ``(lo, hi)`` inclusive."""
    net, length = parse_cidr(text)
    return net, net | (~prefix_mask(length) & MAX_ADDR)


def interval_to_cidrs(lo, hi):
    """Smallest list of CIDR strings covering exactly ``lo..hi``."""
    out = []
    while lo <= hi:
        size = (lo & -lo).bit_length() - 1 if lo else 32
        while size > 0 and lo + (1 << size) - 1 > hi:
            size -= 1
        out.append('%s/%d' % (format_ip(lo), 32 - size))
        lo += 1 << size
    return out


def format_interval(lo, hi):
    """Render an address interval for nftables: address, CIDR or range."""
    if lo == hi:
        return format_ip(lo)
    size = hi - lo + 1
    if size & (size - 1) == 0 and lo % size == 0:
        return '%s/%d' % (format_ip(lo), 32 - (size.bit_length() - 1))
    return '%s-%s' % (format_ip(lo), format_ip(hi))


def parse_interval(text):
    """Inverse of ``format_interval``: address, CIDR or ``A-B`` -> ``(lo, hi)``."""
    if '-' in text:
        lo, _sep, hi = text.partition('-')
        lo, hi = parse_ip(lo), parse_ip(hi)
        if lo > hi:
            raise _address_error(text, 'address range', 'the first address is above the second')
        return lo, hi
    if '/' in text:
        return cidr_interval(text)
    value = parse_ip(text)
    return value, value


def address_in(value, texts):
    """Whether the address ``value`` is in one of ``texts`` (``inside_one_of``)."""
    return inside_one_of((value, value), texts)


def merge_intervals(intervals):
    """Sort and merge overlapping or adjacent inclusive intervals."""
    out = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def subtract_intervals(base, remove):
    """``base - remove`` for two merged interval lists."""
    out = []
    remove = merge_intervals(remove)
    for lo, hi in base:
        cur = lo
        for rlo, rhi in remove:
            if rhi < cur or rlo > hi:
                continue
            if rlo > cur:
                out.append((cur, rlo - 1))
            cur = max(cur, rhi + 1)
            if cur > hi:
                break
        if cur <= hi:
            out.append((cur, hi))
    return out


def intersect_intervals(a, b):
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def overlaps(a, b):
    return a[0] <= b[1] and b[0] <= a[1]


def contains(outer, inner):
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def prefix_interval(address, length):
    """The inclusive interval ``(lo, hi)`` of the /``length`` prefix holding ``address`` (host bits
    ignored): ``prefix_interval(parse_ip('10.0.0.7'), 24)`` is 10.0.0.0..10.0.0.255."""
    if isinstance(length, bool) or not isinstance(length, int) or not 0 <= length <= 32:
        raise ValueError('prefix length %r is not 0 to 32' % (length,))
    host_bits = (1 << (32 - length)) - 1
    lo = address & ~host_bits & 0xFFFFFFFF
    return lo, lo | host_bits


def format_cidr(address, length):
    """``a.b.c.d/len``, the address as given (mask it first for a network: ``prefix_interval``)."""
    return '%s/%d' % (format_ip(address), length)


def looks_like_ipv4(text):
    """Whether a host name is written as an IPv4 address (digits and dots only), so that it is read,
    and checked, as one rather than as a DNS name."""
    return _DOTTED_RE.match(text) is not None


# The overlay lives in private (RFC 1918) or shared (RFC 6598) address space unless the inventory allows
# public space; these never, whatever it says, and no endpoint is in them: "this network", loopback,
# multicast, reserved and broadcast.
PRIVATE_RANGES = ('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10')
SPECIAL_RANGES = ('0.0.0.0/8', '127.0.0.0/8', '224.0.0.0/4', '240.0.0.0/4')
LINK_LOCAL = '169.254.0.0/16'
EVERYWHERE = '0.0.0.0/0'     # a client's default route (the peer of its exit site)


def first_overlapping(interval, cidrs):
    """The first of ``cidrs`` (CIDR strings) that the interval ``(lo, hi)`` overlaps, or None."""
    for text in cidrs:
        if overlaps(interval, cidr_interval(text)):
            return text
    return None


def inside_one_of(interval, texts):
    """Whether the interval ``(lo, hi)`` lies wholly inside one of ``texts``
    (addresses, CIDRs or ranges, as ``parse_interval`` reads them)."""
    return any(contains(parse_interval(text), interval) for text in texts)


def addresses_within(addresses, interval):
    """The addresses of the sorted list ``addresses`` that lie in the interval ``(lo, hi)``."""
    return addresses[bisect.bisect_left(addresses, interval[0]):bisect.bisect_right(addresses, interval[1])]


# Results of PortSet operations: an inventory has few distinct port sets and
# combines them over and over.  Port sets never change, so results are shared;
# the cache is emptied when it reaches _PORT_OPS_MAX entries.
_PORT_OPS = {}
_PORT_OPS_MAX = 1 << 16


def _remember(key, value):
    if len(_PORT_OPS) >= _PORT_OPS_MAX:
        _PORT_OPS.clear()
    _PORT_OPS[key] = value
    return value


class PortSet:
    """What may be reached on one address: TCP/UDP port intervals plus
    ``other`` (every protocol that has no ports, ICMP included).

    Immutable by convention; operations return new objects.
    """

    __slots__ = ('tcp', 'udp', 'other', '_key', '_hash', '_text')

    def __init__(self, tcp=(), udp=(), other=False):
        self.tcp = tuple(merge_intervals(tcp))
        self.udp = tuple(merge_intervals(udp))
        self.other = bool(other)
        self._key = (self.tcp, self.udp, self.other)
        self._hash = hash(self._key)
        self._text = None   # describe(), once asked

    @classmethod
    def everything(cls):
        return cls([(0, PORT_MAX)], [(0, PORT_MAX)], True)

    @classmethod
    def parse(cls, specs):
        """Parse a list like ``['tcp/443', 'udp/53', 'tcp/8000-8100']``."""
        tcp, udp = [], []
        for spec in specs:
            proto, lo, hi = parse_port_spec(spec)
            (tcp if proto == 'tcp' else udp).append((lo, hi))
        return cls(tcp, udp, False)

    def __eq__(self, other):
        return isinstance(other, PortSet) and self._key == other._key

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return self._hash

    def __bool__(self):
        return bool(self.tcp or self.udp or self.other)

    def is_everything(self):
        return self == EVERYTHING

    def union(self, other):
        value = _PORT_OPS.get(('union', self, other))
        if value is None:
            value = _remember(('union', self, other),
                              PortSet(self.tcp + other.tcp, self.udp + other.udp, self.other or other.other))
        return value

    def intersect(self, other):
        value = _PORT_OPS.get(('intersect', self, other))
        if value is None:
            value = _remember(('intersect', self, other),
                              PortSet(intersect_intervals(self.tcp, other.tcp),
                                      intersect_intervals(self.udp, other.udp), self.other and other.other))
        return value

    def subtract(self, other):
        value = _PORT_OPS.get(('subtract', self, other))
        if value is None:
            value = _remember(('subtract', self, other),
                              PortSet(subtract_intervals(self.tcp, other.tcp),
                                      subtract_intervals(self.udp, other.udp), self.other and not other.other))
        return value

    def covers(self, other):
        return not other.subtract(self)

    def describe(self):
        """Human text: ``all``, ``none`` or ``tcp/443,udp/53``."""
        if self._text is None:
            self._text = self._describe()
        return self._text

    def _describe(self):
        if self.is_everything():
            return 'all'
        if not self:
            return 'none'
        parts = []
        for proto in PORT_PROTOCOLS:
            for lo, hi in getattr(self, proto):
                if (lo, hi) == (0, PORT_MAX):
                    parts.append(proto)
                else:
                    parts.append('%s/%d' % (proto, lo) if lo == hi else '%s/%d-%d' % (proto, lo, hi))
        if self.other:
            parts.append('other-protocols')
        return ','.join(parts)


EVERYTHING = PortSet.everything()
NOTHING = PortSet()


def parse_port_spec(spec):
    """``tcp/443`` or ``udp/1000-2000`` -> ``(proto, lo, hi)``."""
    match = _PORT_RE.match(spec) if isinstance(spec, str) else None
    if not match:
        raise AddressError('%s is not a port specification; write proto/port or proto/low-high '
                           'with proto tcp or udp, e.g. tcp/443 or udp/1000-2000' % show(spec))
    proto, lo, hi = match.group(1), int(match.group(2)), match.group(3)
    hi = int(hi) if hi is not None else lo
    if not 1 <= lo <= PORT_MAX or not 1 <= hi <= PORT_MAX:
        raise AddressError('%s: ports must be between 1 and %d' % (show(spec), PORT_MAX))
    if lo > hi:
        raise AddressError('%s: the range is reversed; write %s/%d-%d' % (show(spec), proto, hi, lo))
    return proto, lo, hi


class IntervalIndex:
    """Find which of many disjoint-or-not intervals overlap a query, fast.

    Built once from ``(lo, hi, payload)`` items; ``overlapping(lo, hi)``
    returns the payloads whose interval overlaps the query.
    """

    def __init__(self, items):
        self._items = sorted(items, key=lambda item: (item[0], item[1]))
        self._starts = [item[0] for item in self._items]
        # Largest interval size bounds how far left an overlapping start can be.
        self._span = max([hi - lo for lo, hi, _p in self._items] or [0])

    def overlapping(self, lo, hi):
        out = []
        start = bisect.bisect_left(self._starts, lo - self._span)
        stop = bisect.bisect_right(self._starts, hi)
        for index in range(start, stop):
            ilo, ihi, payload = self._items[index]
            if ihi >= lo:
                out.append(payload)
        return out
