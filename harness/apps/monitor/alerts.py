"""Delivering an alert: run a command (the summary on its stdin) or POST JSON to a webhook."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import urllib.error
import urllib.request
from typing import Any

from ...errors import ConfigError

COMMAND_TIMEOUT_S = 60.0
WEBHOOK_TIMEOUT_S = 10.0


def check_webhook(url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"the alert webhook {url!r} must be an http:// or https:// URL")


def run_command(command: str, summary: str, payload: dict[str, Any]) -> str | None:
    """Runs the command without a shell; returns an error text, or None when it succeeded."""
    argv = shlex.split(command)
    if not argv:
        return "the alert command is empty"
    env = {**os.environ, "TFLM_HIL_ALERT_SUMMARY": summary,
           "TFLM_HIL_ALERT_JSON": json.dumps(payload)}
    try:
        proc = subprocess.run(argv, input=summary, text=True, env=env, capture_output=True,
                              timeout=COMMAND_TIMEOUT_S)
    except FileNotFoundError:
        return f"the alert command {argv[0]!r} was not found"
    except subprocess.TimeoutExpired:
        return f"the alert command did not finish within {COMMAND_TIMEOUT_S:.0f}s"
    if proc.returncode != 0:
        return f"the alert command exited with {proc.returncode}: {proc.stderr.strip()[:200]}"
    return None


def post_webhook(url: str, payload: dict[str, Any]) -> str | None:
    """POSTs the payload as JSON; returns an error text, or None on a 2xx answer."""
    check_webhook(url)
    req = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "User-Agent": "tflm-hil-monitor"})
    try:
        with urllib.request.urlopen(req, timeout=WEBHOOK_TIMEOUT_S) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        return f"the webhook answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"the webhook could not be reached: {exc}"
    return None if 200 <= status < 300 else f"the webhook answered HTTP {status}"
