/**
 * SnapStart runtime hooks for haneul's Node.js runtime (haneul's extension: Lambda has no Node
 * SnapStart, so there is no AWS interface to mirror; the names follow AWS's python module
 * `snapshot_restore_py`, in JavaScript's case):
 *
 *   const { registerBeforeSnapshot, registerAfterRestore } = require('snapshot-restore');
 *   // ES modules: createRequire(import.meta.url)('snapshot-restore')
 *   registerBeforeSnapshot(async () => { await pool.end(); });
 *   registerAfterRestore(() => { cache.clear(); });
 *
 * Before-snapshot hooks run once, in the template, after init and before the checkpoint (in
 * registration order; a failure fails the published version like an init error). After-restore
 * hooks run in every restored copy before its first invocation (in registration order; a failure
 * is posted to /runtime/restore/error). Hooks may be async. The runtime (bootstrap.mjs) makes this
 * module resolvable (NODE_PATH, in every Node function) and runs the hooks; the registry lives on
 * a global symbol so that every copy of this module shares it.
 * Thread-safety: registration is meant for init time (Node's one JavaScript thread).
 */
'use strict';

const hooks = (globalThis[Symbol.for('haneul.snapstart.hooks')] ??= {
  beforeSnapshot: [],
  afterRestore: [],
});

function check(fn) {
  if (typeof fn !== 'function') throw new TypeError('a SnapStart hook must be a function');
  return fn;
}

module.exports = {
  registerBeforeSnapshot(fn, ...args) {
    hooks.beforeSnapshot.push(() => check(fn)(...args));
    return fn;
  },
  registerAfterRestore(fn, ...args) {
    hooks.afterRestore.push(() => check(fn)(...args));
    return fn;
  },
};
