"""Control API endpoints the JupyterLab dashboard uses: risk events and mode changes of a run."""

from __future__ import annotations

import requests

from ost_lab.dashboard.runs_db import RunsDB

T0 = 1_700_000_000_000_000_000


def _seed(path: str) -> str:
    with RunsDB(path) as db:
        run_id = db.create_run(name="dash", mode="paper")
        db.write_batch(
            run_id,
            {
                "risk_events": [
                    dict(ts_ns=T0, kind="reject", rule="max_position", reason="too big")
                ],
                "mode_changes": [dict(ts_ns=T0 + 1, from_mode="sandbox", to_mode="paper")],
            },
        )
        db.finish_run(run_id, "completed")
    return run_id


def test_risk_events_and_mode_changes_of_a_run(lab_server):
    run_id = _seed(lab_server.env["OST_LAB_RUNS"])
    base = lab_server.api(f"ost-lab/api/runs/{run_id}")
    risk = requests.get(f"{base}/risk_events", headers=lab_server.headers, timeout=10)
    assert risk.status_code == 200
    [event] = risk.json()["risk_events"]
    assert event["rule"] == "max_position" and event["ts_ns"] == T0
    modes = requests.get(f"{base}/mode_changes", headers=lab_server.headers, timeout=10)
    assert modes.json()["mode_changes"][0]["to_mode"] == "paper"


def test_new_endpoints_need_authentication_and_answer_json_404(lab_server):
    url = lab_server.api("ost-lab/api/runs/nope/risk_events")
    assert requests.get(url, timeout=10).status_code == 403
    missing = requests.get(url, headers=lab_server.headers, timeout=10)
    assert missing.status_code == 404 and "message" in missing.json()
