"""Generate each role's variable table from its meta/argument_specs.yml (the single source).

The table sits between two markers in roles/<role>/README.md; the prose around it is kept.
`--check` exits 1 when a README is out of date (the unit tests run it).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

BEGIN = "<!-- BEGIN GENERATED ARGUMENT SPECS: edit meta/argument_specs.yml, then run `make docs` -->"
END = "<!-- END GENERATED ARGUMENT SPECS -->"
ROLES = Path(__file__).resolve().parents[1] / "roles"


def cell(value) -> str:
    text = " ".join(value) if isinstance(value, list) else str(value)
    # ansible-doc markup (O(option), V(value), C(code)) reads as code in Markdown.
    text = re.sub(r"\b[OVCE]\(([^)]*)\)", r"`\1`", text)
    return text.replace("|", "\\|").replace("\n", " ").strip()


def default_of(option: dict) -> str:
    if "default" not in option:
        return "*required*" if option.get("required") else ""
    value = option["default"]
    if value is None:
        return ""
    return f"`{yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix('...').strip()}`"


def render(role: Path) -> str:
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    out = [BEGIN]
    for entry, spec in specs.items():
        title = f"`{entry}`" + (f": {spec['short_description']}" if spec.get("short_description") else "")
        out += ["", f"### Entry point {title}", "", "| Variable | Type | Default | Description |",
                "|---|---|---|---|"]
        for name, option in sorted((spec.get("options") or {}).items()):
            kind = option.get("type", "str")
            if kind == "list" and option.get("elements"):
                kind = f"list of {option['elements']}"
            choices = f" Choices: {', '.join(f'`{c}`' for c in option['choices'])}." if option.get("choices") else ""
            out.append(f"| `{name}` | {kind} | {cell(default_of(option))} | {cell(option.get('description', ''))}{choices} |")
    out.append(END)
    return "\n".join(out)


def updated(readme: str, table: str, role: str) -> str:
    if BEGIN in readme and END in readme:
        head = readme.partition(BEGIN)[0]
        tail = readme.partition(END)[2]
        return head + table + tail
    if not readme:
        readme = f"# Role `sovereign.cloud.{role}`\n\n"
    return readme.rstrip("\n") + "\n\n## Variables\n\n" + table + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a README is out of date")
    args = parser.parse_args()
    stale = []
    for role in sorted(p for p in ROLES.iterdir() if (p / "meta" / "argument_specs.yml").exists()):
        readme_path = role / "README.md"
        current = readme_path.read_text() if readme_path.exists() else ""
        wanted = updated(current, render(role), role.name)
        if wanted != current:
            stale.append(role.name)
            if not args.check:
                readme_path.write_text(wanted)
    if stale:
        verb = "out of date" if args.check else "regenerated"
        print(f"role READMEs {verb}: {', '.join(stale)}" + (" (run `make docs`)" if args.check else ""))
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
