"""Netplan: /etc/netplan/*.yaml (``network: ethernets: ...``).

Files are edited as text at the positions PyYAML's composer reports, so
comments, key order and indentation survive; after each change the text is
composed again. Flow-style (``{...}``) interface mappings are left alone
with a note.

An interface is known by ``set-name``, else its id; ``match: macaddress``
binds it to a MAC (netplan then names it itself through a generated .link),
a bare id needs the kernel/udev name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..edits import StaticAddress
from ._interfaces import NicMap, SourceInterface, normal_mac
from ._text import lines_of, rewrite_line
from ._workspace import Scope

GLOB = "/etc/netplan/*.yaml"


def _compose(text: str) -> Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def _get(node: Node | None, key: str) -> tuple[ScalarNode, Node] | None:
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k, v
    return None


def _scalar(node: Node | None, key: str) -> ScalarNode | None:
    hit = _get(node, key)
    return hit[1] if hit and isinstance(hit[1], ScalarNode) else None


def _ethernets(root: Node | None) -> Iterator[tuple[ScalarNode, Node]]:
    network = _get(root, "network")
    eths = _get(network[1] if network else None, "ethernets")
    if eths and isinstance(eths[1], MappingNode):
        yield from eths[1].value


def _name(key: ScalarNode, iface: Node) -> str:
    set_name = _scalar(iface, "set-name")
    return str(set_name.value) if set_name else str(key.value)


def discover(scope: Scope) -> list[SourceInterface]:
    found = []
    for path in scope.glob(GLOB):
        for key, iface in _ethernets(_compose(scope.read(path) or "")):
            match = _get(iface, "match")
            mac = _scalar(match[1] if match else None, "macaddress")
            found.append(
                SourceInterface(
                    _name(key, iface),
                    "netplan",
                    path,
                    mac=normal_mac(mac.value) if mac else None,
                    by_name=match is None,
                )
            )
    return found


def cloud_init_generated(text: str) -> bool:
    return "generated from information provided by the datasource" in text


def _last_line(node: Node) -> int:
    if isinstance(node, MappingNode):
        return max([node.start_mark.line, *(_last_line(v) for _k, v in node.value)])
    if isinstance(node, SequenceNode):
        return max([node.start_mark.line, *(_last_line(v) for v in node.value)])
    end = node.end_mark
    return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line


def _replace_scalar(text: str, node: ScalarNode, new: str, *, was: bool) -> str:
    lines = lines_of(text)
    i = node.start_mark.line
    line = lines[i]
    start, end = node.start_mark.column, node.end_mark.column
    quote = line[start] if line[start] in "\"'" else ""
    new_line = line[:start] + quote + new + quote + line[end:]
    if was:
        rewrite_line(lines, i, new_line)
    else:
        lines[i] = new_line
    return "".join(lines)


def _delete(text: str, first: int, last: int) -> str:
    lines = lines_of(text)
    del lines[first : last + 1]
    return "".join(lines)


def _insert(text: str, at: int, block: list[str]) -> str:
    lines = lines_of(text)
    if at > 0 and at <= len(lines) and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    lines[at:at] = block
    return "".join(lines)


def fix_macs(scope: Scope, nics: NicMap, reason: str) -> None:
    for path in scope.glob(GLOB):
        text = scope.read(path) or ""
        for _round in range(100):
            changed = False
            for key, iface in _ethernets(_compose(text)):
                match = _get(iface, "match")
                nodes = (_scalar(match[1] if match else None, "macaddress"), _scalar(iface, "macaddress"))
                for node in nodes:
                    if node is None:
                        continue
                    new = nics.replacement(_name(key, iface), node.value)
                    if new and normal_mac(node.value) != new:
                        text = _replace_scalar(text, node, new, was=True)
                        changed = True
                        break
                if changed:
                    break
            if not changed:
                break
        scope.write(path, text, reason)


def _find(text: str, name: str) -> tuple[ScalarNode, MappingNode] | None:
    for key, iface in _ethernets(_compose(text)):
        if isinstance(iface, MappingNode) and name in (_name(key, iface), key.value):
            return key, iface
    return None


def set_static(scope: Scope, name: str, static: StaticAddress, reason: str) -> list[str]:
    """Paths changed (absolute); other strings are notes."""
    for path in scope.glob(GLOB):
        text = scope.read(path) or ""
        found = _find(text, name)
        if found is None:
            continue
        if found[1].flow_style:
            return [f"{name} in {path} is written in flow style; address not changed"]
        scope.write(path, _static(text, name, static), reason)
        return [path]
    return []


def _default(family: int) -> set[str]:
    return {"default", "0.0.0.0/0"} if family == 4 else {"default", "::/0"}


def _static(text: str, name: str, static: StaticAddress) -> str:
    iface_addr = ipaddress.ip_interface(static.address)
    family = iface_addr.version

    def current() -> tuple[ScalarNode, MappingNode]:
        found = _find(text, name)
        assert found is not None
        return found

    dhcp = _scalar(current()[1], f"dhcp{family}")
    if dhcp is not None and str(dhcp.value).lower() not in ("false", "no", "off", "n"):
        text = _replace_scalar(text, dhcp, "false", was=False)
    hit = _get(current()[1], f"gateway{family}")
    if hit:
        text = _delete(text, hit[0].start_mark.line, _last_line(hit[1]))
    kept: list[str] = []
    hit = _get(current()[1], "addresses")
    if hit:
        for item in hit[1].value if isinstance(hit[1], SequenceNode) else []:
            value = str(getattr(item, "value", ""))
            try:
                other = ipaddress.ip_interface(value).version != family
            except ValueError:
                other = True
            if other and isinstance(item, ScalarNode):
                kept.append(value)
        text = _delete(text, hit[0].start_mark.line, _last_line(hit[1]))
    search: list[str] = []
    hit = _get(current()[1], "nameservers")
    if hit and static.dns:
        found = _get(hit[1], "search")
        if found and isinstance(found[1], SequenceNode):
            search = [str(i.value) for i in found[1].value if isinstance(i, ScalarNode)]
        text = _delete(text, hit[0].start_mark.line, _last_line(hit[1]))
    text = _routes(text, name, family, static.gateway)
    key, iface = current()
    col = iface.value[0][0].start_mark.column if iface.value else key.start_mark.column + 4
    unit = max(2, col - key.start_mark.column)
    pad, sub = " " * col, " " * (col + unit)
    block = [f"{pad}addresses:\n", *(f"{sub}- {a}\n" for a in [*kept, str(iface_addr)])]
    if static.gateway and _get(iface, "routes") is None:
        block += [
            f"{pad}routes:\n",
            f"{sub}- to: {'0.0.0.0/0' if family == 4 else '::/0'}\n",
            f"{sub}  via: {static.gateway}\n",
        ]
    if static.dns:
        subsub = " " * (col + 2 * unit)
        block += [f"{pad}nameservers:\n", f"{sub}addresses:\n", *(f"{subsub}- {d}\n" for d in static.dns)]
        if search:
            block += [f"{sub}search:\n", *(f"{subsub}- {s}\n" for s in search)]
    return _insert(text, _last_line(iface) + 1, block)


def _routes(text: str, name: str, family: int, gateway: str | None) -> str:
    """Default routes of ``family`` go; with a gateway, one is appended to a
    remaining ``routes`` list (a new list is written by the caller)."""
    found = _find(text, name)
    hit = _get(found[1] if found else None, "routes")
    if hit is None or not isinstance(hit[1], SequenceNode):
        return text
    items = hit[1].value
    doomed = [
        i
        for i, item in enumerate(items)
        if str(getattr(_scalar(item, "to"), "value", "")) in _default(family)
    ]
    if len(doomed) == len(items):
        return _delete(text, hit[0].start_mark.line, _last_line(hit[1]))
    for i in reversed(doomed):
        first = items[i].start_mark.line
        last = items[i + 1].start_mark.line - 1 if i + 1 < len(items) else _last_line(items[i])
        text = _delete(text, first, last)
    if gateway:
        found = _find(text, name)
        hit = _get(found[1] if found else None, "routes")
        assert hit is not None and isinstance(hit[1], SequenceNode)
        last_item = hit[1].value[-1]
        line = lines_of(text)[last_item.start_mark.line]
        dash = line.rfind("-", 0, last_item.start_mark.column + 1)
        pad = " " * max(dash, 0)
        block = [f"{pad}- to: {'0.0.0.0/0' if family == 4 else '::/0'}\n", f"{pad}  via: {gateway}\n"]
        text = _insert(text, _last_line(hit[1]) + 1, block)
    return text
