"""classroom/z2jh/values.yaml, checked as the Zero to JupyterHub chart 4.4.0 checks values: merged over the
chart's defaults, then validated against its JSON schema. The chart's two files are data kept outside the
project: Z2JH_CHART names their folder (default: ../shared/z2jh-4.4.0 beside this repository)."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from support import ROOT

VALUES = ROOT / "classroom" / "z2jh" / "values.yaml"
CHART = Path(os.environ.get("Z2JH_CHART") or ROOT.parent / "shared" / "z2jh-4.4.0")


def merged(over: dict, under: dict) -> dict:
    """Helm's merge of a values file over the chart's: maps merge key by key, anything else replaces."""
    result = copy.deepcopy(under)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(value, result[key])
        else:
            result[key] = copy.deepcopy(value)
    return result


@pytest.fixture(scope="module")
def chart():
    if not (CHART / "values.schema.json").is_file():
        if os.environ.get("REQUIRE_Z2JH") == "1":
            pytest.fail(f"REQUIRE_Z2JH=1 but the chart's values.yaml and values.schema.json are not in {CHART}")
        pytest.skip(f"the chart's defaults and schema are not in {CHART}; set Z2JH_CHART to their folder")
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = yaml.safe_load((CHART / "values.schema.json").read_text())
    return defaults, jsonschema.Draft7Validator(schema)


def problems(values: dict, chart) -> list[str]:
    defaults, validator = chart
    errors = validator.iter_errors(merged(values, defaults))
    return sorted(f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors)


@pytest.fixture
def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def test_the_classroom_values_pass_the_charts_schema(values, chart):
    assert problems(values, chart) == []


def test_the_values_alone_do_not_pass_so_the_merge_is_what_is_checked(values, chart):
    _, validator = chart
    assert list(validator.iter_errors(values)), "the schema requires keys only the chart's defaults supply"


def test_a_misspelt_key_fails_with_its_path(values, chart):
    storage = values["singleuser"]["storage"]
    storage["capcity"] = storage.pop("capacity")
    found = problems(values, chart)
    assert len(found) == 1 and found[0].startswith("singleuser.storage:"), found
    assert "'capcity' was unexpected" in found[0]


def test_a_value_of_the_wrong_type_fails_with_its_path(values, chart):
    values["singleuser"]["cpu"]["limit"] = "one core"
    assert problems(values, chart) == ["singleuser.cpu.limit: 'one core' is not of type 'number', 'null'"]


def test_the_lab_image_and_the_charts_hub_share_jupyterhubs_minor_version():
    lock = (ROOT / "docker" / "requirements-cpu.lock").read_text()
    hub_lock = (ROOT / "classroom" / "requirements.lock").read_text()
    lab_version = re.search(r"^jupyterhub==(\S+)", lock, re.M).group(1)
    hub_version = re.search(r"^jupyterhub==(\S+)", hub_lock, re.M).group(1)
    assert lab_version.startswith("5.5.") and hub_version.startswith("5.5."), (lab_version, hub_version)


# KubeSpawner's settings that this file sets through hub.config, where the chart's schema does not look: each
# checked by hand against kubespawner/spawner.py of KubeSpawner 7.0.0, the version the chart's hub image pins.
KUBESPAWNER_SETTINGS = {"container_security_context", "pod_security_context", "allow_privilege_escalation"}
# The fields of Kubernetes' SecurityContext (core/v1), the camelCase names container_security_context takes.
SECURITY_CONTEXT = {
    "allowPrivilegeEscalation",
    "appArmorProfile",
    "capabilities",
    "privileged",
    "procMount",
    "readOnlyRootFilesystem",
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "seLinuxOptions",
    "seccompProfile",
    "windowsOptions",
}


def test_the_students_containers_are_hardened_as_on_one_server(values):
    spawner = values["hub"]["config"]["KubeSpawner"]
    assert set(spawner) <= KUBESPAWNER_SETTINGS, set(spawner) - KUBESPAWNER_SETTINGS
    context = spawner["container_security_context"]
    assert set(context) <= SECURITY_CONTEXT, set(context) - SECURITY_CONTEXT
    assert context["capabilities"] == {"drop": ["ALL"]} and context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False and values["singleuser"]["allowPrivilegeEscalation"] is False
    # The read-only root's writable places, in memory: what the Docker classroom mounts as tmpfs.
    storage = values["singleuser"]["storage"]
    in_memory = {v["name"] for v in storage["extraVolumes"] if v["emptyDir"]["medium"] == "Memory"}
    mounts = {m["mountPath"]: m["name"] for m in storage["extraVolumeMounts"]}
    assert mounts == {"/home/student": "home", "/tmp": "tmp"} and set(mounts.values()) == in_memory
    config = (ROOT / "classroom" / "jupyterhub_config.py").read_text()
    for name, value in values["singleuser"]["extraEnv"].items():
        if name != "LAB_LANG":  # the class's language: the hub's LAB_LANG knob
            assert re.search(rf'"{name}": (env\("CLASSROOM_\w+", )?"{re.escape(value)}"', config), name
