# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model's access: site links, users, grants, policies and policy tests.

Everything here reads lists that ``mesh_schema.shape_and_clean`` has kept
(see ``mesh_model.load_model``): None or a list of mappings of known keys,
each with its required keys, every name a valid name and every value of
its kind.  What is checked here is meaning: references to sites, resources,
users and groups, ports, keys, duplicates, and whether a tunnel can form.
"""

import datetime

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model_sites import (
    INTERNET, check_resource_ref, validate_public_key,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import AddressError, EVERYTHING, PortSet
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_schema import NAME_RE, parse_expires


class LinkMember:
    """One site of a link: what it offers on the link and what may open connections from it."""

    __slots__ = ('site', 'expose', 'connect')

    def __init__(self, site, expose, connect):
        self.site = site
        self.expose = expose      # [(resource name, PortSet or None for the resource's own ports)]
        self.connect = connect    # [resource names, 'agent' included] that open connections to others' exposures


class Link:
    def __init__(self, name, members, agents):
        self.name = name
        self.members = members   # site name -> LinkMember, sorted by site
        self.agents = agents     # PortSet: what the members' agents reach of each other (EVERYTHING by default)

    @property
    def sites(self):
        return list(self.members)


class User:
    """One WireGuard peer of a remote user: the user's only device, named as the user (``alice``), or one of the
    devices the user lists, named ``USER/DEVICE`` (``alice/laptop``).  A device has the user's groups, so every
    device of a user gets the user's access."""

    def __init__(self, name, groups, public_key, expires, person=None, revoked=False):
        self.name = name
        self.person = person or name    # the user (meshconnect_users entry) the device belongs to
        self.groups = groups
        self.public_key = public_key
        self.expires = expires
        self.expires_at = None      # epoch seconds when access ends (None: never)
        self.revoked = revoked
        self.expired = revoked      # left out of every configuration: revoked, or past its expiry

    @property
    def inactive_reason(self):
        """Why the device is left out (``revoked``, ``expired on 2026-12-31``), or None when it is active."""
        if self.revoked:
            return 'revoked'
        if self.expired:
            return 'expired on %s' % expiry_text(self.expires)
        return None


def file_stem(name):
    """The file name (without suffix) of a device's bundle and key: ``alice`` or ``alice=laptop`` ('=' is in no
    name, and wg-quick accepts it in an interface name)."""
    return name.replace('/', '=')


class Grant:
    """One ``SITE[:RESOURCE[:PORTS]]`` term of a policy or test."""

    __slots__ = ('text', 'site', 'resource', 'ports')

    def __init__(self, text, site, resource, ports):
        self.text = text
        self.site = site          # a site name or '*'
        self.resource = resource  # a resource name or '*'
        self.ports = ports        # PortSet or None (= the resource's own ports)


class Policy:
    def __init__(self, name, users, groups, allow, deny, internet=None):
        self.name = name
        self.users = users
        self.groups = groups
        self.allow = allow
        self.deny = deny
        self.internet = internet    # the exit site whose internet access it grants, or None


class PolicyTest:
    def __init__(self, index, principal, allow, deny):
        self.index = index
        self.principal = principal  # ('user', NAME) or ('site', SITE, RESOURCE or None)
        self.allow = allow
        self.deny = deny

    @property
    def source(self):
        """``user:NAME``, ``site:SITE`` or ``site:SITE:RESOURCE``."""
        return ':'.join(part for part in self.principal if part)


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def expiry_end(expires):
    """The aware instant at which access given until ``expires`` (see ``mesh_schema.parse_expires``) ends."""
    if isinstance(expires, datetime.datetime):
        return expires
    try:
        return datetime.datetime.combine(expires + datetime.timedelta(days=1), datetime.time(0),
                                         tzinfo=datetime.timezone.utc)
    except OverflowError:       # 9999-12-31: the end of time, as Python knows it
        return datetime.datetime.max.replace(tzinfo=datetime.timezone.utc)


def expiry_text(expires):
    """``expires`` as people read it: ``2026-12-31``, or ``2026-12-05T21:45:00Z`` (UTC)."""
    if isinstance(expires, datetime.datetime):
        return expires.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    return expires.isoformat()


def as_now(today):
    """The aware instant of ``today``: a datetime as it is (UTC when naive), a date at its start (UTC)."""
    if today is None:
        return None
    moment = parse_expires(today)
    if isinstance(moment, datetime.datetime):
        return moment
    return datetime.datetime.combine(moment, datetime.time(0), tzinfo=datetime.timezone.utc)


def parse_grant(text):
    """Split ``SITE[:RESOURCE[:PORTS]]``; PORTS is comma separated.

    Raises ``AddressError`` or ``ValueError`` with a readable message.
    """
    if not isinstance(text, str) or not text:
        raise ValueError('%r is not a flow; write SITE, SITE:RESOURCE or SITE:RESOURCE:PROTO/PORT' % (text,))
    parts = text.split(':')
    if len(parts) > 3:
        raise ValueError('%r has too many ":"; write SITE, SITE:RESOURCE or SITE:RESOURCE:PROTO/PORT' % (text,))
    site = parts[0]
    resource = parts[1] if len(parts) > 1 else '*'
    for value in (site, resource):
        if value != '*' and not NAME_RE.match(value):
            raise ValueError('%r: %r is not a site or resource name (or *)' % (text, value))
    ports = None
    if len(parts) == 3:
        ports = PortSet.parse([spec.strip() for spec in parts[2].split(',')])
    return Grant(text, site, resource, ports)


def _unique(problems, kind, names, fix):
    seen = set()
    for name in names:
        if name in seen:
            problems.error("%s '%s'" % (kind, name), 'is defined more than once.', fix)
        seen.add(name)


# --------------------------------------------------------------------------
# links


def _link_agents(problems, item, value):
    """The link's ``agents`` setting (None, a string or a list of strings) as a PortSet."""
    if value is None or value == 'all':
        return EVERYTHING
    if value == 'none':
        return PortSet()
    if isinstance(value, list) and value:
        try:
            return PortSet.parse(value)
        except AddressError as exc:
            problems.error(item, 'agents: %s.' % exc, 'list ports such as [tcp/22, udp/161], or write all or none.')
            return EVERYTHING
    problems.error(item, 'agents must be all, none or a list of ports, not %r.' % (value,),
                   'write agents: all (the default), agents: none, or agents: [tcp/22, ...].')
    return EVERYTHING


def _link_exposure(problems, item, sites, site_name, entry):
    """``(resource, PortSet or None)`` for one ``expose`` entry (a string), or None."""
    resource, colon, port_text = entry.partition(':')
    if resource in ('*', 'agent'):
        problems.error(item, 'site %r exposes %r; links expose named resources.' % (site_name, resource),
                       'list resource names; set the link\'s agents: (all, none or ports) for what agents reach '
                       'of each other.')
        return None
    if not NAME_RE.match(resource):
        problems.error(item, 'site %r: exposure %r is not RESOURCE or RESOURCE:PORTS.' % (site_name, entry),
                       'write a resource name of %s, optionally with ports, e.g. db:tcp/5432.' % site_name)
        return None
    ports = None
    if colon:
        try:
            ports = PortSet.parse([spec.strip() for spec in port_text.split(',')])
        except AddressError as exc:
            problems.error(item, 'site %r: exposure %r: %s.' % (site_name, entry, exc),
                           'write ports such as db:tcp/5432 or app:tcp/80,tcp/443.')
            return None
    if not check_resource_ref(problems, item, sites, site_name, resource, 'exposure'):
        return None
    return resource, ports


def _link_connector(problems, item, sites, site_name, entry):
    if entry == 'agent':
        return entry
    if not NAME_RE.match(entry):
        problems.error(item, 'site %r: connect entry %r is not a resource name.' % (site_name, entry),
                       'list resources of %s (or agent) that open connections; ports belong to the other '
                       "members' expose." % site_name)
        return None
    if not check_resource_ref(problems, item, sites, site_name, entry, 'connect entry'):
        return None
    return entry


def _link_member(problems, item, sites, site_name, value):
    """A LinkMember from the plain form (None or a list: exposed, and with the
    agent opening connections) or the explicit form ({expose, connect})."""
    if value is None or isinstance(value, list):
        expose, connect, plain = value or [], None, True
    else:
        expose, connect, plain = value.get('expose') or [], value.get('connect') or [], False
    exposures = []
    for entry in expose:
        exposure = _link_exposure(problems, item, sites, site_name, entry)
        if exposure is not None and exposure[0] not in [e[0] for e in exposures]:
            exposures.append(exposure)
    if plain:
        # The plain form: what a member exposes may also open connections, and so may its agent.
        connectors = ['agent'] + [name for name, _ports in exposures]
    else:
        connectors = []
        for entry in connect:
            name = _link_connector(problems, item, sites, site_name, entry)
            if name is not None and name not in connectors:
                connectors.append(name)
    return LinkMember(site_name, sorted(exposures, key=lambda e: e[0]), sorted(connectors))


def load_links(problems, raw, sites, relays=()):
    links = []
    for entry in raw or []:
        item = "link '%s'" % entry['name']
        raw_members = entry['sites']
        if isinstance(raw_members, list):
            # A plain list of sites: agents only.
            raw_members = dict((site, []) for site in raw_members)
        members = {}
        for site_name in sorted(raw_members):
            if site_name not in sites:
                problems.error(item, 'names unknown site %r.' % (site_name,),
                               'use one of: %s.' % ', '.join(sites))
                continue
            member = _link_member(problems, item, sites, site_name, raw_members[site_name])
            members[site_name] = member
        if len(raw_members) < 2:
            problems.error(item, 'has %d site; a link joins two or more sites.' % len(raw_members),
                           'add another site or remove the link.')
            continue
        agents = _link_agents(problems, item, entry.get('agents'))
        _check_link_tunnels(problems, item, sites, members, relays)
        links.append(Link(entry['name'], members, agents))
    _unique(problems, 'link', [entry['name'] for entry in raw or []], 'give each link its own name.')
    return sorted(links, key=lambda link: link.name)


def _check_link_tunnels(problems, item, sites, members, relays):
    """Every two members can form a tunnel (directly, or through a relay
    when neither can be dialled), and what a member exposes is used by another."""
    ordered = sorted(members)
    for i, first in enumerate(ordered):
        for second in ordered[i + 1:]:
            if not sites[first].dialable and not sites[second].dialable and not relays:
                problems.error(item, "neither '%s' nor '%s' can be dialled (no endpoint, or behind NAT "
                               'without port forwarding), and no site relays, so no tunnel can form between them.'
                               % (first, second),
                               'forward UDP to one of them and set port_forwarding: true and endpoint, give one '
                               'a public endpoint, or mark a site that can be dialled relay: true.')
    for site_name, member in members.items():
        others = [m for m in members.values() if m.site != site_name]
        if member.expose and not any(m.connect for m in others):
            problems.warn(item, 'site %r exposes %s, but no other member opens connections on this link.'
                          % (site_name, ', '.join(r for r, _p in member.expose)),
                          "add connect: [...] to a member (or use the plain form, which connects what it "
                          'exposes and its agent).')


# --------------------------------------------------------------------------
# users


def device_of(users, name):
    """The peer name ``name`` stands for: itself when it is a device (or a user listed without devices), else
    the first active device of the user ``name`` (a user's devices share its access), or None when unknown."""
    if name in users:
        return name
    devices = [u for u in users.values() if u.person == name]
    if not devices:
        return None
    return ([u for u in devices if not u.expired] or devices)[0].name


def _earliest(first, second):
    """The ``expires`` of ``first`` and ``second`` (either may be None) that ends first."""
    if first is None or second is None:
        return second if first is None else first
    return first if expiry_end(first) <= expiry_end(second) else second


def _user_devices(problems, item, name, entry):
    """``[(peer name, item, entry of the device)]`` of a user: its listed devices, or the user as its one device."""
    devices = entry.get('devices')
    if not devices:
        return [(name, item, entry)]
    for field in ('public_key', 'generate_key'):
        if entry.get(field):
            problems.error(item, 'has devices and a %s of its own; a key belongs to one device.' % field,
                           'move %s to the device it belongs to.' % field)
    peers, seen = [], set()
    for device in devices:
        peer = '%s/%s' % (name, device['name'])
        if device['name'] in seen:
            problems.error("device '%s'" % peer, 'is listed more than once.', 'merge the two entries.')
            continue
        seen.add(device['name'])
        peers.append((peer, "device '%s'" % peer, device))
    return peers


def load_users(problems, raw, today):
    """peer name -> User: every device of every user (a user listed without devices is its one device)."""
    now = as_now(today)
    users = {}
    persons = set()
    keys = {}
    for entry in raw or []:
        name = entry['name']
        item = "user '%s'" % name
        if name in persons:
            problems.error(item, 'is defined more than once.', 'merge the two entries.')
            continue
        persons.add(name)
        groups = sorted(set(entry.get('groups') or []))
        for peer, peer_item, source in _user_devices(problems, item, name, entry):
            key = source.get('public_key')
            generate = bool(source.get('generate_key'))
            revoked = bool(entry.get('revoked') or source.get('revoked'))
            if key is not None and not validate_public_key(key):
                problems.error(peer_item, 'public_key is not a WireGuard public key (44 base64 characters).',
                               'paste the output of `wg pubkey` on the device.')
                key = None
            elif key is not None and generate:
                problems.error(peer_item, 'has a public_key and generate_key: true; its key is made on the device '
                               'or by the controller, not both.',
                               'keep public_key (the device keeps its private key) or remove it.')
            elif key is None and not generate and not revoked:
                problems.error(peer_item, 'has no public_key.',
                               'paste the public key the device made (`wg pubkey`; see docs/operations.md, '
                               'Onboarding a device), or set generate_key: true to have the controller make a key '
                               'pair and keep it encrypted with Ansible Vault.')
            # mesh_schema let only real dates and times, and YYYY-MM-DD or ISO 8601 texts through.
            expires = None
            for holder in (entry, source) if source is not entry else (entry,):
                if holder.get('expires') is not None:
                    expires = _earliest(expires, parse_expires(holder['expires']))
            user = User(peer, groups, key, expires, person=name, revoked=revoked)
            if expires is not None:
                end = expiry_end(expires)
                user.expires_at = int((end - EPOCH).total_seconds())
                if now is not None and end <= now and not user.revoked:
                    user.expired = True
                    problems.warn(peer_item, 'expired on %s and is left out of every configuration.'
                                  % expiry_text(expires),
                                  'extend expires or remove the %s.' % ('device' if '/' in peer else 'user'))
            if key is not None:
                keys.setdefault(key, []).append(peer)
            users[peer] = user
    for key, names in sorted(keys.items()):
        if len(names) > 1:
            problems.error('users %s' % ', '.join("'%s'" % n for n in names), 'share one public key.',
                           'every device needs its own key pair.')
    return dict(sorted(users.items()))


# --------------------------------------------------------------------------
# policies and policy tests


def _internet_grant(problems, item, grant, exits, what):
    """The grant of an exit site's internet access (``internet`` or
    ``internet:SITE``) as a Grant of resource ``internet`` at that site, or None."""
    exit_site = None if grant.resource == '*' else grant.resource
    if grant.ports is not None:
        problems.error(item, '%s %r: the internet has no ports to choose.' % (what, grant.text),
                       'write internet (or internet:SITE to choose the exit site).')
    elif not exits:
        problems.error(item, '%s %r: no site offers internet access.' % (what, grant.text),
                       'mark a site that users can dial exit: true (it masquerades their traffic to its uplink).')
    elif exit_site is None and len(exits) > 1:
        problems.error(item, '%s %r: several sites offer internet access (%s).' % (what, grant.text, ', '.join(exits)),
                       'name one: %s.' % ', '.join('internet:%s' % name for name in exits))
    elif exit_site is not None and exit_site not in exits:
        problems.error(item, '%s %r: %r does not offer internet access.' % (what, grant.text, exit_site),
                       'use one of: %s, or mark %r exit: true.'
                       % (', '.join('internet:%s' % name for name in exits), exit_site))
    else:
        return Grant(grant.text, exit_site or exits[0], INTERNET, None)
    return None


def _load_grants(problems, item, entries, sites, what, exits=()):
    grants = []
    for entry in entries or []:
        try:
            grant = parse_grant(entry)
        except (ValueError, AddressError) as exc:
            problems.error(item, '%s: %s.' % (what, exc),
                           'write SITE, SITE:RESOURCE or SITE:RESOURCE:PORTS with PORTS such as tcp/443 or '
                           'tcp/80,udp/1000-2000 (ports 1-65535), or internet.')
            continue
        if grant.site == INTERNET:
            grant = _internet_grant(problems, item, grant, exits, what)
            if grant is not None:
                grants.append(grant)
            continue
        if grant.site != '*':
            if not check_resource_ref(problems, item, sites, grant.site, grant.resource, '%s %r' % (what,
                                                                                                    entry)):
                continue
        elif grant.resource != '*':
            problems.error(item, '%s %r: a resource needs a site.' % (what, entry),
                           'write SITE:%s, or * for every site.' % grant.resource)
            continue
        grants.append(grant)
    return grants


def load_policies(problems, raw, sites, users, exits=()):
    policies = []
    groups = set(g for user in users.values() for g in user.groups)
    persons = set(user.person for user in users.values())
    for entry in raw or []:
        item = "policy '%s'" % entry['name']
        who_users = entry.get('users') or []
        who_groups = entry.get('groups') or []
        for user in who_users:
            if user not in persons:
                problems.error(item, 'names unknown user %r.' % (user,), 'add the user to meshconnect_users '
                               'or fix the spelling (a policy names users, and applies to all their devices).')
        for group in who_groups:
            if group not in groups:
                problems.error(item, 'names unknown group %r (no user is in it).' % (group,),
                               'add the group to a user or fix the spelling; known groups: %s.'
                               % (', '.join(sorted(groups)) or 'none'))
        if not who_users and not who_groups:
            problems.error(item, 'applies to nobody.', 'list users or groups.')
        allow = _load_grants(problems, item, entry.get('allow'), sites, 'allow', exits)
        deny = _load_grants(problems, item, entry.get('except'), sites, 'except', exits)
        if not entry.get('allow'):
            problems.error(item, 'allows nothing.', 'list what it grants under allow, e.g. ["hq:web:tcp/443"].')
        internet = sorted(set(grant.site for grant in allow if grant.resource == INTERNET))
        if len(internet) > 1:
            problems.error(item, 'grants the internet through several exit sites (%s): a client has one default '
                           'route.' % ', '.join(internet), 'grant internet through one exit site per policy.')
        if any(grant.resource == INTERNET for grant in deny):
            problems.error(item, 'excepts internet; the internet is granted by allow or not at all.',
                           'remove internet from except (and from allow, if this policy must not grant it).')
        allow = [grant for grant in allow if grant.resource != INTERNET]
        deny = [grant for grant in deny if grant.resource != INTERNET]
        policies.append(Policy(entry['name'], sorted(set(who_users)), sorted(set(who_groups)), allow, deny,
                               internet[0] if internet else None))
    _unique(problems, 'policy', [entry['name'] for entry in raw or []], 'give each policy its own name.')
    return sorted(policies, key=lambda policy: policy.name)


def _test_principal(problems, item, entry, sites, users):
    """``('user', NAME)`` or ``('site', SITE, RESOURCE or None)`` for a policy test, or None."""
    user, site = entry.get('user'), entry.get('site')
    if (user is None) == (site is None):
        problems.error(item, 'needs either user or site (the source of the flows).',
                       'write user: NAME for a remote user, or site: SITE[:RESOURCE] for traffic over links.')
        return None
    if user is not None:
        # A user's devices share the user's access: the test runs as the first active one.
        device = device_of(users, user)
        if device is None:
            problems.error(item, 'names unknown user %r.' % (user,),
                           'use a user from meshconnect_users, or one of its devices as USER/DEVICE.')
            return None
        return ('user', device)
    site_name, _sep, resource = site.partition(':')
    if site_name not in sites:
        problems.error(item, 'names unknown site %r.' % (site,), 'use one of: %s.' % ', '.join(sites))
        return None
    if resource and not check_resource_ref(problems, item, sites, site_name, resource, 'site'):
        return None
    return ('site', site_name, resource or None)


def load_tests(problems, raw, sites, users, exits=()):
    tests = []
    for index, entry in enumerate(raw or []):
        principal = _test_principal(problems, 'policy test #%d' % (index + 1), entry, sites, users)
        if principal is None:
            continue
        item = "policy test #%d (%s '%s')" % (index + 1, principal[0], ':'.join(p for p in principal[1:] if p))
        allow = _load_grants(problems, item, entry.get('allow'), sites, 'allow', exits)
        deny = _load_grants(problems, item, entry.get('deny'), sites, 'deny', exits)
        tests.append(PolicyTest(index + 1, principal, allow, deny))
    return tests
