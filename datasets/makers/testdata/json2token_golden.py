"""Writes json2token_golden.json: the assistant targets Megatron-Bridge (HEAD semantics: first
parse) makes of CORD ground_truth strings, computed with NeMo's json2token as Megatron-Bridge
ships it. Inputs: json2token_cases.json (hand-written edge cases) and the ground truths of the
mini CORD dataset (passed as a JSON list of {name, ground_truth}).

Usage: python3 json2token_golden.py minicord.json   (any Python 3 with the standard library)
Tests only read the output file; they do not need Python.
"""
import json
import sys


def json2token(obj, sort_json_key: bool = True):
    # NeMo automodel_datasets.py / Megatron-Bridge token_utils.py, verbatim semantics.
    if type(obj) is dict:
        if len(obj) == 1 and "text_sequence" in obj:
            return obj["text_sequence"]
        output = ""
        keys = sorted(obj.keys(), reverse=True) if sort_json_key else obj.keys()
        for k in keys:
            output += rf"<s_{k}>" + json2token(obj[k], sort_json_key) + rf"</s_{k}>"
        return output
    if type(obj) is list:
        return r"<sep/>".join([json2token(item, sort_json_key) for item in obj])
    return str(obj)


def target(gt_string):
    ground_truth = json.loads(gt_string)
    if "gt_parses" in ground_truth:
        assert isinstance(ground_truth["gt_parses"], list)
        gt_jsons = ground_truth["gt_parses"]
    else:
        assert "gt_parse" in ground_truth and isinstance(ground_truth["gt_parse"], dict)
        gt_jsons = [ground_truth["gt_parse"]]
    return json2token(gt_jsons[0], sort_json_key=True)


cases = json.load(open("json2token_cases.json"))
if len(sys.argv) > 1:
    cases += json.load(open(sys.argv[1]))
out = [{"name": c["name"], "ground_truth": c["ground_truth"], "target": target(c["ground_truth"])} for c in cases]
with open("json2token_golden.json", "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
    f.write("\n")
