"""Fixtures for stream jobs: librdkafka's mock Kafka cluster and a redis-server, real servers on loopback."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def kafka_bootstrap():
    """A one-broker mock cluster hosted by this process's producer; other processes connect to it."""
    confluent_kafka = pytest.importorskip("confluent_kafka")
    host = confluent_kafka.Producer({"test.mock.num.brokers": 1, "log_level": 3})
    brokers = host.list_topics(timeout=10).brokers.values()
    yield ",".join(f"{broker.host}:{broker.port}" for broker in brokers)
    host.flush(5)


@pytest.fixture(scope="session")
def redis_url():
    """A redis-server of this test session (no persistence) on a free loopback port."""
    pytest.importorskip("redis")
    from servers import redis_server

    with redis_server() as server:
        yield server.url
