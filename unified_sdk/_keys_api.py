"""``client.keys``: rotate the secret keys that encrypt stored secrets."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from unified_sdk._drivers import in_thread

if TYPE_CHECKING:
    from unified_sdk._keys import KeyRotation
    from unified_sdk._runtime import Runtime


class Keys:
    """``client.keys``: the secret keys that encrypt credentials, client secrets and PKCE verifiers at rest."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def rotate(self, *, batch_size: int = 500, on_batch: Callable[[KeyRotation], None] | None = None) -> KeyRotation:
        """Re-encrypt every stored secret with the primary (first) key; afterwards the old keys can be dropped.

        Configure the new key first and the old ones after it (``secret_key=[new, old]`` or
        ``UNIFIED_SDK_SECRET_KEY=new,old``) in every process, then rotate once. Each batch of
        ``batch_size`` rows is committed on its own and ``on_batch`` is called with the counts
        so far; secrets already under the primary key are skipped, so running it again after
        an interruption continues where it stopped.

        Example::

            with Client(secret_key=[new_key, old_key]) as client:
                done = client.keys.rotate()
            # from now on Client(secret_key=new_key) reads everything
        """
        from unified_sdk._keys import rotate

        return rotate(
            self._runtime.store, self._runtime.connections_store.box, batch_size=batch_size, on_batch=on_batch
        )


class AsyncKeys:
    """The async twin of :class:`Keys` (the rotation runs in a worker thread, ``on_batch`` too)."""

    def __init__(self, runtime: Runtime) -> None:
        self._sync = Keys(runtime)

    async def rotate(
        self, *, batch_size: int = 500, on_batch: Callable[[KeyRotation], None] | None = None
    ) -> KeyRotation:
        """See :meth:`Keys.rotate`."""
        return await in_thread(lambda: self._sync.rotate(batch_size=batch_size, on_batch=on_batch))
