# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canonical JSON and the plan's digest.

``canonical_json`` is the one encoding of compiler output (sorted keys, no
spaces): the same input always gives the same bytes.  ``Digest`` is mixed
into the compiler's ``_Compiler`` (see ``mesh_compile``).
"""

import hashlib
import json

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(',', ':'))


def canonical_json(data):
    return _CANONICAL.encode(data)


def digest_id(value):
    """A short ID of ``value`` made from its content: equal content has the
    same ID in every run."""
    return hashlib.sha256(canonical_json(value).encode('utf-8')).hexdigest()[:16]


class Digest:
    """The plan's digest, without holding its whole text."""

    def _digest(self, plan):
        """``sha256(canonical_json(plan))``, hashed piece by piece.

        The pieces are the canonical JSON of each agent, joined as
        ``canonical_json`` joins them (sorted keys, no spaces), so the bytes
        hashed are the same; the whole text is never held in memory.  The
        peer entry of a user, which every agent listing the user has, is
        encoded once.
        """
        digest = hashlib.sha256()
        user_peer_texts = {}    # peer name -> text

        def agent_text(agent):
            peers = []
            for peer in agent['peers']:
                if peer['kind'] != 'user':
                    peers.append(canonical_json(peer))
                    continue
                if peer['name'] not in user_peer_texts:
                    user_peer_texts[peer['name']] = canonical_json(peer)
                peers.append(user_peer_texts[peer['name']])
            return canonical_with(agent, 'peers', '[' + ','.join(peers) + ']')

        def put(text):
            digest.update(text.encode('utf-8'))

        put('{')
        for index, key in enumerate(sorted(plan)):
            put('%s%s:' % (',' if index else '', json.dumps(key)))
            if key == 'agents' and plan[key]:
                for inner, name in enumerate(sorted(plan[key])):
                    put('%s%s:%s' % (',' if inner else '{', json.dumps(name), agent_text(plan[key][name])))
                put('}')
            else:
                put(canonical_json(plan[key]))
        put('}')
        return digest.hexdigest()


def canonical_with(data, key, text):
    """``canonical_json(data)`` for a dict whose ``data[key]`` is already
    encoded as ``text``: the keys before and after it are encoded apart."""
    before = canonical_json(dict((k, v) for k, v in data.items() if k < key))[1:-1]
    after = canonical_json(dict((k, v) for k, v in data.items() if k > key))[1:-1]
    return '{' + ','.join(part for part in (before, json.dumps(key) + ':' + text, after) if part) + '}'
