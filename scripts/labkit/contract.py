"""What every part of the lab must agree on, stated once: the host commands, the image, the runner,
the lessons and the classroom read these names.

Standard library only, no imports at all: the student's host (Python 3.9) and the image both import it.
Files that are not Python (compose.yaml, the Dockerfile, start-lab.sh, the hub's config, the z2jh
values, the Makefile) repeat some of these values; tests/unit/test_contract.py checks every copy.
"""

# ---- the course -----------------------------------------------------------------------------
LANGUAGES = ("zh", "en")  # the first is the default: the course is Chinese
DEFAULT_LANG = LANGUAGES[0]
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
PROFILES = ("quick", "full")  # the parameter sets every lesson declares

# ---- what a lesson notebook declares (its metadata, its tagged cells, its outputs) -----------
METADATA_KEY = "pytorch_lab"
METRICS_MIME = "application/vnd.pytorch-lab.metrics+json"
PARAMETERS_TAG = "parameters"  # papermill's convention
RAISES_TAG = "raises-exception"  # a cell that errs on purpose
EXERCISE_TAG = "exercise"
CHECK_TAG = "check"

# ---- the image -------------------------------------------------------------------------------
VARIANTS = ("cpu", "cuda")  # the first is the default
IMAGE_REPOSITORY = "pytorch-lab"
HUB_IMAGE = "pytorch-lab-hub:latest"
CUDA_PLATFORM = "linux/amd64"  # the only platform torch's CUDA wheels exist for
# PyTorch's own index of CPU-only wheels: a connected build takes torch from it (docker/Dockerfile).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
INPUTS_LABEL = "pytorch-lab.inputs"  # on every image the host commands build: what it was built from
DEFAULT_UID = 1000  # the image's own user, where nothing else is asked for (the z2jh values use it)
WORKSPACE = "/home/student/work"  # the student's work, inside the container
LESSONS_DIR = "/opt/lab/notebooks"  # the course's lessons, inside the image (LESSONS_ENV names it)
IMAGE_VENV = "/opt/venv"  # the image's locked environment
CONSTRAINTS = "/opt/lab/constraints.txt"  # the lock's versions without hashes: what a student's pip may not change

# ---- the workspace: what the lab keeps there beside the student's own files -------------------------
LAB_FOLDER = ".lab"  # hidden in the file browser
PACKAGES = ".lab/packages"  # the packages a student adds: a virtual environment over the image's
LESSON_RECORD = ".lab/lessons.json"  # which lesson was copied when, in which language, from which version

# ---- the running lab ---------------------------------------------------------------------------
LAB_PORT = 8888
HUB_PORT = 8000
PROJECT = "pytorch-lab"  # Compose's project name of `make up`
CLASSROOM_PROJECT = "pytorch-lab-classroom"
CLASSROOM_LABEL = "pytorch-lab.classroom"  # on every student container the hub starts
WAIT_SECONDS = 180  # the longest a host command waits for a lab or a hub to answer

# ---- environment variables that cross from one side to the other --------------------------------
LESSONS_ENV = "LAB_LESSONS_DIR"  # where the image keeps the lessons
WARM_ENV = "LAB_WARM_KERNELS"  # 0 spawns every kernel instead of forking it (labkit.warm)
TORCH_INDEX_ENV = "LAB_TORCH_INDEX"  # where a student's pip finds torchvision's CPU build (default TORCH_CPU_INDEX)
START_LOG_PREFIX = "start-lab:"  # the lab's start writes its lines with it; `make up` repeats them
GRADE_LINE_PREFIX = "pytorch-lab-grade:"  # each lesson's verdicts, as labkit.grade prints them for the host


def image_name(variant: str) -> str:
    """The tag the host commands build a variant's image under."""
    return f"{IMAGE_REPOSITORY}:{variant}"
