"""image-resize: an S3-triggered function that writes a smaller copy of every image uploaded
under `input/` to `output/` in the same bucket.

Wire it with a bucket notification for `s3:ObjectCreated:*` filtered on the prefix `input/`
(see README.md). It writes under `output/`, which the notification does not match, so its own
uploads never trigger it again. Pillow comes from Debian's `python3-pil` (the zip package relies
on the host's, the image carries a copy); boto3 finds the object store through AWS_ENDPOINT_URL,
which haneul sets in every function's environment.

Environment: MAX_SIZE (default 128): the longest side of the resized image, in pixels.
"""
import io
import os
import urllib.parse

import boto3
from PIL import Image

s3 = boto3.client("s3")
MAX_SIZE = int(os.environ.get("MAX_SIZE", "128"))


def handler(event, context):
    done = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        # S3 event keys are URL-encoded with '+' for spaces.
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        if not key.startswith("input/"):
            continue  # defensive: the notification's filter should already say so
        original = s3.get_object(Bucket=bucket, Key=key)
        with Image.open(io.BytesIO(original["Body"].read())) as image:
            source_size = image.size
            image_format = image.format or "PNG"
            image.thumbnail((MAX_SIZE, MAX_SIZE))
            out = io.BytesIO()
            image.save(out, format=image_format)
            resized_size = image.size
        target = "output/" + key[len("input/"):]
        s3.put_object(Bucket=bucket, Key=target, Body=out.getvalue(),
                      ContentType=original.get("ContentType", "application/octet-stream"))
        print(f"resized s3://{bucket}/{key} {source_size[0]}x{source_size[1]} -> "
              f"s3://{bucket}/{target} {resized_size[0]}x{resized_size[1]}")
        done.append(target)
    return {"resized": done}
