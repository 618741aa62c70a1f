"""The vadkit plugin API: every hook a plugin may implement.

A plugin is any module or object with functions marked ``@vadkit.hookimpl``. First-party
components arrive through exactly the same hook as third-party ones; third parties are found
through the ``vadkit`` entry-point group of their distribution::

    [project.entry-points.vadkit]
    my_fusion = "my_fusion_pkg"

The docstrings in this module are the plugin API reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pluggy

PROJECT_NAME = "vadkit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class RegisterFn(Protocol):
    """The narrow callable handed to :func:`register_components`."""

    def __call__(
        self, kind: str, name: str, obj: Callable[..., Any] | str, *, description: str | None = None
    ) -> None: ...


@hookspec
def register_components(register: RegisterFn) -> None:
    """Register components (encoders, fusions, memories, ...) under a kind and a unique name.

    Call ``register(kind, name, obj, description=...)`` once per component:

    - ``kind``: one of ``vadkit.registry.KINDS`` (``encoder``, ``attention``, ``fusion``,
      ``memory``, ``decoder``, ``scorer``, ``dataset``, ``flow``, ``sink``).
    - ``name``: the name recipes use in ``type = "..."``; lowercase, unique within its kind.
      A name two plugins register is a conflict: every lookup of it fails, naming both
      plugins and the way out (``VADKIT_BLOCK_PLUGINS``); ``vadkit plugins`` shows it.
      A class must implement its kind's interface (``vadkit.contracts``), checked when it
      is registered or first loaded.
    - ``obj``: the class or factory, or a ``"module:object"`` string imported only when the
      component is first built (keeps ``vadkit list`` fast and torch-free).
    - ``description``: one line shown by ``vadkit list``; defaults to the first docstring line.

    The builder calls ``obj(**recipe_kwargs, **derived)``: recipe keys are validated against
    the signature, and derived arguments (``in_channels``, ``channels``, ``appearance_channels``,
    ``motion_channels``, ``attention``, ``encoder_channels``, ...) are passed only when the
    signature names them. See docs/plugins.md for what each kind must return.
    """
