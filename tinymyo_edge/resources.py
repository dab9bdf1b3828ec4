"""Where templates/ and gap9_app/ are: in a checkout (repo root) or inside an installed wheel."""

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder `name` ("templates" or "gap9_app") for this installation."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"tinymyo-edge resource folder '{name}' not found next to {_PACKAGE_DIR}")
