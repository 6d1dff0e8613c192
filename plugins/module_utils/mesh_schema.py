# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of the inventory, checked before anything reads a value.

``check_shape(inventory)`` walks the inventory along ``INVENTORY`` (what
docs/inventory.md describes) and returns one message per value of the wrong
kind: a list given as a string, a number or a mapping, a name that is not a
name, an unknown key.  The model reads only inventories that passed, so no
value of the wrong kind is ever iterated, hashed, converted or used in a
path.  The walk goes only as deep as the schema, and messages quote values
through ``show``: an inventory built to be huge (nested YAML aliases) costs
what its real size costs.
"""

import datetime
import re

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import MAX_ERRORS, describe, show

NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}\Z', re.ASCII)
IFACE_RE = re.compile(r'[A-Za-z0-9_.=+-]{1,15}\Z', re.ASCII)
NAME_RULE = '1-64 characters from letters, digits and _.@+- starting with a letter or digit'
TEXT_MAX = 1024


class Kind:
    """One kind of value; ``problem(value)`` says what is wrong with it, or None, and ``fix`` how to
    write it."""

    words = 'a value'
    fix = 'see docs/inventory.md.'
    leaf = True     # checked by problem() alone; the kinds holding other kinds are not

    def problem(self, value):
        return None


class Str(Kind):
    words = 'a string'
    fix = 'write it as text (in quotes when YAML could read it as a number, a date or true/false).'

    def __init__(self, max_len=TEXT_MAX):
        self.max_len = max_len

    def problem(self, value):
        if not isinstance(value, str):
            return 'must be %s, not %s' % (self.words, describe(value))
        if len(value) > self.max_len:
            return 'is %d characters long; at most %d are allowed' % (len(value), self.max_len)
        return None


class Name(Str):
    words = 'a name'
    fix = 'use %s.' % NAME_RULE

    def problem(self, value):
        if not isinstance(value, str):
            return 'must be a name, not %s' % describe(value)
        if not NAME_RE.match(value):
            return '%s is not a valid name' % show(value)
        return None


class Bool(Kind):
    words = 'true or false'
    fix = 'write true or false without quotes, or leave it out for the default.'

    def problem(self, value):
        if not isinstance(value, bool):
            return 'must be true or false (without quotes), not %s' % describe(value)
        return None


class Int(Kind):
    words = 'a whole number'
    fix = 'write a number without quotes, or leave it out for the default.'

    def problem(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            return 'must be a whole number (without quotes), not %s' % describe(value)
        return None


def parse_expires(value):
    """``expires`` as given: a ``datetime.date`` (access ends when that day ends, UTC) or an aware
    ``datetime.datetime`` (access ends at that instant; without a zone, UTC), from a date or time object, or
    from text written YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z or +HH:MM]. ValueError for anything else."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and value.isascii():
        if len(value) == 10:
            return datetime.datetime.strptime(value, '%Y-%m-%d').date()
        if 16 <= len(value) <= 32 and value[10:11] == 'T':
            moment = datetime.datetime.fromisoformat(value[:-1] + '+00:00' if value.endswith('Z') else value)
            return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)
    raise ValueError(value)


class Date(Kind):
    words = 'a date'
    fix = 'write the date as YYYY-MM-DD (the day access ends, UTC), or the instant as YYYY-MM-DDTHH:MM:SSZ.'

    def problem(self, value):
        try:
            parse_expires(value)
            return None
        except ValueError:
            return 'must be a date written YYYY-MM-DD or an instant YYYY-MM-DDTHH:MM:SSZ, not %s' % describe(value)


class Iface(Str):
    words = 'an interface name'
    fix = 'use a Linux interface name such as eth1 (up to 15 characters from letters, digits and _.=+-).'

    def problem(self, value):
        if not isinstance(value, str):
            return 'must be an interface name, not %s' % describe(value)
        if not IFACE_RE.match(value):
            return '%s is not an interface name' % show(value)
        return None


class Seq(Kind):
    """A list of ``of``; ``word`` names its entries in messages (``resource 'db'``, ``resource #2``)."""

    leaf = False

    def __init__(self, of, word='entry', words=None):
        self.of = of
        self.word = word
        self.words = words or 'a list of %s' % _plural(of.words)


class Mapping(Kind):
    """A mapping with known keys; ``required`` ones must be present."""

    leaf = False

    words = 'a mapping'

    def __init__(self, fields, required=(), label='name'):
        self.fields = fields
        self.required = required
        self.label = label      # the key whose value names an entry in messages


class MapOf(Kind):
    """A mapping from names to ``of``."""

    leaf = False

    def __init__(self, key, of, words):
        self.key = key
        self.of = of
        self.words = words


class OneOf(Kind):
    """The first of ``kinds`` whose outer type matches; ``words`` says them all."""

    leaf = False

    def __init__(self, kinds, words):
        self.kinds = kinds
        self.words = words


def _plural(words):
    for single, plural in (('a name', 'names'), ('a string', 'strings'), ('a mapping', 'mappings'),
                           ('a date', 'dates'), ('a whole number', 'whole numbers')):
        if words == single:
            return plural
    return words


class Nullable(Kind):
    """``of``, or nothing (null), which means the default."""

    leaf = False

    def __init__(self, of):
        self.of = of
        self.words = of.words


PORT = Str(32)
GRANT = Str(200)
IFACE = Iface()

RESOURCE = Mapping({
    'name': Name(),
    'address': Str(64),
    'ports': Nullable(Seq(PORT)),
    'description': Nullable(Str()),
}, required=('name', 'address'))

# A 1:1 mapping: the site's real prefix, published to the rest of the mesh under another of the same size.
MAPPING = Mapping({
    'prefix': Str(64),
    'published_as': Str(64),
}, required=('prefix', 'published_as'))

SITE = Mapping({
    'name': Name(),
    'router': Bool(),
    'endpoint': Nullable(Str(253)),
    'endpoint_port': Int(),
    'behind_nat': Bool(),
    'port_forwarding': Bool(),
    'masquerade': Bool(),
    'relay': Bool(),
    'via': Nullable(Name()),
    'exit': Bool(),
    'names': Bool(),
    'resources': Nullable(Seq(RESOURCE, 'resource')),
    'mappings': Nullable(Seq(MAPPING, 'mapping')),
    'ignore_interfaces': Nullable(Seq(IFACE)),
    'include_interfaces': Nullable(Seq(IFACE)),
})

# A resolver for every name (its IPv4 address), or one only for some domains (split DNS).
DNS_SERVER = OneOf([
    Str(64),
    Mapping({'address': Str(64), 'domains': Nullable(Seq(Str(253)))}, required=('address',), label=None),
], 'an IPv4 address, or a mapping with address and domains')

NETWORK = Mapping({
    'name': Name(),
    'cidr': Str(64),
    'port': Int(),
    'interface': IFACE,
    'mtu': Int(),
    'keepalive': Int(),
    'dns': Nullable(Seq(DNS_SERVER, words='a list of DNS servers (IPv4 addresses, or mappings with address and '
                                          'domains)')),
    'allow_ping': Bool(),
    'allow_public_cidr': Bool(),
    'domain': Nullable(Str(253)),
    'mapping_pool': Nullable(Str(64)),
}, required=('name',))

MEMBER = Nullable(OneOf([
    Seq(Str(200)),
    Mapping({'expose': Nullable(Seq(Str(200))), 'connect': Nullable(Seq(Str(200)))}, label=None),
], 'a list of resources, or a mapping with expose and connect'))

LINK = Mapping({
    'name': Name(),
    'sites': OneOf([
        Seq(Name()),
        MapOf(Name(), MEMBER, 'a mapping from site names to what each exposes'),
    ], 'a mapping from site names to what each exposes (or a list of site names)'),
    'agents': Nullable(OneOf([Str(16), Seq(PORT)], 'all, none or a list of ports')),
    'description': Nullable(Str()),
}, required=('name', 'sites'))

DEVICE = Mapping({
    'name': Name(),
    'public_key': Nullable(Str(64)),
    'generate_key': Bool(),
    'expires': Nullable(Date()),
    'revoked': Bool(),
    'description': Nullable(Str()),
}, required=('name',))

USER = Mapping({
    'name': Name(),
    'groups': Nullable(Seq(Name())),
    'devices': Nullable(Seq(DEVICE, 'device')),
    'public_key': Nullable(Str(64)),
    'generate_key': Bool(),
    'expires': Nullable(Date()),
    'revoked': Bool(),
    'email': Nullable(Str(254)),
    'description': Nullable(Str()),
}, required=('name',))

POLICY = Mapping({
    'name': Name(),
    'users': Nullable(Seq(Name())),
    'groups': Nullable(Seq(Name())),
    'allow': Nullable(Seq(GRANT)),
    'except': Nullable(Seq(GRANT)),
    'description': Nullable(Str()),
}, required=('name',))

TEST = Mapping({
    'user': Str(129),   # USER or USER/DEVICE
    'site': Str(140),
    'allow': Nullable(Seq(GRANT)),
    'deny': Nullable(Seq(GRANT)),
}, label=None)

# Inventory key -> (variable named in messages, kind, whether its entries are named on their own)
INVENTORY = (
    ('network', 'meshconnect_network', NETWORK, None),
    ('links', 'meshconnect_links', Nullable(Seq(LINK, 'link')), True),
    ('users', 'meshconnect_users', Nullable(Seq(USER, 'user')), True),
    ('policies', 'meshconnect_policies', Nullable(Seq(POLICY, 'policy')), True),
    ('policy_tests', 'meshconnect_policy_tests', Nullable(Seq(TEST, 'policy test')), True),
)


class _Stop(Exception):
    pass


class _Walk:
    def __init__(self):
        self.errors = []

    def error(self, where, problem, fix=None):
        text = '%s %s.' % (_where_text(where), problem)
        if fix:
            text += ' Fix: ' + fix
        self.errors.append(text)
        if len(self.errors) >= MAX_ERRORS:
            self.errors.append('... stopped after %d errors; fix these and run again.' % MAX_ERRORS)
            raise _Stop()

    def check(self, where, kind, value, top=False):
        """``where`` names ``value`` in messages; ``top`` lists name their entries without it
        (``user 'bob'``, not ``meshconnect_users user 'bob'``)."""
        if isinstance(kind, Nullable):
            if value is None:
                return
            kind = kind.of
        if kind.leaf:
            problem = kind.problem(value)
            if problem:
                self.error(where, problem, kind.fix)
            return
        if isinstance(kind, OneOf):
            for option in kind.kinds:
                if _outer_matches(option, value):
                    self.check(where, option, value, top)
                    return
            self.error(where, 'must be %s, not %s' % (kind.words, describe(value)), 'see docs/inventory.md.')
            return
        if isinstance(kind, Seq):
            if not isinstance(value, list):
                self.error(where, 'must be %s, not %s' % (kind.words, describe(value)),
                           'write a YAML list: one "- " line per entry, or [a, b].')
                return
            parent = None if top else where
            for index, element in enumerate(value):
                self.check(('entry', parent, kind, index, element), kind.of, element)
            return
        if isinstance(kind, Mapping):
            if not isinstance(value, dict):
                self.error(where, 'must be a mapping (key: value lines), not %s' % describe(value),
                           'see docs/inventory.md for its keys.')
                return
            for key in value:
                if key not in kind.fields:
                    self.error(where, 'has the unknown key %s' % show(key),
                               'use one of: %s.' % ', '.join(kind.fields))
            for key in kind.required:
                if key not in value:
                    self.error(where, 'has no %s' % key, 'add %s.' % key)
            for key, field in kind.fields.items():
                if key not in value:
                    continue
                inner = field.of if isinstance(field, Nullable) else field
                if isinstance(inner, Seq) and inner.word != 'entry' and isinstance(value[key], list):
                    # Named entries of an inner list read as part of their owner: site 'hq' resource 'db'.
                    for index, element in enumerate(value[key]):
                        self.check(('entry', where, inner, index, element), inner.of, element)
                    continue
                self.check(('key', where, key), field, value[key])
            return
        if isinstance(kind, MapOf):
            if not isinstance(value, dict):
                self.error(where, 'must be %s, not %s' % (kind.words, describe(value)), 'see docs/inventory.md.')
                return
            for key in value:
                problem = kind.key.problem(key)
                if problem:
                    self.error('%s: key %s' % (_where_text(where), show(key)), problem, kind.key.fix)
                    continue
                self.check(('key', where, key), kind.of, value[key])
            return
        raise TypeError('unknown kind %r' % (kind,))


def _outer_matches(kind, value):
    if isinstance(kind, Nullable):
        return value is None or _outer_matches(kind.of, value)
    if isinstance(kind, Seq):
        return isinstance(value, list)
    if isinstance(kind, (Mapping, MapOf)):
        return isinstance(value, dict)
    if isinstance(kind, Str):
        return isinstance(value, str)
    return kind.problem(value) is None


def _where_text(where):
    """The text of ``where``: a string, or built only when a message needs it from
    ``('key', parent, key)`` (``PARENT: KEY``) or ``('entry', parent, seq, index,
    element)`` (``PARENT resource 'db'``; no parent for a top list's entries)."""
    if isinstance(where, str):
        return where
    if where[0] == 'key':
        return '%s: %s' % (_where_text(where[1]), where[2])
    _kind, parent, seq, index, element = where
    name = _entry_name(seq, index, element)
    return name if parent is None else '%s %s' % (_where_text(parent), name)


def _entry_name(seq, index, element):
    """``resource 'db'`` when the entry has a valid name, else ``resource #2``."""
    label = getattr(seq.of, 'label', None)
    if label and isinstance(element, dict):
        name = element.get(label)
        if isinstance(name, str) and NAME_RE.match(name):
            return "%s '%s'" % (seq.word, name)
    return '%s #%d' % (seq.word, index + 1)


def check_shape(inventory):
    """Every shape problem of ``inventory`` (the compiler's input dict), as messages."""
    return shape_and_clean(inventory)[0]


def shape_and_clean(inventory):
    """``(errors, clean)``: every shape problem of ``inventory``, and a copy
    holding only what passed, so that the rest can still be validated in the
    same run (one run lists every problem) without reading a value of the
    wrong kind.  ``clean`` is None when the network itself is malformed
    (everything depends on it) or the walk stopped at MAX_ERRORS.
    An entry of a list (a user, a link, ...) or a site with any problem is
    left out of ``clean`` whole."""
    walk = _Walk()
    clean = {}
    try:
        if not isinstance(inventory, dict):
            walk.error('the inventory', 'must be a mapping, not %s' % describe(inventory),
                       'pass the inventory sections as a mapping.')
            return walk.errors, None
        for key, variable, kind, top in INVENTORY:
            value = inventory.get(key)
            if key == 'network' and value is None:
                walk.error(variable, 'is not set', 'set meshconnect_network: {name: corp}.')
                continue
            before = len(walk.errors)
            if key == 'network' or not isinstance(value, list):
                walk.check(variable, kind, value, top)
                clean[key] = value if len(walk.errors) == before else None
                continue
            seq = kind.of if isinstance(kind, Nullable) else kind
            kept = []
            for index, element in enumerate(value):
                before = len(walk.errors)
                walk.check(('entry', None, seq, index, element), seq.of, element)
                if len(walk.errors) == before:
                    kept.append(element)
            clean[key] = kept
        sites = inventory.get('sites')
        clean['sites'] = {}
        if sites is not None and not isinstance(sites, dict):
            walk.error('the agent hosts', 'must map host names to meshconnect_site, not %s' % describe(sites),
                       'give each agent host a meshconnect_site mapping.')
        else:
            for host, site in (sites or {}).items():
                if not isinstance(host, str):
                    walk.error('agent host %s' % show(host), 'is not a host name', 'rename the host.')
                    continue
                before = len(walk.errors)
                walk.check(_site_name(host, site), Nullable(SITE), site)
                if len(walk.errors) == before:
                    clean['sites'][host] = site
    except _Stop:
        return walk.errors, None
    if clean.get('network') is None:
        return walk.errors, None
    return walk.errors, clean


def _site_name(host, site):
    """``site 'hq'`` by its valid name (the host name when it has none), else ``agent host 'gw1'``."""
    name = site.get('name', host) if isinstance(site, dict) else host
    if isinstance(name, str) and NAME_RE.match(name):
        return "site '%s'" % name
    return 'agent host %s' % show(host)


# What one variable may hold once its YAML aliases are expanded (an inventory of 10,000 users is about
# 100,000 values): "billion laughs" documents are refused before anything renders or walks them.
MAX_EXPANDED = 5000000


def _children(node):
    return list(node.values()) if isinstance(node, dict) else list(node)


def expanded_size(value, limit=MAX_EXPANDED, sizes=None):
    """How many values ``value`` holds once every shared (aliased) list and
    mapping is counted each time it is used; anything past ``limit`` (or a
    list that holds itself) is ``limit + 1``.

    The cost is linear in the distinct containers, however large the
    expansion: each container's size is computed once (by identity) and
    reused, without recursion. Pass the same ``sizes`` dict to several calls
    to share that work (values shared between them are walked once); keep
    the values alive meanwhile, as sizes are remembered by identity.
    """
    container = (dict, list, tuple)
    if not isinstance(value, container):
        return 1
    if sizes is None:
        sizes = {}
    expanded = set()    # containers whose children are on the stack: the path from the root
    stack = [value]
    while stack:
        node = stack[-1]
        key = id(node)
        if key in sizes:
            stack.pop()
            continue
        children = _children(node)
        if key not in expanded:
            expanded.add(key)
            for child in children:
                if isinstance(child, container):
                    if id(child) in expanded:
                        return limit + 1    # it holds itself
                    if id(child) not in sizes:
                        stack.append(child)
            continue
        total = 1
        for child in children:
            total += sizes[id(child)] if isinstance(child, container) else 1
        sizes[key] = min(total, limit + 1)
        expanded.discard(key)
        stack.pop()
    return sizes[id(value)]


def check_facts(facts):
    """Shape problems of what agents reported (or the cached facts.json)."""
    problems = []
    if facts is None:
        return problems
    if not isinstance(facts, dict):
        return ['must map agent host names to facts, not %s' % describe(facts)]
    for host, entry in facts.items():
        where = 'host %s' % show(host)
        if not isinstance(host, str) or not isinstance(entry, dict):
            problems.append('%s: must map a host name to a mapping, not %s' % (where, describe(entry)))
            continue
        key = entry.get('public_key')
        if key is not None and not isinstance(key, str):
            problems.append('%s: public_key must be a string, not %s' % (where, describe(key)))
        interfaces = entry.get('interfaces')
        if interfaces is not None and not isinstance(interfaces, list):
            problems.append('%s: interfaces must be a list, not %s' % (where, describe(interfaces)))
        if len(problems) >= MAX_ERRORS:
            break
    return problems
