# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy tests and ``explain``: why a flow is allowed or denied.

Part of the compiler (see ``mesh_compile``): ``Explainer`` is mixed into its
``_Compiler`` and reads what ``AccessClasses`` and ``Links`` computed.
"""

import re

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_access as access
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model import parse_grant
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model_access import device_of
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model_sites import INTERNET
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import AddressError
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import principals_order, reached

OTHERS_NAMED = 10   # policies named that would allow a flow but apply to others; the rest are counted


class Explainer:
    """Policy tests (``meshconnect_policy_tests``) and ``explain``."""

    def _access_of(self, principal):
        """site -> access map of a test's or explain's source principal."""
        if principal[0] == 'user':
            return self.class_access(self.user_class[principal[1]])
        _kind, site_name, resource = principal
        site = self.model.sites[site_name]
        out = {}
        for (t_name, c_name), reach in self.principal_access.items():
            if t_name != site_name:
                continue
            if resource is not None and resource != c_name:
                # A packet from RESOURCE is also from every connector whose addresses hold it.
                res, conn = site.resources[resource], site.resources[c_name]
                if c_name == 'agent' or resource == 'agent' or not (conn.lo <= res.lo and res.hi <= conn.hi):
                    continue
            for s_name, amap in reach.items():
                out[s_name] = access.union(out[s_name], amap) if s_name in out else amap
        return out

    def _flow_verdict(self, principal, grant, want_allow):
        """``(passed, detail)`` for one test flow."""
        if grant.resource == INTERNET:
            has = principal[0] == 'user' and self.class_internet.get(self.user_class[principal[1]]) == grant.site
            if has == want_allow:
                return True, 'allowed' if has else 'denied'
            return False, ('%s has the internet through %s' % (':'.join(principal), grant.site) if has else
                           '%s has no internet access through %s' % (':'.join(principal), grant.site))
        granted = self._access_of(principal)
        sites = self.model.sites
        site_names = list(sites) if grant.site == '*' else [grant.site]
        targets = []
        for site_name in site_names:
            site = sites[site_name]
            if grant.resource == '*':
                targets.extend(site.resources.values())
            elif grant.resource in site.resources:
                targets.append(site.resources[grant.resource])
        for res in targets:
            amap = granted.get(res.site, [])
            if want_allow:
                ok = access.covers(amap, res.lo, res.hi, grant.ports) if grant.ports else \
                    access.touches(amap, res.lo, res.hi)
                if grant.resource != '*' and not ok:
                    return False, '%s is not allowed (%s has %s)' % (
                        grant.text, res.ref, access.describe(amap, res.lo, res.hi) or 'no access')
                if grant.resource == '*' and ok:
                    return True, 'allowed'
            else:
                if access.touches(amap, res.lo, res.hi, grant.ports):
                    return False, '%s is allowed (%s has %s)' % (grant.text, res.ref,
                                                                 access.describe(amap, res.lo, res.hi))
        if want_allow and grant.resource == '*':
            return False, '%s is not allowed: nothing at the site is reachable' % grant.text
        return True, 'allowed' if want_allow else 'denied'

    def _run_tests(self):
        results = []
        for test in self.model.tests:
            for want_allow, grants in ((True, test.allow), (False, test.deny)):
                for grant in grants:
                    passed, detail = self._flow_verdict(test.principal, grant, want_allow)
                    results.append({
                        'test': test.index,
                        'from': test.source,
                        'expect': 'allow' if want_allow else 'deny',
                        'flow': grant.text,
                        'passed': passed,
                        'detail': detail,
                    })
        return results

    def explain(self, query):
        """Say which policy allows a flow, or why it is denied."""
        parts = [p for p in re.split(r'\s*->\s*|\s+', query.strip()) if p]
        if len(parts) != 2:
            return {'query': query, 'verdict': 'invalid',
                    'reasons': ['write the flow as "USER SITE:RESOURCE[:PROTO/PORT]", e.g. "alice hq:web:tcp/443"']}
        principal, target = parts
        principal = device_of(self.model.users, principal) or principal
        try:
            grant = parse_grant(target)
        except (ValueError, AddressError) as exc:
            return {'query': query, 'verdict': 'invalid', 'reasons': [str(exc)]}
        model = self.model
        if grant.site == INTERNET:
            return self._explain_internet(query, principal, grant)
        if grant.site not in model.sites or (grant.resource != '*' and
                                             grant.resource not in model.sites[grant.site].resources):
            return {'query': query, 'verdict': 'invalid', 'reasons': ['unknown site or resource %r' % target]}
        site = model.sites[grant.site]
        resources = list(site.resources.values()) if grant.resource == '*' else [site.resources[grant.resource]]
        # A mapped resource by both its addresses, so that nobody translates by hand.
        mapped = ['%s is %s to the mesh, %s inside %s (mapped)' % (r.ref, r.cidr, r.real_cidr, site.name)
                  for r in resources if r.mapped]
        if principal in model.users:
            result = self._explain_user(query, model.users[principal], site, resources, grant)
            result['reasons'].extend(mapped)
            return result
        source_site, _sep, source_res = principal.partition(':')
        if source_site in model.sites and (not source_res or source_res in model.sites[source_site].resources):
            result = self._explain_site(query, ('site', source_site, source_res or None), site, resources, grant)
            result['reasons'].extend(mapped)
            return result
        return {'query': query, 'verdict': 'invalid',
                'reasons': ['%r is neither a user nor a site (SITE or SITE:RESOURCE)' % principal]}

    def _policies_for(self, site_name, applying):
        """The policies, in inventory order, that grant something at ``site_name`` or are in ``applying``
        (the index is built once per compile)."""
        index = getattr(self, '_policy_index', None)
        if index is None:
            order = dict((policy.name, i) for i, policy in enumerate(self.model.policies))
            at_site = {}
            for policy in self.model.policies:
                for s_name in self.policy_access[policy.name]:
                    at_site.setdefault(s_name, []).append(policy.name)
            index = self._policy_index = (order, at_site)
        order, at_site = index
        names = set(at_site.get(site_name, ())) | applying
        return [self.model.policies[i] for i in sorted(order[name] for name in names if name in order)]

    def explain_rows(self, matrix, diff, limit):
        """``explain`` of every row of ``matrix`` and of every flow ``diff`` newly denies, at most ``limit`` of
        them (users first), for the HTML report: ``{'flows': {PRINCIPAL: {REF: {verdict, reasons}}}, 'rows':
        ROWS, 'explained': N}``; a row past ``limit`` is left out (``rows`` > ``explained`` says so)."""
        wanted = []
        for principal in sorted(matrix['members'], key=principals_order):
            wanted.extend((principal, ref) for ref in sorted(reached(matrix, matrix['members'][principal])))
        for entry in (diff or {}).get('newly_denied') or []:
            wanted.extend((principal, entry['to']) for principal in entry['from'])
        flows, explained = {}, 0
        for principal, ref in wanted:
            if explained >= limit:
                break
            kind, _sep, name = principal.partition(':')
            if kind not in ('user', 'site') or ref in flows.get(principal, {}):
                continue
            site_name, _sep, resource = ref.partition(':')
            if kind == 'user' and name not in self.model.users:
                continue        # a user of the previous run only: nothing to explain
            target = '%s:%s' % (INTERNET, site_name) if resource == INTERNET else ref
            answer = self.explain('%s %s' % (name, target))
            flows.setdefault(principal, {})[ref] = {'verdict': answer['verdict'], 'reasons': answer['reasons']}
            explained += 1
        return {'flows': flows, 'rows': len(wanted), 'explained': explained}

    def people(self):
        """Every user's groups and whether the user expired, for the HTML report's filters."""
        return dict((name, {'groups': sorted(user.groups), 'expired': bool(user.expired)})
                    for name, user in sorted(self.model.users.items()))

    def _explain_internet(self, query, principal, grant):
        """Why ``principal`` has the internet (``internet`` or ``internet:SITE``) or not."""
        exits = self.model.exits
        wanted = grant.resource if grant.resource != '*' else (exits[0] if len(exits) == 1 else None)
        if principal not in self.model.users:
            return {'query': query, 'verdict': 'denied',
                    'reasons': ['only users are granted the internet (sites use their own uplinks)']}
        user = self.model.users[principal]
        if not exits:
            return {'query': query, 'verdict': 'denied', 'reasons': ['no site offers internet access (exit: true)']}
        if user.expired:
            return {'query': query, 'verdict': 'denied',
                    'reasons': ['user %s %s' % (user.name, user.inactive_reason)]}
        has = self.class_internet.get(self.user_class[user.name])
        applying = set(self.user_policies[user.name])
        reasons = []
        for policy in self.model.policies:
            if policy.internet is None:
                continue
            if policy.name in applying:
                reasons.append("allowed by policy '%s' (allow internet through exit site %s): everything outside "
                               'the overlay, the private ranges and the mesh\'s resources goes through %s, which '
                               'masquerades it to its uplink' % (policy.name, policy.internet, policy.internet))
            else:
                reasons.append("policy '%s' would allow it, but applies to %s, not to %s"
                               % (policy.name, _who(policy), user.name))
        if has is not None and (wanted is None or wanted == has):
            return {'query': query, 'verdict': 'allowed', 'reasons': reasons}
        if not reasons:
            reasons.append('no policy grants the internet')
        if has is not None:
            reasons.append('%s has the internet through %s, not %s' % (user.name, has, wanted))
        return {'query': query, 'verdict': 'denied', 'reasons': reasons}

    def _explain_user(self, query, user, site, resources, grant):
        wanted = grant.ports
        reasons = []

        def allows(amap):
            return any(access.covers(amap, r.lo, r.hi, wanted) if wanted else access.touches(amap, r.lo, r.hi)
                       for r in resources)

        if user.expired:
            return {'query': query, 'verdict': 'denied',
                    'reasons': ['user %s %s' % (user.name, user.inactive_reason)]}
        applying = set(self.user_policies[user.name])
        allowed_by, others = [], 0
        # Only the policies that grant something at the site, or apply to the user, can say anything here.
        for policy in self._policies_for(site.name, applying):
            granted = self.policy_access[policy.name].get(site.name, [])
            if policy.name not in applying:
                if allows(granted):
                    others += 1
                    if others <= OTHERS_NAMED:
                        reasons.append("policy '%s' would allow it, but applies to %s, not to %s" % (
                            policy.name, _who(policy), user.name))
                continue
            if allows(granted):
                allowed_by.append(policy.name)
                terms = [g.text for g in policy.allow if g.site in ('*', site.name)]
                reasons.insert(0, "allowed by policy '%s' (allow %s)" % (policy.name, ', '.join(terms)))
                continue
            excepts = any(g.site in ('*', site.name) for g in policy.deny)
            before = access.policy_access(_without_excepts(policy), self.model.sites).get(site.name, []) \
                if excepts else granted
            if excepts and allows(before):
                terms = [g.text for g in policy.deny if g.site in ('*', site.name)]
                reasons.append("policy '%s' allows %s but excepts it (except %s)" % (
                    policy.name, site.name, ', '.join(terms)))
            elif granted:
                reached = ['%s %s' % (r.ref, access.describe(granted, r.lo, r.hi))
                           for r in site.resources.values() if access.describe(granted, r.lo, r.hi)]
                reasons.append("policy '%s' reaches %s only as: %s" % (policy.name, site.name, '; '.join(reached)))
        if others > OTHERS_NAMED:
            reasons.append('%d more policies would allow it, but apply to others, not to %s'
                           % (others - OTHERS_NAMED, user.name))
        if not applying:
            reasons.append('no policy applies to %s (groups: %s)' % (user.name, ', '.join(user.groups) or 'none'))
        if wanted is not None:
            for res in resources:
                if not res.ports.intersect(wanted):
                    reasons.append('resource %s serves only %s' % (res.ref, res.ports.describe()))
        if allowed_by and not self.reachable(site.name):
            return {'query': query, 'verdict': 'denied',
                    'reasons': ['site %s cannot be dialled by users (no endpoint, or behind NAT without port '
                                'forwarding), and no site relays' % site.name] + reasons}
        if allowed_by and site.name in self.relay_of:
            reasons.append('via %s: %s cannot be dialled, so the relay %s forwards this flow, and the agent of %s '
                           'enforces the policy' % (self.relay_of[site.name], site.name, self.relay_of[site.name],
                                                    site.name))
        if allowed_by:
            return {'query': query, 'verdict': 'allowed', 'reasons': reasons}
        if not reasons:
            reasons.append('no policy that applies to %s grants %s' % (user.name, grant.text))
        return {'query': query, 'verdict': 'denied', 'reasons': reasons}

    def _explain_site(self, query, principal, site, resources, grant):
        _kind, source_name, source_res = principal
        source = self.model.sites[source_name]
        if source.name == site.name:
            return {'query': query, 'verdict': 'invalid', 'reasons': ['a site does not reach itself over the mesh']}
        links = [link for link in self.model.links if source.name in link.members and site.name in link.members]
        if not links:
            return {'query': query, 'verdict': 'denied',
                    'reasons': ['no link joins %s and %s' % (source.name, site.name)]}
        wanted = grant.ports
        granted = self._access_of(principal).get(site.name, [])
        ok = any(access.covers(granted, r.lo, r.hi, wanted) if wanted else access.touches(granted, r.lo, r.hi)
                 for r in resources)
        who = source.name + (':' + source_res if source_res else '')
        reasons = []
        for link in links:
            src, dst = link.members[source.name], link.members[site.name]
            if any(r.kind == 'agent' for r in resources):
                reasons.append("link '%s' lets the agents reach each other on %s" % (link.name, link.agents.describe()))
            exposed = [r_name + (':' + ports.describe() if ports is not None else '') for r_name, ports in dst.expose]
            connectors = [c for c in src.connect
                          if source_res is None or c == source_res or (c != 'agent' and source_res != 'agent' and
                                                                       _holds(source.resources[c],
                                                                              source.resources[source_res]))]
            if not exposed:
                reasons.append("link '%s': %s exposes nothing" % (link.name, site.name))
            elif not connectors:
                reasons.append("link '%s': %s opens no connections on it (connect: %s)"
                               % (link.name, who, ', '.join(src.connect) or 'nothing'))
            else:
                reasons.append("link '%s': %s (%s) may open connections to %s exposed by %s"
                               % (link.name, who, ', '.join(connectors), ', '.join(exposed), site.name))
        for res in resources:
            reached = access.describe(granted, res.lo, res.hi)
            reasons.append('%s is reached as: %s' % (res.ref, reached) if reached else '%s is not reached' % res.ref)
        relay = self.pair_relay(source.name, site.name)
        if ok and relay is not None:
            reasons.append('via %s: neither %s nor %s can be dialled, so the relay %s forwards this flow'
                           % (relay, source.name, site.name, relay))
        return {'query': query, 'verdict': 'allowed' if ok else 'denied', 'reasons': reasons}


def _holds(outer, inner):
    return outer.lo <= inner.lo and inner.hi <= outer.hi


class _PolicyView:
    def __init__(self, policy):
        self.name = policy.name
        self.allow = policy.allow
        self.deny = []


def _without_excepts(policy):
    return _PolicyView(policy)


def _who(policy):
    parts = []
    if policy.users:
        parts.append('users ' + ', '.join(policy.users))
    if policy.groups:
        parts.append('groups ' + ', '.join(policy.groups))
    return ' and '.join(parts)
