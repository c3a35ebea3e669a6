"""Twilio lives in one package: only backend/twilio imports the SDK; TwiML is built by the SDK's classes."""

from __future__ import annotations

import ast
from pathlib import Path
from xml.etree import ElementTree

from backend.twilio.twiml import messaging_document

ROOT = Path(__file__).resolve().parents[2]


def imports_twilio(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
        if any(name == "twilio" or name.startswith("twilio.") for name in names):
            return True
    return False


def test_only_the_twilio_package_imports_the_sdk():
    importers = {str(p.relative_to(ROOT)) for folder in ("backend", "admin") for p in (ROOT / folder).rglob("*.py")
                 if imports_twilio(p)}
    assert importers and all(name.startswith("backend/twilio/") for name in importers), importers


def test_messaging_documents_are_well_formed_and_escape_the_reply():
    assert ElementTree.fromstring(messaging_document()).tag == "Response"
    root = ElementTree.fromstring(messaging_document("Call <us> & we'll talk"))
    assert [(child.tag, child.text) for child in root] == [("Message", "Call <us> & we'll talk")]
