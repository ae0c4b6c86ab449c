"""The server extension's health endpoint, against a real Jupyter server."""

from __future__ import annotations

import requests

import ost_lab


def test_health_answers_ok_with_version(lab_server):
    response = requests.get(lab_server.api("ost-lab/api/health"), headers=lab_server.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == ost_lab.__version__
    assert body["secmaster"] == lab_server.env["OST_LAB_SECMASTER"]
    assert body["runs_db"] == lab_server.env["OST_LAB_RUNS"]


def test_health_requires_authentication(lab_server):
    response = requests.get(lab_server.api("ost-lab/api/health"))
    assert response.status_code == 403


def test_health_rejects_a_wrong_token(lab_server):
    response = requests.get(
        lab_server.api("ost-lab/api/health"), headers={"Authorization": "token not-the-token"}
    )
    assert response.status_code == 403


def test_unknown_api_path_is_404(lab_server):
    response = requests.get(lab_server.api("ost-lab/api/nope"), headers=lab_server.headers)
    assert response.status_code == 404
