# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh compiler: inventory in, per-agent and per-user plans out.

``compile_mesh()`` is the single entry point.  It is pure: the caller reads
the lease state and the previous snapshot from disk, passes them in, and
writes back what it returns.  The same input always gives the same output
(see ``canonical_json``).

The compiler's work is in rooms by subject, each mixed into ``_Compiler``
and sharing its state (named in ``_Compiler.__init__`` and in each room's
docstring):

==================  =====================================================
``mesh_model``      inventory -> model: names, references, addresses
``mesh_leases``     overlay addresses, once given never changed
``mesh_classes``    access classes: users with the same policies share one
``mesh_links``      what site links let through
``mesh_relays``     relay choice, and what relayed paths carry
``mesh_names``      the mesh's own names, served by agents
``mesh_plans``      per-agent and per-user plans, route overlap checks
``mesh_flows``      the firewall flow groups (written, rendered, read)
``mesh_reach``      the reachability matrix and its semantic diff
``mesh_explain``    policy tests and ``explain``
``mesh_digest``     canonical JSON and the plan's digest
==================  =====================================================
"""

import contextlib
import gc

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_classes import AccessClasses
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_digest import canonical_json, plan_digest
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import MeshError, Problems
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_explain import Explainer
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_leases import allocate, state_document
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_links import Links
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_mapping import assign as assign_mappings
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model import load_model
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_names import Names
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import EVERYTHING, format_ip
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import Plans
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import Reachability, diff_snapshots
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_relays import Relays

PLAN_VERSION = 5


def compile_mesh(inventory, facts=None, lease_state=None, previous=None, today=None, explain=None, explain_rows=0):
    """Compile ``inventory`` into plans.

    :param inventory: dict with ``network``, ``sites`` (agent host ->
        meshconnect_site), ``links``, ``users``, ``policies``, ``policy_tests``.
    :param facts: agent host -> {public_key, interfaces} (optional).
    :param lease_state: the lease document from the last run (optional).
    :param previous: the snapshot recorded by the last applied run (optional).
    :param today: now, for user expiry: a ``datetime.datetime`` (UTC when naive), or a ``datetime.date``
        (its start, UTC); None checks no expiry.
    :param explain: a flow such as ``"alice hq:db:tcp/5432"`` to explain.
    :param explain_rows: when above 0, the report also explains that many
        rows of the matrix (``explanations``) and names users' groups
        (``people``), for the HTML report.
    :raises MeshError: listing every problem, when the inventory is invalid.
    """
    problems = Problems()
    with _no_full_collections():
        model = load_model(inventory, facts, problems, today)
        problems.raise_if_any()
        return _Compiler(model, problems).run(lease_state, previous, explain, explain_rows)


@contextlib.contextmanager
def _no_full_collections():
    """Keep Python's cyclic garbage collector to its young generations
    while compiling.

    A compile builds a large graph of dicts, lists and tuples, and each full
    collection walks all of it, and the inventory, again (with 10,000 users
    they took a third of the time).  Young collections still run, and the
    collector's thresholds are restored afterwards.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], 1 << 30)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


class _Compiler(AccessClasses, Links, Relays, Names, Plans, Reachability, Explainer):
    def __init__(self, model, problems):
        self.model = model
        self.net = model.network
        self.problems = problems
        self.site_maps = {}     # (site, map as a tuple) -> SiteMap: equal maps of a site are one
        self.unions = {}        # (SiteMap, SiteMap) -> SiteMap of their union
        self.class_ids = {}     # class -> its ID in the plan's classes
        self.clashing = None    # site -> the shared runs of overlapping resources it is in (mesh_plans)
        self.not_internet = None    # what an internet grant never reaches, as CIDRs (mesh_plans)

    def run(self, lease_state, previous, explain, explain_rows=0):
        model = self.model
        members = ['agent/' + name for name in model.sites] + ['user/' + name for name in model.users]
        leases, lease_changes, released = allocate(self.net, members, lease_state, self.problems)
        self.problems.raise_if_any()
        mappings, mapping_changes = assign_mappings(self.net, model.sites, lease_state, self.problems)
        self.problems.raise_if_any()
        for name, site in model.sites.items():
            address = leases['agent/' + name]
            site.address = address
            agent = site.resources['agent']
            agent.lo = agent.hi = address
            agent.cidr = '%s/32' % format_ip(address)
            agent.amap = [(address, address, EVERYTHING)]
        for name, user in model.users.items():
            user.address = leases['user/' + name]
            user.address_text = format_ip(user.address)

        self._name_servers()
        self._choose_relays(lease_state)
        self._evaluate_policies()
        self._links()
        self._route_relays()
        self._dns()
        users, classes, site_peers = self._user_plans()
        agents = dict((site.host, self._agent_plan(site)) for site in model.sites.values())
        self.problems.raise_if_any()

        matrix = self._matrix()
        report = {
            'summary': {
                'network': self.net.name,
                'cidr': self.net.cidr,
                'sites': len(model.sites),
                'links': len(model.links),
                'users': len(model.users),
                'active_users': sum(1 for u in model.users.values() if not u.expired),
                'policies': len(model.policies),
                'leases_used': len(leases),
                'leases_free': self.net.usable - len(leases),
            },
            'lease_changes': [dict({'action': a, 'member': m, 'address': ip}, **({'was': was} if was else {}))
                              for a, m, ip, was in lease_changes],
            'relay_changes': self.relay_changes,
            'mapping_changes': [{'site': site, 'prefix': real, 'published_as': published}
                                for site, real, published in mapping_changes],
            'tests': self._run_tests(),
            'discovery': self._discovery(),
            'diff': diff_snapshots(previous, matrix),
            'explain': self.explain(explain) if explain else None,
            # Sorted: loading follows the input order of users and policies.
            'warnings': sorted(self.problems.warnings),
        }
        if explain_rows > 0:
            report['explanations'] = self.explain_rows(matrix, report['diff'], explain_rows)
            report['people'] = self.people()
        plan = {
            'version': PLAN_VERSION,
            'network': self.net.as_dict(),
            'agents': agents,
            'users': users,
            'classes': classes,
            'site_peers': site_peers,
        }
        plan['digest'] = plan_digest(plan)
        return {
            'plan': plan,
            'report': report,
            'matrix': matrix,
            'lease_state': state_document(self.net, leases, self.relay_of, released, mappings),
        }


def snapshot(result):
    """What is recorded after an applied run, for the next run's diff."""
    return {'version': PLAN_VERSION, 'digest': result['plan']['digest'], 'matrix': result['matrix']}


__all__ = ['MeshError', 'canonical_json', 'compile_mesh', 'diff_snapshots', 'snapshot']
