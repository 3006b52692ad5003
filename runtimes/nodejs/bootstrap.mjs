/**
 * haneul's managed runtime for `nodejs*` functions.
 *
 * The invoker starts this file in a fresh execution environment as
 * `node /path/to/runtimes/nodejs/bootstrap.mjs`. It loads the handler named by `_HANDLER` from
 * `LAMBDA_TASK_ROOT` (CommonJS or ES module), then serves invocations from the Lambda Runtime
 * API at `AWS_LAMBDA_RUNTIME_API` until the environment is destroyed. What the function can
 * observe (context object, callback semantics, error bodies, console lines, exit codes) follows
 * AWS's Node.js runtime; the code is written from scratch on Node's built-in modules only.
 *
 * Environment read: AWS_LAMBDA_RUNTIME_API (host:port, required), _HANDLER, LAMBDA_TASK_ROOT
 * (default: the working directory), AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION,
 * AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME and,
 * optionally, AWS_LAMBDA_LOG_LEVEL.
 *
 * Concurrency: one invocation at a time on Node's single thread. The loop is driven by
 * callbacks, as in AWS's runtime: the next invocation is fetched only after the current one
 * has been reported, and for callback-style handlers (while callbackWaitsForEmptyEventLoop is
 * true) only once the event loop has drained, which is detected with process 'beforeExit'.
 * That works because idle keep-alive sockets of an http.Agent are unref'd and so do not keep
 * the loop alive.
 *
 * Exit codes, as AWS: 129 after reporting an uncaught exception (init errors included), 128
 * after an unhandled promise rejection; 1 when the Runtime API itself fails.
 *
 * SnapStart (haneul's criu backend, docs/snapstart.md): with HANEUL_SNAPSHOT_CHECKPOINT=R,W the
 * runtime is a template. After init it runs the before-snapshot hooks (modules/snapshot-restore.js),
 * announces itself with a GET /invocation/next that is never answered, closes every Runtime API
 * connection (criu dumps no TCP connections), writes one byte on fd W and blocks reading fd R:
 * the checkpoint is taken there. A restored copy reads its own configuration on fd R (one JSON
 * line: the environment variables that differ, its Runtime API address among them), reseeds what
 * the copies would otherwise share (OpenSSL through the addon named by HANEUL_SNAPSHOT_RESEED,
 * Math.random, crypto.randomUUID's cache), asks GET /restore/next, runs the after-restore hooks
 * and serves invocations.
 */

import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { format, types } from 'node:util';

const require = createRequire(import.meta.url);

const RUNTIME_PATH = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const USER_AGENT = `haneul-nodejs/${process.versions.node}`;
// Where AWS's runtime keeps the current request id; libraries (e.g. Powertools) read it.
const REQUEST_ID_SYMBOL = Symbol.for('aws.lambda.runtime.requestId');

// -------------------------------------------------------------------------------------------
// Errors, shaped like AWS's.

class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
for (const errorClass of [
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  NodeJsExit,
  UnhandledPromiseRejection,
]) {
  errorClass.prototype.name = `Runtime.${errorClass.name}`;
}

function isErrorLike(obj) {
  return (
    obj &&
    typeof obj.name === 'string' &&
    obj.name &&
    typeof obj.message === 'string' &&
    obj.message &&
    typeof obj.stack === 'string' &&
    obj.stack
  );
}

/** The body posted to /error: {errorType, errorMessage, trace}. */
function toRapidResponse(error) {
  try {
    if (types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: error.stack.split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

/** An error as it appears in log lines: a tab, then JSON with errorType/errorMessage/stack. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_key, value) => withEnumerableProperties(value));
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

function withEnumerableProperties(value) {
  if (!(value instanceof Error)) return value;
  const result = Object.assign(
    { errorType: value.name, errorMessage: value.message, code: value.code },
    value,
  );
  if (typeof value.stack === 'string') result.stack = value.stack.split('\n');
  return result;
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

function logError(message, error) {
  console.error(message, toFormatted(intoError(error)));
}

function serialize(body) {
  try {
    return JSON.stringify(body === undefined ? null : body);
  } catch {
    throw new Error('Unable to stringify response body');
  }
}

// -------------------------------------------------------------------------------------------
// Console: every call becomes one line `<ISO time>\t<request id>\t<LEVEL>\t<message>` on
// stdout; newlines inside a message become carriage returns so that one call stays one record.
// With AWS_LAMBDA_LOG_FORMAT=JSON, one JSON object per call instead.

function patchConsole() {
  const levels = {
    TRACE: { name: 'TRACE', priority: 1 },
    DEBUG: { name: 'DEBUG', priority: 2 },
    INFO: { name: 'INFO', priority: 3 },
    WARN: { name: 'WARN', priority: 4 },
    ERROR: { name: 'ERROR', priority: 5 },
    FATAL: { name: 'FATAL', priority: 6 },
  };
  const minimum = levels[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? levels.TRACE;
  const json = process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';
  const writer = (level) => {
    if (level.priority < minimum.priority) return () => {};
    if (json) {
      // LoggingConfig JSON: one JSON object per call, as AWS's runtime writes them.
      return (message, ...params) => {
        const entry = { timestamp: new Date().toISOString(), level: level.name,
                        requestId: globalThis[REQUEST_ID_SYMBOL] };
        if (message instanceof Error && params.length === 0) {
          entry.message = message.message;
          entry.errorType = message.name;
          entry.errorMessage = message.message;
          entry.stackTrace = (message.stack || '').split('\n');
        } else {
          entry.message = params.length === 0 && typeof message === 'object' && message !== null
            ? message : format(message, ...params);
        }
        let text;
        try { text = JSON.stringify(entry); } catch (e) { text = JSON.stringify({ ...entry, message: format(message, ...params) }); }
        process.stdout.write(text + '\n');
      };
    }
    return (message, ...params) => {
      const line = `${new Date().toISOString()}\t${globalThis[REQUEST_ID_SYMBOL]}\t${level.name}\t${format(message, ...params)}`;
      process.stdout.write(line.replace(/\n/g, '\r') + '\n');
    };
  };
  console.trace = writer(levels.TRACE);
  console.debug = writer(levels.DEBUG);
  console.info = writer(levels.INFO);
  console.log = console.info;
  console.warn = writer(levels.WARN);
  console.error = writer(levels.ERROR);
  console.fatal = writer(levels.FATAL);
}

// -------------------------------------------------------------------------------------------
// The Runtime API client: HTTP/1.1 with a keep-alive agent, no timeouts (GET /next is a long
// poll). Any failure to talk to the API is fatal.

function fatal(error) {
  process.stderr.write(
    `haneul nodejs runtime: fatal: ${error?.stack ?? error} (AWS_LAMBDA_RUNTIME_API=${process.env.AWS_LAMBDA_RUNTIME_API})\n`,
  );
  process.exit(1);
}

class RuntimeApiClient {
  constructor(address) {
    const colon = address.lastIndexOf(':');
    const port = Number(address.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port)) {
      throw new Error(`AWS_LAMBDA_RUNTIME_API must be host:port, not '${address}'`);
    }
    this.hostname = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    this.port = port;
    // No maxSockets: a post made while GET /next is parked (say, an uncaught exception thrown
    // by a timer between invocations) must not queue behind it.
    this.agent = new http.Agent({ keepAlive: true });
  }

  request(method, urlPath, body, headers) {
    return new Promise((resolve, reject) => {
      const attempt = (mayRetry) => {
        const request = http.request(
          {
            hostname: this.hostname,
            port: this.port,
            method,
            path: urlPath,
            agent: this.agent,
            headers: { 'User-Agent': USER_AGENT, ...headers },
          },
          (response) => {
            const chunks = [];
            response.on('data', (chunk) => chunks.push(chunk));
            response.on('end', () =>
              resolve({
                status: response.statusCode,
                headers: response.headers,
                body: Buffer.concat(chunks).toString('utf8'),
              }),
            );
            response.on('error', reject);
          },
        );
        request.on('error', (error) => {
          // The server may close an idle keep-alive connection: resend once on a new one.
          if (mayRetry && request.reusedSocket && ['ECONNRESET', 'EPIPE'].includes(error.code)) {
            attempt(false);
          } else {
            reject(error);
          }
        });
        request.end(body);
      };
      attempt(true);
    });
  }

  async nextInvocation() {
    const { status, headers, body } = await this.request(
      'GET',
      `${RUNTIME_PATH}/invocation/next`,
      undefined,
      {},
    );
    if (status !== 200) {
      throw new Error(`GET /invocation/next answered HTTP ${status}: ${body.slice(0, 200)}`);
    }
    return { body, headers };
  }

  post(urlPath, bodyString, headers, callback) {
    this.request('POST', urlPath, bodyString, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(bodyString),
      ...headers,
    }).then(() => callback(), fatal);
  }

  /** Throws (before posting anything) when the result cannot be serialised. */
  postInvocationResponse(result, id, callback) {
    const bodyString = serialize(result);
    this.post(`${RUNTIME_PATH}/invocation/${encodeURIComponent(id)}/response`, bodyString, {}, callback);
  }

  postInvocationError(error, id, callback) {
    const response = toRapidResponse(error);
    this.post(
      `${RUNTIME_PATH}/invocation/${encodeURIComponent(id)}/error`,
      serialize(response),
      errorTypeHeader(response.errorType),
      callback,
    );
  }

  async restoreNext() {
    const { status, body } = await this.request('GET', `${RUNTIME_PATH}/restore/next`, undefined, {});
    if (status !== 200) {
      throw new Error(`GET /restore/next answered HTTP ${status}: ${body.slice(0, 200)}`);
    }
  }

  postRestoreError(error, callback) {
    const response = toRapidResponse(error);
    this.post(
      `${RUNTIME_PATH}/restore/error`,
      serialize(response),
      errorTypeHeader(response.errorType),
      callback,
    );
  }

  postInitError(error, callback) {
    const response = toRapidResponse(error);
    this.post(
      `${RUNTIME_PATH}/init/error`,
      serialize(response),
      errorTypeHeader(response.errorType),
      callback,
    );
  }
}

function errorTypeHeader(errorType) {
  return typeof errorType === 'string' && /^[\x20-\x7e]+$/.test(errorType)
    ? { [ERROR_TYPE_HEADER]: errorType }
    : {};
}

// -------------------------------------------------------------------------------------------
// Loading the handler: `[dir/]file.function[.nested]`, file being `file` (CommonJS),
// `file.js` (CommonJS, or ESM under a package.json with "type": "module"), `file.mjs`,
// `file.cjs`, in that order, else `file` resolved like require() from the task root
// (node_modules). The .js/.mjs/.cjs files are all loaded with import().

function hasPackageJsonTypeModule(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const packageJson = path.join(folder, 'package.json');
  if (fs.existsSync(packageJson)) {
    try {
      return JSON.parse(fs.readFileSync(packageJson, 'utf8'))?.type === 'module';
    } catch (error) {
      console.warn(
        `${packageJson} cannot be read, it will be ignored for ES module detection purposes.`,
        error,
      );
      return false;
    }
  }
  if (folder === '/') return false;
  return hasPackageJsonTypeModule(path.resolve(folder, '..'));
}

async function importFile(file, commonJs) {
  const namespace = await import(pathToFileURL(file).href);
  // import() of a CommonJS file gives a namespace whose default is module.exports, which also
  // holds exports that the static export detection cannot see (module.exports = ...).
  return commonJs && namespace.default !== undefined ? namespace.default : namespace;
}

async function loadUserModule(appRoot, moduleRoot, moduleName) {
  const base = path.resolve(appRoot, moduleRoot, moduleName);
  if (fs.existsSync(base)) return require(base);
  const typeModule = hasPackageJsonTypeModule(path.dirname(base));
  if (fs.existsSync(base + '.js')) return importFile(base + '.js', !typeModule);
  if (fs.existsSync(base + '.mjs')) return importFile(base + '.mjs', false);
  if (fs.existsSync(base + '.cjs')) return importFile(base + '.cjs', true);
  // Throws MODULE_NOT_FOUND ("Cannot find module 'app'\nRequire stack:...") when absent.
  return require(require.resolve(moduleName, { paths: [appRoot, moduleRoot] }));
}

async function loadHandler(appRoot, fullHandlerString) {
  if (fullHandlerString.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const moduleAndHandler = path.basename(fullHandlerString);
  const moduleRoot = fullHandlerString.substring(0, fullHandlerString.indexOf(moduleAndHandler));
  const match = moduleAndHandler.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, handlerPath] = match;

  let userModule;
  try {
    userModule = await loadUserModule(appRoot, moduleRoot, moduleName);
  } catch (error) {
    if (error instanceof SyntaxError) throw new UserCodeSyntaxError(error);
    if (error?.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(error);
    throw error;
  }
  const handler = handlerPath.split('.').reduce((object, key) => object && object[key], userModule);
  if (!handler) throw new HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
  if (typeof handler !== 'function') {
    throw new HandlerNotFound(`${fullHandlerString} is not a function`);
  }
  return handler;
}

// -------------------------------------------------------------------------------------------
// One invocation: the callback, the context, and how the result reaches the Runtime API.

/** The single listener called on 'beforeExit' (the event loop has drained). */
const beforeExit = {
  listener: () => {},
  set(listener) {
    this.listener = listener;
  },
  reset() {
    this.listener = () => {};
  },
  invoke() {
    this.listener();
  },
};

/**
 * The handler's callback and the callback part of the context (succeed/fail/done and
 * callbackWaitsForEmptyEventLoop). Only the first call of any of them counts. callback(null, r)
 * posts r once the event loop is empty, unless callbackWaitsForEmptyEventLoop was set false;
 * done/succeed/fail (also used for promises) post at once.
 */
function buildCallbackContext(client, id, scheduleNext) {
  let completed = false;
  const complete = (result, next) => {
    if (completed) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    completed = true;
    client.postInvocationResponse(result, id, next);
  };
  const postError = (error, next) => {
    logError('Invoke Error', error);
    client.postInvocationError(error, id, next);
  };

  let waitForEmptyEventLoop = true;
  const callback = (error, result) => {
    beforeExit.reset();
    if (error !== undefined && error !== null) {
      postError(error, scheduleNext);
    } else if (!waitForEmptyEventLoop) {
      complete(result, scheduleNext);
    } else {
      beforeExit.set(() => setImmediate(() => complete(result, scheduleNext)));
    }
  };
  const done = (error, result) => {
    beforeExit.reset();
    if (error !== undefined && error !== null) {
      postError(error, scheduleNext);
    } else {
      complete(result, scheduleNext);
    }
  };

  let finished = false;
  const firstCallOnly =
    (fn) =>
    (...args) => {
      if (finished) return;
      fn(...args); // if this throws (unserialisable result), a later call may still report
      finished = true;
    };
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: firstCallOnly((result) => done(null, result)),
    fail: firstCallOnly((error) =>
      error === undefined || error === null ? done('handled') : done(error, null),
    ),
    done: firstCallOnly(done),
  };
  const markCompleted = () => {
    completed = true;
  };
  return [firstCallOnly(callback), context, markCompleted];
}

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    // Node decodes header bytes as latin1; these headers carry UTF-8 JSON.
    return JSON.parse(Buffer.from(value, 'latin1').toString('utf8'));
  } catch (error) {
    throw new Error(`Cannot parse ${name} as json: ${error.toString()}`);
  }
}

/** Completes the context with the function's and the invocation's data (same keys as AWS). */
function attachEnvironmentData(context, headers) {
  const traceId = headers['lambda-runtime-trace-id'];
  if (traceId) {
    process.env._X_AMZN_TRACE_ID = traceId;
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
  const deadline = headers['lambda-runtime-deadline-ms'];
  return Object.assign(
    context,
    {
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    },
    {
      clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
      identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: headers['lambda-runtime-aws-request-id'],
      tenantId: headers['lambda-runtime-aws-tenant-id'],
      getRemainingTimeInMillis: () => deadline - Date.now(),
    },
  );
}

class Runtime {
  constructor(client, handler, errorCallbacks) {
    this.client = client;
    this.handler = handler;
    this.isAsync = handler.constructor?.name === 'AsyncFunction';
    this.errorCallbacks = errorCallbacks;
  }

  scheduleIteration() {
    setImmediate(() => this.handleOnce().catch(fatal));
  }

  async handleOnce() {
    const { body, headers } = await this.client.nextInvocation();
    const id = headers['lambda-runtime-aws-request-id'];
    if (!id) throw new Error('GET /invocation/next answered without Lambda-Runtime-Aws-Request-Id');
    globalThis[REQUEST_ID_SYMBOL] = id;

    const [callback, context, markCompleted] = buildCallbackContext(this.client, id, () =>
      this.scheduleIteration(),
    );
    try {
      this.setErrorCallbacks(id);
      this.setDefaultExitListener(id, markCompleted);
      const result = this.handler(JSON.parse(body), attachEnvironmentData(context, headers), callback);
      if (result && typeof result.then === 'function') {
        result.then(context.succeed, context.fail).catch(context.fail);
      }
    } catch (error) {
      callback(error);
    }
  }

  setErrorCallbacks(id) {
    this.errorCallbacks.uncaughtException = (error) =>
      this.client.postInvocationError(error, id, () => process.exit(129));
    this.errorCallbacks.unhandledRejection = (error) =>
      this.client.postInvocationError(error, id, () => process.exit(128));
  }

  /**
   * If the event loop drains before the handler reported anything: an async handler whose
   * promise never settled fails with Runtime.NodeJsExit; any other handler succeeds with null
   * (as on AWS, a non-async handler's return value is ignored; it must use the callback).
   */
  setDefaultExitListener(id, markCompleted) {
    beforeExit.set(() => {
      markCompleted();
      if (this.isAsync) {
        const error = new NodeJsExit();
        logError('Invoke Error', error);
        this.client.postInvocationError(error, id, () => this.scheduleIteration());
      } else {
        this.client.postInvocationResponse(null, id, () => this.scheduleIteration());
      }
    });
  }
}

// -------------------------------------------------------------------------------------------

// -------------------------------------------------------------------------------------------
// SnapStart: see the header. The hooks' registry is shared with modules/snapshot-restore.js.

const CHECKPOINT_VARIABLE = 'HANEUL_SNAPSHOT_CHECKPOINT';
const RESEED_VARIABLE = 'HANEUL_SNAPSHOT_RESEED';

function snapStartHooks() {
  return (globalThis[Symbol.for('haneul.snapstart.hooks')] ??= {
    beforeSnapshot: [],
    afterRestore: [],
  });
}

/**
 * Makes require('snapshot-restore') resolve to this runtime's module, in every function (hooks
 * registered by a function that is not snapshotted never run). NODE_PATH is read once, by
 * _initPaths; the function's own environment keeps its value.
 */
function exposeSnapshotRestoreModule() {
  const folder = path.join(path.dirname(new URL(import.meta.url).pathname), 'modules');
  const original = process.env.NODE_PATH;
  process.env.NODE_PATH = original ? `${folder}${path.delimiter}${original}` : folder;
  require('node:module').Module._initPaths();
  if (original === undefined) delete process.env.NODE_PATH;
  else process.env.NODE_PATH = original;
}

/** GET /invocation/next on a connection of its own, dropped once the request is sent. */
function announceTemplate(client) {
  return new Promise((resolve) => {
    const request = http.request({
      hostname: client.hostname,
      port: client.port,
      method: 'GET',
      path: `${RUNTIME_PATH}/invocation/next`,
      agent: false,
      headers: { 'User-Agent': USER_AGENT },
    });
    request.on('error', () => {});
    request.end(() => {
      request.destroy();
      resolve();
    });
  });
}

/** Reads one line from a blocking descriptor; null at end of file without one. */
function readLineSync(fd) {
  const buffer = Buffer.alloc(65536);
  let text = '';
  for (;;) {
    let count;
    try {
      count = fs.readSync(fd, buffer, 0, buffer.length, null);
    } catch (error) {
      if (error.code === 'EINTR' || error.code === 'EAGAIN') continue;
      throw error;
    }
    if (count === 0) return text === '' ? null : text;
    text += buffer.toString('utf8', 0, count);
    const newline = text.indexOf('\n');
    if (newline >= 0) return text.slice(0, newline);
  }
}

/**
 * What every copy would otherwise share with its siblings: V8's Math.random state (no API reseeds
 * it, so it is replaced by one drawing from the reseeded OpenSSL) and crypto.randomUUID's cache of
 * random bytes (bypassed; ES module imports of node:crypto follow through syncBuiltinESMExports).
 */
function reseedJavaScript() {
  const webcrypto = globalThis.crypto;
  const pool = new Uint32Array(512);
  let at = pool.length;
  Math.random = function random() {
    if (at + 2 > pool.length) {
      webcrypto.getRandomValues(pool);
      at = 0;
    }
    return ((pool[at++] >>> 5) * 67108864 + (pool[at++] >>> 6)) / 9007199254740992;
  };
  const nodeCrypto = require('node:crypto');
  const randomUUID = nodeCrypto.randomUUID;
  nodeCrypto.randomUUID = function uuid(options) {
    return randomUUID({ ...options, disableEntropyCache: true });
  };
  const prototype = Object.getPrototypeOf(webcrypto);
  if (typeof prototype?.randomUUID === 'function') {
    prototype.randomUUID = function uuid() {
      return randomUUID({ disableEntropyCache: true });
    };
  }
  require('node:module').syncBuiltinESMExports();
}

/**
 * The template's checkpoint (its before-snapshot hooks have run) and, in a restored copy, its
 * start: returns the copy's Runtime API client once its after-restore hooks ran.
 */
async function checkpointAndRestore(template, descriptors) {
  const [resumeFd, readyFd] = descriptors.split(',').map(Number);
  const hooks = snapStartHooks();
  let reseed = () => false;
  try {
    reseed = require(process.env[RESEED_VARIABLE]).reseed;
  } catch (error) {
    process.stderr.write(
      `haneul nodejs runtime: no OpenSSL reseed in copies (${error.message}); crypto random bytes may repeat across copies\n`,
    );
  }
  delete process.env[RESEED_VARIABLE];
  await announceTemplate(template);
  template.agent.destroy();
  fs.writeSync(readyFd, 'R');
  fs.closeSync(readyFd);
  // The checkpoint is taken while this read blocks; a copy resumes here.
  const line = readLineSync(resumeFd);
  if (line === null) process.exit(0); // the template is ended without a copy
  fs.closeSync(resumeFd);

  const config = JSON.parse(line);
  for (const entry of config.environment ?? []) {
    const equals = entry.indexOf('=');
    if (equals > 0) process.env[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  if (!reseed()) {
    process.stderr.write('haneul nodejs runtime: OpenSSL reseed failed in this copy\n');
  }
  reseedJavaScript();
  const client = new RuntimeApiClient(process.env.AWS_LAMBDA_RUNTIME_API ?? '');
  await client.restoreNext();
  try {
    for (const hook of hooks.afterRestore) await hook();
  } catch (error) {
    logError('Uncaught Exception', error);
    client.postRestoreError(error, () => process.exit(129));
    return new Promise(() => {}); // the invoker ends this copy
  }
  return client;
}

async function main() {
  patchConsole();
  const checkpoint = process.env[CHECKPOINT_VARIABLE];
  delete process.env[CHECKPOINT_VARIABLE];
  exposeSnapshotRestoreModule();
  let client;
  try {
    client = new RuntimeApiClient(process.env.AWS_LAMBDA_RUNTIME_API ?? '');
  } catch (error) {
    fatal(error);
  }

  // Until the first invocation, errors are init errors.
  const errorCallbacks = {
    uncaughtException: (error) => client.postInitError(error, () => process.exit(129)),
    unhandledRejection: (error) => client.postInitError(error, () => process.exit(128)),
  };
  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  process.on('beforeExit', () => beforeExit.invoke());

  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT || process.cwd(), process.env._HANDLER ?? '');
  } catch (error) {
    // On AWS a loading failure escapes to the uncaughtException listener: same log, same exit.
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
    return;
  }
  if (checkpoint) {
    try {
      for (const hook of snapStartHooks().beforeSnapshot) await hook();
    } catch (error) {
      // As an init error: the published version fails with it.
      logError('Uncaught Exception', error);
      errorCallbacks.uncaughtException(error);
      return;
    }
    try {
      client = await checkpointAndRestore(client, checkpoint);
    } catch (error) {
      fatal(error);
    }
  }
  new Runtime(client, handler, errorCallbacks).scheduleIteration();
}

main().catch(fatal);
