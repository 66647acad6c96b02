"""The one YAML loader every Tidal file goes through: safe types, and limits a hostile file cannot pass.

``yaml.safe_load`` refuses Python objects, but not a 1 KB alias bomb that expands to gigabytes,
a 20,000-deep nesting that ends in ``RecursionError``, or a 50 MB file parsed for a minute. This
loader checks, in this order and before building anything big:

- size: at most ``max_bytes`` (10 MB by default; ``TIDAL_YAML_MAX_BYTES`` or an argument raises
  it). A file is measured with ``stat`` and read no further than the limit;
- text: no NUL byte (a binary file, or UTF-16), valid UTF-8 (the offset of the first bad byte is
  named); a UTF-8 byte order mark is accepted;
- nesting: at most ``max_depth`` levels of lists and mappings (100);
- values: at most ``max_nodes`` scalars, lists and mappings (250,000; 10 MB of ``[1,1,1,...]``
  would otherwise take gigabytes of memory);
- aliases: no recursive alias, and at most ``max_alias_nodes`` nodes produced by expanding
  aliases (100,000), which stops "billion laughs" while composing, before anything is expanded.

Every refusal is a :class:`YamlError` (a :class:`TidalError`) whose message is one line naming
the file and the problem. Scanning runs in libyaml's C parser when PyYAML was built with it;
composing (where the limits are counted) runs in Python over its events.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import Node
from yaml.resolver import Resolver

from tidal.core._errors import TidalError

#: environment variable that raises (or lowers) the size limit, in bytes
MAX_BYTES_ENV = "TIDAL_YAML_MAX_BYTES"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_DEPTH = 100
DEFAULT_MAX_ALIAS_NODES = 100_000
DEFAULT_MAX_NODES = 250_000

try:  # libyaml's scanner and parser, when PyYAML was built with it
    from yaml._yaml import CParser as _Parser  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml.parser import Parser as _PyParser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, _PyParser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            _PyParser.__init__(self)


class YamlError(TidalError):
    """A YAML file or text that is refused: too large, binary, not UTF-8, too deep, an alias bomb, or not valid YAML.

    ``code`` says which: ``too_large``, ``binary``, ``not_utf8``, ``too_deep``, ``too_many_nodes``,
    ``aliases``, ``syntax``, ``unreadable``.
    """

    def __init__(self, message: str, *, code: str, source: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.source = source


@dataclass(frozen=True)
class YamlLimits:
    """How much a YAML document may hold. ``max_bytes=None`` reads ``TIDAL_YAML_MAX_BYTES`` (default 10 MB)."""

    max_bytes: int | None = None
    max_depth: int = DEFAULT_MAX_DEPTH
    max_alias_nodes: int = DEFAULT_MAX_ALIAS_NODES
    max_nodes: int = DEFAULT_MAX_NODES

    @property
    def size_limit(self) -> int:
        if self.max_bytes is not None:
            return self.max_bytes
        raw = os.environ.get(MAX_BYTES_ENV, "").strip()
        if not raw:
            return DEFAULT_MAX_BYTES
        try:
            return int(raw)
        except ValueError:
            raise TidalError(f"{MAX_BYTES_ENV}={raw!r} is not a number of bytes; set it to e.g. 52428800 (50 MB)") from None


class _Refused(Exception):
    def __init__(self, code: str, message: str, node: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.mark = getattr(node, "start_mark", None)


class _LimitedComposer(Composer):
    """PyYAML's composer, counting nesting depth and alias expansion as it goes."""

    limits: YamlLimits

    def _setup_limits(self, limits: YamlLimits) -> None:
        self.limits = limits
        self.depth = 0
        self.nodes = 0
        self.alias_nodes = 0
        self.sizes: dict[int, int] = {}  # id(node) -> nodes it stands for once aliases are expanded

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        me: Any = self  # the parser and resolver methods come from the loader's other bases
        if me.check_event(AliasEvent):
            event = me.get_event()
            anchor = event.anchor
            if anchor not in self.anchors:
                raise yaml.composer.ComposerError(None, None, f"found undefined alias {anchor!r}", event.start_mark)
            target: Node = self.anchors[anchor]
            size = self.sizes.get(id(target))
            if size is None:
                raise _Refused("aliases", f"alias *{anchor} refers to a node that contains it (a recursive alias)", event)
            self.alias_nodes += size
            if self.alias_nodes > self.limits.max_alias_nodes:
                raise _Refused(
                    "aliases",
                    f"aliases expand to more than {self.limits.max_alias_nodes:,} nodes (an alias bomb, or 'billion laughs')",
                    event,
                )
            return target
        event = me.peek_event()
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            raise yaml.composer.ComposerError(
                f"found duplicate anchor {anchor!r}; first occurrence", self.anchors[anchor].start_mark,
                "second occurrence", event.start_mark,
            )
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise _Refused("too_many_nodes", f"holds more than {self.limits.max_nodes:,} values (scalars, lists and mappings)", event)
        me.descend_resolver(parent, index)
        node: Node
        if me.check_event(ScalarEvent):
            node = self.compose_scalar_node(anchor)
            self.sizes[id(node)] = 1
        else:
            self.depth += 1
            if self.depth > self.limits.max_depth:
                raise _Refused("too_deep", f"nested more than {self.limits.max_depth} levels deep", event)
            if me.check_event(SequenceStartEvent):
                node = self.compose_sequence_node(anchor)
                self.sizes[id(node)] = 1 + sum(self.sizes[id(item)] for item in node.value)
            elif me.check_event(MappingStartEvent):
                node = self.compose_mapping_node(anchor)
                self.sizes[id(node)] = 1 + sum(self.sizes[id(key)] + self.sizes[id(value)] for key, value in node.value)
            else:  # pragma: no cover - the parser emits nothing else here
                raise yaml.composer.ComposerError(None, None, "unexpected event", event.start_mark)
            self.depth -= 1
        me.ascend_resolver()
        return node


def _refuse_binary(loader: Any, node: Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, "binary values (!!binary) are not accepted; write text instead", node.start_mark
    )


class _Loader(_LimitedComposer, _Parser, SafeConstructor, Resolver):  # type: ignore[misc, valid-type]
    """libyaml's parser (or PyYAML's), the counting composer, the safe constructor (bytes refused:
    no JSON answer or form can carry them)."""

    def __init__(self, text: str, limits: YamlLimits) -> None:
        _Parser.__init__(self, text)
        _LimitedComposer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._setup_limits(limits)


_Loader.add_constructor("tag:yaml.org,2002:binary", _refuse_binary)


def _where(source: str | os.PathLike[str] | None) -> str:
    return f"{source}: " if source is not None else "YAML text: "


def _check_bytes(data: bytes, source: Any, limit: int) -> str:
    where = _where(source)
    if len(data) > limit:
        raise YamlError(f"{where}{_too_large(len(data), limit)}", code="too_large", source=_name(source))
    nul = data.find(b"\x00")
    if nul >= 0:
        raise YamlError(
            f"{where}binary content (a NUL byte at byte offset {nul}); a YAML file is UTF-8 text "
            "(save UTF-16 files as UTF-8)", code="binary", source=_name(source),
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise YamlError(
            f"{where}not UTF-8 text (byte 0x{data[error.start]:02x} at byte offset {error.start} cannot be decoded); "
            "save the file as UTF-8", code="not_utf8", source=_name(source),
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def _too_large(size: int | str, limit: int) -> str:
    shown = f"{size:,} bytes" if isinstance(size, int) else size
    return f"too large ({shown}; the limit is {limit:,} bytes, raise it with {MAX_BYTES_ENV})"


def _name(source: Any) -> str | None:
    return None if source is None else str(source)


def read_yaml_text(
    path: str | os.PathLike[str], *, limits: YamlLimits | None = None, source: str | None = None
) -> str:
    """The text of a YAML file, checked for size (before reading), binary content and UTF-8.

    Raises :class:`YamlError` naming the file (``source``, default the path); a missing or
    unreadable file is ``code="unreadable"``.
    """
    limit = (limits or YamlLimits()).size_limit
    file = Path(path)
    shown = source if source is not None else str(file)
    try:
        if not stat.S_ISREG(os.stat(file).st_mode):  # a FIFO would block, a device never end
            kind = "folder" if file.is_dir() else "special file (a pipe or a device)"
            raise YamlError(f"{shown}: is a {kind}, not a YAML file", code="unreadable", source=shown)
        with open(file, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > limit:
                raise YamlError(f"{shown}: {_too_large(size, limit)}", code="too_large", source=shown)
            data = stream.read(limit + 1)
    except YamlError:
        raise
    except OSError as error:
        raise YamlError(f"{shown}: cannot be read ({error.strerror or error})", code="unreadable", source=shown) from None
    if len(data) > limit:  # grew while we read, or a special file that reports no size
        raise YamlError(f"{shown}: {_too_large(f'more than {limit:,} bytes', limit)}", code="too_large", source=shown)
    return _check_bytes(data, shown, limit)


def load_yaml(
    text: str | bytes, *, source: str | os.PathLike[str] | None = None, limits: YamlLimits | None = None
) -> Any:
    """Parse one YAML document with the safe types (mappings, lists, strings, numbers, booleans, null, dates).

    ``source`` names the file in error messages. Raises :class:`YamlError` for a document over the
    limits (see :class:`YamlLimits`) or one that is not valid YAML.
    """
    chosen = limits or YamlLimits()
    limit = chosen.size_limit
    if isinstance(text, bytes):
        text = _check_bytes(text, source, limit)
    else:
        if len(text) > limit or len(text.encode("utf-8", "surrogatepass")) > limit:
            raise YamlError(f"{_where(source)}{_too_large(len(text.encode('utf-8', 'surrogatepass')), limit)}",
                            code="too_large", source=_name(source))
        if "\x00" in text:
            raise YamlError(f"{_where(source)}binary content (a NUL character at offset {text.index(chr(0))})",
                            code="binary", source=_name(source))
    loader = _Loader(text, chosen)
    try:
        return loader.get_single_data()
    except _Refused as refused:
        raise YamlError(f"{_where(source)}{refused}{_line(refused.mark)}", code=refused.code, source=_name(source)) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = " ".join((getattr(error, "problem", None) or str(error)).split())
        if "nesting depth" in problem:  # libyaml stops flow collections nested 1,000 deep itself
            raise YamlError(f"{_where(source)}nested more than {chosen.max_depth} levels deep{_line(mark)}",
                            code="too_deep", source=_name(source)) from None
        raise YamlError(f"{_where(source)}not valid YAML{_line(mark)}: {problem}", code="syntax", source=_name(source)) from None
    except RecursionError:  # a constructor recursing on a shape the depth limit let through
        raise YamlError(f"{_where(source)}nested too deeply to read", code="too_deep", source=_name(source)) from None
    finally:
        loader.dispose()


def _line(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def load_yaml_file(path: str | os.PathLike[str], *, limits: YamlLimits | None = None, source: str | None = None) -> Any:
    """:func:`read_yaml_text` then :func:`load_yaml`: one YAML file, checked, parsed; errors name the file."""
    shown = source if source is not None else str(path)
    return load_yaml(read_yaml_text(path, limits=limits, source=shown), source=shown, limits=limits)


def check_nesting(value: Any, *, source: str, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Raise :class:`YamlError` (``too_deep``) when lists and mappings in ``value`` nest deeper than ``max_depth``.

    For data that did not come through :func:`load_yaml` (a JSON request body) before it is
    dumped, copied or walked recursively. Iterative: it cannot itself run out of stack.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth + 1 > max_depth:
            raise YamlError(f"{source}: nested more than {max_depth} levels deep", code="too_deep", source=source)
        stack.extend((child, depth + 1) for child in children)
