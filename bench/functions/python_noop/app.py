"""The python function the benchmarks deploy, to haneul and to serverless-offline alike."""


def handler(event, context):
    """The no-op: what an invocation costs when the handler costs nothing."""
    return {}


def hello(event, context):
    """The cold-start subject: a fresh function's first answer."""
    return {"message": "hello"}
