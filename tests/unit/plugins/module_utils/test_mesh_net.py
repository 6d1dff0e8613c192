# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address and port arithmetic."""

import ipaddress
import random

import pytest

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_access as access
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    EVERYTHING, MAX_ADDR, NOTHING, AddressError, IntervalIndex, PortSet, cidr_interval, format_interval, format_ip,
    intersect_intervals, interval_to_cidrs, merge_intervals, parse_cidr, parse_ip, parse_port_spec,
    prefix_interval, subtract_intervals,
)


# ----------------------------------------------------------------------
# addresses


@pytest.mark.parametrize('text, value', [
    ('0.0.0.0', 0), ('255.255.255.255', MAX_ADDR), ('10.1.2.3', 0x0A010203), ('192.168.0.1', 0xC0A80001),
])
def test_parse_and_format_ip(text, value):
    assert parse_ip(text) == value
    assert format_ip(value) == text


def test_ip_round_trip_random():
    rng = random.Random(7)
    for _i in range(2000):
        value = rng.randrange(0, MAX_ADDR + 1)
        assert parse_ip(format_ip(value)) == value


@pytest.mark.parametrize('text', ['10.0.0', '10.0.0.0.1', '10.0.0.256', '10.0.0.-1', '010.0.0.1', '10.0.0.1 ',
                                  '1e1.0.0.1', '', 'a.b.c.d', None, 167772161, '10..0.1'])
def test_parse_ip_rejects(text):
    with pytest.raises(AddressError):
        parse_ip(text)


@pytest.mark.parametrize('text, net, length', [
    ('10.0.0.0/8', 0x0A000000, 8), ('10.1.2.3', 0x0A010203, 32), ('0.0.0.0/0', 0, 0),
    ('192.168.1.128/25', 0xC0A80180, 25),
])
def test_parse_cidr(text, net, length):
    assert parse_cidr(text) == (net, length)


def test_parse_cidr_strict_and_not():
    with pytest.raises(AddressError) as info:
        parse_cidr('10.1.2.3/24')
    assert 'did you mean 10.1.2.0/24' in str(info.value)
    assert parse_cidr('10.1.2.3/24', strict=False) == (0x0A010203, 24)


@pytest.mark.parametrize('text', ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/x', '10.0.0.0/8/8', None])
def test_parse_cidr_rejects(text):
    with pytest.raises(AddressError):
        parse_cidr(text)


def test_cidr_interval():
    assert cidr_interval('10.0.0.0/30') == (0x0A000000, 0x0A000003)
    assert cidr_interval('10.0.0.9') == (0x0A000009, 0x0A000009)
    assert cidr_interval('0.0.0.0/0') == (0, MAX_ADDR)


def test_interval_to_cidrs_examples():
    ip = parse_ip
    assert interval_to_cidrs(ip('10.0.0.0'), ip('10.0.0.255')) == ['10.0.0.0/24']
    assert interval_to_cidrs(ip('10.0.0.1'), ip('10.0.0.6')) == ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31',
                                                                 '10.0.0.6/32']
    assert interval_to_cidrs(0, MAX_ADDR) == ['0.0.0.0/0']
    assert interval_to_cidrs(MAX_ADDR, MAX_ADDR) == ['255.255.255.255/32']
    assert interval_to_cidrs(ip('10.1.0.6'), ip('10.1.0.255')) == ['10.1.0.6/31', '10.1.0.8/29', '10.1.0.16/28',
                                                                   '10.1.0.32/27', '10.1.0.64/26', '10.1.0.128/25']
    assert interval_to_cidrs(5, 4) == []


def _minimal_cidr_count(lo, hi):
    """Independent count: greedy largest aligned block at each step is optimal."""
    count = 0
    while lo <= hi:
        size = 1
        while lo % (size * 2) == 0 and lo + size * 2 - 1 <= hi:
            size *= 2
        lo += size
        count += 1
    return count


def test_interval_to_cidrs_is_exact_and_minimal():
    rng = random.Random(11)
    for _i in range(1500):
        lo = rng.randrange(0, MAX_ADDR + 1)
        hi = min(MAX_ADDR, lo + rng.choice([0, 1, 2, 7, 255, 1000, rng.randrange(0, 1 << 24)]))
        cidrs = interval_to_cidrs(lo, hi)
        blocks = sorted(cidr_interval(c) for c in cidrs)   # valid, host bits clear
        assert blocks[0][0] == lo and blocks[-1][1] == hi
        for (alo, ahi), (blo, _bhi) in zip(blocks, blocks[1:]):
            assert blo == ahi + 1                           # contiguous, no overlap
        assert len(cidrs) == _minimal_cidr_count(lo, hi)


@pytest.mark.parametrize('lo, hi, text', [
    ('10.0.0.5', '10.0.0.5', '10.0.0.5'), ('10.0.0.0', '10.0.0.255', '10.0.0.0/24'),
    ('10.0.0.4', '10.0.0.7', '10.0.0.4/30'), ('10.0.0.2', '10.0.0.5', '10.0.0.2-10.0.0.5'),
    ('10.0.0.2', '10.0.0.3', '10.0.0.2/31'), ('10.0.0.1', '10.0.0.2', '10.0.0.1-10.0.0.2'),
])
def test_format_interval(lo, hi, text):
    assert format_interval(parse_ip(lo), parse_ip(hi)) == text


def test_interval_lists():
    assert merge_intervals([(5, 9), (1, 3), (4, 4), (20, 30), (25, 26)]) == [(1, 9), (20, 30)]
    assert merge_intervals([(1, 2), (4, 5)]) == [(1, 2), (4, 5)]
    assert subtract_intervals([(0, 100)], [(10, 20), (15, 30), (100, 200)]) == [(0, 9), (31, 99)]
    assert subtract_intervals([(0, 10), (20, 30)], [(5, 25)]) == [(0, 4), (26, 30)]
    assert subtract_intervals([(0, 10)], [(0, 10)]) == []
    assert intersect_intervals([(0, 10), (20, 30)], [(5, 25)]) == [(5, 10), (20, 25)]
    assert intersect_intervals([(0, 10)], []) == []


def test_interval_lists_against_sets():
    rng = random.Random(3)
    for _i in range(300):
        a = merge_intervals([(lo, lo + rng.randrange(6)) for lo in rng.sample(range(60), 5)])
        b = merge_intervals([(lo, lo + rng.randrange(6)) for lo in rng.sample(range(60), 5)])
        sa = set(x for lo, hi in a for x in range(lo, hi + 1))
        sb = set(x for lo, hi in b for x in range(lo, hi + 1))
        assert set(x for lo, hi in subtract_intervals(a, b) for x in range(lo, hi + 1)) == sa - sb
        assert set(x for lo, hi in intersect_intervals(a, b) for x in range(lo, hi + 1)) == sa & sb


def test_interval_index():
    items = [(0, 100, 'big'), (10, 10, 'ten'), (50, 60, 'mid'), (200, 300, 'far')]
    index = IntervalIndex(items)
    assert sorted(index.overlapping(55, 55)) == ['big', 'mid']
    assert sorted(index.overlapping(101, 199)) == []
    assert sorted(index.overlapping(90, 250)) == ['big', 'far']
    assert IntervalIndex([]).overlapping(0, 10) == []


# ----------------------------------------------------------------------
# ports


@pytest.mark.parametrize('spec, parsed', [
    ('tcp/443', ('tcp', 443, 443)), ('udp/1000-2000', ('udp', 1000, 2000)), ('tcp/1', ('tcp', 1, 1)),
    ('udp/65535', ('udp', 65535, 65535)), ('tcp/5-5', ('tcp', 5, 5)),
])
def test_parse_port_spec(spec, parsed):
    assert parse_port_spec(spec) == parsed


@pytest.mark.parametrize('spec, fragment', [
    ('tcp/0', 'between 1 and 65535'), ('tcp/65536', 'between 1 and 65535'), ('udp/1-70000', 'between 1 and 65535'),
    ('tcp/20-10', 'reversed; write tcp/10-20'), ('icmp/8', 'not a port specification'),
    ('TCP/22', 'not a port specification'), ('tcp/', 'not a port specification'), ('tcp/22 ', 'not a port'),
    ('tcp/123456', 'not a port specification'), ('tcp', 'not a port specification'), (22, 'not a port'),
    (None, 'not a port'), ('tcp/-5', 'not a port'),
])
def test_parse_port_spec_errors(spec, fragment):
    with pytest.raises(AddressError) as info:
        parse_port_spec(spec)
    assert fragment in str(info.value)
    assert repr(spec) in str(info.value)


def test_portset_parse_and_describe():
    ports = PortSet.parse(['tcp/443', 'udp/53', 'tcp/80', 'tcp/81-90', 'udp/54'])
    assert ports.tcp == ((80, 90), (443, 443))
    assert ports.udp == ((53, 54),)
    assert ports.describe() == 'tcp/80-90,tcp/443,udp/53-54'
    assert EVERYTHING.describe() == 'all'
    assert NOTHING.describe() == 'none'
    assert PortSet([(0, 65535)], [], False).describe() == 'tcp'
    assert PortSet([], [(0, 65535)], True).describe() == 'udp,other-protocols'
    assert PortSet([], [], True).describe() == 'other-protocols'


def test_portset_union():
    a = PortSet.parse(['tcp/22', 'udp/53'])
    b = PortSet.parse(['tcp/23-25', 'tcp/443'])
    assert a.union(b).describe() == 'tcp/22-25,tcp/443,udp/53'
    assert a.union(NOTHING) == a
    assert a.union(EVERYTHING).is_everything()


def test_portset_subtract():
    web = PortSet.parse(['tcp/80-90'])
    assert web.subtract(PortSet.parse(['tcp/85'])).describe() == 'tcp/80-84,tcp/86-90'
    assert web.subtract(PortSet.parse(['udp/85'])) == web
    assert not web.subtract(EVERYTHING)
    assert EVERYTHING.subtract(PortSet.parse(['tcp/22'])).describe() == 'tcp/0-21,tcp/23-65535,udp,other-protocols'
    assert EVERYTHING.subtract(PortSet([(0, 65535)], [(0, 65535)], False)).describe() == 'other-protocols'


def test_portset_intersect_and_covers():
    a = PortSet.parse(['tcp/1-100', 'udp/53'])
    b = PortSet.parse(['tcp/50-150', 'udp/54'])
    assert a.intersect(b).describe() == 'tcp/50-100'
    assert not a.intersect(b).udp
    assert EVERYTHING.covers(a) and a.covers(PortSet.parse(['tcp/10-20']))
    assert not a.covers(b)
    assert a.covers(NOTHING)
    assert not NOTHING.covers(PortSet([], [], True))


def test_portset_value_semantics():
    assert PortSet.parse(['tcp/1', 'tcp/2']) == PortSet.parse(['tcp/1-2'])
    assert hash(PortSet.parse(['tcp/1', 'tcp/2'])) == hash(PortSet.parse(['tcp/1-2']))
    assert PortSet.parse(['tcp/1']) != PortSet.parse(['udp/1'])
    assert bool(NOTHING) is False and bool(PortSet([], [], True)) is True


def test_portset_operations_against_sets():
    rng = random.Random(5)
    universe = [(p, n) for p in ('tcp', 'udp') for n in range(0, 40)] + [('other', 0)]

    def random_set():
        tcp = [(lo, lo + rng.randrange(5)) for lo in rng.sample(range(35), rng.randrange(4))]
        udp = [(lo, lo + rng.randrange(5)) for lo in rng.sample(range(35), rng.randrange(4))]
        return PortSet(tcp, udp, rng.random() < 0.5)

    def members(ps):
        return set(x for x in universe if (x[0] == 'other' and ps.other) or
                   (x[0] != 'other' and any(lo <= x[1] <= hi for lo, hi in getattr(ps, x[0]))))

    for _i in range(300):
        a, b = random_set(), random_set()
        assert members(a.union(b)) == members(a) | members(b)
        assert members(a.subtract(b)) == members(a) - members(b)
        assert members(a.intersect(b)) == members(a) & members(b)
        assert a.covers(b) == (members(b) <= members(a))


# ----------------------------------------------------------------------
# access maps


def test_access_map_union_subtract_describe():
    ip = parse_ip
    lan = [(ip('10.0.0.0'), ip('10.0.0.255'), EVERYTHING)]
    db = [(ip('10.0.0.5'), ip('10.0.0.5'), EVERYTHING)]
    rest = access.subtract(lan, db)
    assert rest == [(ip('10.0.0.0'), ip('10.0.0.4'), EVERYTHING), (ip('10.0.0.6'), ip('10.0.0.255'), EVERYTHING)]
    assert access.describe(rest, ip('10.0.0.0'), ip('10.0.0.255')) == 'partial: all except 10.0.0.5'
    assert access.describe(rest, ip('10.0.0.5'), ip('10.0.0.5')) is None
    assert access.describe(rest, ip('10.0.0.6'), ip('10.0.0.6')) == 'all'
    ssh = [(ip('10.0.0.5'), ip('10.0.0.5'), PortSet.parse(['tcp/22']))]
    both = access.union(rest, ssh)
    assert access.describe(both, ip('10.0.0.0'), ip('10.0.0.255')) == \
        'partial: 10.0.0.0-10.0.0.4 all; 10.0.0.5 tcp/22; 10.0.0.6-10.0.0.255 all'
    assert access.covers(both, ip('10.0.0.0'), ip('10.0.0.255'), PortSet.parse(['tcp/22']))
    assert not access.covers(both, ip('10.0.0.0'), ip('10.0.0.255'), PortSet.parse(['tcp/23']))
    assert access.touches(both, ip('10.0.0.5'), ip('10.0.0.5'), PortSet.parse(['tcp/22']))
    assert not access.touches(both, ip('10.0.0.5'), ip('10.0.0.5'), PortSet.parse(['tcp/23']))


def test_prefix_interval_is_the_standard_librarys_network():
    rng = random.Random(11)
    for length in range(33):
        for address in [0, 0xFFFFFFFF] + [rng.getrandbits(32) for _draw in range(50)]:
            network = ipaddress.IPv4Network((address, length), strict=False)
            assert prefix_interval(address, length) == (int(network.network_address),
                                                        int(network.broadcast_address))


@pytest.mark.parametrize('length', [-1, 33, True, '24', 24.0, None])
def test_prefix_interval_refuses_a_length_outside_0_to_32(length):
    with pytest.raises(ValueError):
        prefix_interval(parse_ip('10.0.0.1'), length)


def _by_address(amap, size):
    """Ports per address of a small space: what a map means, whatever its pieces."""
    out = [NOTHING] * size
    for lo, hi, ports in amap:
        for address in range(lo, hi + 1):
            out[address] = out[address].union(ports) if out[address] else ports
    return out


def test_from_pieces_is_the_union_of_its_pieces_in_canonical_form():
    # Overlapping or not, sorted or not: the map means the union, has disjoint sorted pieces, and no two
    # neighbours with equal ports (so equal meanings are equal maps).
    rng = random.Random(5)
    port_sets = [PortSet.parse([spec]) for spec in ('tcp/22', 'tcp/443', 'udp/53', 'tcp/20-30')] + [EVERYTHING]
    for _case in range(400):
        pieces = []
        cursor = rng.randrange(4)
        for _piece in range(rng.randint(0, 6)):
            if rng.random() < 0.5:       # disjoint and ascending, like one resource's map
                lo = cursor + rng.randrange(3)
            else:                       # anywhere: overlapping, out of order
                lo = rng.randrange(40)
            hi = min(lo + rng.randrange(8), 47)
            cursor = hi + 1
            pieces.append((lo, hi, rng.choice(port_sets)))
        amap = access.from_pieces(pieces)
        assert _by_address(amap, 48) == _by_address(pieces, 48)
        for (_lo, hi, ports), (nlo, _nhi, nports) in zip(amap, amap[1:]):
            assert hi < nlo and not (hi + 1 == nlo and ports == nports)


def test_port_set_results_are_remembered_within_a_bound(monkeypatch):
    from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_net
    monkeypatch.setattr(mesh_net, '_PORT_OPS', {})
    monkeypatch.setattr(mesh_net, '_PORT_OPS_MAX', 8)
    sets = [PortSet.parse(['tcp/%d-%d' % (n, n + 10)]) for n in range(1, 200, 7)]
    for a in sets:
        for b in sets:
            # Asked again (remembered or not), an operation gives the same answer as a fresh computation.
            for _twice in range(2):
                assert a.union(b) == PortSet(a.tcp + b.tcp)
                assert a.intersect(b) == PortSet(mesh_net.intersect_intervals(a.tcp, b.tcp))
                assert a.subtract(b) == PortSet(mesh_net.subtract_intervals(a.tcp, b.tcp))
            assert len(mesh_net._PORT_OPS) <= 8
