# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small transformations for reports and templates (documentation in the .yml files beside)."""

from ansible.errors import AnsibleFilterError

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import PLAN_VERSION
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_denylog import attribute, deny_table
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import show
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_flows import KINDS as NFT_KINDS, nft_elements
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_mgmt import ManagementError, management_access
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import AddressError
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import agent_plan, is_whole
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_psk import preshared_key
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_probe import (
    drift, probe_report, probe_table, probe_targets, relays_down,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import EMPTY, checked
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_report import matrix_table, report_text
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_topology import topology_svg


def _type_name(value):
    """The plain type name of ``value`` for error messages (Ansible 2.19 passes
    lazy containers and tagged strings, subclasses of list, dict and str)."""
    for base in (bool, int, float, str, bytes, dict, list, tuple, set):
        if isinstance(value, base):
            return base.__name__
    return type(value).__name__


def _matrix(name, matrix):
    """The report matrix of mesh_plan, checked (``{}`` is an empty one)."""
    if not isinstance(matrix, dict):
        raise AnsibleFilterError('%s expects the report matrix (a dict), got %s' % (name, _type_name(matrix)))
    if not matrix:
        return EMPTY
    if checked(matrix) is None:
        raise AnsibleFilterError('%s expects the report matrix of mesh_plan (resources, classes and members); '
                                 'this one is of another version or damaged' % name)
    return matrix


def _agent_plan(plan, host):
    _require_dict('agent_plan', plan, 'the plan of mesh_plan')
    agents = plan.get('agents')
    if not isinstance(agents, dict) or host not in agents:
        raise AnsibleFilterError('agent_plan: the plan has no agent %s (hosts of the agents group that were '
                                 'compiled: %s)' % (show(host), ', '.join(sorted(agents or {})[:10]) or 'none'))
    try:
        return agent_plan(plan, host)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError('agent_plan expects the plan of mesh_plan (version %d): %s' % (PLAN_VERSION, exc))


def _matrix_table(matrix, limit=200):
    return matrix_table(_matrix('matrix_table', matrix), int(limit))


def _report_text(report, limit=200):
    if not isinstance(report, dict):
        raise AnsibleFilterError('report_text expects the report of mesh_plan (a dict), got %s'
                                 % _type_name(report))
    return report_text(report, int(limit))


def _nft_elements(groups, kind):
    if kind not in NFT_KINDS:
        raise AnsibleFilterError("nft_elements: kind must be one of %s, not %r" % (', '.join(NFT_KINDS), kind))
    try:
        return nft_elements(groups, kind)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('nft_elements expects the firewall groups of an agent plan: %s' % exc)


def _require_dict(name, value, what):
    if not isinstance(value, dict):
        raise AnsibleFilterError('%s expects %s (a dict), got %s' % (name, what, _type_name(value)))


def _probe_targets(plan, ports=None, principal=None, extra=None):
    _require_dict('probe_targets', plan, 'the plan of mesh_plan')
    if extra is not None and not isinstance(extra, (list, tuple)):
        raise AnsibleFilterError('probe_targets: extra targets must be a list of {name, address}, got %s'
                                 % _type_name(extra))
    for entry in extra or []:
        if not isinstance(entry, dict) or not isinstance(entry.get('name'), str) or \
                not isinstance(entry.get('address'), str):
            raise AnsibleFilterError('probe_targets: each extra target needs name and address, got %r' % (entry,))
    try:
        return probe_targets(plan, list(ports or []), principal, list(extra or []))
    except (AddressError, KeyError) as exc:
        raise AnsibleFilterError('probe_targets: %s' % exc)


def _probe_report(results, plan):
    _require_dict('probe_report', results, 'prober host -> {as, probes}')
    _require_dict('probe_report', plan, 'the plan of mesh_plan')
    try:
        return probe_report(plan, results)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('probe_report: malformed probe results: %s' % exc)


def _probe_table(report):
    _require_dict('probe_table', report, 'the result of probe_report')
    return probe_table(report)


def _require_agent_plan(name, value):
    _require_dict(name, value, "an agent's plan")
    if not is_whole(value):
        raise AnsibleFilterError('%s expects an agent\'s whole plan: give it plan | meshconnect.mesh.agent_plan(HOST), '
                                 'not plan.agents[HOST] (which names its users without their peer entries)' % name)


def _agent_drift(agent_plan, live):
    _require_agent_plan('agent_drift', agent_plan)
    _require_dict('agent_drift', live, 'the state returned by agent_state')
    return drift(agent_plan, live)


def _topology_svg(plan, matrix):
    _require_dict('topology_svg', plan, 'the plan of mesh_plan')
    matrix = _matrix('topology_svg', matrix)
    try:
        return topology_svg(plan, matrix)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('topology_svg: malformed plan: %s' % exc)


def _management_access(agent_plan, sources=None, ports=None, controller=None):
    _require_agent_plan('management_access', agent_plan)
    try:
        return management_access(agent_plan, list(sources or []) if isinstance(sources, (list, tuple)) else sources,
                                 list(ports or []) if isinstance(ports, (list, tuple)) else ports,
                                 controller or None)
    except ManagementError as exc:
        raise AnsibleFilterError(str(exc))


def _deny_report(results, plan):
    _require_dict('deny_report', results, 'agent host -> the denies of meshconnect.mesh.deny_log')
    _require_dict('deny_report', plan, 'the plan of mesh_plan')
    try:
        return deny_table(attribute(plan, results))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('deny_report: malformed denies: %s' % exc)


def _relays_down(live, plan):
    _require_dict('relays_down', live, 'agent host -> {up, handshakes} as verify.yml reads them')
    _require_dict('relays_down', plan, 'the plan of mesh_plan')
    try:
        return relays_down(plan, live)
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError('relays_down: malformed plan or live state: %s' % exc)


def _preshared_key(secret, network, first, second):
    try:
        return preshared_key(secret, network, first, second)
    except ValueError as exc:
        # The message names the problem, never the secret.
        raise AnsibleFilterError('preshared_key: %s' % exc)


class FilterModule:
    def filters(self):
        return {
            'agent_drift': _agent_drift,
            'agent_plan': _agent_plan,
            'deny_report': _deny_report,
            'management_access': _management_access,
            'matrix_table': _matrix_table,
            'nft_elements': _nft_elements,
            'preshared_key': _preshared_key,
            'probe_report': _probe_report,
            'probe_table': _probe_table,
            'probe_targets': _probe_targets,
            'relays_down': _relays_down,
            'topology_svg': _topology_svg,
            'report_text': _report_text,
        }
