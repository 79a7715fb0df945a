# Shared by scripts/run and scripts/test: make (or reuse) the project's virtualenv in .venv
# and install camview into it with the given extras. Only PyPI is needed.
# A set-up says so on stderr (once; a second run prints nothing) and shows pip's own progress
# when stderr is a terminal; in CI and pipes pip stays quiet.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CAMVIEW_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
extras="${1:-}"
stamp="$venv/.camview-installed$extras"
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$root/pyproject.toml" -nt "$stamp" ]]; then
  where="${venv#"$root"/}"
  if [[ ! -x "$venv/bin/python" ]]; then
    # Measured on Linux x86-64 (tensorflow-cpu 2.21): 490 MB of wheels, TensorFlow 274 MB.
    echo "camview: setting up $where (first run only, downloads TensorFlow, Qt and OpenCV" \
      "≈ 500 MB)…" >&2
    "$python" -m venv "$venv"
  elif [[ ! -f "$stamp" ]]; then
    echo "camview: installing camview$extras into $where (first run only)…" >&2
  else
    echo "camview: updating $where (pyproject.toml changed)…" >&2
  fi
  # Not an empty array: bash 3.2 (macOS) calls "${a[@]}" of an empty array unbound.
  pip_output=--quiet
  if [[ -t 2 ]]; then pip_output=--progress-bar=on; fi
  # pip's output goes to stderr with the message above, never into a program's stdout.
  "$venv/bin/python" -m pip install "$pip_output" --disable-pip-version-check --upgrade pip >&2
  # PYTHONWARNINGS: setuptools' notes about editable installs are not for the user.
  PYTHONWARNINGS=ignore "$venv/bin/python" -m pip install "$pip_output" \
    --disable-pip-version-check -e "$root$extras" >&2
  touch "$stamp"
fi
