"""pytest plugin: an ephemeral RabbitMQ node per test session. STUB, being written."""
