"""Starting the app: ``launch()`` inline in Jupyter and Colab, and ``fashion-mrcnn serve`` as a
real process (what a user runs after ``make demo``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types
import urllib.request

import pytest


def _get(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def _stop_current() -> None:
    """Stop the app the last ``launch()`` started (module state, like a notebook kernel's)."""
    from fashion_mrcnn.app import serving as module

    if module._current is not None:
        module._current.stop()
        module._current = None


def test_launch_shows_an_iframe_in_jupyter_and_replaces_the_previous_app(engine, monkeypatch):
    import IPython.display

    import fashion_mrcnn.app.serving  # noqa: F401 - importing it must not hide the function
    from fashion_mrcnn.app import launch

    assert callable(launch) and launch.__module__ == "fashion_mrcnn.app"

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    first = launch(engine=engine, catalog=None)
    try:
        assert len(shown) == 1 and isinstance(shown[0], IPython.display.IFrame)
        assert shown[0].src == first.url == f"http://127.0.0.1:{first.port}/"
        assert _get(f"{first.url}api/health")["ok"] is True
        assert _get(f"{first.url}api/info")["model"]["classes"] == engine.class_names[1:]
        monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ana/")
        second = launch(engine=engine, catalog=None)
        assert shown[1].src == f"/user/ana/proxy/{second.port}/"  # jupyter-server-proxy
        with pytest.raises(OSError):  # the first app is gone
            urllib.request.urlopen(f"{first.url}api/health", timeout=5)
        assert _get(f"{second.url}api/health")["ok"] is True
    finally:
        _stop_current()


def test_launch_in_colab_serves_through_the_kernel_port_proxy(engine, monkeypatch):
    from fashion_mrcnn.app import launch

    served = []
    output = types.SimpleNamespace(
        serve_kernel_port_as_iframe=lambda port, height: served.append((port, height))
    )
    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(output=output))
    app = launch(engine=engine, catalog=None, height=700)
    try:
        assert served == [(app.port, "700")]
        assert _get(f"{app.url}api/health")["ok"] is True
    finally:
        _stop_current()


def test_serve_refuses_a_checkpoint_without_its_run_files(checkpoint, tmp_path, capsys):
    from fashion_mrcnn.cli import main

    lone = tmp_path / "lone" / "model.h5"
    lone.parent.mkdir()
    shutil.copy(checkpoint, lone)
    assert main(["serve", "--weights", str(lone), "--port", "0"]) == 2
    assert "no train_config.yaml found" in capsys.readouterr().err
    config = next(checkpoint.parents[2].glob("train_config.yaml"))
    assert main(["serve", "--weights", str(lone), "--config", str(config), "--port", "0"]) == 2
    assert "no classes.json found" in capsys.readouterr().err


def test_serve_command_serves_the_page_and_stops_on_ctrl_c(checkpoint, catalog_dir, app_data):
    command = [sys.executable, "-m", "fashion_mrcnn.cli", "serve", "--weights", str(checkpoint)]
    command += ["--catalog", str(catalog_dir), "--port", "0"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        url, lines, deadline = None, [], time.monotonic() + 180
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("fashion-mrcnn app: "):
                url = line.split()[2]
        assert url, f"no URL printed; stdout {lines}, stderr {proc.stderr.read()[-2000:]}"
        # the page answers at once, while the model still loads in the background
        with urllib.request.urlopen(url, timeout=30) as response:
            assert b"Shop the look" in response.read()
        assert _get(f"{url}api/status")["model"]["state"] in ("loading", "warming")
        status, deadline = {}, time.monotonic() + 180
        while time.monotonic() < deadline:
            status = _get(f"{url}api/status")
            if status["model"]["state"] == "ready" and status["catalog"]["state"] == "ready":
                break
            time.sleep(0.2)
        assert status["catalog"] == {**status["catalog"], "state": "ready", "items": 8}, status
        assert _get(f"{url}api/info")["catalog"]["items"] == 8
        scene = app_data["scenes"][0]
        request = urllib.request.Request(
            f"{url}api/detect?filename={scene['path'].name}", data=scene["path"].read_bytes()
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            names = {i["class_name"] for i in json.load(response)["record"]["instances"]}
        assert set(scene["names"]) <= names
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        out = proc.stdout.read()
        assert "model ready" in out and "catalogue: 8 garments" in out and "stopped" in out
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_create_app_warms_the_model_up_before_the_first_upload(checkpoint):
    from fashion_mrcnn.app.serving import create_app

    webapp = create_app(checkpoint, catalog=None)
    try:
        assert webapp.status["model"] == {"state": "ready", "message": None}
        # the warm-up ran the graph once: it is traced, the first photo does not pay for it
        assert webapp.engine._graph.predict_function is not None
    finally:
        webapp.close()
