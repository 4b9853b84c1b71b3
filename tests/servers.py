"""Private Redis servers for tests that kill or restart one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(
        self,
        executable: str,
        directory: Path,
        port: int | None = None,
        args: tuple[str, ...] = (),
    ):
        self.executable = executable
        self.directory = directory
        self.args = args
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.directory),
             *self.args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with redis.Redis(port=self.port, socket_timeout=0.5) as probe:
                    if probe.ping():
                        return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def free_port_pair() -> int:
    """Return a port p with p + 10000 free too (a cluster node's bus port)."""
    for _ in range(100):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


def wait_until(check, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, OSError, httpx.TransportError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


class Node:
    """One redis-server process (primary, replica, cluster node or Sentinel)."""

    def __init__(self, directory: Path, *args: str, port: int | None = None):
        self.port = port or free_port()
        self.directory = directory / str(self.port)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.args = args
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", *self.args, "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: self.client().ping(), 10, f"redis-server :{self.port}")

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()


class SentinelSetup:
    """A primary, one replica and three Sentinels (quorum 2) on loopback."""

    def __init__(self, directory: Path):
        self.primary = Node(directory)
        # A name per setup: django-redis keeps pools per URL for the process.
        self.MASTER = f"shop{self.primary.port}"
        self.replica = Node(
            directory, "--replicaof", "127.0.0.1", str(self.primary.port)
        )
        self.sentinels = []
        for _ in range(3):
            port = free_port()
            conf = directory / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\n"
                f"sentinel monitor {self.MASTER} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {self.MASTER} 1000\n"
                f"sentinel failover-timeout {self.MASTER} 5000\n"
            )
            self.sentinels.append(Node(directory, str(conf), "--sentinel", port=port))
        wait_until(self._replicated, 20, "the replica to sync")
        wait_until(self._sentinels_agree, 20, "the sentinels to see the replica")

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis-sentinel://{hosts}/{self.MASTER}/0"

    def _replicated(self) -> bool:
        info = self.replica.client().info("replication")
        return info.get("master_link_status") == "up"

    def _sentinels_agree(self) -> bool:
        return all(
            len(s.client().sentinel_slaves(self.MASTER)) == 1 for s in self.sentinels
        )

    def master_port(self) -> int:
        return int(
            self.sentinels[0].client().sentinel_get_master_addr_by_name(self.MASTER)[1]
        )

    def wait_for_failover(self, old_port: int, timeout: float = 30) -> None:
        wait_until(lambda: self.master_port() != old_port, timeout, "a failover")
        new = self.replica if self.replica.port != old_port else self.primary
        wait_until(
            lambda: new.client().info("replication")["role"] == "master",
            timeout,
            "the promoted replica",
        )

    def stop(self) -> None:
        for node in [*self.sentinels, self.primary, self.replica]:
            node.kill()


class Cluster:
    """Three primaries with one replica each, joined by redis-cli --cluster create."""

    def __init__(self, directory: Path, primaries: int = 3):
        args = ("--cluster-enabled", "yes", "--cluster-node-timeout", "1000",
                "--cluster-replica-validity-factor", "0",
                # The healthy primaries keep serving their slots while one
                # fails over (the default stops the whole cluster).
                "--cluster-require-full-coverage", "no")  # fmt: skip
        self.nodes = [
            Node(directory, *args, "--cluster-config-file", "nodes.conf",
                 port=free_port_pair())
            for _ in range(primaries * 2)
        ]  # fmt: skip
        subprocess.run(
            ["redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{n.port}" for n in self.nodes),
             "--cluster-replicas", "1", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        wait_until(self._healthy, 30, "the cluster to be ok")

    @property
    def url(self) -> str:
        return "redis-cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def _healthy(self) -> bool:
        return (
            all(
                n.client().execute_command("CLUSTER INFO")["cluster_state"] == "ok"
                for n in self.live()
            )
            and self._replicas_synced()
        )

    def _replicas_synced(self) -> bool:
        for node in self.live():
            info = node.client().info("replication")
            if info["role"] == "slave" and info.get("master_link_status") != "up":
                return False
        return True

    def live(self) -> list[Node]:
        return [n for n in self.nodes if n.process.poll() is None]

    def node_id(self, node: Node) -> str:
        return node.client().execute_command("CLUSTER MYID").decode()

    def owner(self, slot: int) -> Node:
        """Return the primary serving slot."""
        for node in self.live():
            info = node.client().info("replication")
            if info["role"] != "master":
                continue
            for start, end, *_ in node.client().execute_command("CLUSTER SLOTS"):
                if start <= slot <= end and _ and _[0][1] == node.port:
                    return node
        raise LookupError(slot)

    def replica_of(self, primary: Node) -> Node:
        primary_id = self.node_id(primary)
        for node in self.live():
            info = node.client().info("replication")
            if info["role"] == "slave" and info.get("master_port") == primary.port:
                return node
        raise LookupError(primary_id)

    def move_slot(self, slot: int, target: Node) -> None:
        """Migrate one slot, with its keys, to target (as redis-cli reshard does)."""
        source = self.owner(slot)
        source_id, target_id = self.node_id(source), self.node_id(target)
        target.client().execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source_id)
        source.client().execute_command("CLUSTER SETSLOT", slot, "MIGRATING", target_id)
        while keys := source.client().execute_command(
            "CLUSTER GETKEYSINSLOT", slot, 100
        ):
            source.client().execute_command(
                "MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys
            )
        for node in self.live():
            if node.client().info("replication")["role"] == "master":
                node.client().execute_command(
                    "CLUSTER SETSLOT", slot, "NODE", target_id
                )

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()


ROOT = Path(__file__).resolve().parent.parent


def app_env(**overrides: str) -> dict[str, str]:
    """Return the environment of a process of this app against the test database
    and the test's Redis (a subprocess: gunicorn, manage.py)."""
    from django.conf import settings

    from scripts import consistency

    return {
        **os.environ,
        "DATABASE_URL": consistency.database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": settings.CACHING["PREFIX"],
        "DJANGO_DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        **overrides,
    }


class AppServer:
    """`make run`'s gunicorn (project.wsgi) on a free port, in its own process."""

    def __init__(self, directory: Path, workers: int = 1, args: tuple = (), **env: str):
        self.port = free_port()
        defaults = {
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
            "ACCESS_LOG": "",
            "PROMETHEUS_MULTIPROC_DIR": str(directory / f"metrics-{self.port}"),
        }
        environment = app_env(**{**defaults, **env})
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "project.wsgi:application",
             "-c", "project/gunicorn_conf.py", *args],
            cwd=ROOT, env=environment,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            wait_until(
                lambda: httpx.get(f"{self.url}/api/health/").status_code == 200,
                30,
                "gunicorn",
            )
        except RuntimeError:
            self.stop()  # it must not hold the test database open
            raise

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run_django(code: str, **env: str) -> str:
    """Run code in a new Django process of this app (which then exits)."""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=app_env(**env), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(done.stderr)
    return done.stdout
