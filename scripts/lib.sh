# Shared by scripts/run and scripts/test: a project virtualenv with pinned packages.
set -euo pipefail

PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$PROJECT_ROOT/.venv"

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Bridgeline needs Python 3.11 or newer." >&2
  return 1
}

# ensure_venv REQUIREMENTS_FILE: create .venv if missing; (re)install when the pins changed.
ensure_venv() {
  local requirements="$PROJECT_ROOT/$1"
  if [ ! -x "$VENV/bin/python" ]; then
    "$(find_python)" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$(basename "$1")"
  local digest
  digest="$(cat "$PROJECT_ROOT"/requirements*.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "Installing $(basename "$1") into .venv ..."
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$digest" > "$stamp"
  fi
}
