#!/usr/bin/env python3
"""Receives TaskRouter events over HTTP and produces each to Kafka, keyed by workspace.

- an Event Streams webhook sink POSTs CloudEvents as JSON (one object or an array): the body is
  produced unchanged as one message (callpulse reads an array as several records);
- the workspace's EventCallbackUrl POSTs form fields: they become one JSON object.

Run it behind TLS and check Twilio's request signature (X-Twilio-Signature) in front of it.
Needs confluent-kafka. Environment: KAFKA_BOOTSTRAP (kafka:9092), KAFKA_TOPIC
(twilio.taskrouter), LISTEN_PORT (8080).
"""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from confluent_kafka import Producer

TOPIC = os.environ.get("KAFKA_TOPIC", "twilio.taskrouter")
producer = Producer({
    "bootstrap.servers": os.environ.get("KAFKA_BOOTSTRAP", "kafka:9092"),
    "enable.idempotence": True,
})


def workspace(event):
    """The workspace sid of one event in any spelling (the partition key)."""
    if "WorkspaceSid" in event:
        return event["WorkspaceSid"]
    data = event.get("data")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            data = {}
    payload = (data or {}).get("payload") or {}
    return payload.get("workspace_sid") or event.get("workspace_sid") or ""


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        kind = self.headers.get("Content-Type", "")
        try:
            if kind.startswith("application/x-www-form-urlencoded"):
                event = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
                value, key = json.dumps(event).encode(), workspace(event)
            else:
                parsed = json.loads(body)
                first = parsed[0] if isinstance(parsed, list) and parsed else parsed
                value, key = body, workspace(first if isinstance(first, dict) else {})
        except (ValueError, UnicodeDecodeError):
            self.send_response(400)
            self.end_headers()
            return
        producer.produce(TOPIC, value=value, key=key.encode())
        producer.poll(0)
        # TaskRouter expects 204 within 15 seconds
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    ThreadingHTTPServer(("", int(os.environ.get("LISTEN_PORT", "8080"))), Receiver).serve_forever()
