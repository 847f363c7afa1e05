"""Secrets named in the config file: read from a file or an environment variable, never inline."""

from __future__ import annotations

import os
from pathlib import Path

from monitor.yamlfile import YamlDocument


def read_secret(
    doc: YamlDocument, where: str, entry: dict[str, object], path: Path, prefix: str = "token"
) -> str:
    """The secret ``entry`` names by ``<prefix>_file`` (relative to the config file) or ``<prefix>_env``."""
    file_key, env_key = f"{prefix}_file", f"{prefix}_env"
    if isinstance(entry.get(file_key), str):
        file = Path(str(entry[file_key]))
        file = file if file.is_absolute() else path.parent / file
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise doc.error(
                f"{where}.{file_key}", f"cannot read {file} ({exc.strerror})", "check the path"
            ) from None
        except UnicodeDecodeError:
            raise doc.error(f"{where}.{file_key}", f"{file} is not UTF-8 text", "save it as UTF-8") from None
        except ValueError:  # a NUL or a lone surrogate: no file can have that name
            raise doc.error(
                f"{where}.{file_key}", f"{str(file)!a} cannot be a file name", "check the path"
            ) from None
    if isinstance(entry.get(env_key), str):
        value = os.environ.get(str(entry[env_key]), "").strip()
        if not value:
            raise doc.error(f"{where}.{env_key}", f"${entry[env_key]} is empty or unset", "export it first")
        return value
    raise doc.error(
        where, "no secret", f"set {file_key} (a file holding the secret) or {env_key} (a variable name)"
    )
