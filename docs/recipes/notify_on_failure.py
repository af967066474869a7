"""Failure notifications with Prefect's own automations: when a flow run of `ingest` (or `reextract`) ends
Failed (a source could not be read: docs/operations.md), POST its name, state message and link to a
webhook. Run once per Prefect server, with PREFECT_API_URL pointing at it:

    PREFECT_API_URL=http://127.0.0.1:4200/api .venv/bin/python docs/recipes/notify_on_failure.py \
        --webhook https://hooks.example.org/corpus

The link is the server's PREFECT_UI_URL (`corpus server` sets it; set it on a server of your own).
Running it again replaces the automation and its webhook block (same names). Slack, Teams, e-mail: swap
the Webhook block for one of Prefect's notification blocks and `CallWebhook` for `SendNotification`.
tests/end_to_end/test_operators.py runs this very file against a real server and a local webhook.
"""

from __future__ import annotations

import argparse
import contextlib

from prefect.automations import Automation
from prefect.blocks.webhook import Webhook
from prefect.events.actions import CallWebhook
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.exceptions import ObjectNotFound

NAME = "corpus-run-failed"

# What the webhook receives (a Jinja template over the flow run the event is about).
PAYLOAD = """{
  "flow_run": "{{ flow_run.name }}",
  "flow_run_id": "{{ flow_run.id }}",
  "flow": "{{ flow.name }}",
  "state": "{{ flow_run.state.name }}",
  "message": {{ flow_run.state.message | tojson }},
  "url": "{{ flow_run | ui_url }}"
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--webhook", required=True, help="URL that receives a POST per failed run")
    parser.add_argument("--flows", nargs="+", default=["ingest", "reextract"], help="flows to watch")
    args = parser.parse_args()

    block_id = Webhook(method="POST", url=args.webhook).save(NAME, overwrite=True)
    with contextlib.suppress(ObjectNotFound, ValueError):
        Automation.read(name=NAME).delete()
    automation = Automation(
        name=NAME,
        description="POST to a webhook when a corpus ingest or reextract flow run fails",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed"},
            match_related=[{"prefect.resource.role": "flow", "prefect.resource.name": args.flows}],
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[CallWebhook(block_document_id=block_id, payload=PAYLOAD)],
    ).create()
    print(
        f"automation {automation.name} ({automation.id}): failed runs of {', '.join(args.flows)} "
        f"POST to {args.webhook}"
    )


if __name__ == "__main__":
    main()
