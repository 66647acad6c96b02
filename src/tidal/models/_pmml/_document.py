"""Reading a PMML document safely, and refusing anything the evaluator would silently ignore.

The XML is parsed with expat directly: a document type declaration (and so any entity, internal
or external) is refused the moment the parser meets it, before anything is expanded or fetched.
That closes XXE (``<!ENTITY x SYSTEM "file:///etc/passwd">``) and entity-expansion bombs
("billion laughs"). PMML never needs a DTD.

Every element and attribute the evaluator reads is marked as used while the model is compiled;
:func:`refuse_unused` then walks the whole document, and anything left unread that is not known to
be informational (headers, extensions, statistics, importances) is refused, naming it. So a model
is either evaluated in full or refused at load, never served while ignoring part of it.
"""

from __future__ import annotations

import xml.parsers.expat as expat
from collections.abc import Iterator
from typing import Any

from tidal.core._errors import TidalError

#: elements whose whole subtree carries no scoring semantics
INFORMATIONAL_ELEMENTS = frozenset({
    "Header", "Extension", "MiningBuildTask", "ModelStats", "ModelExplanation", "ModelVerification",
    "Annotation", "Timestamp", "Application",
})
#: attributes that describe a model without changing its answers
INFORMATIONAL_ATTRIBUTES = frozenset({
    "algorithmName", "modelName", "displayName", "importance", "splitCharacteristic", "version",
    "numberOfFields", "recordCount", "x-modelVersion", "description", "size",
})


class PmmlUnsupported(TidalError):
    """A PMML document uses an element or attribute value Tidal's evaluator does not implement."""


class PmmlInvalid(TidalError):
    """A PMML document is malformed (bad XML, a missing required attribute, a wrong value)."""


class Element:
    """One XML element, recording which of its attributes and children the evaluator read."""

    __slots__ = ("tag", "attributes", "children", "text", "parent", "used", "used_attributes")

    def __init__(self, tag: str, attributes: dict[str, str], parent: Element | None) -> None:
        self.tag = tag
        self.attributes = attributes
        self.children: list[Element] = []
        self.text = ""
        self.parent = parent
        self.used = False
        self.used_attributes: set[str] = set()

    # -- attributes ---------------------------------------------------------------------------------
    def get(self, name: str, default: str | None = None) -> str | None:
        self.used_attributes.add(name)
        return self.attributes.get(name, default)

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise PmmlInvalid(f"PMML element {self.describe()} lacks the required attribute '{name}'")
        return value

    def number(self, name: str, default: float | None = None) -> float:
        text = self.get(name)
        if text is None:
            if default is None:
                raise PmmlInvalid(f"PMML element {self.describe()} lacks the required attribute '{name}'")
            return default
        try:
            return java_double(text)
        except ValueError:
            raise PmmlInvalid(f"PMML attribute {name}='{text}' of {self.describe()} is not a number") from None

    def choice(self, name: str, default: str, supported: tuple[str, ...]) -> str:
        """An enumerated attribute; a value outside ``supported`` is refused, naming it."""
        value = self.get(name, default) or default
        if value not in supported:
            raise PmmlUnsupported(f"PMML attribute {name}=\"{value}\" of {self.describe()} is not supported "
                                  f"by Tidal's evaluator (supported: {', '.join(supported)})")
        return value

    # -- children -----------------------------------------------------------------------------------
    def use(self) -> Element:
        self.used = True
        return self

    def find(self, tag: str) -> Element | None:
        for child in self.children:
            if child.tag == tag:
                return child.use()
        return None

    def findall(self, tag: str) -> list[Element]:
        return [child.use() for child in self.children if child.tag == tag]

    def element_children(self) -> list[Element]:
        """Children that carry meaning (not Extension), in document order."""
        return [child for child in self.children if child.tag not in INFORMATIONAL_ELEMENTS]

    def describe(self) -> str:
        key = next((f' {name}="{self.attributes[name]}"' for name in ("id", "name", "field", "function")
                    if name in self.attributes), "")
        return f"<{self.tag}{key}>"

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            yield from child.iter()


def java_double(text: str) -> float:
    """A number as Java's ``Double.parseDouble`` reads it (also ``INF``, ``NaN``, a trailing ``d``)."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("inf", "+inf", "infinity", "+infinity"):
        return float("inf")
    if lowered in ("-inf", "-infinity"):
        return float("-inf")
    if lowered == "nan":
        return float("nan")
    if lowered.endswith(("d", "f")) and not lowered.startswith("0x"):
        stripped = stripped[:-1]
    return float(stripped)


class _Builder:
    def __init__(self) -> None:
        self.root: Element | None = None
        self.stack: list[Element] = []
        self.text: list[str] = []

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        self._flush()
        parent = self.stack[-1] if self.stack else None
        element = Element(_local(tag), {_local(key): value for key, value in attributes.items()}, parent)
        if parent is None:
            self.root = element
        else:
            parent.children.append(element)
        self.stack.append(element)

    def end(self, tag: str) -> None:
        self._flush()
        self.stack.pop()

    def data(self, text: str) -> None:
        self.text.append(text)

    def _flush(self) -> None:
        if self.text and self.stack:
            self.stack[-1].text += "".join(self.text)
        self.text = []


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _refuse_dtd(*_: object) -> Any:
    raise PmmlInvalid("the PMML document declares a DTD (<!DOCTYPE ...>); Tidal refuses DTDs and entities "
                      "(they can read local files or expand without bound), and PMML never needs them")


def parse_document(data: bytes, source: str = "the PMML document") -> Element:
    """Parse PMML bytes into :class:`Element` s; a DTD or entity declaration is refused outright."""
    builder = _Builder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise PmmlInvalid(f"{source} is not valid XML: {expat.ErrorString(error.code)} "
                          f"(line {error.lineno}, column {error.offset})") from None
    root = builder.root
    if root is None or root.tag != "PMML":
        raise PmmlInvalid(f"{source} is not a PMML document (its root element is "
                          f"<{root.tag if root is not None else 'nothing'}>, expected <PMML>)")
    root.use()
    return root


def refuse_unused(root: Element) -> None:
    """Refuse the first element or attribute that compiling the model did not read."""
    pending = [root]
    while pending:
        element = pending.pop()
        if element.tag in INFORMATIONAL_ELEMENTS:
            continue
        if not element.used:
            raise PmmlUnsupported(f"PMML element <{element.tag}> is not supported by Tidal's evaluator"
                                  f"{_context(element)}")
        for name, value in element.attributes.items():
            if name in element.used_attributes or name in INFORMATIONAL_ATTRIBUTES or name.startswith("xmlns"):
                continue
            raise PmmlUnsupported(f"PMML attribute {name}=\"{value}\" of {element.describe()} is not supported "
                                  f"by Tidal's evaluator{_context(element)}")
        pending.extend(reversed(element.children))


def _context(element: Element) -> str:
    path: list[str] = []
    parent = element.parent
    while parent is not None and len(path) < 4:
        path.append(parent.describe())
        parent = parent.parent
    return f" (inside {' in '.join(path)})" if path else ""


__all__ = ["Element", "PmmlInvalid", "PmmlUnsupported", "java_double", "parse_document",
           "refuse_unused"]
