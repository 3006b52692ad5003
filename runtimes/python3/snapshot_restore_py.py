"""SnapStart runtime hooks, under the name and interface of AWS's `snapshot_restore_py`, so
function code written for Lambda SnapStart works unchanged:

    from snapshot_restore_py import register_before_snapshot, register_after_restore

    @register_before_snapshot
    def close_connections(): ...

    register_after_restore(reseed, some_argument)

Before-snapshot hooks run once, in the template, after init (in registration order); after-restore
hooks run in every restored copy before its first invocation. haneul's python runtime
(bootstrap.py) imports this module from its own folder and runs the hooks.
Thread-safety: registration is meant for module import time (one thread).
"""

_before_snapshot_registry = []
_after_restore_registry = []


def register_before_snapshot(func, *args, **kwargs):
    _before_snapshot_registry.append((func, args, kwargs))
    return func


def register_after_restore(func, *args, **kwargs):
    _after_restore_registry.append((func, args, kwargs))
    return func


def get_before_snapshot():
    return _before_snapshot_registry


def get_after_restore():
    return _after_restore_registry
