"""Reading text documents (YAML, JSON) with every decoder failure turned into one line.

Readers of user files call these instead of ``Path.read_text`` / ``yaml.safe_load`` /
``json.loads`` directly, so a file that is missing, a directory, not UTF-8, not valid
YAML or JSON, or nested deeper than the parser's recursion allows is a
:class:`DocumentError` naming the file and the reason, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from infra.errors import UserError


class DocumentError(UserError):
    """A text document that cannot be read or parsed."""


# Specs, spaces and run files are kilobytes; a larger "document" is the wrong file, and
# reading it whole (or a device such as /dev/zero, which never ends) would exhaust memory.
MAX_DOCUMENT_BYTES = 64 * 2**20


def read_text(path: str | Path) -> str:
    """The file's text (UTF-8): a regular file of at most :data:`MAX_DOCUMENT_BYTES`."""
    path = Path(path)
    try:
        if path.exists() and not path.is_file():
            raise DocumentError(f"{path}: not a regular file")
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentError(f"{path}: {size / 2**20:,.0f} MiB is too large for a spec, space or run file "
                                f"(at most {MAX_DOCUMENT_BYTES // 2**20} MiB)")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DocumentError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise DocumentError(f"{path}: cannot read ({error.strerror or error})") from None


def _parse(text: str, source: str, language: str, load, syntax_error: type[Exception]) -> object:
    try:
        return load(text)
    except syntax_error as error:
        raise DocumentError(f"{source}: not valid {language}: {str(error).splitlines()[0]}") from None
    except RecursionError:
        raise DocumentError(f"{source}: not valid {language}: nested too deeply") from None


def parse_yaml(text: str, source: str) -> object:
    """``yaml.safe_load(text)``; ``source`` names the document in the error."""
    return _parse(text, source, "YAML", yaml.safe_load, yaml.YAMLError)


def parse_json(text: str, source: str) -> object:
    """``json.loads(text)``; ``source`` names the document in the error."""
    return _parse(text, source, "JSON", json.loads, json.JSONDecodeError)


def read_yaml(path: str | Path) -> object:
    return parse_yaml(read_text(path), str(path))


def read_json(path: str | Path) -> object:
    return parse_json(read_text(path), str(path))


__all__ = ["DocumentError", "parse_json", "parse_yaml", "read_json", "read_text", "read_yaml"]
