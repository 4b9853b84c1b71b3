"""
Many script calls in one round trip: one pipeline, or one per node on a cluster.

redis-py's cluster pipeline refuses scripts, so on a cluster the calls are
grouped by the primary of their slot (each call's keys share one) and sent down
one plain pipeline per node. A node that fails costs only its own shards
(``client.ShardsUnavailable``): the other nodes' calls are made.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.cluster import RedisCluster
from redis.exceptions import (
    ConnectionError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    TimeoutError,
)

from caching.store import client, keys
from caching.store.scripts import script

ScriptCall = tuple[str, list[str], list[Any]]  # (script source, keys, args)


def pipelined(redis: Redis, calls: Sequence[ScriptCall]) -> list:
    """Run (script, keys, args) calls in one pipeline; results in call order.

    The calls must be safe to run twice (fills check their stamps, invalidations
    only raise them): after a NOSCRIPT the whole pipeline runs again.

    redis-py's cluster pipeline refuses scripts, so on a cluster the calls are
    grouped by the primary of their slot (each call's keys share one) and sent
    down one plain pipeline per node.
    """
    if isinstance(redis, RedisCluster):
        return _pipelined_per_node(redis, calls)

    def attempt() -> list:
        commands = [
            (
                "EVALSHA",
                script(redis, source).sha,
                len(script_keys),
                *script_keys,
                *args,
            )
            for source, script_keys, args in calls
        ]
        replies = client.direct_many(redis, commands)  # this thread's own
        if replies is not None:
            return replies
        # EVALSHA queued by hand: a Script called on a pipeline makes execute()
        # send SCRIPT EXISTS first, one more round trip on every write.
        pipe = redis.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return pipe.execute()

    try:
        return attempt()
    except NoScriptError:  # a restarted or flushed server: load, run again
        for source in {source for source, _, _ in calls}:
            redis.script_load(source)
        return attempt()


def _pipelined_per_node(cluster: RedisCluster, calls: Sequence[ScriptCall]) -> list:
    by_node: dict[str, list[int]] = defaultdict(list)
    nodes = {}
    for index, (_, script_keys, _) in enumerate(calls):
        node = cluster.get_node_from_key(script_keys[0])
        nodes[node.name] = node
        by_node[node.name].append(index)
    results: list = [None] * len(calls)
    failed: list[int] = []
    cause: BaseException | None = None
    for name, indexes in by_node.items():
        try:
            values = pipelined(
                cluster.get_redis_connection(nodes[name]), [calls[i] for i in indexes]
            )
        except (RedisError, RedisClusterException) as exc:
            # A slot on the move, a primary that died, a cluster failing over
            # (CLUSTERDOWN): one by one through the cluster client, which
            # follows redirects and, a node being down, refreshes its slot map
            # (a promoted replica takes the slots). What still fails costs only
            # this node's shards: the others' calls go on.
            if isinstance(exc, ConnectionError | TimeoutError):
                client.refresh_slots(cluster)
            try:
                values = [
                    script(cluster, calls[i][0])(
                        keys=calls[i][1], args=calls[i][2], client=cluster
                    )
                    for i in indexes
                ]
            except (RedisError, RedisClusterException) as again:
                failed += [keys.shard_of(calls[i][1][0]) for i in indexes]
                cause = again
                continue
        for index, value in zip(indexes, values, strict=True):
            results[index] = value
    if failed:  # the other nodes' calls were made: only these shards missed them
        raise client.ShardsUnavailable(failed, cause or RedisError())
    return results
