"""Static checks on the trainer and serving images: pins agree, non-root, the documented commands."""

import json
import re
from pathlib import Path

import pytest

IMAGES = Path(__file__).resolve().parents[2] / "images"


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;]+)", line)
        assert match, f"{path.name}: '{line}' is not pinned with =="
        out[match.group(1).lower()] = match.group(3)
    return out


def dockerfile_instructions(path: Path) -> dict[str, list[str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.setdefault(word.upper(), []).append(rest.strip())
    return found


def test_trainer_pins_direct_deps_and_matches_tracking_server_mlflow():
    trainer = pins(IMAGES / "trainer" / "requirements.txt")
    assert set(trainer) == {"mlflow-skinny", "scikit-learn", "pandas", "boto3", "numpy", "cloudpickle", "cryptography", "python-dateutil"}
    server_file = IMAGES / "mlflow" / "requirements.txt"
    if not server_file.exists():
        pytest.skip("images/mlflow/requirements.txt not present")
    server = pins(server_file)
    assert trainer["mlflow-skinny"] == server["mlflow-skinny"]
    if "boto3" in server:
        assert trainer["boto3"] == server["boto3"]


def test_tracking_server_ui_comes_from_the_mlflow_wheel_of_the_same_version():
    server = pins(IMAGES / "mlflow" / "requirements.txt")
    ui = (IMAGES / "mlflow" / "ui-requirements.txt").read_text()
    match = re.search(r"^mlflow==([^\s]+) --hash=sha256:[0-9a-f]{64}$", ui, re.M)
    assert match, "ui-requirements.txt pins the mlflow wheel with its sha256"
    assert match.group(1) == server["mlflow-skinny"]


def test_serving_pins_the_trainers_model_stack():
    trainer = pins(IMAGES / "trainer" / "requirements.txt")
    serving = pins(IMAGES / "serving" / "requirements.txt")
    for pkg in ("mlflow-skinny", "scikit-learn", "pandas", "numpy", "cloudpickle", "cryptography", "python-dateutil"):
        assert serving[pkg] == trainer[pkg], pkg


@pytest.mark.parametrize("image", ["trainer", "serving"])
def test_images_are_non_root_on_pinned_python_311(image):
    ins = dockerfile_instructions(IMAGES / image / "Dockerfile")
    [base] = ins["FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?", base), base
    assert ins["USER"][-1] == "10001:10001"


def test_trainer_entrypoint_and_layout():
    ins = dockerfile_instructions(IMAGES / "trainer" / "Dockerfile")
    assert ins["WORKDIR"] == ["/app"]
    assert json.loads(ins["ENTRYPOINT"][-1]) == ["python", "/app/train.py"]
    assert "src/ /app/src/" in ins["COPY"], ins["COPY"]
    # every script of images/trainer goes to /app: the batch inference and promotion templates run the
    # same image with their own command (python /app/batch_predict.py, python /app/promote.py)
    assert "*.py /app/" in ins["COPY"], ins["COPY"]
    for script in ("train.py", "batch_predict.py", "promote.py"):
        assert (IMAGES / "trainer" / script).is_file(), script


def test_serving_command_is_the_verified_scoring_server_command():
    ins = dockerfile_instructions(IMAGES / "serving" / "Dockerfile")
    assert json.loads(ins["CMD"][-1]) == [
        "python", "/opt/serving/scoring_server.py", "--model", "/mnt/models", "--host", "0.0.0.0", "--port", "8080"
    ]
    assert "scoring_server.py /opt/serving/scoring_server.py" in ins["COPY"], ins["COPY"]
