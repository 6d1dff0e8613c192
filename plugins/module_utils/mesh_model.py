# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory model: validation and normalisation of what users write.

``load_model(inventory, facts, problems)`` turns plain dicts and lists (as
found in Ansible variables) into a :class:`Model`.  Every malformed or
inconsistent item is reported through ``problems`` with its name and a fix.

The work is done in this order, each step in its own module:

============================  =================================================
``mesh_schema``               the shape: kinds and keys; malformed entries out
``mesh_model_sites``          the network, its address space, sites, endpoints,
                              declared resources, resource references
``mesh_model_agents``         what the agents reported: keys, local resources
``mesh_model_access``         links, users, grants, policies, policy tests
============================  =================================================

Address arithmetic is ``mesh_net``'s.
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model_access import (
    load_links, load_policies, load_tests, load_users, parse_grant,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model_agents import (
    add_agent_facts, check_agent_keys,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model_sites import (
    check_endpoints, check_exits, check_relays, load_network, load_sites, validate_public_key,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_schema import check_facts, shape_and_clean

# Imported from here by other modules (mesh_explain, tests).
__all__ = ('Model', 'load_model', 'parse_grant', 'validate_public_key')


class Model:
    def __init__(self, network, sites, links, users, policies, tests, relays=(), exits=()):
        self.network = network
        self.sites = sites          # name -> Site (sorted by name)
        self.relays = list(relays)  # the sites that may relay, by name
        self.exits = list(exits)    # the sites that offer internet access, by name
        self.links = links          # [Link] sorted by name
        self.users = users          # name -> User (sorted by name)
        self.policies = policies    # [Policy] sorted by name
        self.tests = tests          # [PolicyTest]
        self.groups = {}            # group -> [user names]
        for user in users.values():
            for group in user.groups:
                self.groups.setdefault(group, []).append(user.name)

    def site_by_host(self, host):
        for site in self.sites.values():
            if site.host == host:
                return site
        return None


def load_model(inventory, facts, problems, today=None):
    """Validate ``inventory`` (see docs/inventory.md) and return a Model.

    ``facts`` maps agent inventory host names to what the agent reported
    (``public_key``, ``interfaces``); it may be empty.
    """
    # Shape first: nothing below reads a value of the wrong kind (see mesh_schema). What is malformed
    # is left out whole, and the rest is still validated, so that one run lists every problem.
    shape_errors, inventory = shape_and_clean(inventory)
    problems.errors.extend(shape_errors)
    fact_errors = check_facts(facts)
    problems.errors.extend('agent facts: ' + message for message in fact_errors)
    if inventory is None or fact_errors:
        problems.raise_if_any()
    network = load_network(problems, inventory['network'])
    sites = load_sites(problems, network, inventory['sites'])
    relays = check_relays(problems, sites)
    exits = check_exits(problems, sites)
    endpoint_ips = check_endpoints(problems, sites)
    add_agent_facts(problems, network, sites, facts or {}, endpoint_ips)
    links = load_links(problems, inventory['links'], sites, relays)
    users = load_users(problems, inventory['users'], today)
    check_agent_keys(problems, sites, users)
    policies = load_policies(problems, inventory['policies'], sites, users, exits)
    tests = load_tests(problems, inventory['policy_tests'], sites, users, exits)
    return Model(network, sites, links, users, policies, tests, relays, exits)
