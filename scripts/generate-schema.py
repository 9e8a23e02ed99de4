#!/usr/bin/env python3
"""Generates Sources/WatchCacheSchema/Generated/BuiltinSchema+Data.swift.

The schema of the built-in kinds is extracted from the published Kubernetes API at one tag:

* the protobuf definitions (`generated.proto`) give every message's fields: protobuf number,
  value type, whether the field repeats or is a string-keyed map;
* the Go definitions (`types.go` and friends) give what the wire JSON and strategic merge patch
  need on top: the JSON name, `omitempty`, `patchStrategy`, `patchMergeKey`, the `+listType` and
  `+listMapKey` markers, `+optional`/`+required`, whether `TypeMeta` is embedded, and fields
  inlined into their parent's JSON (`json:",inline"`).

Go fields and protobuf fields are joined by protobuf number (the Go tag `protobuf:"bytes,2,..."`).

The repositories are read as bare git mirrors (`git show TAG:PATH`), so nothing is checked out.
Python 3 standard library only.

Usage:
    scripts/generate-schema.py [--api DIR] [--apimachinery DIR] [--tag TAG] [--out PATH]
"""

import argparse
import json
import os
import re
import subprocess
import sys

DEFAULT_API = "/work/.mirror/kubernetes+api/repo"
DEFAULT_APIMACHINERY = "/work/.mirror/kubernetes+apimachinery/repo"
DEFAULT_TAG = "v0.32.9"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                           "Sources", "WatchCacheSchema", "Generated", "BuiltinSchema+Data.swift")

# Messages with their own JSON form: fields name them, but they are not described as types.
SPECIAL_TYPES = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Duration",
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
}

SCALARS = {
    "string": "string", "bool": "bool", "bytes": "bytes", "double": "double", "float": "float",
    "int32": "int32", "uint32": "int32", "sint32": "int32", "fixed32": "int32", "sfixed32": "int32",
    "int64": "int64", "uint64": "int64", "sint64": "int64", "fixed64": "int64", "sfixed64": "int64",
}

CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."

ROOTS = [CORE + n for n in (
    "Pod", "PodList", "ConfigMap", "ConfigMapList", "Secret", "SecretList", "Service", "ServiceList",
    "Endpoints", "EndpointsList", "Event", "EventList", "Node", "NodeList", "Namespace", "NamespaceList",
    "Binding")] + [APPS + n for n in (
    "Deployment", "DeploymentList", "ReplicaSet", "ReplicaSetList", "StatefulSet", "StatefulSetList",
    "DaemonSet", "DaemonSetList")] + [
    "io.k8s.api.autoscaling.v1.Scale",
] + [META + n for n in ("Status", "WatchEvent", "DeleteOptions", "ListMeta")]

# The served kinds: (group, version, kind, plural, namespaced, status, scale). `namespaced`, `status`
# and `scale` are also derived from the sources (the `+genclient:nonNamespaced` marker, a `status`
# field, a `+genclient:method=GetScale` marker) and the two must agree.
KINDS = [
    ("", "v1", "Pod", "pods", True, True, False),
    ("", "v1", "ConfigMap", "configmaps", True, False, False),
    ("", "v1", "Secret", "secrets", True, False, False),
    ("", "v1", "Service", "services", True, True, False),
    ("", "v1", "Endpoints", "endpoints", True, False, False),
    ("", "v1", "Event", "events", True, False, False),
    ("", "v1", "Node", "nodes", False, True, False),
    ("", "v1", "Namespace", "namespaces", False, True, False),
    ("apps", "v1", "Deployment", "deployments", True, True, True),
    ("apps", "v1", "ReplicaSet", "replicasets", True, True, True),
    ("apps", "v1", "StatefulSet", "statefulsets", True, True, True),
    ("apps", "v1", "DaemonSet", "daemonsets", True, True, False),
]

WARNINGS = []


def warn(message):
    WARNINGS.append(message)


class Fail(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Reading the mirrors


class Repo:
    def __init__(self, git_dir, tag):
        self.git_dir = git_dir
        self.tag = tag

    def _git(self, *args):
        result = subprocess.run(["git", "-C", self.git_dir] + list(args), capture_output=True)
        if result.returncode != 0:
            raise Fail("git %s failed in %s: %s" % (" ".join(args), self.git_dir,
                                                    result.stderr.decode(errors="replace").strip()))
        return result.stdout.decode("utf-8")

    def show(self, path):
        return self._git("show", "%s:%s" % (self.tag, path))

    def list_dir(self, path):
        out = self._git("ls-tree", "--name-only", self.tag, path.rstrip("/") + "/")
        return [line for line in out.splitlines() if line]


def schema_name(proto_name):
    """`k8s.io.api.core.v1.Pod` -> `io.k8s.api.core.v1.Pod`."""
    if proto_name.startswith("k8s.io."):
        return "io.k8s." + proto_name[len("k8s.io."):]
    return proto_name


def split_type_name(name):
    package, _, short = name.rpartition(".")
    return package, short


class Sources:
    """The proto and Go definitions of the packages, loaded on first use."""

    def __init__(self, api, apimachinery):
        self.api = api
        self.apimachinery = apimachinery
        self.protos = {}   # schema package -> {message: [proto field]}
        self.gos = {}      # schema package -> {struct: GoStruct}

    def locate(self, package):
        """The repository and directory of a schema package (`io.k8s.api.core.v1`)."""
        if package.startswith("io.k8s.api."):
            return self.api, package[len("io.k8s.api."):].replace(".", "/")
        if package.startswith("io.k8s.apimachinery."):
            return self.apimachinery, package[len("io.k8s.apimachinery."):].replace(".", "/")
        raise Fail("no repository holds package %s" % package)

    def proto(self, package):
        if package not in self.protos:
            repo, directory = self.locate(package)
            self.protos[package] = parse_proto(repo.show(directory + "/generated.proto"), package)
        return self.protos[package]

    def go(self, package):
        if package not in self.gos:
            repo, directory = self.locate(package)
            structs = {}
            for path in repo.list_dir(directory):
                base = path.rsplit("/", 1)[-1]
                if (not base.endswith(".go") or base.endswith("_test.go") or base.startswith("zz_generated")
                        or base.endswith(".pb.go") or base.endswith("_generated.go")):
                    continue
                for struct in parse_go(repo.show(path)):
                    if struct.name in structs:
                        raise Fail("Go struct %s is defined twice in %s" % (struct.name, package))
                    structs[struct.name] = struct
            self.gos[package] = structs
        return self.gos[package]


# ---------------------------------------------------------------------------------------------
# Protobuf definitions


class ProtoField:
    def __init__(self, name, number, type_name, repeated, is_map):
        self.name = name
        self.number = number
        self.type = type_name
        self.repeated = repeated
        self.is_map = is_map


PROTO_FIELD = re.compile(r"^(?:(optional|repeated|required)\s+)?([.\w]+)\s+(\w+)\s*=\s*(\d+)\s*(?:\[[^\]]*\])?\s*;$")
PROTO_MAP_FIELD = re.compile(r"^map\s*<\s*([.\w]+)\s*,\s*([.\w]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*(?:\[[^\]]*\])?\s*;$")


def strip_proto_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def parse_proto(text, package):
    """Top-level messages of a generated.proto: {name: [ProtoField]} with resolved type names."""
    text = strip_proto_comments(text)
    match = re.search(r"^\s*package\s+([\w.]+)\s*;", text, flags=re.M)
    if not match or schema_name(match.group(1)) != package:
        raise Fail("generated.proto of %s declares package %s" % (package, match and match.group(1)))

    def resolve(type_name):
        if type_name in SCALARS:
            return SCALARS[type_name]
        if type_name.startswith("."):
            return schema_name(type_name[1:])
        if "." in type_name:
            raise Fail("relative qualified proto type %s in %s is not supported" % (type_name, package))
        return package + "." + type_name

    messages = {}
    current = None
    depth = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if depth == 0:
            m = re.match(r"^message\s+(\w+)\s*\{$", line)
            if m:
                current = m.group(1)
                if current in messages:
                    raise Fail("message %s.%s is defined twice" % (package, current))
                messages[current] = []
                depth = 1
                continue
            if re.match(r"^(syntax|package|import|option)\b", line):
                continue
            raise Fail("unexpected top-level proto line in %s: %r" % (package, line))
        if line == "}":
            depth -= 1
            if depth == 0:
                current = None
            continue
        if depth > 1 or re.match(r"^(message|enum|oneof)\b", line):
            raise Fail("nested proto declarations are not supported (%s.%s: %r)" % (package, current, line))
        if line.startswith("option ") or line.startswith("reserved "):
            continue
        m = PROTO_MAP_FIELD.match(line)
        if m:
            key, value, name, number = m.groups()
            if key != "string":
                raise Fail("%s.%s.%s: map key %s is not a string" % (package, current, name, key))
            messages[current].append(ProtoField(name, int(number), resolve(value), False, True))
            continue
        m = PROTO_FIELD.match(line)
        if m:
            label, type_name, name, number = m.groups()
            messages[current].append(ProtoField(name, int(number), resolve(type_name), label == "repeated", False))
            continue
        raise Fail("unparsed proto line in %s.%s: %r" % (package, current, line))
    if depth != 0:
        raise Fail("unbalanced braces in generated.proto of %s" % package)
    return messages


# ---------------------------------------------------------------------------------------------
# Go definitions


class GoField:
    def __init__(self, name, go_type, tags, markers, embedded):
        self.name = name            # Go name (the type's name when embedded)
        self.go_type = go_type
        self.tags = tags            # {key: value} of the struct tag
        self.markers = markers      # [(key, value)] of `+key=value` comment lines, in order
        self.embedded = embedded

    def json_parts(self):
        tag = self.tags.get("json")
        if tag is None:
            return None, []
        parts = tag.split(",")
        return parts[0], parts[1:]

    def protobuf_number_and_name(self):
        tag = self.tags.get("protobuf")
        if tag is None or tag == "-":
            return None, None
        parts = tag.split(",")
        if len(parts) < 2 or not parts[1].isdigit():
            raise Fail("unexpected protobuf tag %r on Go field %s" % (tag, self.name))
        name = None
        for part in parts[2:]:
            if part.startswith("name="):
                name = part[len("name="):]
        return int(parts[1]), name

    def marker_values(self, key):
        return [value for k, value in self.markers if k == key]

    def has_marker(self, key):
        return any(k == key for k, _ in self.markers)


class GoStruct:
    def __init__(self, name, fields, markers):
        self.name = name
        self.fields = fields
        self.markers = markers      # markers in the comments above `type X struct`

    def has_marker(self, key, value=None):
        return any(k == key and (value is None or value == v) for k, v in self.markers)


STRUCT_TAG_ITEM = re.compile(r'(\w+):"((?:[^"\\]|\\.)*)"')


def parse_markers(comment_lines):
    markers = []
    for line in comment_lines:
        if line.startswith("+"):
            key, sep, value = line[1:].partition("=")
            markers.append((key.strip(), value.strip() if sep else None))
    return markers


def parse_go(text):
    """Structs of a Go file: their fields with struct tags and the `+` markers of their comments."""
    lines = text.splitlines()
    structs = []
    blocks = [[]]          # comment blocks above the current line, closest last
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        m = re.match(r"^type\s+(\w+)\s+struct\s*\{\s*$", lines[i])
        if m:
            # gengo reads the closest comment block and the one before it (separated by a blank line).
            type_comments = [c for block in blocks[-2:] for c in block]
            fields, i = parse_go_struct_body(lines, i + 1, m.group(1))
            structs.append(GoStruct(m.group(1), fields, parse_markers(type_comments)))
            blocks = [[]]
            continue
        if stripped.startswith("/*"):
            while "*/" not in stripped and i + 1 < len(lines):
                i += 1
                stripped = lines[i].strip()
            blocks = [[]]
        elif stripped.startswith("//"):
            blocks[-1].append(stripped[2:].strip())
        elif stripped == "":
            if blocks[-1]:
                blocks.append([])
        else:
            blocks = [[]]
        i += 1
    return structs


def parse_go_struct_body(lines, i, struct_name):
    fields = []
    comments = []
    while i < len(lines):
        raw = lines[i]
        i += 1
        if raw.startswith("}"):
            return fields, i
        line = raw.strip()
        if line.startswith("/*"):
            # A block comment: not a doc comment of the next field.
            while "*/" not in line and i < len(lines):
                line = lines[i].strip()
                i += 1
            comments = []
            continue
        if line.startswith("//"):
            comments.append(line[2:].strip())
            continue
        if line == "":
            comments = []
            continue
        if "`" not in line:
            raise Fail("Go field without a struct tag in %s: %r" % (struct_name, line))
        head, _, rest = line.partition("`")
        tag_text, _, _ = rest.partition("`")
        words = head.split()
        if len(words) == 1:
            go_type = words[0]
            name = go_type.lstrip("*").rsplit(".", 1)[-1]
            embedded = True
        elif len(words) == 2 and not words[0].endswith(","):
            name, go_type = words
            embedded = False
        else:
            raise Fail("unparsed Go field in %s: %r" % (struct_name, line))
        tags = dict(STRUCT_TAG_ITEM.findall(tag_text))
        fields.append(GoField(name, go_type, tags, parse_markers(comments), embedded))
        comments = []
    raise Fail("unterminated Go struct %s" % struct_name)


# ---------------------------------------------------------------------------------------------
# Joining the two


def describe_message(sources, name):
    """The schema entry of message `name`, and the message types its fields name."""
    package, short = split_type_name(name)
    messages = sources.proto(package)
    if short not in messages:
        raise Fail("no protobuf message %s" % name)
    structs = sources.go(package)
    if short not in structs:
        raise Fail("no Go struct for message %s" % name)
    struct = structs[short]

    go_by_number = {}
    type_meta = False
    for go_field in struct.fields:
        json_name, json_options = go_field.json_parts()
        number, _ = go_field.protobuf_number_and_name()
        if number is None:
            if go_field.embedded and go_field.name == "TypeMeta" and json_name == "" and "inline" in json_options:
                type_meta = True
            elif json_name != "-":
                warn("%s.%s is in the JSON but not in protobuf" % (name, go_field.name))
            continue
        if number in go_by_number:
            raise Fail("%s: protobuf number %d is used twice in Go" % (name, number))
        go_by_number[number] = go_field

    fields = []
    references = []
    for proto_field in sorted(messages[short], key=lambda f: f.number):
        go_field = go_by_number.pop(proto_field.number, None)
        if go_field is None:
            raise Fail("%s.%s (protobuf %d) has no Go field" % (name, proto_field.name, proto_field.number))
        json_name, json_options = go_field.json_parts()
        _, go_proto_name = go_field.protobuf_number_and_name()
        if go_proto_name is not None and go_proto_name != proto_field.name:
            raise Fail("%s: protobuf %d is %s in Go but %s in generated.proto"
                       % (name, proto_field.number, go_proto_name, proto_field.name))
        inline = json_name == "" and "inline" in json_options
        if json_name is None:
            raise Fail("%s.%s has no json tag" % (name, go_field.name))
        if inline:
            field_name = proto_field.name
        else:
            field_name = json_name
            if json_name != proto_field.name:
                warn("%s: JSON name %s differs from protobuf name %s (the JSON name is used)"
                     % (name, json_name, proto_field.name))

        entry = {"name": field_name, "number": proto_field.number, "type": proto_field.type}
        if proto_field.repeated:
            entry["list"] = True
        if proto_field.is_map:
            entry["map"] = True
        if inline:
            # The member's fields appear in the parent's JSON object; in protobuf it is a nested message.
            entry["inline"] = True
        omit_empty = "omitempty" in json_options
        if omit_empty:
            entry["omitEmpty"] = True
        if go_field.go_type.startswith("*"):
            # A pointer: a zero value that is set is written (omitempty drops only nil).
            entry["pointer"] = True

        optional_marker = go_field.has_marker("optional")
        required_marker = go_field.has_marker("required")
        if optional_marker and required_marker:
            raise Fail("%s.%s is marked both +optional and +required" % (name, field_name))
        # kube-openapi: +required wins, then +optional, else required unless the json tag has omitempty.
        # Inlined members are not properties of their own.
        required = not inline and (required_marker or (not optional_marker and not omit_empty))
        if required:
            entry["required"] = True

        patch_strategy = go_field.tags.get("patchStrategy")
        patch_merge_key = go_field.tags.get("patchMergeKey")
        if patch_strategy:
            entry["patchStrategy"] = patch_strategy
        if patch_merge_key:
            entry["patchMergeKey"] = patch_merge_key
        for key, tag_value in (("patchStrategy", patch_strategy), ("patchMergeKey", patch_merge_key)):
            marker = go_field.marker_values(key)
            if marker and marker[-1] != tag_value:
                warn("%s.%s: +%s=%s marker but %s tag %r (the tag is used)"
                     % (name, field_name, key, marker[-1], key, tag_value))

        list_types = go_field.marker_values("listType")
        if len(list_types) > 1:
            raise Fail("%s.%s has several +listType markers" % (name, field_name))
        if list_types:
            if list_types[0] not in ("atomic", "set", "map"):
                raise Fail("%s.%s: unknown +listType=%s" % (name, field_name, list_types[0]))
            if proto_field.repeated:
                entry["listType"] = list_types[0]
            else:
                # Upstream marks a few non-list fields (meta/v1 Status.details); a list type means nothing there.
                warn("%s.%s has +listType=%s but is not a list (left out)" % (name, field_name, list_types[0]))
        map_keys = [k for k in go_field.marker_values("listMapKey") if k]
        if map_keys:
            if entry.get("listType") != "map":
                raise Fail("%s.%s has +listMapKey without +listType=map" % (name, field_name))
            entry["listMapKeys"] = map_keys
        elif entry.get("listType") == "map":
            raise Fail("%s.%s is +listType=map without +listMapKey" % (name, field_name))

        fields.append(entry)
        if proto_field.type not in SCALARS.values() and proto_field.type not in SPECIAL_TYPES:
            references.append(proto_field.type)

    for number, go_field in go_by_number.items():
        raise Fail("%s.%s (protobuf %d) is not in generated.proto" % (name, go_field.name, number))

    message = {}
    if type_meta:
        message["typeMeta"] = True
    message["fields"] = fields
    return message, references, struct


def build(sources, tag):
    types = {}
    structs = {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name in types:
            continue
        if name in SPECIAL_TYPES:
            raise Fail("%s is a special type, not a message" % name)
        message, references, struct = describe_message(sources, name)
        types[name] = message
        structs[name] = struct
        pending.extend(r for r in references if r not in types)

    kinds = []
    for group, version, kind, plural, namespaced, status, scale in KINDS:
        package = "io.k8s.api.%s.%s" % (group or "core", version)
        type_name = "%s.%s" % (package, kind)
        list_name = type_name + "List"
        for n in (type_name, list_name):
            if n not in types:
                raise Fail("kind %s: type %s is not described" % (kind, n))
        struct = structs[type_name]
        derived_namespaced = not struct.has_marker("genclient:nonNamespaced")
        derived_status = any(f["name"] == "status" for f in types[type_name]["fields"])
        derived_scale = any(k == "genclient:method" and v and v.startswith("GetScale,") and "subresource=scale" in v
                            for k, v in struct.markers)
        for what, expected, derived in (("namespaced", namespaced, derived_namespaced),
                                        ("status", status, derived_status), ("scale", scale, derived_scale)):
            if expected != derived:
                raise Fail("kind %s: %s is %s in the table but the sources say %s" % (kind, what, expected, derived))
        if not types[type_name].get("typeMeta") or not types[list_name].get("typeMeta"):
            raise Fail("kind %s: %s or %s lacks TypeMeta" % (kind, type_name, list_name))
        entry = {"group": group, "version": version, "kind": kind, "plural": plural}
        if namespaced:
            entry["namespaced"] = True
        entry["type"] = type_name
        entry["listType"] = list_name
        if status:
            entry["status"] = True
        if scale:
            entry["scale"] = True
        kinds.append(entry)
    return types, kinds


def render(types, kinds, tag):
    def dump(value):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=True)

    source = "kubernetes/api %s, kubernetes/apimachinery %s" % (tag, tag)
    lines = ['{"source":%s,' % dump(source), '"types":{']
    names = sorted(types)
    for i, name in enumerate(names):
        lines.append("%s:%s%s" % (dump(name), dump(types[name]), "," if i + 1 < len(names) else ""))
    lines.append('},')
    lines.append('"kinds":[')
    for i, kind in enumerate(kinds):
        lines.append(dump(kind) + ("," if i + 1 < len(kinds) else ""))
    lines.append(']}')
    body = "\n".join(lines)
    json.loads(body)  # well-formed
    if '"#' in body or "\\" in body:
        raise Fail("the JSON text cannot be embedded in a #\"\"\" raw string as is")
    return ("// Generated by scripts/generate-schema.py from kubernetes/api and kubernetes/apimachinery %s. Do not edit.\n"
            "extension BuiltinSchema {\n"
            "    static let data = #\"\"\"\n"
            "%s\n"
            "\"\"\"#\n"
            "}\n") % (tag, body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default=DEFAULT_API, help="git directory of kubernetes/api")
    parser.add_argument("--apimachinery", default=DEFAULT_APIMACHINERY, help="git directory of kubernetes/apimachinery")
    parser.add_argument("--tag", default=DEFAULT_TAG, help="tag to read in both repositories")
    parser.add_argument("--out", default=DEFAULT_OUT, help="the Swift file to write")
    parser.add_argument("--quiet", action="store_true", help="do not print warnings")
    args = parser.parse_args()

    sources = Sources(Repo(args.api, args.tag), Repo(args.apimachinery, args.tag))
    try:
        types, kinds = build(sources, args.tag)
        text = render(types, kinds, args.tag)
    except Fail as error:
        print("generate-schema: %s" % error, file=sys.stderr)
        return 1
    out = os.path.normpath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    if not args.quiet:
        for message in WARNINGS:
            print("note: %s" % message, file=sys.stderr)
    print("wrote %s: %d types, %d kinds, %d bytes" % (out, len(types), len(kinds), len(text.encode())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
