"""The deployment files, checked without Docker: what the images copy and install, and that their commands serve.

The serving image's command is run for real: gunicorn, on a copy of exactly what the Dockerfile copies, with the
image's environment. tasks/test_api_docker.sh builds and runs the image itself (CI runs it).
"""

import importlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
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
WHEELHOUSE_SCRIPT = ROOT / "tasks" / "make_wheelhouse.sh"
# What serving must not carry: training frameworks (the image installs [packages] only) and training formats.
TRAINING_PACKAGES = {"tensorflow", "keras", "tf2onnx", "h5py", "tensorboard"}
TRAINING_FILES = ("text_recognizer/weights/", "text_recognizer/tests/", "api/tests/", "**/*.ipynb")


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


def environment(dockerfile: Path) -> dict[str, str]:
    """What the final stage's ENV lines set (KEY=value form)."""
    env_lines = [args for name, args in final_stage(dockerfile) if name == "ENV"]
    return dict(word.split("=", 1) for args in env_lines for word in shlex.split(args))


@pytest.mark.parametrize("dockerfile", [SERVING_DOCKERFILE, LAMBDA_DOCKERFILE], ids=lambda p: p.name)
def test_every_copy_source_exists_and_is_in_the_build_context(dockerfile: Path) -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = {line.strip()[1:].rstrip("/") for line in lines if line.startswith("!")}
    sources = [source for sources, _ in copies(instructions(dockerfile)) for source in sources]
    # The wheelhouse is made before each build (tasks/make_wheelhouse.sh), the rest is in the repository.
    assert set(sources) == {"wheelhouse/", "text_recognizer/", "api/"}
    for source in sources:
        assert source == "wheelhouse/" or (ROOT / source).exists(), source
        assert source.rstrip("/") in allowed, f"{source} is left out of the build context by .dockerignore"
    assert set(TRAINING_FILES) <= {line.strip() for line in lines}, "training files must stay out of the context"
    assert "wheelhouse/" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize(
    ("dockerfile", "requirements"),
    [(SERVING_DOCKERFILE, "requirements.txt"), (LAMBDA_DOCKERFILE, "requirements-lambda.txt")],
    ids=["Dockerfile", "Dockerfile.lambda"],
)
def test_images_install_from_the_wheelhouse_only_and_run_as_a_user(dockerfile: Path, requirements: str) -> None:
    runs = " ".join(args for name, args in instructions(dockerfile) if name == "RUN")
    assert "--no-index --find-links /wheels" in runs and f"--require-hashes -r /wheels/{requirements}" in runs
    assert ("FROM", "${BASE_IMAGE} AS install") in instructions(dockerfile), "the base must be a build argument"
    # The wheelhouse's requirements are Pipfile.lock's, with hashes: serving only, or serving and Lambda.
    script = WHEELHOUSE_SCRIPT.read_text()
    categories = ' --categories "packages lambda"' if "lambda" in requirements else ""
    assert f'pipenv requirements --hash{categories} >"$out/{requirements}"' in script
    users = [args for name, args in final_stage(dockerfile) if name == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_the_lock_file_has_what_the_images_run_and_serving_has_no_training_packages() -> None:
    lock = json.loads((ROOT / "Pipfile.lock").read_text())
    assert {"gunicorn", "onnxruntime", "flashlight-text"} <= set(lock["default"])
    assert {"awslambdaric", "apig-wsgi"} <= set(lock.get("lambda", {}))
    assert not TRAINING_PACKAGES & (set(lock["default"]) | set(lock["lambda"]))


def test_serving_image_exposes_its_port_and_checks_its_health() -> None:
    stage = dict(final_stage(SERVING_DOCKERFILE))
    env = environment(SERVING_DOCKERFILE)
    assert stage["EXPOSE"] == env["PORT"] == "8000"
    assert env["WEB_CONCURRENCY"] == "2"  # gunicorn's worker count
    [check] = json.loads(stage["HEALTHCHECK"].split(" CMD ", 1)[1])[2:]  # python -c CHECK
    assert 'http://127.0.0.1:{os.environ["PORT"]}/' in check
    command = exec_form(SERVING_DOCKERFILE, "CMD")
    assert command[0] == "gunicorn" and command[-1] == "api.app:create_app()"
    assert "--bind" not in command, "gunicorn binds 0.0.0.0:$PORT when not told otherwise"


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
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "weights", "*.ipynb")
            shutil.copytree(ROOT / source, app_dirname / destination, ignore=ignore, dirs_exist_ok=True)
    return app_dirname


def _image_env(**extra: str) -> dict[str, str]:
    """The image's environment, less its PATH (this venv stands for the image's): no data mirror, no checkout."""
    env = {k: v for k, v in os.environ.items() if k not in (MIRROR_ENV_VAR, "NLTK_DATA", "PYTHONPATH")}
    return env | {k: v for k, v in environment(SERVING_DOCKERFILE).items() if k != "PATH"} | extra


def test_serving_loads_every_model_without_tensorflow(tmp_path: Path) -> None:
    # This venv has TensorFlow (for training); the image has not: serving must never import it.
    script = "import json, sys; from api.app import create_app; create_app(); print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=_image_layout(tmp_path), env=_image_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    modules = {name.split(".")[0] for name in json.loads(result.stdout.splitlines()[-1])}
    assert not modules & {"tensorflow", "keras", "tf2onnx", "h5py"}


def test_serving_command_serves_predictions_from_the_image_layout(tmp_path: Path, shipped_predictors) -> None:
    app_dirname = _image_layout(tmp_path)
    assert not (app_dirname / "data").exists() and not (app_dirname / "training").exists()
    port = _free_port()
    # The image's command with this venv's gunicorn, bound to loopback as tasks/test_api_docker.sh binds it.
    command = [sys.executable, "-m", *exec_form(SERVING_DOCKERFILE, "CMD")]
    env = _image_env(PORT=str(port), GUNICORN_CMD_ARGS=f"--bind=127.0.0.1:{port}")
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
        expected = shipped_predictors["character"].predict(read_image(path))
        assert answer["pred"] == expected.text and answer["conf"] == pytest.approx(expected.confidence, abs=1e-5)
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
