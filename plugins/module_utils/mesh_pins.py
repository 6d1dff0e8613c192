# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Agent keys pinned on first sight.

The state's ``facts.json`` records each agent's public key the first time
``site.yml`` sees it; from then on that key is the agent's pin.  An agent
that answers with another key (a reinstalled host, a key rotated by hand, or
someone else answering for it) stops the plan before any host is configured,
unless the operator accepts that exact new key for that site
(``meshconnect_accept_agent_keys: {SITE: NEW_KEY}``), after checking it on
the host (``wg show mc0 public-key``).  Accepting a key with nothing to accept
is harmless; accepting a key the agent does not report is refused.
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import describe, show


def check_accepted(accepted, sites):
    """Problems of ``meshconnect_accept_agent_keys`` (a mapping of site name to public key)."""
    if accepted is None:
        return []
    if not isinstance(accepted, dict):
        return ['meshconnect_accept_agent_keys: must map site names to the new public keys, not %s. Fix: '
                '-e \'{"meshconnect_accept_agent_keys": {"hq": "NEW_KEY"}}\'' % describe(accepted)]
    problems = []
    for site, key in sorted(accepted.items(), key=lambda item: str(item[0])):
        if site not in sites:
            problems.append('meshconnect_accept_agent_keys: %s is not a site of the mesh. Fix: name one of: %s.'
                            % (show(site), ', '.join(sorted(sites)[:20])))
        elif not isinstance(key, str) or len(key) != 44 or not key.endswith('='):
            problems.append('meshconnect_accept_agent_keys: %s must be the agent\'s new public key (44 characters '
                            'of base64, as `wg show mc0 public-key` prints it on the host), not %s.'
                            % (site, show(key)))
    return problems


def key_changes(pinned, live, accepted, site_of):
    """``(changes, problems)``: what the agents' live keys change against the pins.

    :param pinned: host -> facts recorded in the state (``public_key``).
    :param live: host -> facts the agents report in this run.
    :param accepted: site -> the new key the operator accepts for it (or None).
    :param site_of: host -> its site's name.
    ``changes`` lists ``{site, host, action, key[, was]}`` (``pinned`` on first
    sight, ``changed`` when an accepted key replaces the pin); ``problems``
    names each agent whose key differs from its pin without being accepted.
    """
    accepted = accepted or {}
    changes, problems = [], []
    for host in sorted(live):
        key = (live[host] or {}).get('public_key')
        if not key:
            continue        # check mode before the first key exists: nothing to compare
        site = site_of.get(host, host)
        was = (pinned.get(host) or {}).get('public_key')
        if was is None:
            changes.append({'site': site, 'host': host, 'action': 'pinned', 'key': key})
        elif was != key:
            if accepted.get(site) == key:
                changes.append({'site': site, 'host': host, 'action': 'changed', 'key': key, 'was': was})
            else:
                problems.append(
                    "site '%s': its agent (host %s) reports the public key %s, but the state pinned %s when it "
                    'first saw it. A reinstalled host has a new key, and so has someone else answering in its '
                    'place; nothing was configured. Fix: check the key on the host (`wg show mc0 public-key`), '
                    'then accept it for this run: -e \'{"meshconnect_accept_agent_keys": {"%s": "%s"}}\'%s'
                    % (site, host, key, was, site, key,
                       '' if site not in accepted else ' (the key accepted now, %s, is not the one the agent '
                       'reports)' % show(accepted[site])))
    return changes, problems
