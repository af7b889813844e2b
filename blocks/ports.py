"""The one place the Prefect layer wires the core: the ports every flow receives.

``ferry`` never imports Prefect, so what it needs from Prefect is handed in as a
:class:`ferry.ports.Ports` value. This module builds that value, :data:`PORTS`:

* secrets: ``block:``/``secret:``/``pullsecret:``/``git:secret:`` references load
  Prefect ``Secret`` blocks and Ferry's credential blocks;
* clusters: a ``clusters:`` entry given as ``block`` loads a prefect-kubernetes
  ``KubernetesClusterConfig`` block;
* events: ``ferry.image.pushed`` / ``ferry.source.pushed`` become Prefect events;
* registries' ``limit:``: one Prefect rate limit per registry that every worker shares
  (``blocks.pacing``).

Every flow builds its engines, resolvers and updaters from :data:`PORTS`, so
each reaches every cluster and secret the config names. The emitter is also the
``ferry.event_emitters`` entry point ``prefect``, the one plug-in point left:
``ferry receive``, ``ferry build`` and the source repo's ``post-receive`` hook
run outside any flow and must still emit real Prefect events (the triggers of
the ``image-updater`` and ``ci-build`` deployments listen for them).
"""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from prefect.blocks.system import Secret
from prefect.events import emit_event
from prefect.settings import get_current_settings
from prefect_kubernetes.credentials import KubernetesClusterConfig

from blocks.credentials import GitCredentialsBlock, RegistryCredentialsBlock
from blocks.pacing import shared_registry_rate
from ferry.ci.events import FerryEvent
from ferry.ports import Ports


def load_block_secret(type_slug: str, name: str) -> Any:
    """Load block ``type_slug/name`` and return its secret material (a str or a dict).

    Raises:
        ValueError: the block does not exist or is of a kind that holds no credential.
    """
    block = Block.load(f"{type_slug}/{name}")
    if isinstance(block, Secret):
        return block.get()
    if isinstance(block, RegistryCredentialsBlock | GitCredentialsBlock):
        cred = block.get_credentials()
        return {
            k: v
            for k, v in {
                "username": cred.username,
                "password": cred.password,
                "sshPrivateKey": cred.ssh_private_key,
            }.items()
            if v is not None
        }
    raise ValueError(f"block {type_slug}/{name} is a {type(block).__name__}, which holds no credential")


def load_cluster_block(name: str) -> tuple[dict[str, Any], str | None]:
    """Load a prefect-kubernetes ``KubernetesClusterConfig`` block: (kubeconfig mapping, context).

    Raises:
        ValueError: No such block (``ferry.sync.clusters`` turns it into a ConfigError naming the cluster).
    """
    block = KubernetesClusterConfig.load(name)
    return dict(block.config), block.context_name


def emit_ferry_event(item: FerryEvent) -> None:
    """Emit ``ferry.image.pushed`` or ``ferry.source.pushed`` under its stable id.

    Raises:
        RuntimeError: Prefect is not set up to send events (no ``PREFECT_API_URL``), so the
            caller (the receiver) answers 503 and the sender delivers the notification again.
    """
    if not get_current_settings().api.url:
        # Without an API URL Prefect would start a throwaway local server just to drop the event.
        raise RuntimeError(f"cannot emit {item.event} for {item.reference}: PREFECT_API_URL is not set")
    event = emit_event(event=item.event, resource=item.resource(), payload=item.payload(), id=item.event_id())
    if event is None:
        raise RuntimeError(f"Prefect did not accept the {item.event} event for {item.reference}")


#: What every flow is handed: Prefect's blocks and events, and registries' limits shared by the workers.
PORTS = Ports(
    secret_blocks=load_block_secret,
    cluster_blocks=load_cluster_block,
    emit=emit_ferry_event,
    shared_rate=shared_registry_rate,
)
