"""The example function `make run` deploys as `hello`.

Invoke it with:
  aws lambda invoke --endpoint-url http://127.0.0.1:4747 --function-name hello \
      --cli-binary-format raw-in-base64-out --payload '{"name":"haneul"}' out.json
"""
import json


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    print(f"hello invoked with {json.dumps(event)}")
    return {
        "message": f"Hello, {name}!",
        "requestId": context.aws_request_id,
        "remainingMs": context.get_remaining_time_in_millis(),
    }
