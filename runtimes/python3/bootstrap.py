"""haneul's managed runtime for `python3.x` functions.

The invoker starts this file in a fresh execution environment as
`/usr/bin/python3 /path/to/runtimes/python3/bootstrap.py`. It imports the handler named by
`_HANDLER` from `LAMBDA_TASK_ROOT`, then serves invocations from the Lambda Runtime API at
`AWS_LAMBDA_RUNTIME_API` until the environment is destroyed. Everything the function can observe
(the context object, error bodies, log lines, stdout behaviour) follows AWS's own python runtime;
the code is written from scratch on the standard library only.

Environment read: AWS_LAMBDA_RUNTIME_API (host:port, required), _HANDLER, LAMBDA_TASK_ROOT
(default: the working directory), AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION,
AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME, and
optionally AWS_LAMBDA_LOG_LEVEL and AWS_EXECUTION_ENV (AWS_Lambda_python3.12 and later return
non-ASCII characters unescaped in JSON, as AWS does from python3.12 on).

Threads: one invocation at a time, on the main thread. User code may start threads; they share
only the unbuffered stdout/stderr writers and the logging handler (guarded by logging's locks).

Start-up time is benchmarked against a bare interpreter, so the top level imports only modules
that are built in or already loaded by the interpreter itself: `_json` and `_socket` stand in
for `json`, `socket` and `http.client` (which pull in re, enum, email, ssl: ~40 ms here).
`traceback`, `json` and `importlib` are imported when needed, and `logging` is configured the
moment user code imports it (see _AfterImport) instead of being imported up front.
"""

import io
import os
import sys
import time

import _json
import _socket

_RUNTIME_PATH = "/2018-06-01/runtime"
_USER_AGENT = "haneul-python/%d.%d.%d" % sys.version_info[:3]
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

# AWS logs this warning (through the root logger) right before it reports an init error.
_UNHANDLED_EXCEPTION_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function "
    "change, or can be applied automatically. To determine if the runtime has been updated, "
    "check the runtime version in the INIT_START log entry. If this error correlates with a "
    "change in the runtime version, you may be able to mitigate this error by temporarily "
    "rolling back to the previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)

# AWS_LAMBDA_LOG_LEVEL values (Lambda's names) mapped to python logging levels.
_LOG_LEVELS = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "WARNING": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "CRITICAL",
    "CRITICAL": "CRITICAL",
}

# Request id of the invocation in progress (kept after it ends, as AWS does); the logging
# filter reads it for %(aws_request_id)s.
_current_request_id = None


class _Fault(Exception):
    """A failure the runtime reports with a Runtime.* error type and its own message."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


# ---------------------------------------------------------------------------------------------
# The context object. Attribute names, types and repr follow AWS's LambdaContext: notably
# memory_limit_in_mb is the environment string ("128"), not an int, and identity is always an
# object (its fields None without a Cognito identity) while client_context may be None.


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client:
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return "Client([%s])" % ",".join("%s=%s" % (f, getattr(self, f)) for f in self.__slots__)


class ClientContext:
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "ClientContext([custom=%s,env=%s,client=%s])" % (self.custom, self.env, self.client)


def _object_from_dict(cls, values):
    if values is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, values.get(field))
    return obj


class LambdaContext:
    """The `context` argument passed to the handler."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context, identity):
        environ = os.environ
        self.aws_request_id = request_id
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.client_context = _object_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _object_from_dict(Client, self.client_context.client)
        self.identity = _object_from_dict(CognitoIdentity, {})
        if identity is not None:
            self.identity.cognito_identity_id = identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = identity.get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        remaining = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
            "function_name=%s,memory_limit_in_mb=%s,function_version=%s,"
            "invoked_function_arn=%s,client_context=%s,identity=%s])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
            )
        )


# ---------------------------------------------------------------------------------------------
# JSON. The C accelerator behind the json module, driven directly, so that start-up does not
# pay for json's pure-python layer and the `re` module it imports. Results are identical: it is
# the code json.dumps/json.loads run themselves. On any decoding failure the json module is
# imported and asked again, so error messages are json's own.


class _ScannerContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {
        "-Infinity": float("-inf"),
        "Infinity": float("inf"),
        "NaN": float("nan"),
    }.__getitem__
    memo = {}


_scan_once = _json.make_scanner(_ScannerContext)


def _json_loads(data):
    try:
        text = data.decode("utf-8")
        start = len(text) - len(text.lstrip(" \t\n\r"))
        value, end = _scan_once(text, start)
        if end != len(text) and text[end:].strip(" \t\n\r"):
            raise ValueError("extra data")
        return value
    except Exception:
        import json

        return json.loads(data)


def _json_default(value):
    # AWS's encoder (simplejson) writes Decimal as the raw number str(value); the stdlib encoder
    # cannot emit raw text, so integral decimals become ints (exact) and others floats.
    decimal = sys.modules.get("decimal")
    if decimal is not None and isinstance(value, decimal.Decimal):
        if value.is_nan():
            return float("nan")
        if value.is_finite() and value.as_tuple().exponent >= 0:
            return int(value)
        return float(value)
    raise TypeError("Object of type %s is not JSON serializable" % value.__class__.__name__)


def _make_json_dumps():
    execution_env = os.environ.get("AWS_EXECUTION_ENV", "")
    minor = execution_env.rpartition("AWS_Lambda_python3.")[2]
    ensure_ascii = not (
        execution_env.startswith("AWS_Lambda_python3.") and minor.isdigit() and int(minor) >= 12
    )
    encode_string = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    make_encoder = _json.make_encoder

    def dumps(value):
        encoder = make_encoder({}, _json_default, encode_string, None, ": ", ", ", False, False, True)
        return "".join(encoder(value, 0))

    try:
        if dumps({"a": [1.5, None, True, "\u00e9"]}) == (
            '{"a": [1.5, null, true, "\\u00e9"]}' if ensure_ascii else '{"a": [1.5, null, true, "\u00e9"]}'
        ):
            return dumps
    except Exception:
        pass
    import json  # the accelerator's interface changed: use the json module itself

    return json.JSONEncoder(default=_json_default, ensure_ascii=ensure_ascii).encode


_json_dumps = _make_json_dumps()


# ---------------------------------------------------------------------------------------------
# The Runtime API client: HTTP/1.1 over one keep-alive TCP connection.


class _ClosedBeforeResponse(ConnectionError):
    """The server closed the connection before sending any byte of a response."""


class _RuntimeApiClient:
    """Speaks HTTP/1.1 to the Runtime API over one persistent connection, reconnecting (and
    resending once) only when a reused connection turns out to have been closed by the server.
    There is no timeout: GET /invocation/next is a long poll that lasts until work arrives."""

    def __init__(self, address):
        host, separator, port = address.rpartition(":")
        if not separator or not host or not port.isdigit():
            raise ValueError("AWS_LAMBDA_RUNTIME_API must be host:port, not %r" % address)
        self._address = address
        self._host = host[1:-1] if host.startswith("[") else host
        self._port = int(port)
        self._sock = None
        self._buffer = b""
        self._fixed = False

    @classmethod
    def over_socket(cls, sock, address):
        """A client on a connection made for it (a SnapStart copy's): it cannot reconnect."""
        client = cls.__new__(cls)
        client._address = address
        client._host = "127.0.0.1"
        client._port = 0
        client._sock = sock
        client._buffer = b""
        client._fixed = True
        return client

    def announce_template(self):
        """A SnapStart template's word that init is over: GET /invocation/next, never read (the
        invoker never answers a template; it forks copies through the control channel)."""
        self._sock = self._connect()
        self._sock.sendall(
            (
                "GET %s/invocation/next HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n\r\n"
                % (_RUNTIME_PATH, self._address, _USER_AGENT)
            ).encode("utf-8")
        )

    def restore_next(self):
        status, _, body = self._request("GET", _RUNTIME_PATH + "/restore/next", None, "")
        if status != 200:
            raise ConnectionError(
                "GET /restore/next answered HTTP %d: %s" % (status, body[:200].decode("utf-8", "replace"))
            )

    def post_restore_error(self, error):
        self._post_error(_RUNTIME_PATH + "/restore/error", error)

    def next_invocation(self):
        status, headers, body = self._request("GET", _RUNTIME_PATH + "/invocation/next", None, "")
        if status != 200:
            raise ConnectionError(
                "GET /invocation/next answered HTTP %d: %s" % (status, body[:200].decode("utf-8", "replace"))
            )
        return headers, body

    def post_response(self, request_id, payload, content_type):
        self._request(
            "POST",
            "%s/invocation/%s/response" % (_RUNTIME_PATH, request_id),
            payload,
            "Content-Type: %s\r\n" % content_type,
        )

    def post_error(self, request_id, error):
        self._post_error("%s/invocation/%s/error" % (_RUNTIME_PATH, request_id), error)

    def post_init_error(self, error):
        self._post_error(_RUNTIME_PATH + "/init/error", error)

    def _post_error(self, path, error):
        headers = "Content-Type: application/json\r\n"
        error_type = error["errorType"]
        if error_type and error_type.isascii() and error_type.isprintable():
            headers += "%s: %s\r\n" % (_ERROR_TYPE_HEADER, error_type)
        self._request("POST", path, _json_dumps(error).encode("utf-8"), headers)

    def _connect(self):
        if self._fixed:
            raise ConnectionError("the Runtime API connection of this restored copy closed")
        last_error = OSError("cannot resolve %s" % self._host)
        # An ASCII host goes in as bytes: given a str, getaddrinfo runs it through the idna
        # codec, whose import (re, enum, stringprep) costs ~3 ms of start-up.
        host = self._host.encode("ascii") if self._host.isascii() else self._host
        for family, kind, proto, _, sockaddr in _socket.getaddrinfo(
            host, self._port, 0, _socket.SOCK_STREAM
        ):
            sock = _socket.socket(family, kind, proto)
            try:
                sock.connect(sockaddr)
            except OSError as e:
                sock.close()
                last_error = e
                continue
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            return sock
        raise last_error

    def _close(self):
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._buffer = b""

    def _request(self, method, path, body, extra_headers):
        head = "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n%s" % (
            method,
            path,
            self._address,
            _USER_AGENT,
            extra_headers,
        )
        if body is None:
            message = (head + "\r\n").encode("utf-8")
        else:
            message = (head + "Content-Length: %d\r\n\r\n" % len(body)).encode("utf-8") + body
        while True:
            reused = self._sock is not None
            if not reused:
                self._sock = self._connect()
            try:
                self._sock.sendall(message)
                return self._read_response()
            except (_ClosedBeforeResponse, BrokenPipeError, ConnectionResetError):
                self._close()
                if not reused:
                    raise

    def _recv(self):
        data = self._sock.recv(65536)
        if not data:
            raise ConnectionError("the Runtime API closed the connection mid-response")
        return data

    def _read_response(self):
        buffer = self._buffer
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            data = self._sock.recv(65536)
            if not data:
                if buffer:
                    raise ConnectionError("the Runtime API closed the connection mid-response")
                raise _ClosedBeforeResponse("the Runtime API closed the connection")
            buffer += data
        lines = buffer[:end].decode("utf-8", "replace").split("\r\n")
        status = int(lines[0].split(None, 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        rest = buffer[end + 4 :]
        close = headers.get("connection", "").lower() == "close"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body, rest = self._read_chunked(rest)
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if len(rest) < length:
                chunks = [rest]
                have = len(rest)
                while have < length:
                    data = self._sock.recv(max(65536, length - have))
                    if not data:
                        raise ConnectionError("the Runtime API closed the connection mid-response")
                    chunks.append(data)
                    have += len(data)
                rest = b"".join(chunks)
            body, rest = rest[:length], rest[length:]
        elif status < 200 or status in (204, 304):
            body = b""
        else:  # delimited by the end of the connection
            chunks = [rest]
            while True:
                data = self._sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
            body, rest, close = b"".join(chunks), b"", True
        self._buffer = rest
        if close:
            self._close()
        return status, headers, body

    def _read_chunked(self, buffer):
        chunks = []
        while True:
            while b"\r\n" not in buffer:
                buffer += self._recv()
            line, buffer = buffer.split(b"\r\n", 1)
            size = int(line.split(b";", 1)[0], 16)
            if size == 0:
                while True:  # trailer fields, up to an empty line
                    while b"\r\n" not in buffer:
                        buffer += self._recv()
                    line, buffer = buffer.split(b"\r\n", 1)
                    if not line:
                        return b"".join(chunks), buffer
            while len(buffer) < size + 2:
                buffer += self._recv()
            chunks.append(buffer[:size])
            buffer = buffer[size + 2 :]


# ---------------------------------------------------------------------------------------------
# Errors: bodies and log records shaped like AWS's.


def _make_error(message, error_type, stack_trace, request_id):
    return {
        "errorMessage": message if message else "",
        "errorType": error_type if error_type else "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _error_from_exception(exc_type, exc, tb, request_id):
    """The error for an exception raised by user code: the traceback with this file's own
    leading frames dropped, one formatted string per frame (traceback.format_list)."""
    import traceback

    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for index, frame in enumerate(frames):
        if "/bootstrap.py" not in frame[0]:
            frames = frames[index:]
            break
    return _make_error(str(exc), exc_type.__name__, traceback.format_list(frames), request_id)


def _log_error(error):
    """Writes an error as AWS's runtime logs it: `[ERROR] Type: message` and the traceback as
    one record, lines joined by carriage returns and leading spaces turned into no-break spaces
    (so that the indentation survives log viewers that trim whitespace)."""
    description = "[ERROR]"
    if error["errorType"]:
        description += " " + error["errorType"]
    if error["errorMessage"]:
        if error["errorType"]:
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for element in error["stackTrace"]:
        if element == "":
            lines.append("")
            continue
        for line in element.splitlines():
            text = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(text)) + text)
    sys.stderr.write("\r".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# Logging and standard streams.


def _configure_logging(logging):
    """Configures the root logger as AWS's runtime does: a handler writing
    `[LEVEL]\\t<UTC time>Z\\t<request id>\\t<message>` records to stdout. The root level stays
    logging's default (WARNING) unless AWS_LAMBDA_LOG_LEVEL says otherwise; a handler that
    calls `logging.getLogger().setLevel(logging.INFO)` then sees its info records."""
    logging.Formatter.converter = time.gmtime

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            # Like AWS's handler, formatting errors are not swallowed: they reach the caller.
            sys.stdout.write(self.format(record))

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _current_request_id or ""
            return True

    handler = LambdaLoggerHandler()
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        handler.setFormatter(_json_log_formatter(logging))
    handler.addFilter(LambdaLoggerFilter())
    root = logging.getLogger()
    level = _LOG_LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
    if level:
        root.setLevel(level)
    root.addHandler(handler)


# LogRecord attributes of its own; anything else on a record came from `extra=` and is logged.
_LOG_RECORD_FIELDS = frozenset((
    "args", "asctime", "created", "exc_info", "exc_text", "filename", "funcName", "levelname",
    "levelno", "lineno", "message", "module", "msecs", "msg", "name", "pathname", "process",
    "processName", "relativeCreated", "stack_info", "thread", "threadName", "taskName",
    "aws_request_id",
))


def _json_log_formatter(logging):
    """LoggingConfig JSON: each record as one JSON object, with the fields AWS's python runtime
    writes (timestamp, level, message, logger, requestId; errorType, errorMessage and
    stackTrace for exceptions; `extra=` fields as they are)."""
    import json
    import traceback

    class JsonFormatter(logging.Formatter):
        def format(self, record):
            entry = {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
                "requestId": getattr(record, "aws_request_id", "") or "",
            }
            if record.exc_info and record.exc_info[0] is not None:
                kind, value, trace = record.exc_info
                entry["errorType"] = kind.__name__
                entry["errorMessage"] = str(value)
                entry["stackTrace"] = traceback.format_tb(trace)
            for key, value in record.__dict__.items():
                if key not in _LOG_RECORD_FIELDS and key not in entry:
                    entry[key] = value
            return json.dumps(entry, default=str) + "\n"

    return JsonFormatter()


class _AfterImport:
    """A sys.meta_path finder that lets one module load normally and then calls `after(module)`
    on it, before any user code can use it, and removes itself once used. So the runtime adjusts
    `logging` and `botocore.session` only if and when a function imports them, without making
    every function pay their import time at start-up."""

    def __init__(self, name, after):
        self._name = name
        self._after = after

    def find_spec(self, name, path=None, target=None):
        if name != self._name:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _RunAfterLoad(spec.loader, self._after)
        return spec


class _RunAfterLoad:
    def __init__(self, loader, after):
        self._loader = loader
        self._after = after

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        loader = self._loader
        module.__loader__ = loader  # the module should not see this wrapper
        if module.__spec__ is not None:
            module.__spec__.loader = loader
        loader.exec_module(module)
        self._after(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


# Service ids (as AWS_ENDPOINT_URL_<ID> spells them) of botocore names that differ from upper().
_ENDPOINT_SERVICE_IDS = {
    "dynamodbstreams": "DYNAMODB_STREAMS",
    "logs": "CLOUDWATCH_LOGS",
    "events": "EVENTBRIDGE",
}


def _teach_botocore_endpoint_urls(session_module):
    """botocore before 1.31 (Debian 12 ships 1.29) ignores AWS_ENDPOINT_URL and its per-service
    forms, which the invoker sets so a handler's boto3 reaches the bundled services unchanged:
    Session.create_client then defaults endpoint_url from them, as newer botocore does itself."""
    import botocore

    try:
        version = tuple(int(part) for part in botocore.__version__.split(".")[:2])
    except ValueError:
        version = (0, 0)
    if version >= (1, 31):
        return  # honours AWS_ENDPOINT_URL itself
    original = session_module.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        if len(args) < 5 and kwargs.get("endpoint_url") is None:
            service_id = _ENDPOINT_SERVICE_IDS.get(service_name, service_name.upper().replace("-", "_"))
            url = os.environ.get("AWS_ENDPOINT_URL_" + service_id) or os.environ.get("AWS_ENDPOINT_URL")
            if url:
                kwargs["endpoint_url"] = url
        return original(self, service_name, *args, **kwargs)

    create_client.__doc__ = original.__doc__
    session_module.Session.create_client = create_client


def _unbuffer_stdio():
    """What `python3 -u` (and AWS's runtime) gives: every write to stdout and stderr reaches
    the file descriptor at once, so a print is in the log before the response is posted."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if stream is None:
            continue
        try:
            stream.flush()
            raw = io.FileIO(fd, "w", closefd=False)
        except (OSError, ValueError):
            continue
        setattr(
            sys,
            name,
            io.TextIOWrapper(raw, encoding=stream.encoding, errors=stream.errors, write_through=True),
        )


# ---------------------------------------------------------------------------------------------
# Init and the invocation loop.


def _load_handler(handler):
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as e:
        raise _Fault("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler, e))
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise _Fault(
                "Runtime.BuiltInModuleConflict",
                "Cannot use built-in module %s as a handler module" % module_name,
            )
        import importlib

        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise _Fault(
            "Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_name, e)
        )
    except SyntaxError as e:
        raise _Fault(
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module '%s': %s" % (module_name, e),
            ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)],
        )
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise _Fault(
            "Runtime.HandlerNotFound",
            "Handler '%s' missing on module '%s'" % (function_name, module_name),
        )


def _parse_json_header(value, name):
    try:
        return _json_loads(value.encode("utf-8"))
    except Exception as e:
        raise _Fault("Runtime.LambdaContextUnmarshalError", "Unable to parse %s JSON: %s" % (name, e))


def _handle_invocation(client, handler, request_id, headers, body):
    error = None
    try:
        client_context = headers.get("lambda-runtime-client-context")
        identity = headers.get("lambda-runtime-cognito-identity")
        context = LambdaContext(
            request_id,
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            headers.get("lambda-runtime-invoked-function-arn"),
            _parse_json_header(client_context, "Client Context") if client_context else None,
            _parse_json_header(identity, "Cognito Identity") if identity else None,
        )
        # The Runtime API always sends application/json; a missing Content-Type is taken as JSON.
        content_type = headers.get("content-type", "application/json")
        if content_type.split(";", 1)[0].strip() == "application/json":
            try:
                event = _json_loads(body)
            except Exception as e:
                raise _Fault("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e)
        else:
            event = body
        result = handler(event, context)
        if isinstance(result, bytes):
            payload, result_type = result, "application/unknown"
        else:
            try:
                payload, result_type = _json_dumps(result).encode("utf-8"), "application/json"
            except Exception as e:
                raise _Fault("Runtime.MarshalError", "Unable to marshal response: %s" % e)
    except _Fault as fault:
        error = _make_error(fault.message, fault.error_type, fault.trace, request_id)
    except Exception:
        error = _error_from_exception(*sys.exc_info(), request_id)
    if error is None:
        client.post_response(request_id, payload, result_type)
    else:
        _log_error(error)
        client.post_error(request_id, error)


def _run(client):
    global _current_request_id
    environ = os.environ
    _unbuffer_stdio()

    task_root = environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    here = os.path.dirname(os.path.realpath(__file__))
    if sys.path and os.path.realpath(sys.path[0] or ".") == here:
        sys.path[0] = task_root  # the runtime's own directory is not the function's business
    else:
        sys.path.insert(0, task_root)
    # After the function's own modules: snapshot_restore_py (SnapStart's hooks) lives here.
    sys.path.append(here)

    if "logging" in sys.modules:
        _configure_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _AfterImport("logging", _configure_logging))
    if "AWS_ENDPOINT_URL" in environ and "botocore.session" not in sys.modules:
        sys.meta_path.insert(0, _AfterImport("botocore.session", _teach_botocore_endpoint_urls))

    try:
        handler = _load_handler(environ.get("_HANDLER", ""))
    except Exception as e:
        if isinstance(e, _Fault):
            error = _make_error(e.message, e.error_type, e.trace, None)
        else:
            error = _error_from_exception(*sys.exc_info(), None)
        import logging

        logging.warning(_UNHANDLED_EXCEPTION_WARNING)
        _log_error(error)
        client.post_init_error(error)
        sys.exit(1)

    control = environ.get("HANEUL_SNAPSHOT_CONTROL")
    if control:
        # A SnapStart template: returns only in a restored copy, with that copy's client.
        client = _serve_as_template(client, control)

    while True:
        headers, body = client.next_invocation()
        request_id = headers.get("lambda-runtime-aws-request-id")
        if not request_id:
            raise ConnectionError("GET /invocation/next answered without Lambda-Runtime-Aws-Request-Id")
        _current_request_id = request_id
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            environ["_X_AMZN_TRACE_ID"] = trace_id
        elif "_X_AMZN_TRACE_ID" in environ:
            del environ["_X_AMZN_TRACE_ID"]
        _handle_invocation(client, handler, request_id, headers, body)


# ---------------------------------------------------------------------------------------------
# SnapStart's fork-server (see snapshot/backends/fork_server/control_protocol.h for the protocol).


def _run_hooks(hooks):
    for func, args, kwargs in hooks:
        func(*args, **kwargs)


def _serve_as_template(client, control):
    """Runs the before-snapshot hooks, then serves fork requests from the invoker until it hangs
    up; returns only in a copy, with that copy's own Runtime API client.

    The fork happens ahead of the request: the template keeps one forked *spare* waiting on the
    control socket (only the spare reads it). The spare that takes a request tells the template,
    which forks the next spare at once, and becomes the copy; so a restore costs no fork, only
    the spare's wake-up."""
    import array
    import ctypes
    import gc
    import json
    import select
    import shutil

    import snapshot_restore_py

    try:
        _run_hooks(snapshot_restore_py.get_before_snapshot())
    except Exception:
        error = _error_from_exception(*sys.exc_info(), None)
        _log_error(error)
        client.post_init_error(error)
        sys.exit(1)
    libc = ctypes.CDLL(None, use_errno=True)
    listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    listener.bind("\0" + control[1:])
    listener.listen(1)
    client.announce_template()
    fd, _ = listener._accept()  # _socket's accept: the fd of the invoker's connection
    listener.close()
    conn = _socket.socket(fileno=fd)
    tmp_root = os.environ.get("TMPDIR") or "/tmp"
    # Everything init made is kept out of the collector's reach, so copies do not write to (and
    # so copy) those pages when they collect.
    gc.freeze()
    copies = {}  # pid -> its /tmp folder
    template = os.getpid()
    taken_read, taken_write = os.pipe()  # a spare says here that it took a request ("T"/"E")
    while True:
        spare = os.fork()
        if spare == 0:
            os.close(taken_read)
            copy = _wait_as_spare(conn, taken_write, template, libc, tmp_root, json, array)
            return _become_copy(client, *copy, snapshot_restore_py)
        copies[spare] = None
        while True:
            ready, _, _ = select.select([taken_read], [], [], 1.0)
            while copies:
                try:
                    pid, _ = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                folder = copies.pop(pid, None)
                if folder:
                    shutil.rmtree(folder, ignore_errors=True)
                if pid == spare:
                    ready = ["died"]  # a spare that died unused is replaced
            if ready:
                break
        if ready != ["died"]:
            word = os.read(taken_read, 65536)
            if word.startswith(b"E"):
                os._exit(0)  # the invoker let go of this template
            if word.startswith(b"T") and spare in copies:
                copies[spare] = word[1:].decode("utf-8", "replace")


def _wait_as_spare(conn, taken, template, libc, tmp_root, json, array):
    """A spare: prepared for being a copy, waiting for its fork request. Returns (request, fds,
    folder) once it took one."""
    os.setsid()  # a process group of its own: the invoker kills the copy's whole group
    libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG = SIGKILL: the copy dies with its template
    if os.getppid() != template:
        os._exit(1)
    int_size = array.array("i").itemsize
    while True:
        try:
            data, ancdata, _, _ = conn.recvmsg(65536, _socket.CMSG_SPACE(4 * int_size))
        except InterruptedError:
            continue
        if not data:
            os.write(taken, b"E")
            os._exit(0)
        fds = array.array("i")
        for level, kind, payload in ancdata:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % int_size])
        try:
            request = json.loads(data)
            valid = request.get("op") == "fork" and isinstance(request.get("id"), str)
        except (ValueError, AttributeError):
            valid = False
        if not valid or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            continue
        folder = os.path.join(tmp_root, ".haneul-copy-" + request["id"].replace("/", "_"))
        os.write(taken, b"T" + folder.encode("utf-8"))
        os.close(taken)
        conn.close()
        return request, list(fds), folder


def _become_copy(template_client, request, fds, folder, hooks):
    if template_client._sock is not None:
        template_client._sock.close()  # the template's own connection is not the copy's
    api_fd, out_fd, err_fd, lifeline_fd = fds
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    lifeline = _socket.socket(fileno=lifeline_fd)
    lifeline.send(b"R")  # with SO_PASSCRED on the other end: the invoker learns our pid
    lifeline.close()
    environ = os.environ
    for name, value in request.get("env", {}).items():
        if isinstance(value, str):
            environ[name] = value
    # A /tmp folder of its own (the template's /tmp is shared; see docs/snapstart.md).
    os.makedirs(folder, 0o700, exist_ok=True)
    environ["TMPDIR"] = folder
    environ["HOME"] = folder
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = None
    # Unique per copy: random's state (os.urandom and secrets draw from the kernel anyway).
    if "random" in sys.modules:
        sys.modules["random"].seed()
    sock = _socket.socket(fileno=api_fd)
    sock.setblocking(True)
    client = _RuntimeApiClient.over_socket(sock, environ.get("AWS_LAMBDA_RUNTIME_API", ""))
    client.restore_next()
    try:
        _run_hooks(hooks.get_after_restore())
    except Exception:
        error = _error_from_exception(*sys.exc_info(), None)
        _log_error(error)
        client.post_restore_error(error)
        os._exit(1)
    return client


def _fatal(error):
    # Nothing can be reported over the Runtime API: say it on stderr; the invoker sees the exit.
    sys.stderr.write(
        "haneul python runtime: fatal: %s: %s (AWS_LAMBDA_RUNTIME_API=%s)\n"
        % (type(error).__name__, error, os.environ.get("AWS_LAMBDA_RUNTIME_API"))
    )
    sys.exit(1)


def main():
    try:
        client = _RuntimeApiClient(os.environ.get("AWS_LAMBDA_RUNTIME_API", ""))
    except ValueError as e:
        _fatal(e)
    try:
        _run(client)
    except OSError as e:  # the Runtime API is unreachable, went away or misbehaved
        _fatal(e)


if __name__ == "__main__":
    main()
