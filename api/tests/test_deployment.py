"""The deployment files, checked without Docker: what the images copy and install, and that their commands serve.

The serving image's command is run for real: gunicorn, on a copy of exactly what the Dockerfile copies.
"""

import importlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from api.tests.helpers import CHARACTER_IMAGES, data_url
from text_recognizer.datasets.dataset import MIRROR_ENV_VAR
from text_recognizer.util import read_image

ROOT = Path(__file__).resolve().parents[2]
SERVING_DOCKERFILE = ROOT / "api" / "Dockerfile"
LAMBDA_DOCKERFILE = ROOT / "api" / "Dockerfile.lambda"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined and comments dropped."""
    logical, parts = [], []
    for line in dockerfile.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        parts.append(line.rstrip().removesuffix("\\"))
        if not line.rstrip().endswith("\\"):
            logical.append(" ".join(parts))
            parts = []
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1].strip()) for text in logical]


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    steps = instructions(dockerfile)
    last_from = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def copies(steps: list[tuple[str, str]]) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context (not from another stage)."""
    result = []
    for name, args in steps:
        words = shlex.split(args)
        if name == "COPY" and not any(word.startswith("--from") for word in words):
            paths = [word for word in words if not word.startswith("--")]
            result.append((paths[:-1], paths[-1]))
    return result


def exec_form(dockerfile: Path, instruction: str) -> list[str]:
    [args] = [args for name, args in final_stage(dockerfile) if name == instruction]
    return json.loads(args)


@pytest.mark.parametrize("dockerfile", [SERVING_DOCKERFILE, LAMBDA_DOCKERFILE], ids=lambda p: p.name)
def test_every_copy_source_exists_and_is_in_the_build_context(dockerfile: Path) -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = {line.strip()[1:].rstrip("/") for line in lines if line.startswith("!")}
    sources = [source for sources, _ in copies(instructions(dockerfile)) for source in sources]
    assert {"Pipfile", "Pipfile.lock", "text_recognizer/", "api/"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source.rstrip("/") in allowed, f"{source} is left out of the build context by .dockerignore"


@pytest.mark.parametrize("dockerfile", [SERVING_DOCKERFILE, LAMBDA_DOCKERFILE], ids=lambda p: p.name)
def test_images_install_from_the_lock_file_and_run_as_a_user(dockerfile: Path) -> None:
    runs = " ".join(args for name, args in instructions(dockerfile) if name == "RUN")
    assert "pipenv requirements --hash" in runs and "--require-hashes -r" in runs
    users = [args for name, args in final_stage(dockerfile) if name == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_the_lock_file_has_what_the_images_run() -> None:
    lock = json.loads((ROOT / "Pipfile.lock").read_text())
    assert "gunicorn" in lock["default"], "add gunicorn to the Pipfile's [packages] and lock"
    assert "awslambdaric" in lock.get("lambda", {}), "add awslambdaric to the Pipfile's [lambda] category and lock"


def test_serving_image_exposes_its_port_and_checks_its_health() -> None:
    stage = dict(final_stage(SERVING_DOCKERFILE))
    assert stage["EXPOSE"] == "8000"
    assert "http://127.0.0.1:8000/" in stage["HEALTHCHECK"]
    assert "0.0.0.0:8000" in exec_form(SERVING_DOCKERFILE, "CMD")


def test_lambda_image_runs_the_handler() -> None:
    assert exec_form(LAMBDA_DOCKERFILE, "ENTRYPOINT") == ["python", "-m", "awslambdaric"]
    [target] = exec_form(LAMBDA_DOCKERFILE, "CMD")
    module, function = target.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), function))


def test_serverless_config_deploys_the_lambda_image() -> None:
    config = yaml.safe_load((ROOT / "api" / "serverless.yml").read_text())
    [function] = config["functions"].values()
    image = config["provider"]["ecr"]["images"][function["image"]["name"]]
    api_dirname = ROOT / "api"
    assert (api_dirname / image["path"] / image["file"]).resolve() == LAMBDA_DOCKERFILE
    assert (api_dirname / image["path"]).resolve() == ROOT  # the same build context as the serving image
    assert function["memorySize"] >= 3008 and function["timeout"] <= 30  # the HTTP API's limit is 30 s
    routes = {(event["httpApi"]["method"], event["httpApi"]["path"]) for event in function["events"]}
    assert routes == {("GET", "/v1/predict"), ("POST", "/v1/predict")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _image_layout(tmp_path: Path) -> Path:
    """A directory laid out as the serving image's WORKDIR: only what its COPY lines bring, less .dockerignore's."""
    [workdir] = [args for name, args in final_stage(SERVING_DOCKERFILE) if name == "WORKDIR"]
    app_dirname = tmp_path / workdir.lstrip("/")
    for sources, destination in copies(final_stage(SERVING_DOCKERFILE)):
        for source in sources:
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests")
            shutil.copytree(ROOT / source, app_dirname / destination, ignore=ignore, dirs_exist_ok=True)
    return app_dirname


def test_serving_command_serves_predictions_from_the_image_layout(tmp_path: Path, shipped_predictors) -> None:
    if shutil.which("gunicorn") is None:
        pytest.skip("gunicorn is not installed (it is in the Pipfile: pipenv sync)")
    app_dirname = _image_layout(tmp_path)
    assert not (app_dirname / "data").exists() and not (app_dirname / "training").exists()
    port = _free_port()
    command = [arg.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for arg in exec_form(SERVING_DOCKERFILE, "CMD")]
    # No data mirror and no checkout on the path: the image has neither.
    env = {k: v for k, v in os.environ.items() if k not in (MIRROR_ENV_VAR, "NLTK_DATA", "PYTHONPATH")}
    server = subprocess.Popen(command, cwd=app_dirname, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/", server)
        assert health["status"] == "ok" and "character" in health["modes"]
        path = CHARACTER_IMAGES[0]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/predict",
            data=json.dumps({"image": data_url(path.read_bytes()), "mode": "character"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        pred, conf = shipped_predictors["character"].predict(read_image(path))
        assert answer["pred"] == pred and answer["conf"] == pytest.approx(conf, abs=1e-5)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode(errors="replace")
    assert "Traceback" not in output, output


def _wait_for(url: str, server: subprocess.Popen, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited: {server.communicate()[0].decode(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.load(response)
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout} s")
