# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prefixes, address spaces and endpoint lookups the model reads through mesh_net."""

import ipaddress
import random

import pytest

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    PRIVATE_RANGES, SPECIAL_RANGES, addresses_within, cidr_interval, first_overlapping, format_cidr,
    inside_one_of, looks_like_ipv4, parse_ip, prefix_interval,
)


def test_prefix_interval_masks_host_bits_like_ipaddress():
    rng = random.Random(7)
    for _round in range(500):
        address, length = rng.getrandbits(32), rng.randint(0, 32)
        network = ipaddress.IPv4Network((address, length), strict=False)
        assert prefix_interval(address, length) == (int(network.network_address), int(network.broadcast_address))
    assert prefix_interval(parse_ip('10.0.0.7'), 24) == cidr_interval('10.0.0.0/24')
    assert prefix_interval(parse_ip('10.0.0.7'), 32) == (parse_ip('10.0.0.7'),) * 2


def test_format_cidr():
    assert format_cidr(parse_ip('10.1.0.0'), 16) == '10.1.0.0/16'
    assert format_cidr(parse_ip('192.0.2.9'), 32) == '192.0.2.9/32'


@pytest.mark.parametrize('text, expected', [
    ('203.0.113.1', True), ('1.2.3.999', True), ('10', True),
    ('gw.example.com', False), ('10.0.0.1a', False), ('', False), ('1.2.3.4\n', False),
])
def test_looks_like_ipv4(text, expected):
    assert looks_like_ipv4(text) is expected


@pytest.mark.parametrize('cidr, special', [
    ('127.0.0.0/24', '127.0.0.0/8'), ('0.0.0.0/16', '0.0.0.0/8'), ('224.0.0.0/24', '224.0.0.0/4'),
    ('255.255.255.255/32', '240.0.0.0/4'), ('126.0.0.0/7', '127.0.0.0/8'), ('10.0.0.0/8', None),
    ('100.64.0.0/10', None),
])
def test_first_overlapping(cidr, special):
    assert first_overlapping(cidr_interval(cidr), SPECIAL_RANGES) == special


@pytest.mark.parametrize('cidr, inside', [
    ('10.200.0.0/22', True), ('172.16.4.0/24', True), ('192.168.77.0/24', True), ('100.64.0.0/16', True),
    ('100.64.0.0/10', True), ('100.0.0.0/9', False), ('172.31.255.0/24', True), ('172.32.0.0/16', False),
    ('8.8.8.0/24', False), ('9.255.255.255/32', False),
])
def test_inside_one_of(cidr, inside):
    assert inside_one_of(cidr_interval(cidr), PRIVATE_RANGES) is inside


def test_addresses_within_a_sorted_list():
    addresses = sorted(parse_ip(a) for a in ('10.0.0.1', '10.0.0.255', '10.0.1.0', '192.0.2.1'))
    assert addresses_within(addresses, cidr_interval('10.0.0.0/24')) == addresses[:2]
    assert addresses_within(addresses, cidr_interval('10.0.0.0/23')) == addresses[:3]
    assert addresses_within(addresses, cidr_interval('172.16.0.0/12')) == []
    assert addresses_within(addresses, (addresses[-1], addresses[-1])) == addresses[-1:]
    assert addresses_within([], (0, 1)) == []
