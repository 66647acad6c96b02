"""Fixtures for the executor tests; the S3 server and the Ray cluster are session fixtures of tests/support/ray_session.py."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def s3_artifacts(s3_endpoint):
    """A fresh bucket: (artifacts URI, storage options)."""
    import boto3

    name = f"tidal-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return f"s3://{name}/tidal", {"client_kwargs": {"endpoint_url": s3_endpoint}}


