"""Loaded at start-up by the broker processes the end-to-end and cluster tests start (their
``PYTHONPATH`` leads here, see :func:`tests.hygiene.child_env`): the same secret hygiene as
the test process, writing to the spool the test process reads at the end.

It waits for ``actas.app`` to be imported and installs then: installing imports all of
``actas``, and a uvicorn worker that spends that long before it answers its parent's health
ping is killed as hung and started again, for ever.
"""

import importlib.abc
import importlib.machinery
import os
import sys
from types import ModuleType
from typing import Any

WATCHED = "actas.app"


class _AfterApp(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != WATCHED:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            sys.modules[WATCHED] = module  # install() imports it by name
            from tests import hygiene

            hygiene.install()

        loader.exec_module = exec_module
        return spec


if os.environ.get("ACTAS_HYGIENE_CHILD"):
    sys.meta_path.insert(0, _AfterApp())
