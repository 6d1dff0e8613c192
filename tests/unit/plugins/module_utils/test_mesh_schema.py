# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Any value in any place of the inventory gets a clear answer.

Every position of a valid inventory (each section, each key of each entry,
each entry of each list) is replaced in turn by each value of a hostile
catalogue: wrong kinds, non-ASCII digits, over-long text, deep nesting and
nested YAML aliases ("billion laughs").  For every one of them the compiler
either compiles or raises MeshError; nothing else escapes, no message is
longer than a screen line or two, and a value of another kind than the one it
replaces is never silently accepted (a string taken as one user per character,
a mapping taken as its keys).
"""

import copy
import datetime
import multiprocessing
import unicodedata

import pytest

from meshcase import TODAY, inventory, key

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import compile_mesh
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import MAX_ERRORS, MeshError
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    AddressError, parse_cidr, parse_ip, parse_port_spec,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_schema import MAX_EXPANDED, expanded_size


def laughs(levels, width=9):
    """A list that prints as width**levels strings but is ``levels`` small lists in memory."""
    node = ['lol'] * width
    for _level in range(levels):
        node = [node] * width
    return node


def deep(levels):
    node = []
    for _level in range(levels):
        node = [node]
    return node


HOSTILE = [
    0, 7, -1, 2 ** 70, True, False, 2.5, float('nan'), '', 'x' * 5000, '١٠.60.0.0/24', 'tcp/٤٤٣', '10.0.0.²',
    '10.1.0.5\n', 'alice\n', '../../etc', [], ['x'], [['x']], [None], [7], {}, {'a': 1}, {'name': ['x']},
    None, laughs(30), {'name': laughs(30)}, [laughs(30)], deep(5000), datetime.date(2026, 1, 1),
]
HOSTILE_IDS = ['int0', 'int7', 'neg', 'huge', 'true', 'false', 'float', 'nan', 'empty', 'long', 'arabic-cidr',
               'arabic-port', 'superscript', 'newline-ip', 'newline-name', 'traversal', 'list0', 'list1',
               'nested', 'list-none', 'list-int', 'map0', 'map1', 'map-nested', 'none', 'laughs', 'map-laughs',
               'list-laughs', 'deep', 'date']


def positions(value, path=()):
    """Every path into ``value`` (dict keys and list indexes), outermost first."""
    yield path
    if isinstance(value, dict):
        for k in value:
            yield from positions(value[k], path + (k,))
    elif isinstance(value, list):
        for index, element in enumerate(value):
            yield from positions(element, path + (index,))


def base():
    inv = inventory()
    inv['users'].append({'name': 'erin', 'groups': ['dev'], 'expires': '2027-01-01', 'email': 'e@example.com'})
    inv['users'][-1]['public_key'] = key(9)
    inv['links'].append({'name': 'one-way', 'agents': ['tcp/22'],
                         'sites': {'hq': {'expose': ['db:tcp/5432']}, 'branch': {'connect': ['lan']}}})
    inv['policy_tests'] = [{'user': 'bob', 'allow': ['hq:web:tcp/443'], 'deny': ['hq:db']},
                           {'site': 'branch:lan', 'allow': ['hq:db:tcp/5432']}]
    inv['network']['dns'] = ['10.1.0.53', {'address': '10.2.0.53', 'domains': ['corp.example']}]
    inv['sites']['gw-hq']['ignore_interfaces'] = ['eth9']
    return inv


BASE = base()
PATHS = [p for p in positions(BASE) if p and p[0] != 'sites' or len(p) >= 2]


def _get(value, path):
    for step in path:
        value = value[step]
    return value


def _set(inv, path, new):
    target = _get(inv, path[:-1])
    target[path[-1]] = new


def _kind(value):
    if isinstance(value, bool):
        return 'bool'
    if isinstance(value, int):
        return 'int'
    if isinstance(value, (datetime.date, str)):
        return 'text'
    if isinstance(value, dict):
        return 'map'
    if isinstance(value, list):
        return 'list'
    return type(value).__name__


def _outcome(inv):
    try:
        compile_mesh(inv, today=TODAY)
    except MeshError as exc:
        return exc.errors
    return None


# Where the inventory takes more than one kind (docs/inventory.md): a link's sites (a list of site names, or a
# mapping to what each exposes), a member (a list, or a mapping with expose and connect), a link's agents
# (all, none or a list of ports), a DNS server (an address, or a mapping with address and domains).
ALTERNATIVES = {
    ('network', 'dns', int): ('text', 'map'),
    ('links', int, 'sites'): ('list', 'map'),
    ('links', int, 'sites', str): ('list', 'map'),
    ('links', int, 'agents'): ('text', 'list'),
}


def _allowed(path, original):
    for pattern, kinds in ALTERNATIVES.items():
        if len(pattern) == len(path) and all(p == s or (isinstance(p, type) and isinstance(s, p))
                                             for p, s in zip(pattern, path)):
            return kinds
    return (_kind(original),)


def _check(path, original, value, errors):
    assert errors is None or errors, (path, 'MeshError without errors')
    if errors is not None:
        assert len(errors) <= MAX_ERRORS + 1, (path, len(errors))
        for error in errors:
            assert len(error) <= 700, (path, error[:300] + '...')
            assert 'Fix:' in error or error.startswith('... stopped'), (path, error)
    if value is not None and _kind(value) not in _allowed(path, original):
        assert errors is not None, ('%s: %s accepted in place of %s' % (path, _kind(value), _kind(original)))


@pytest.mark.parametrize('path', PATHS, ids=lambda p: '.'.join(str(s) for s in p))
def test_every_position_answers_every_hostile_value(path):
    original = _get(BASE, path)
    for value, name in zip(HOSTILE, HOSTILE_IDS):
        inv = copy.deepcopy(BASE)
        _set(inv, path, value)
        try:
            errors = _outcome(inv)
        except Exception as exc:  # pylint: disable=broad-except
            pytest.fail('%s = %s: %s: %s' % ('.'.join(map(str, path)), name, type(exc).__name__, exc))
        _check(path, original, value, errors)


def test_a_string_is_never_a_list_of_characters():
    for section in ('users', 'links', 'policies', 'policy_tests'):
        errors = _outcome(inventory(**{section: 'alice'}))
        assert errors and any(section in e and 'must be a list' in e for e in errors), (section, errors)
    inv = inventory()
    inv['users'][0]['groups'] = 'admins'
    errors = _outcome(inv)
    assert any("user 'alice': groups must be a list of names, not a string ('admins')" in e for e in errors)


def test_a_mapping_where_a_list_belongs_is_refused_not_flattened():
    errors = _outcome(inventory(users={'alice': {'groups': ['admins']}}))
    assert any('meshconnect_users must be a list' in e and 'not a mapping' in e for e in errors), errors


def _compile_in_child(inv, queue):
    try:
        compile_mesh(inv, today=TODAY)
        queue.put(('ok', 0))
    except MeshError as exc:
        queue.put(('error', len(str(exc))))


@pytest.mark.parametrize('where', ['groups', 'users', 'allow', 'resources', 'link-sites', 'network'])
def test_nested_aliases_fail_fast_with_a_short_message(where):
    """30 levels of aliases would print 9**30 strings: this only ends when the work is bounded."""
    inv = inventory()
    bomb = laughs(30)
    if where == 'groups':
        inv['users'][0]['groups'] = bomb
    elif where == 'users':
        inv['users'] = bomb
    elif where == 'allow':
        inv['policies'][0]['allow'] = bomb
    elif where == 'resources':
        inv['sites']['gw-hq']['resources'] = bomb
    elif where == 'link-sites':
        inv['links'][0]['sites'] = {'hq': bomb, 'branch': bomb}
    else:
        inv['network'] = {'name': bomb, 'cidr': bomb}
    queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_compile_in_child, args=(inv, queue))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
        pytest.fail('the compile of nested aliases in %s did not end within 60 s' % where)
    outcome, size = queue.get(timeout=5)
    assert outcome == 'error' and size < 20000, (outcome, size)


def test_error_count_is_capped():
    inv = inventory(users=[{'name': 'u%d' % i, 'groups': 5} for i in range(1000)])
    errors = _outcome(inv)
    assert len(errors) == MAX_ERRORS + 1 and errors[-1].startswith('... stopped after')


# --------------------------------------------------------------------------
# digits of every script

DIGITS = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == 'Nd' and not '0' <= chr(c) <= '9']
OTHER_NUMERALS = [chr(c) for c in range(0x110000)
                  if chr(c).isdigit() and unicodedata.category(chr(c)) != 'Nd'][:50]   # superscripts, circled


@pytest.mark.parametrize('template', ['1%s.0.0.1', '10.0.0.%s', '10.%s0.0.0/24', '10.0.0.0/2%s'])
def test_addresses_accept_ascii_digits_only(template):
    for digit in DIGITS + OTHER_NUMERALS:
        text = template % digit
        with pytest.raises(AddressError):
            parse_cidr(text)
        if '/' not in text:
            with pytest.raises(AddressError):
                parse_ip(text)


def test_ports_accept_ascii_digits_only():
    for digit in DIGITS + OTHER_NUMERALS:
        for text in ('tcp/44%s' % digit, 'udp/1-6553%s' % digit):
            with pytest.raises(AddressError):
                parse_port_spec(text)
    for text in ('tcp/443\n', ' tcp/443', 'TCP/443', 'tcp/+443', 'tcp/0443x'):
        with pytest.raises(AddressError):
            parse_port_spec(text)


@pytest.mark.parametrize('field', ['resource', 'ports', 'endpoint', 'cidr', 'dns', 'grant'])
def test_non_ascii_digits_in_the_inventory_are_named_errors(field):
    for digit in DIGITS[::37]:
        inv = inventory()
        hq = inv['sites']['gw-hq']
        if field == 'resource':
            hq['resources'].append({'name': 'x', 'address': '10.1.%s.0/24' % digit})
            where = "site 'hq' resource 'x'"
        elif field == 'ports':
            hq['resources'].append({'name': 'x', 'address': '10.1.0.9', 'ports': ['tcp/8%s' % digit]})
            where = "site 'hq' resource 'x'"
        elif field == 'endpoint':
            hq['endpoint'] = '203.0.113.%s' % digit
            where = "site 'hq'"
        elif field == 'cidr':
            inv['network']['cidr'] = '100.64.%s.0/24' % digit
            where = 'meshconnect_network'
        elif field == 'dns':
            inv['network']['dns'] = ['10.1.0.%s' % digit]
            where = 'meshconnect_network'
        else:
            inv['policies'][1]['allow'] = ['hq:web:tcp/44%s' % digit]
            where = "policy 'dev-web'"
        errors = _outcome(inv)
        assert errors and any(e.startswith(where) and 'Fix:' in e for e in errors), (field, digit, errors)


# --------------------------------------------------------------------------
# the overlay and endpoints


@pytest.mark.parametrize('cidr', ['8.8.8.0/24', '1.0.0.0/16', '172.32.0.0/16', '192.169.0.0/24', '100.128.0.0/22',
                                  '11.0.0.0/22'])
def test_an_overlay_in_public_space_is_refused_unless_allowed(cidr):
    inv = inventory()
    inv['network']['cidr'] = cidr
    errors = _outcome(inv)
    assert any(e.startswith('meshconnect_network: cidr') and 'public address space' in e
               and 'allow_public_cidr' in e for e in errors), errors
    inv['network']['allow_public_cidr'] = True
    assert _outcome(inv) is None


@pytest.mark.parametrize('cidr', ['127.0.0.0/24', '0.0.0.0/16', '224.0.0.0/24', '240.0.0.0/22',
                                  '255.255.255.0/24'])
def test_special_ranges_are_never_an_overlay(cidr):
    inv = inventory()
    inv['network'].update(cidr=cidr, allow_public_cidr=True)
    errors = _outcome(inv)
    assert any(e.startswith('meshconnect_network: cidr') and 'never routable' in e for e in errors), errors


@pytest.mark.parametrize('cidr', ['10.200.0.0/22', '172.16.4.0/24', '192.168.77.0/24', '100.64.0.0/16'])
def test_private_and_shared_space_is_accepted(cidr):
    inv = inventory()
    inv['network']['cidr'] = cidr
    assert _outcome(inv) is None


@pytest.mark.parametrize('endpoint', ['100.64.0.1', '100.64.0.200', '100.64.0.255', '127.0.0.1', '0.0.0.0',
                                      '224.0.0.5', '255.255.255.255'])
def test_an_endpoint_no_peer_can_dial_is_refused(endpoint):
    inv = inventory()
    inv['sites']['gw-hq']['endpoint'] = endpoint
    errors = _outcome(inv)
    assert any(e.startswith("site 'hq': endpoint %s" % endpoint) and 'Fix:' in e for e in errors), errors


# --------------------------------------------------------------------------
# the explosion guard and one run listing every problem


def test_expanded_size_counts_aliases_each_time_they_are_used_in_linear_time():
    assert expanded_size('x') == 1
    assert expanded_size({'a': [1, 2, {'b': 3}]}) == 6
    shared = ['x'] * 9
    assert expanded_size([shared, shared]) == 1 + 2 * 10
    assert expanded_size(laughs(2)) == 1 + 9 * (1 + 9 * 10)
    assert expanded_size(laughs(200)) == MAX_EXPANDED + 1       # 9**200: counted without expanding
    cycle = []
    cycle.append(cycle)
    assert expanded_size(cycle) == MAX_EXPANDED + 1
    sizes = {}
    first, second = [shared], {'again': shared}     # alive while sizes is used: it is keyed by identity
    assert expanded_size(first, sizes=sizes) == 11
    assert id(shared) in sizes and expanded_size(second, sizes=sizes) == 11


def test_a_malformed_entry_is_left_out_and_the_rest_still_checked_in_the_same_run():
    inv = inventory()
    inv['users'].append({'name': 'mallory', 'groups': 'admins'})                # shape
    inv['policies'].append({'name': 'typo', 'groups': ['dev'], 'allow': ['hqq:web']})   # semantics
    inv['sites']['gw-hq']['resources'].append({'name': 'x', 'address': '10.9.0.0/33'})  # semantics
    errors = _outcome(inv)
    assert any("user 'mallory': groups must be a list of names" in e for e in errors), errors
    assert any("policy 'typo'" in e and 'hqq' in e for e in errors), errors
    assert any("site 'hq' resource 'x'" in e for e in errors), errors
