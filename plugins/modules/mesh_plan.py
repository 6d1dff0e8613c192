#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: mesh_plan
short_description: Compile the mesh inventory into per-agent and per-user plans
version_added: 0.1.0
description:
  - Runs on the controller (it is an action plugin) and touches no managed host.
  - Reads the mesh model from inventory variables (C(meshconnect_network), C(meshconnect_links),
    C(meshconnect_users), C(meshconnect_policies), C(meshconnect_policy_tests)) and C(meshconnect_site) of
    every host in O(agents_group).
  - Leases overlay addresses (kept in C(leases.json) in O(state_dir); an existing lease never changes),
    generates key pairs for users without a public key, checks every reference, address and policy, runs the
    policy tests, and returns the plans and a report (reachability matrix, test results, explain answer,
    semantic diff against the last recorded run).
  - Agents' public keys are pinned in C(facts.json) the first time their facts are seen. An agent whose fact
    C(meshconnect_public_key) differs from its pin fails the task, unless that exact key is accepted for its site
    in C(meshconnect_accept_agent_keys) (a mapping of site name to public key).
  - Bad input fails with every problem listed, each naming the item and the fix; nothing is written then.
    The shape of every inventory value is checked before any is used, and messages quote values only in part.
  - The state directory is locked for the run; its files are written whole or not at all; a file that exists
    must be valid and complete, else the run stops naming it; private key files that drifted to a wider mode
    are put back to 0600 (their directory to 0700) and reported. See the inventory documentation.
  - "Run it once per play (C(run_once: true)); its cost is linear in the size of the inventory."
options:
  agents_group:
    description: Inventory group whose hosts are site agents.
    type: str
    default: meshconnect_agents
  state_dir:
    description:
      - Directory for leases, the last recorded snapshot, cached agent facts and generated user keys.
      - Defaults to C(meshconnect_state_dir), else C(.meshconnect/NETWORK/) in the inventory's directory. It is
        hidden because Ansible reads every visible file of an inventory directory as inventory; a state directory
        visible inside the inventory directory is refused.
    type: path
  record:
    description:
      - Record the agents' facts and the reachability snapshot, so that the next run's diff is against
        this one. C(site.yml) sets it; C(plan.yml) leaves it off.
    type: bool
    default: false
  record_snapshot:
    description:
      - With O(record), write the snapshot now. Set it to V(false) to record the returned RV(snapshot) with
        M(meshconnect.mesh.mesh_record) once the plan is applied everywhere, as C(site.yml) does, so that a
        failed run is not recorded as applied.
    type: bool
    default: true
  explain:
    description:
      - A flow to explain, C(USER SITE:RESOURCE[:PROTO/PORT]) or C(SITE SITE:RESOURCE[:PROTO/PORT]).
    type: str
  explain_rows:
    description:
      - Explain this many flows of the matrix (users first, then sites, then the flows newly denied), and name
        every user's groups, in RV(report.explanations) and RV(report.people), for the HTML report
        (M(meshconnect.mesh.report_render)). V(0) explains none.
    type: int
    default: 0
  fail_on_tests:
    description: Fail when a policy test in C(meshconnect_policy_tests) fails.
    type: bool
    default: true
  generate_user_keys:
    description:
      - Make a key pair on the controller for the devices that ask for one (C(generate_key) in
        C(meshconnect_users)) and have none yet. The private key is stored encrypted with Ansible Vault, with the
        run's vault password; without one the run fails before anything is written. A plain key file of an older
        version is encrypted in place (not in check mode).
    type: bool
    default: true
  readonly:
    description:
      - Treat the state directory as read-only (a job on a fresh checkout of the inventory's repository, where the
        state is committed) and write nothing there. A run that needs a change to the state (a new or released
        lease, the first pin or an accepted change of an agent key, a key pair to make for C(generate_key)) fails
        before anything is written, listing each change (RV(needed_changes)) and the leases diff, so that the
        change is made by a run where the state can be written, reviewed as a diff and committed.
      - Defaults to C(meshconnect_state_readonly), and is on by itself when the state directory cannot be written.
    type: bool
  today:
    description: Date (YYYY-MM-DD, its start in UTC) used to decide which users expired; defaults to now (UTC).
    type: str
  lock_timeout:
    description:
      - Seconds to wait for the lock on O(state_dir) while another run holds it, then fail naming the holder.
        A run that may write (outside check mode) takes the lock alone; runs in check mode share it.
      - Defaults to C(meshconnect_lock_timeout), else 300.
    type: int
extends_documentation_fragment:
  - meshconnect.mesh.attributes
  - meshconnect.mesh.attributes.action
attributes:
  check_mode:
    support: full
    details: In check mode nothing is written; new leases are computed but not stored, keys not generated.
  diff_mode:
    support: full
    details: Shows the change to the lease file.
author:
  - MeshConnect engineering (@meshconnect)
notes:
  - The compiler lives in C(plugins/module_utils/mesh_compile.py) and has no Ansible dependency.
seealso:
  - name: Inventory reference
    description: Every variable the compiler reads.
    link: https://github.com/meshconnect/ansible-collection-mesh/blob/main/docs/inventory.md
'''

EXAMPLES = r'''
- name: Compile the mesh once for the play
  meshconnect.mesh.mesh_plan:
    explain: "alice hq:db:tcp/5432"
  run_once: true
  register: mesh

- name: Show the reachability matrix
  ansible.builtin.debug:
    msg: "{{ mesh.report.matrix | meshconnect.mesh.matrix_table }}"
  run_once: true
'''

RETURN = r'''
readonly:
  description: Whether the state was read-only for this run (nothing was written to it).
  returned: success
  type: bool
needed_changes:
  description: In a read-only run that failed, the changes the state needs, one line each.
  returned: failure
  type: list
  elements: str
plan:
  description:
    - The plans, grown with distinct access rather than users times sites. Give an agent's whole plan to the
      C(meshconnect.mesh.agent) role with the P(meshconnect.mesh.agent_plan#filter) filter.
  returned: success
  type: dict
  contains:
    version:
      description: Plan format version.
      type: int
    network:
      description:
        - The normalised network settings. C(dns) lists every DNS server's address; C(dns_domains) maps those
          that resolve only some domains (split DNS) to their domains.
      type: dict
    agents:
      description:
        - Per agent host, its address, site peers, routes, forwarding, masquerade and firewall groups. A group of
          users names their classes (C(classes), IDs in C(classes)) and the site peer their clients have for this
          site (C(peer), an ID in C(site_peers)); their addresses and peer entries are in C(users).
      type: dict
    users:
      description: Per user, its overlay address, public key, whether it expired, and its class (C(class)).
      type: dict
    classes:
      description:
        - Per class of users with the same policies, its users, their DNS servers (C(dns), those they reach on
          udp/53 and tcp/53), the domains of those servers that resolve only some domains (C(dns_domains)) and
          the sites whose keys are pending. Which site peers a class has is said once, by the agents' groups that
          name it.
      type: dict
    site_peers:
      description: Per ID, what a client needs to reach one site (public key, endpoint, AllowedIPs).
      type: dict
    digest:
      description: SHA-256 of the canonical JSON of the plan; identical input gives an identical digest.
      type: str
report:
  description: What the compile found.
  returned: success
  type: dict
  contains:
    summary:
      description: Counts of sites, links, users, policies and leases.
      type: dict
    matrix:
      description:
        - Who reaches what, by access class. C(members) maps each principal (C(user:NAME) or
          C(site:SITE:CONNECTOR)) to a class; C(classes) maps a class to C(SITE:RESOURCE) to the pieces
          reached (addresses, TCP and UDP port intervals, other protocols); C(resources) gives each resource's
          addresses. Render it with the P(meshconnect.mesh.matrix_table#filter) filter.
      type: dict
    tests:
      description: One entry per policy test flow, with C(passed) and C(detail).
      type: list
      elements: dict
    diff:
      description:
        - Flows newly allowed and newly denied since the last recorded run (null when none recorded), each
          with C(from) (the principals whose access changed alike), C(to) and C(ports).
      type: dict
    explain:
      description: The verdict and reasons for O(explain).
      type: dict
    explanations:
      description:
        - With O(explain_rows), C(flows) maps a principal to C(SITE:RESOURCE) to the C(verdict) and C(reasons)
          of each flow explained; C(rows) counts the flows, C(explained) those explained.
      type: dict
    people:
      description: With O(explain_rows), each user's C(groups) and whether the user C(expired).
      type: dict
    key_changes:
      description:
        - Agent keys pinned on first sight (C(action=pinned)), and pins replaced by a key accepted with
          C(meshconnect_accept_agent_keys) (C(action=changed), with C(was)). An agent that reports a key other
          than its pin, not accepted, fails the task before anything is compiled.
      type: list
      elements: dict
    lease_changes:
      description:
        - Leases given and released by this run; a given address that another member held before names it in
          C(was) (a released address is reused only when no never-leased address is left).
      type: list
      elements: dict
    warnings:
      description: Problems that do not stop the compile (expired users, unreachable grants).
      type: list
      elements: str
snapshot:
  description: What O(record) writes for the next run's diff (plan digest and reachability matrix).
  returned: success
  type: dict
snapshot_file:
  description: Where the snapshot is recorded.
  returned: success
  type: str
previous_digest:
  description:
    - The plan digest recorded in the snapshot file when this run compiled (empty when none); give it to
      M(meshconnect.mesh.mesh_record) as O(meshconnect.mesh.mesh_record#module:replaces).
  returned: success
  type: str
state_dir:
  description: The state directory used.
  returned: always
  type: str
written:
  description: Files written by this run.
  returned: success
  type: list
  elements: str
paths:
  description:
    - Every path the state owns, so that playbooks never build one. C(bundles_dir) is C(meshconnect_bundle_dir)
      when set, C(topology_file) is C(meshconnect_topology_file) when set, C(report_file)
      C(meshconnect_report_file) when set.
  returned: success
  type: dict
  contains:
    state_dir:
      description: The state directory.
      type: str
    leases:
      description: The lease file.
      type: str
    facts:
      description: The cached agent facts.
      type: str
    snapshot:
      description: The reachability snapshot of the last applied run.
      type: str
    keys_dir:
      description: Generated user keys.
      type: str
    bundles_dir:
      description: Where users.yml writes client bundles.
      type: str
    topology_file:
      description: Where plan.yml draws the topology.
      type: str
    report_file:
      description: Where plan.yml and verify.yml write the HTML report (C(meshconnect_report_file) when set).
      type: str
modes_fixed:
  description: Private paths whose mode had drifted, put back (or, in check mode, to be put back).
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The file or directory.
      type: str
    mode:
      description: The mode it had.
      type: str
    fixed_to:
      description: The mode it has now.
      type: str
'''
