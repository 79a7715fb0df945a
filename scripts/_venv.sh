# Shared by scripts/run and scripts/test: make (or reuse) the project's virtualenv in .venv
# and install camview into it with the given extras. Only PyPI is needed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CAMVIEW_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
extras="${1:-}"
if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
stamp="$venv/.camview-installed$extras"
if [[ ! -f "$stamp" || "$root/pyproject.toml" -nt "$stamp" ]]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  # PYTHONWARNINGS: setuptools' notes about editable installs are not for the user.
  PYTHONWARNINGS=ignore "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -e "$root$extras"
  touch "$stamp"
fi
